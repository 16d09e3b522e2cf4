/** Impairment settings checked before tc or nft run: one sentence per bad value. Pure. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { IMPAIRMENT_LIMITS, checkImpairment, impairmentProblems } from '../../harness/lab/impairment.js'

describe('impairment checks', () => {
  it('takes what tc takes', () => {
    expect(impairmentProblems({})).toEqual([])
    expect(impairmentProblems({ rate: 8, loss: 0, delay: 0.5, jitter: 0.1, duplicate: 100 })).toEqual([])
    expect(impairmentProblems({ rate: 0 })).toEqual([]) // 0: no limit, as with every other setting
    expect(impairmentProblems({ rate: 1e12, delay: 60_000 })).toEqual([])
  })

  it('refuses a rate tc cannot express, instead of letting tc print its usage', () => {
    expect(impairmentProblems({ rate: 1 })).toEqual([
      {
        field: 'rate',
        message:
          'impairment rate must be at least 8 bit/s (tc counts whole bytes per second) and at most 1 Tbit/s, got 1 bit/s',
      },
    ])
    expect(() => checkImpairment({ rate: 7.9 })).toThrow('impairment rate must be at least 8 bit/s')
    expect(() => checkImpairment({ rate: 2e12 })).toThrow('at most 1 Tbit/s, got 2000000000000 bit/s')
  })

  it('refuses NaN, Infinity, negative and out-of-range values, one sentence each', () => {
    expect(impairmentProblems({ loss: NaN, delay: -1, jitter: Infinity, corrupt: 101 })).toEqual([
      {
        field: 'delay',
        message: 'impairment delay must be a number of milliseconds from 0 to 60000, got -1',
      },
      {
        field: 'jitter',
        message: 'impairment jitter must be a number of milliseconds from 0 to 60000, got Infinity',
      },
      { field: 'loss', message: 'impairment loss must be a percentage from 0 to 100, got NaN' },
      { field: 'corrupt', message: 'impairment corrupt must be a percentage from 0 to 100, got 101' },
    ])
    expect(impairmentProblems({ jitter: 5 })).toEqual([
      { field: 'jitter', message: 'impairment jitter needs a delay: give delay too' },
    ])
    expect(impairmentProblems({ reorder: 5 })).toEqual([
      { field: 'reorder', message: 'impairment reorder needs a delay: give delay too' },
    ])
    expect(impairmentProblems({ rate: '8mbit' } as never)).toEqual([
      { field: 'rate', message: 'impairment rate must be a number (bits per second), got string "8mbit"' },
    ])
    expect(impairmentProblems({ bandwidth: 5 } as never)).toEqual([
      {
        field: 'bandwidth',
        message:
          'unknown impairment "bandwidth"; expected one of: delay, jitter, loss, rate, duplicate, corrupt, reorder',
      },
    ])
  })

  it('accepts exactly the values within the limits (property)', () => {
    const { rate, delay } = IMPAIRMENT_LIMITS
    fc.assert(
      fc.property(fc.double(), fc.double(), fc.double(), (r, d, l) => {
        const problems = impairmentProblems({ rate: r, delay: d, loss: l })
        const fields = problems.map((p) => p.field)
        expect(fields.includes('rate')).toBe(!(r === 0 || (r >= rate.min && r <= rate.max)))
        expect(fields.includes('delay')).toBe(!(d >= 0 && d <= delay.max))
        expect(fields.includes('loss')).toBe(!(l >= 0 && l <= 100))
        for (const p of problems) expect(p.message).not.toMatch(/undefined/)
      }),
    )
  })
})
