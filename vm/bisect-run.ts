/**
 * `nslab bisect`'s work apart from the search (vm/bisect.ts): the ordered
 * kernel builds, a scenario file or a Vitest test run in the VM on one of
 * them (fetched on demand), and each outcome cached per kernel and subject
 * (the content hash of the scenario file, or of the test file and the test's
 * name) under nslab's cache, so a rerun boots nothing it booted before.
 *
 *   <cache root>/bisect/<subject hash>/<kernel>.json   { status, feature, detail, ms, date }
 */
import { createHash } from 'node:crypto'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { artifactsDir } from '../harness/util/artifacts-dir.js'
import { type ArchiveKernel, type Progress, quietProgress } from './debian-archive.js'
import { compareDebianVersions } from './debian-version.js'
import {
  archiveKernels,
  cachedKernel,
  cachedKernels,
  nslabCacheRoot,
  UnknownKernelError,
} from './kernel-cache.js'
import { unknownKernelMessage } from './kernel-cache.js'
import { runVm, vmFailure } from './index.js'
import type { ProbeAnswer } from './bisect.js'

/** A kernel build bisect can boot, in the archive's order. */
export interface Build {
  version: string
  packageVersion: string
}

/** What is bisected: a scenario file, or one test (by name) of a Vitest file. */
export type Subject = { kind: 'scenario'; file: string } | { kind: 'vitest'; file: string; name: string }

/** A subject's outcome on one kernel; 'error' when the VM could not tell (bisect skips it). */
export interface Outcome {
  status: 'pass' | 'fail' | 'needs-feature' | 'error'
  /** The missing feature(s), for needs-feature. */
  feature?: string
  /** A line saying what happened (the first failure, the VM's trouble). */
  detail?: string
  ms: number
  /** True when it came from the cache. */
  cached?: boolean
  /**
   * A scenario that failed in the VM: its trace page and pcapng, copied to
   * the host's artifacts directory (`reports/nslab`, named after the kernel).
   * Never cached: a rerun from the cache has none.
   */
  artifacts?: string[]
}

/** The outcome as bisect compares it: "pass", "fail", "needs-feature netem". */
export function outcomeKey(o: Outcome): string {
  return o.status === 'needs-feature' ? `needs-feature ${o.feature ?? ''}`.trim() : o.status
}

/** A verdict for the search: like the good end's outcome is old, an error is a skip, anything else is new. */
export function verdictOf(o: Outcome, good: Outcome): ProbeAnswer {
  if (o.status === 'error') return { verdict: 'skip', detail: o.detail }
  return { verdict: outcomeKey(o) === outcomeKey(good) ? 'old' : 'new', detail: outcomeKey(o) }
}

/** The hash a subject's outcomes are cached under: its file's bytes (and the test's name). */
export function subjectHash(s: Subject): string {
  const h = createHash('sha256').update(s.kind).update('\0').update(readFileSync(s.file))
  if (s.kind === 'vitest') h.update('\0').update(s.name)
  return h.digest('hex').slice(0, 16)
}

export function outcomeCacheDir(s: Subject, root = nslabCacheRoot()): string {
  return join(root, 'bisect', subjectHash(s))
}

function readCached(dir: string, kernel: string): Outcome | undefined {
  try {
    const o = JSON.parse(readFileSync(join(dir, `${kernel}.json`), 'utf8')) as Outcome
    return typeof o.status === 'string' ? { ...o, cached: true } : undefined
  } catch {
    return undefined
  }
}

function writeCached(dir: string, kernel: string, o: Outcome): void {
  mkdirSync(dir, { recursive: true })
  const tmp = join(dir, `.${kernel}.json.${process.pid}`)
  const { artifacts: _left, ...kept } = o
  writeFileSync(tmp, JSON.stringify({ ...kept, date: new Date().toISOString() }, null, 2) + '\n')
  renameSync(tmp, join(dir, `${kernel}.json`))
}

/**
 * The kernel builds bisect orders and boots, oldest first (by package
 * version, as `nslab kernel list`): `only` when given (each must be cached or
 * in the archive), else every build of the archive's suites plus the cached
 * ones they no longer carry.
 */
