/**
 * How long fuzz properties run. By default each runs a few hundred to a few
 * thousand times, seconds in all, as CI can afford; `npm run fuzz` raises it
 * with NSLAB_FUZZ_RUNS (runs per property). A failure prints fast-check's
 * seed and path: NSLAB_FUZZ_SEED and NSLAB_FUZZ_PATH replay it.
 */
import type fc from 'fast-check'

const raised = Number(process.env.NSLAB_FUZZ_RUNS) || undefined
const seed = process.env.NSLAB_FUZZ_SEED
const path = process.env.NSLAB_FUZZ_PATH

/** fast-check parameters: `ciRuns` runs, or NSLAB_FUZZ_RUNS; the seed and path to replay, if given. */
export function fuzzRuns<T>(ciRuns: number): fc.Parameters<T> {
  return {
    numRuns: raised ?? ciRuns,
    ...(seed !== undefined ? { seed: Number(seed) } : {}),
    ...(path !== undefined ? { path } : {}),
  }
}

/** Vitest's timeout for a fuzz test: the default, or none when NSLAB_FUZZ_RUNS raised the runs. */
export const FUZZ_TIMEOUT: number | undefined = raised ? 0 : undefined
