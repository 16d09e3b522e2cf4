/**
 * Per-kernel reports of the kernel-behaviour suite and the scenarios
 * (reports/kernel/<uname -r>.json from the VM runner,
 * reports/kernel/<host|container>-<uname -r>.json from the host and the
 * container) and the matrix that merges them: every claim, scenario and
 * feature against every kernel the suite ran on, as JSON and Markdown.
 * Pure, apart from reading the directory; which kernels the matrix boots by
 * default is chosen here too (matrixKernels).
 */
import { readFileSync, readdirSync } from 'node:fs'
import { basename, join } from 'node:path'
import { compareDebianVersions } from './debian-version.js'

export type CellStatus = 'pass' | 'fail' | 'needs-feature'

/** One claim or scenario on one kernel. */
export interface CellResult {
  status: CellStatus
  /** Milliseconds the test took. */
  ms: number
  /** The missing kernel feature, for needs-feature. */
  feature?: string
  /** The first error, for fail. */
  error?: string
  /**
   * For fail: the files the failed test left (its trace page and pcapng,
   * written by the nslab/vitest fixtures; from a VM run they are on the
   * host, in the artifacts directory the pool shares with the guest).
   */
  artifacts?: string[]
}

/** A cell as older reports wrote it (pass/fail only, no time). */
interface LegacyCell {
  pass: boolean
  error?: string
}

export interface KernelReport {
  /** `uname -r`. */
  kernel: string
  /** Where the suite ran: 'vm' (the VM runner), 'container' or 'host'. */
  where: string
  date: string
  /** Claim (test name) -> outcome. */
  claims: Record<string, CellResult>
  /** Scenario (its name) -> outcome. */
  scenarios?: Record<string, CellResult>
  /**
   * Scenarios of scenarios/kernel-differences/ (its name) -> outcome: each
   * shows a behaviour some kernel lines have and others lack, so a failure
   * there is the difference itself, not a bug (README explains each).
   */
  differences?: Record<string, CellResult>
  /** Feature -> present, or missing with the kernel's error. */
  features: Record<string, { present: boolean; error?: string }>
}

export interface MatrixColumn {
  /** The column's name: the kernel for a VM run, else "host <kernel>" / "container <kernel>". */
  id: string
  kernel: string
  where: string
  date: string
}

export interface KernelMatrix {
  /** Column names, in order: VM kernels oldest first, then the host, then the container. */
  kernels: string[]
  columns: MatrixColumn[]
  claims: Record<string, Record<string, CellResult | null>>
  scenarios: Record<string, Record<string, CellResult | null>>
  differences: Record<string, Record<string, CellResult | null>>
  features: Record<string, Record<string, boolean | null>>
  /** Feature -> kernel -> the kernel's error, where it was missing. */
  errors: Record<string, Record<string, string>>
}

/** The report file of a kernel's run: <kernel>.json in the VM, <where>-<kernel>.json elsewhere. */
export function reportFileName(kernel: string, where: string): string {
  return where === 'vm' ? `${kernel}.json` : `${where}-${kernel}.json`
}

/** The column name of a report. */
export function columnId(r: Pick<KernelReport, 'kernel' | 'where'>): string {
  return r.where === 'vm' ? r.kernel : `${r.where} ${r.kernel}`
}

function cell(v: CellResult | LegacyCell): CellResult {
  if ('status' in v) return v
  return v.pass ? { status: 'pass', ms: 0 } : { status: 'fail', ms: 0, error: v.error }
}

/** Check that parsed JSON is a KernelReport; `where` names the file for the error. */
export function parseKernelReport(value: unknown, where: string): KernelReport {
  const r = value as Partial<KernelReport> | null
  if (!r || typeof r !== 'object' || typeof r.kernel !== 'string' || !r.claims || !r.features)
    throw new TypeError(`${where} is not a kernel report (needs kernel, claims and features)`)
  const norm = (o: Record<string, CellResult | LegacyCell> = {}) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, cell(v)]))
  return {
    where: 'host',
    date: '',
    ...r,
    claims: norm(r.claims),
    scenarios: norm(r.scenarios),
    differences: norm(r.differences),
  } as KernelReport
}

/** Read every reports/kernel/*.json (but matrix.json), also in subdirectories (CI's downloaded artifacts). */
export function readKernelReports(dir: string): KernelReport[] {
  let files: string[]
  try {
    files = (readdirSync(dir, { recursive: true }) as string[]).filter(
      (f) => f.endsWith('.json') && basename(f) !== 'matrix.json',
    )
  } catch {
    throw new TypeError(
      `no kernel reports in ${dir}: run the kernel suite first (nslab kernel matrix --kernels VERSION, npm test, npm run test:vm)`,
    )
  }
  return files
    .sort()
    .map((f) => parseKernelReport(JSON.parse(readFileSync(join(dir, f), 'utf8')), join(dir, f)))
}

