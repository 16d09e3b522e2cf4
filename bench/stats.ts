/** Order statistics over per-iteration times (milliseconds). */

export interface Summary {
  n: number
  median: number
  p10: number
  p90: number
  min: number
  max: number
  mean: number
}

/** The q-quantile (0..1) of sorted values, interpolating linearly between neighbours. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no values')
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  const a = sorted[lo] as number
  const b = sorted[hi] as number
  return a + (b - a) * (pos - lo)
}

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b)
  return {
    n: s.length,
    median: quantile(s, 0.5),
    p10: quantile(s, 0.1),
    p90: quantile(s, 0.9),
    min: s[0] as number,
    max: s[s.length - 1] as number,
    mean: s.reduce((x, y) => x + y, 0) / s.length,
  }
}

/** Ratio of medians, a / b; undefined when either side was not measured. */
export function ratio(a: Summary | undefined, b: Summary | undefined): number | undefined {
  if (!a || !b || b.median === 0) return undefined
  return a.median / b.median
}

/**
 * Median of the per-iteration ratios a[i] / b[i], for variants run one
 * iteration each in turn (sample i of each from the same turn): a slow
 * stretch of the machine then weighs on both sides of a ratio at once.
 * Undefined unless both have the same, non-zero number of samples.
 */
export function pairedRatio(
  a: readonly number[] | undefined,
  b: readonly number[] | undefined,
): number | undefined {
  if (!a || !b || a.length === 0 || a.length !== b.length) return undefined
  const r = a.map((x, i) => x / b[i]!).filter((x) => Number.isFinite(x))
  return r.length === 0 ? undefined : summarize(r).median
}

/** Milliseconds with about three significant digits. */
export function fmtMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(0)
  if (ms >= 10) return ms.toFixed(1)
  if (ms >= 1) return ms.toFixed(2)
  return ms.toFixed(3)
}

export function fmtRatio(r: number | undefined): string {
  if (r === undefined) return 'n/a'
  return r >= 10 ? `${r.toFixed(0)}x` : `${r.toFixed(2)}x`
}
