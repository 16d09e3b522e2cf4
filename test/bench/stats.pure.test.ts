// The bench's statistics (bench/stats.ts): what the ratios it prints are made of.
import { describe, expect, it } from 'vitest'
import { pairedRatio, ratio, summarize } from '../../bench/stats.js'

describe('bench statistics', () => {
  it('pairedRatio is the median of the per-turn ratios: a slow stretch lands on both sides', () => {
    // A machine that slows down 3x halfway: every turn still shows B 10% above A.
    const a = [1, 1, 1, 3, 3, 3, 3]
    const b = a.map((x) => x * 1.1)
    expect(pairedRatio(b, a)).toBeCloseTo(1.1, 10)
    // Medians of each side alone would say 1.1 too here, but not with the stretch falling unevenly:
    const a2 = [1, 1, 1, 1, 3, 3, 3]
    const b2 = [1.1, 1.1, 1.1, 3.3, 3.3, 3.3, 3.3] // turn 4 slow for B only
    expect(ratio(summarize(b2), summarize(a2))).toBeCloseTo(3.3, 10)
    expect(pairedRatio(b2, a2)).toBeCloseTo(1.1, 10)
  })

  it('is undefined without pairs: sides of different lengths, empty, or no finite ratio', () => {
    expect(pairedRatio([1, 2], [1])).toBeUndefined()
    expect(pairedRatio([], [])).toBeUndefined()
    expect(pairedRatio(undefined, [1])).toBeUndefined()
    expect(pairedRatio([1], [0])).toBeUndefined()
  })
})