const WHERE_ORDER: Record<string, number> = { vm: 0, host: 1, container: 2 }

/** Merge reports into a matrix; a claim, scenario or feature a kernel did not report is null there. */
export function kernelMatrix(reports: KernelReport[]): KernelMatrix {
  // One column per kernel and place; reports of one column (CI's shards) are merged, the newer
  // report's result winning for a test both ran.
  const byColumn = new Map<string, KernelReport>()
  for (const r of [...reports].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0))) {
    const id = columnId(r)
    const had = byColumn.get(id)
    byColumn.set(
      id,
      had
        ? {
            ...r,
            claims: { ...had.claims, ...r.claims },
            scenarios: { ...had.scenarios, ...r.scenarios },
            differences: { ...had.differences, ...r.differences },
            features: { ...had.features, ...r.features },
          }
        : r,
    )
  }
  const sorted = [...byColumn.values()].sort(
    (a, b) =>
      (WHERE_ORDER[a.where] ?? 3) - (WHERE_ORDER[b.where] ?? 3) || compareDebianVersions(a.kernel, b.kernel),
  )
  const columns = sorted.map((r) => ({ id: columnId(r), kernel: r.kernel, where: r.where, date: r.date }))
  const m: KernelMatrix = {
    kernels: columns.map((c) => c.id),
    columns,
    claims: {},
    scenarios: {},
    differences: {},
    features: {},
    errors: {},
  }
  const rows = (pick: (r: KernelReport) => Record<string, CellResult> | undefined) => {
    const names = [...new Set(sorted.flatMap((r) => Object.keys(pick(r) ?? {})))]
    return Object.fromEntries(
      names.map((n) => [n, Object.fromEntries(sorted.map((r) => [columnId(r), pick(r)?.[n] ?? null]))]),
    )
  }
  m.claims = rows((r) => r.claims)
  m.scenarios = rows((r) => r.scenarios)
  m.differences = rows((r) => r.differences)
  const featureNames = [...new Set(sorted.flatMap((r) => Object.keys(r.features)))].sort()
  for (const f of featureNames) {
    m.features[f] = Object.fromEntries(sorted.map((r) => [columnId(r), r.features[f]?.present ?? null]))
    for (const r of sorted) {
      const e = r.features[f]?.error
      if (e) (m.errors[f] ??= {})[columnId(r)] = e
    }
  }
  return m
}

