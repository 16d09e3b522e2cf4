/**
 * Bisect's search (vm/bisect.ts) against a fake oracle: monotone outcomes,
 * non-monotone ones, and probes that cannot tell (skip) or throw.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type ProbeAnswer, type Verdict, bisect, maxProbes } from '../../vm/bisect.js'

/** A fake oracle over indices: answers from a table, counting probes. */
function oracle(verdicts: readonly Verdict[]) {
  const asked: number[] = []
  return {
    asked,
    probe: (_: number, i: number): Promise<ProbeAnswer> => {
      asked.push(i)
      return Promise.resolve({ verdict: verdicts[i]!, detail: verdicts[i] })
    },
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

describe('bisect (pure search)', () => {
  it('finds the first new candidate of monotone outcomes in at most 2 + ⌈log2(n−1)⌉ probes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 2, max: 300 })
          .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n - 1 }))),
        async ([n, first]) => {
          const o = oracle(range(n).map((i) => (i < first ? 'old' : 'new')))
          const r = await bisect(range(n), o.probe)
          expect(r.status).toBe('found')
          if (r.status !== 'found') return
          expect(r.firstNew).toBe(first)
          expect(r.lastOld).toBe(first - 1)
          expect(r.exact).toBe(true)
          expect(r.suspects).toEqual([first])
          expect(o.asked.length).toBeLessThanOrEqual(maxProbes(n))
          // The ends first, every candidate at most once.
          expect(o.asked.slice(0, 2)).toEqual([0, n - 1])
          expect(new Set(o.asked).size).toBe(o.asked.length)
          expect(r.unprobed).toBe(n - o.asked.length)
        },
      ),
    )
  })

  it('is exact in ⌈log2(n−1)⌉ probes between the ends: 65 builds, 6 more probes', async () => {
    const o = oracle(range(65).map((i) => (i < 40 ? 'old' : 'new')))
    const r = await bisect(range(65), o.probe)
    expect(r.status === 'found' && r.firstNew).toBe(40)
    expect(o.asked.length).toBe(2 + 6)
    expect(maxProbes(65)).toBe(8)
    expect(maxProbes(3)).toBe(3)
  })

  it('on non-monotone outcomes still names a real change: adjacent old then new, only skips between', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Verdict>('old', 'new', 'skip'), { minLength: 0, maxLength: 60 }),
        async (middle) => {
          const verdicts: Verdict[] = ['old', ...middle, 'new']
          const o = oracle(verdicts)
          const r = await bisect(range(verdicts.length), o.probe)
          expect(r.status).toBe('found')
          if (r.status !== 'found') return
          expect(verdicts[r.lastOld]).toBe('old')
          expect(verdicts[r.firstNew]).toBe('new')
          expect(r.lastOld).toBeLessThan(r.firstNew)
          for (let i = r.lastOld + 1; i < r.firstNew; i++) expect(verdicts[i]).toBe('skip')
          expect(r.exact).toBe(r.firstNew === r.lastOld + 1)
          expect(r.suspects).toEqual(range(r.firstNew + 1).slice(r.lastOld + 1))
          // Each reported step is what the oracle said.
          for (const s of r.steps) expect(s.verdict).toBe(verdicts[s.index])
        },
      ),
    )
  })

  it('steps around skipped candidates like git bisect skip, and reports the range when they hide the change', async () => {
    // 0 old, 1-3 skip, 4 new: the change is somewhere in 1..4.
    const r = await bisect(range(5), oracle(['old', 'skip', 'skip', 'skip', 'new']).probe)
    expect(r).toMatchObject({
      status: 'found',
      exact: false,
      lastOld: 0,
      firstNew: 4,
      suspects: [1, 2, 3, 4],
    })
    // A skip beside the answer costs one extra probe, not the answer.
    const s = await bisect(
      range(9),
      oracle(['old', 'old', 'old', 'old', 'skip', 'old', 'new', 'new', 'new']).probe,
    )
    expect(s).toMatchObject({ status: 'found', exact: true, lastOld: 5, firstNew: 6 })
  })

  it('treats a probe that throws as a skip, with its message', async () => {
    const r = await bisect(range(4), (_, i) =>
      i === 1
        ? Promise.reject(new Error('QEMU died'))
        : Promise.resolve({ verdict: i < 2 ? 'old' : 'new' } as const),
    )
    expect(r.status).toBe('found')
    expect(r.steps.find((s) => s.index === 1)).toMatchObject({ verdict: 'skip', detail: 'QEMU died' })
  })

  it('ends the search on a fatal error (bad input) instead of skipping', async () => {
    class Fatal extends Error {}
    await expect(
      bisect(
        range(5),
        (_, i) =>
          i === 4 ? Promise.reject(new Fatal('bad file')) : Promise.resolve({ verdict: 'old' as const }),
        {
          isFatal: (e) => e instanceof Fatal,
        },
      ),
    ).rejects.toThrow('bad file')
  })

  it('refuses ends that do not differ, saying which end', async () => {
    const same = await bisect(range(5), oracle(['old', 'old', 'old', 'old', 'old']).probe)
    expect(same).toMatchObject({ status: 'bad-ends', reason: 'the bad end answered like the good end' })
    const skip = await bisect(range(5), oracle(['skip', 'old', 'old', 'old', 'new']).probe)
    expect(skip).toMatchObject({ status: 'bad-ends', reason: 'the good end answered nothing (skip)' })
    expect(await bisect([1], oracle(['old']).probe)).toMatchObject({ status: 'bad-ends' })
  })

  it('reports each step as it happens, with the candidates left', async () => {
    const seen: [number, number][] = []
    await bisect(range(9), oracle(range(9).map((i) => (i < 3 ? 'old' : 'new'))).probe, {
      onStep: (s, left) => seen.push([s.index, left]),
    })
    expect(seen[0]).toEqual([0, 7])
    expect(seen[1]).toEqual([8, 7])
    expect(seen.at(-1)![1]).toBe(0)
  })
})
