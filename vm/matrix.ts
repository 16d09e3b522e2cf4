/**
 * Per-kernel reports of the kernel-behaviour suite (reports/kernel/<uname -r>.json)
 * and the matrix that merges them: every claim and feature against every
 * kernel the suite ran on, as JSON and Markdown.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

export interface KernelReport {
  /** `uname -r`. */
  kernel: string
  /** Where the suite ran: 'vm' (NSLAB_VM set) or 'host'. */
  where: string
  date: string
  /** Claim (test name) -> outcome. */
  claims: Record<string, { pass: boolean; error?: string }>
  /** Feature -> present, or missing with the kernel's error. */
  features: Record<string, { present: boolean; error?: string }>
}

export interface KernelMatrix {
  kernels: string[]
  claims: Record<string, Record<string, boolean | null>>
  features: Record<string, Record<string, boolean | null>>
  /** Feature -> kernel -> the kernel's error, where it was missing. */
  errors: Record<string, Record<string, string>>
}

/** Check that parsed JSON is a KernelReport; `where` names the file for the error. */
export function parseKernelReport(value: unknown, where: string): KernelReport {
  const r = value as Partial<KernelReport> | null
  if (!r || typeof r !== 'object' || typeof r.kernel !== 'string' || !r.claims || !r.features)
    throw new TypeError(`${where} is not a kernel report (needs kernel, claims and features)`)
  return { where: 'host', date: '', ...r } as KernelReport
}

/** Read every reports/kernel/*.json. */
export function readKernelReports(dir: string): KernelReport[] {
  let files: string[]
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'matrix.json')
  } catch {
    throw new TypeError(`no kernel reports in ${dir}: run the kernel suite first (npm test, npm run test:vm)`)
  }
  return files
    .sort()
    .map((f) => parseKernelReport(JSON.parse(readFileSync(join(dir, f), 'utf8')), join(dir, f)))
}

/** Merge reports into a matrix; a claim or feature a kernel did not report is null there. */
export function kernelMatrix(reports: KernelReport[]): KernelMatrix {
  const kernels = reports.map((r) => r.kernel)
  const m: KernelMatrix = { kernels, claims: {}, features: {}, errors: {} }
  const claimNames = [...new Set(reports.flatMap((r) => Object.keys(r.claims)))]
  const featureNames = [...new Set(reports.flatMap((r) => Object.keys(r.features)))].sort()
  for (const c of claimNames)
    m.claims[c] = Object.fromEntries(reports.map((r) => [r.kernel, r.claims[c]?.pass ?? null]))
  for (const f of featureNames) {
    m.features[f] = Object.fromEntries(reports.map((r) => [r.kernel, r.features[f]?.present ?? null]))
    for (const r of reports) {
      const e = r.features[f]?.error
      if (e) (m.errors[f] ??= {})[r.kernel] = e
    }
  }
  return m
}

function cell(v: boolean | null, yes: string, no: string): string {
  return v === null ? '-' : v ? yes : no
}

function escape(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

/** The matrix as Markdown: one table of claims, one of features, then the kernels' errors. */
export function matrixMarkdown(m: KernelMatrix): string {
  const head = (first: string) => [
    `| ${first} | ${m.kernels.map(escape).join(' | ')} |`,
    `| --- | ${m.kernels.map(() => '---').join(' | ')} |`,
  ]
  const out = ['# Kernel matrix', '', ...head('claim')]
  for (const [c, row] of Object.entries(m.claims))
    out.push(
      `| ${escape(c)} | ${m.kernels.map((k) => cell(row[k] ?? null, 'pass', '**FAIL**')).join(' | ')} |`,
    )
  out.push('', ...head('feature'))
  for (const [f, row] of Object.entries(m.features))
    out.push(`| ${escape(f)} | ${m.kernels.map((k) => cell(row[k] ?? null, 'yes', 'no')).join(' | ')} |`)
  const errs = Object.entries(m.errors).flatMap(([f, byKernel]) =>
    Object.entries(byKernel).map(([k, e]) => `- ${f} on ${k}: ${escape(e)}`),
  )
  if (errs.length) out.push('', "Missing features, in the kernels' words:", '', ...errs)
  return out.join('\n') + '\n'
}