function seconds(ms: number): string {
  return ms >= 100 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`
}

/** A cell as text: "pass 1.2 s", "**FAIL** 3.0 s", "needs netem 0.1 s", "-" when not run. */
export function cellText(c: CellResult | null, failure = '**FAIL**'): string {
  if (!c) return '-'
  const t = c.ms > 0 ? ` ${seconds(c.ms)}` : ''
  if (c.status === 'pass') return `pass${t}`
  if (c.status === 'fail') return `${failure}${t}`
  return `needs ${c.feature ?? 'a feature'}${t}`
}

/**
 * The line of an error that says what failed: a scenario's report marks
 * each failed step and expectation with ✗, the innermost is the one that
 * matters ("✗ ping a -> b x300: ... loss above 32%"); else the first line.
 */
export function headline(error: string): string {
  const marked = error
    .split('\n')
    .filter((l) => /^\s*✗ /.test(l))
    .sort((a, b) => b.search(/\S/) - a.search(/\S/))[0]
  return (marked?.trim() ?? error.split('\n')[0]!).slice(0, 300)
}

function escape(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

/** True when some claim or scenario failed somewhere (a kernel-difference scenario failing is no failure). */
export function matrixFailed(m: KernelMatrix): boolean {
  return [...Object.values(m.claims), ...Object.values(m.scenarios)].some((row) =>
    Object.values(row).some((c) => c?.status === 'fail'),
  )
}

/** The matrix as Markdown: claims and scenarios, features, then the failures and missing features in the kernels' words. */
/** ` (left: `a.html`, `a.pcapng`)` for a cell whose failure left files, else ''. */
function left(c: CellResult): string {
  return c.artifacts?.length ? ` (left: ${c.artifacts.map((a) => `\`${a}\``).join(', ')})` : ''
}

export function matrixMarkdown(m: KernelMatrix): string {
  const head = (first: string) => [
    `| ${first} | ${m.kernels.map(escape).join(' | ')} |`,
    `| --- | ${m.kernels.map(() => '---').join(' | ')} |`,
  ]
  const out = ['# Kernel matrix', '']
  const runs = m.columns.map((c) => `${c.id} (${c.where}${c.date ? `, ${c.date.slice(0, 10)}` : ''})`)
  if (runs.length) out.push(`Runs: ${runs.join('; ')}.`, '')
  const table = (
    title: string,
    rows: Record<string, Record<string, CellResult | null>>,
    failure?: string,
  ) => {
    if (Object.keys(rows).length === 0) return
    out.push(...head(title))
    for (const [name, row] of Object.entries(rows))
      out.push(`| ${escape(name)} | ${m.kernels.map((k) => cellText(row[k] ?? null, failure)).join(' | ')} |`)
    out.push('')
  }
  table('claim', m.claims)
  table('scenario', m.scenarios)
  table('kernel difference (scenarios/kernel-differences)', m.differences, 'fail')
  out.push(...head('feature'))
  for (const [f, row] of Object.entries(m.features))
    out.push(
      `| ${escape(f)} | ${m.kernels.map((k) => (row[k] === null || row[k] === undefined ? '-' : row[k] ? 'yes' : 'no')).join(' | ')} |`,
    )
  const fails = [...Object.entries(m.claims), ...Object.entries(m.scenarios)].flatMap(([n, row]) =>
    Object.entries(row)
      .filter(([, c]) => c?.status === 'fail')
      .map(([k, c]) => `- ${n} on ${k}: ${escape(headline(c!.error ?? 'failed'))}` + left(c!)),
  )
  if (fails.length) out.push('', 'Failures, first line of the error:', '', ...fails)
  const diffs = Object.entries(m.differences).flatMap(([n, row]) =>
    Object.entries(row)
      .filter(([, c]) => c && c.status !== 'pass')
      .map(
        ([k, c]) =>
          `- ${n} on ${k}: ${escape((c!.error ?? c!.feature ?? c!.status).split('\n')[0]!.slice(0, 300))}` +
          left(c!),
      ),
  )
  if (diffs.length) out.push('', 'Kernel differences, where the behaviour is missing:', '', ...diffs)
  const errs = Object.entries(m.errors).flatMap(([f, byKernel]) =>
    Object.entries(byKernel).map(([k, e]) => `- ${f} on ${k}: ${escape(e)}`),
  )
  if (errs.length) out.push('', "Missing features, in the kernels' words:", '', ...errs)
  return out.join('\n') + '\n'
}

/** The kernel lines the matrix covers by default: each the newest build of its line. */
export const MATRIX_LINES = ['5.10', '6.1', '6.12', '6.16-6.19', '7.x'] as const

/** The matrix line of a kernel version ("6.16-6.19" for 6.18.9+deb13-amd64), or undefined. */
export function lineOf(version: string): string | undefined {
  const m = /^(\d+)\.(\d+)\./.exec(version)
  if (!m) return undefined
  const [maj, min] = [Number(m[1]), Number(m[2])]
  if (maj === 5 && min === 10) return '5.10'
  if (maj === 6 && min === 1) return '6.1'
  if (maj === 6 && min === 12) return '6.12'
  if (maj === 6 && min >= 16 && min <= 19) return '6.16-6.19'
  if (maj >= 7) return '7.x'
  return undefined
}

/**
 * The default kernels of the matrix, oldest first: the newest build of each
 * of `lines` (default MATRIX_LINES) among `builds`, compared by kernel
 * version so that sid's 7.2 does not beat backports' 7.3. A line with no
 * build is left out.
 */
export function matrixKernels(
  builds: readonly { version: string }[],
  lines: readonly string[] = MATRIX_LINES,
): string[] {
  const unknown = lines.filter((l) => !(MATRIX_LINES as readonly string[]).includes(l))
  if (unknown.length)
    throw new TypeError(`unknown kernel line ${unknown.join(', ')}: the lines are ${MATRIX_LINES.join(', ')}`)
  const newest = new Map<string, string>()
  for (const b of builds) {
    const line = lineOf(b.version)
    if (!line) continue
    const had = newest.get(line)
    if (!had || compareDebianVersions(b.version, had) > 0) newest.set(line, b.version)
  }
  return MATRIX_LINES.filter((l) => lines.includes(l))
    .map((l) => newest.get(l))
    .filter((v): v is string => v !== undefined)
}