export async function orderedBuilds(o: { only?: string[]; progress?: Progress } = {}): Promise<Build[]> {
  const p = o.progress ?? quietProgress
  const cached = cachedKernels()
  let listed: ArchiveKernel[] | undefined
  const archive = async () => (listed ??= await archiveKernels({ progress: p }))
  let builds: Build[]
  if (o.only) {
    builds = []
    for (const v of o.only) {
      const c = cachedKernel(v)
      const k = c ?? (await archive()).find((x) => x.version === v)
      if (!k)
        throw new UnknownKernelError(
          unknownKernelMessage(
            v,
            (await archive()).map((x) => x.version),
          ),
        )
      builds.push({ version: v, packageVersion: k.packageVersion })
    }
  } else {
    const all = await archive()
    const have = new Set(all.map((k) => k.version))
    builds = [...all, ...cached.filter((c) => !have.has(c.version))].map((k) => ({
      version: k.version,
      packageVersion: k.packageVersion,
    }))
  }
  return builds.sort(
    (a, b) =>
      compareDebianVersions(a.packageVersion, b.packageVersion) ||
      compareDebianVersions(a.version, b.version),
  )
}

export interface ProbeOptions {
  /** Seconds before the VM is killed (default 600). */
  timeout?: number
  /** Ignore (and overwrite) cached outcomes. */
  fresh?: boolean
  onProgress?: (line: string) => void
  /** The guest's output, when wanted. */
  onOutput?: (chunk: Buffer) => void
  signal?: AbortSignal
}

/** Remove the report directories of probes whose process died (killed mid-probe). */
function sweepRuns(shared: string): void {
  for (const d of readdirSync(shared)) {
    const pid = Number(/^run-(\d+)-/.exec(d)?.[1] ?? 0)
    if (pid > 0 && pid !== process.pid && !existsSync(`/proc/${pid}`))
      rmSync(join(shared, d), { recursive: true, force: true })
  }
}

/** The command that runs nslab itself again (in the guest): the same node, loader and entry point. */
function nslabArgv(): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1]!]
}

/** The scenario's or test's outcome on `kernel`: from the cache, else booted in the VM (the kernel fetched first when needed). */
export async function probeSubject(s: Subject, kernel: string, o: ProbeOptions = {}): Promise<Outcome> {
  const dir = outcomeCacheDir(s)
  if (!o.fresh) {
    const c = readCached(dir, kernel)
    if (c) return c
  }
  // One writable share for every probe: the report of this one in its own directory, and the
  // guest's TMPDIR, where tsx caches its transforms (under TCG, transforming nslab's CLI from
  // scratch costs the guest most of a minute).
  const shared = join(nslabCacheRoot(), 'bisect', 'guest')
  mkdirSync(join(shared, 'tmp'), { recursive: true })
  sweepRuns(shared)
  const results = mkdtempSync(join(shared, `run-${process.pid}-`))
  const out = join(results, 'report.json')
  const file = resolve(s.file)
  const t0 = performance.now()
  try {
    const command =
      s.kind === 'scenario'
        ? // A failure's pcapng and trace go to the shared directory, then to the host's artifacts.
          [...nslabArgv(), 'run', file, '--json', out, '--capture', join(results, 'artifacts')]
        : [
            process.execPath,
            join(process.cwd(), 'node_modules', 'vitest', 'vitest.mjs'),
            'run',
            relative(process.cwd(), file),
            '-t',
            s.name,
            '--reporter=json',
            `--outputFile=${out}`,
          ]
    const r = await runVm({
      command,
      kernel,
      timeout: o.timeout ?? 600,
      results: shared,
      // The guest has no network device at all: sealed by construction.
      env: { NSLAB_ALLOW_UNSEALED: '1', FORCE_COLOR: '0', TMPDIR: join(shared, 'tmp') },
      onProgress: o.onProgress,
      onStdout: o.onOutput,
      onStderr: o.onOutput,
      signal: o.signal,
    })
    const ms = Math.round(performance.now() - t0)
    const outcome =
      s.kind === 'scenario' ? scenarioOutcome(r.code, out, ms) : vitestOutcome(r.code, out, s.name, ms)
    const left = keepArtifacts(join(results, 'artifacts'), kernel)
    if (left.length) outcome.artifacts = left
    if (outcome.status === 'error') {
      const why = vmFailure(r, o.timeout ?? 600)
      return { ...outcome, detail: [outcome.detail, why].filter(Boolean).join('; ') }
    }
    if (r.problems.length)
      outcome.detail = `${outcome.detail ? `${outcome.detail}; ` : ''}the guest kernel reported ${r.problems.length} problem(s)`
    writeCached(dir, kernel, outcome)
    return outcome
  } finally {
    rmSync(results, { recursive: true, force: true })
  }
}

