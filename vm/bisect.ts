/**
 * Bisect's search, pure: over candidates ordered oldest first, find the first
 * one whose outcome is the "new" one (the bad end's), by binary search, the
 * way `git bisect` does. A probe answers 'old' (as the good end), 'new' (as
 * the bad end) or 'skip' (it could not tell: the VM failed, a fetch failed),
 * and a skipped candidate is stepped around, as `git bisect skip` does.
 *
 * What it promises, monotone or not: the answer is a pair of candidates
 * `lastOld` < `firstNew` with outcomes old and new, and every candidate
 * between them was skipped (none when `exact`). When the outcomes change
 * once, firstNew is where; when they change several times (non-monotone),
 * it is one place where they change, and `unprobed` says how many candidates
 * were never looked at. The ends are probed first (a cache makes that free).
 */

export type Verdict = 'old' | 'new' | 'skip'

export interface BisectStep<T> {
  index: number
  candidate: T
  verdict: Verdict
  /** Why, in a few words (the outcome, or the reason for a skip). */
  detail?: string
}

export interface ProbeAnswer {
  verdict: Verdict
  detail?: string
}

export type BisectResult<T> =
  | {
      status: 'found'
      /** No skipped candidate lies between lastOld and firstNew. */
      exact: boolean
      lastOld: number
      firstNew: number
      /** Candidates after lastOld up to firstNew: one when exact, else the skipped ones and firstNew. */
      suspects: T[]
      steps: BisectStep<T>[]
      /** Candidates never probed (their outcomes unknown: the search assumes monotone outcomes). */
      unprobed: number
    }
  | {
      /** An end did not answer as it should: good must be old, bad must be new. */
      status: 'bad-ends'
      reason: string
      steps: BisectStep<T>[]
    }

export interface BisectOptions<T> {
  /** Called after each probe (for printing the steps as they happen). */
  onStep?: (step: BisectStep<T>, remaining: number) => void
  /** A probe's error that ends the search (bad input) instead of skipping the candidate. */
  isFatal?: (error: unknown) => boolean
}

/** The most probes a search over n candidates (ends included) takes with no skips: both ends, then ⌈log2(n−1)⌉. */
export function maxProbes(n: number): number {
  return n <= 1 ? n : 2 + Math.ceil(Math.log2(n - 1))
}

/**
 * Find where the outcome changes between `candidates[0]` (good: must answer
 * old) and `candidates[n-1]` (bad: must answer new).
 */
export async function bisect<T>(
  candidates: readonly T[],
  probe: (candidate: T, index: number) => Promise<ProbeAnswer>,
  o: BisectOptions<T> = {},
): Promise<BisectResult<T>> {
  const steps: BisectStep<T>[] = []
  const n = candidates.length
  if (n < 2)
    return {
      status: 'bad-ends',
      reason: `need at least two candidates (a good and a bad one), got ${n}`,
      steps,
    }
  const known = new Map<number, Verdict>()
  let lo = 0
  let hi = n - 1
  const skipped = new Set<number>()
  const remaining = () => {
    let r = 0
    for (let i = lo + 1; i < hi; i++) if (!skipped.has(i)) r++
    return r
  }
  const ask = async (i: number): Promise<Verdict> => {
    let a: ProbeAnswer
    try {
      a = await probe(candidates[i]!, i)
    } catch (err) {
      if (o.isFatal?.(err)) throw err
      a = { verdict: 'skip', detail: (err as Error).message }
    }
    const step: BisectStep<T> = { index: i, candidate: candidates[i]!, verdict: a.verdict, detail: a.detail }
    steps.push(step)
    known.set(i, a.verdict)
    if (a.verdict === 'old') lo = Math.max(lo, i)
    else if (a.verdict === 'new') hi = Math.min(hi, i)
    else skipped.add(i)
    o.onStep?.(step, remaining())
    return a.verdict
  }
  const good = await ask(0)
  if (good !== 'old')
    return {
      status: 'bad-ends',
      reason: `the good end answered ${good === 'new' ? 'like the bad end' : 'nothing (skip)'}`,
      steps,
    }
  const bad = await ask(n - 1)
  if (bad !== 'new')
    return {
      status: 'bad-ends',
      reason: `the bad end answered ${bad === 'old' ? 'like the good end' : 'nothing (skip)'}`,
      steps,
    }
  for (;;) {
    // The untried candidate nearest the middle of (lo, hi); skipped ones are stepped around.
    const open: number[] = []
    for (let i = lo + 1; i < hi; i++) if (!skipped.has(i)) open.push(i)
    if (open.length === 0) break
    const mid = (lo + hi) / 2
    let pick = open[0]!
    for (const i of open) if (Math.abs(i - mid) < Math.abs(pick - mid)) pick = i
    await ask(pick)
  }
  const suspects: T[] = []
  for (let i = lo + 1; i <= hi; i++) suspects.push(candidates[i]!)
  return {
    status: 'found',
    exact: hi === lo + 1,
    lastOld: lo,
    firstNew: hi,
    suspects,
    steps,
    unprobed: n - known.size,
  }
}