/**
 * Copy what a probe's scenario left (its trace and pcapng) to the host's
 * artifacts directory, each name prefixed with the kernel; returns the
 * copies. A copy that fails is left out, not fatal.
 */
export function keepArtifacts(dir: string, kernel: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
      .filter((f) => f.endsWith('.pcapng') || f.endsWith('.html'))
      .sort()
  } catch {
    return []
  }
  const dest = artifactsDir()
  const kept: string[] = []
  for (const f of names) {
    const to = join(dest, `${kernel}--${f}`)
    try {
      mkdirSync(dest, { recursive: true })
      copyFileSync(join(dir, f), to)
      kept.push(to)
    } catch {
      // the outcome stands without it
    }
  }
  return kept
}

interface ScenarioJson {
  scenarios: {
    status: string
    missing?: string[]
    error?: string
    steps?: { label: string; status: string; detail?: string }[]
    expectations?: { label: string; status: string; detail?: string }[]
  }[]
}

/** `nslab run --json`'s report and exit code as an outcome (exit 2: the file is bad, which no kernel changes). */
export function scenarioOutcome(code: number | null, out: string, ms: number): Outcome {
  if (code === 2)
    throw new BisectInputError(
      `the scenario file is invalid (nslab run exited 2): run nslab run FILE to see why`,
    )
  if (code !== 0 && code !== 1 && code !== 3) return { status: 'error', ms }
  let rep: ScenarioJson['scenarios'][number] | undefined
  try {
    rep = (JSON.parse(readFileSync(out, 'utf8')) as ScenarioJson).scenarios[0]
  } catch {
    return { status: 'error', ms, detail: `nslab run exited ${code} but wrote no report` }
  }
  if (!rep) return { status: 'error', ms, detail: 'nslab run wrote an empty report' }
  if (rep.status === 'passed') return { status: 'pass', ms }
  if (rep.status === 'missing-feature')
    return { status: 'needs-feature', feature: (rep.missing ?? []).join(', '), ms, detail: rep.error }
  const failed = [...(rep.steps ?? []), ...(rep.expectations ?? [])].find((i) => i.status === 'failed')
  const detail = failed ? `${failed.label}: ${failed.detail ?? 'failed'}` : (rep.error ?? rep.status)
  return { status: 'fail', ms, detail: detail.split('\n')[0] }
}

interface VitestJson {
  numPassedTests: number
  numFailedTests: number
  testResults?: { assertionResults?: { status: string; failureMessages?: string[] }[] }[]
}

/** Vitest's JSON report and exit code as an outcome; no test by that name is bad input. */
export function vitestOutcome(code: number | null, out: string, name: string, ms: number): Outcome {
  if (!existsSync(out))
    return { status: 'error', ms, detail: `vitest exited ${code ?? '(none)'} and wrote no report` }
  const j = JSON.parse(readFileSync(out, 'utf8')) as VitestJson
  if (j.numPassedTests + j.numFailedTests === 0)
    throw new BisectInputError(`no test matches -t ${JSON.stringify(name)} in that file`)
  if (j.numFailedTests === 0) return { status: 'pass', ms }
  const msg = j.testResults?.flatMap((t) => t.assertionResults ?? []).find((a) => a.status === 'failed')
    ?.failureMessages?.[0]
  return { status: 'fail', ms, detail: msg?.split('\n')[0] }
}

/** Bad input to bisect (the file, the test name, the kernels): exit 2. */
export class BisectInputError extends Error {
  override readonly name = 'BisectInputError'
}
