/**
 * Reports of scenario runs: text for a terminal (colour only when asked,
 * i.e. on a TTY), JSON, and JUnit XML for CI.
 */
import type { ItemReport, ScenarioReport } from './runner.js'
import { formatMs } from './units.js'

const paint = (on: boolean, code: number, text: string): string => (on ? `\x1b[${code}m${text}\x1b[0m` : text)

const MARK = { passed: ['✓', 32], failed: ['✗', 31], skipped: ['-', 90] } as const

/** One line for an item as it finishes (progress). */
export function formatItem(item: ItemReport, color = false): string {
  const [mark, code] = MARK[item.status]
  const lines = [`  ${paint(color, code, mark)} ${item.label} ${paint(color, 90, `(${formatMs(item.ms)})`)}`]
  for (const o of item.outcomes ?? [])
    if (!o.ok || item.status === 'failed') lines.push(`      ${o.ok ? '✓' : '✗'} ${o.label}: ${o.detail}`)
  if (item.detail && (item.status === 'failed' || item.outcomes === undefined))
    lines.push(`      ${paint(color && item.status === 'failed', 31, item.detail)}`)
  return lines.join('\n')
}

const STATUS: Record<ScenarioReport['status'], [string, number]> = {
  passed: ['PASS', 32],
  failed: ['FAIL', 31],
  error: ['ERROR', 31],
  'missing-feature': ['NEEDS KERNEL FEATURE', 33],
}

/** The closing lines of one scenario: status, why, how to enter a kept lab. */
export function formatSummary(r: ScenarioReport, color = false): string {
  const [word, code] = STATUS[r.status]
  const lines = [`${paint(color, code, word)} ${r.name} (${r.file}, ${formatMs(r.ms)})`]
  if (r.error) lines.push(`  ${r.error}`)
  if (r.capture && 'file' in r.capture) {
    lines.push(
      `  packets: ${r.capture.file} (${r.capture.packets} packet(s)${r.capture.kernelDrops ? `, ${r.capture.kernelDrops} dropped by the kernel` : ''}${r.capture.evicted ? `, ${r.capture.evicted} older ones let go` : ''}; open it: wireshark ${r.capture.file})`,
    )
    if (r.capture.trace)
      lines.push(`  trace: ${r.capture.trace} (open it in a browser: nslab trace ${r.capture.trace})`)
  } else if (r.capture) lines.push(`  ${r.capture.error}`)
  if (r.lab?.kept) {
    lines.push(`  lab ${r.lab.id} is left up; enter a host with:`)
    for (const e of r.lab.enter ?? []) lines.push(`    ${e}`)
    lines.push(`  remove it with: nslab down ${r.lab.id}`)
  }
  return lines.join('\n')
}

/** The whole report as text (what `nslab run` prints when not streaming). */
export function formatReport(r: ScenarioReport, color = false): string {
  const items = [...(r.build ? [r.build] : []), ...r.steps, ...r.expectations]
  return [`${r.name}`, ...items.map((i) => formatItem(i, color)), formatSummary(r, color)].join('\n')
}

export function toJson(reports: readonly ScenarioReport[]): string {
  return JSON.stringify({ scenarios: reports }, null, 2) + '\n'
}

const xml = (s: string): string =>
  s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!)
// Control characters are not allowed in XML 1.0 at all.
// eslint-disable-next-line no-control-regex
const clean = (s: string): string => xml(s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '?'))

/** JUnit XML: a testsuite per scenario, a testcase per step and expectation. */
export function toJunit(reports: readonly ScenarioReport[]): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>']
  const total = (f: (r: ScenarioReport) => number): number => reports.reduce((n, r) => n + f(r), 0)
  const cases = (r: ScenarioReport): ItemReport[] => [
    ...(r.build ? [r.build] : []),
    ...r.steps,
    ...r.expectations,
  ]
  out.push(
    `<testsuites name="nslab scenarios" tests="${total((r) => Math.max(1, cases(r).length))}" failures="${total((r) => cases(r).filter((c) => c.status === 'failed').length)}" time="${(total((r) => r.ms) / 1000).toFixed(3)}">`,
  )
  for (const r of reports) {
    const items = cases(r)
    out.push(
      `  <testsuite name="${clean(r.name)}" file="${clean(r.file)}" tests="${Math.max(1, items.length)}" failures="${items.filter((c) => c.status === 'failed').length}" skipped="${items.filter((c) => c.status === 'skipped').length}" time="${(r.ms / 1000).toFixed(3)}">`,
    )
    if (items.length === 0 || r.status === 'missing-feature') {
      const body = r.status === 'passed' ? '' : `<skipped message="${clean(r.error ?? r.status)}"/>`
      out.push(`    <testcase classname="${clean(r.name)}" name="scenario" time="0">${body}</testcase>`)
    }
    for (const c of items) {
      const body =
        c.status === 'failed'
          ? `<failure message="${clean(c.detail ?? 'failed')}">${clean([c.detail ?? '', ...(c.outcomes ?? []).map((o) => `${o.ok ? 'ok' : 'FAILED'} ${o.label}: ${o.detail}`)].join('\n'))}</failure>`
          : c.status === 'skipped'
            ? '<skipped/>'
            : ''
      out.push(
        `    <testcase classname="${clean(r.name)}" name="${clean(c.label)}" time="${(c.ms / 1000).toFixed(3)}">${body}</testcase>`,
      )
    }
    if (r.capture) {
      const text =
        'file' in r.capture
          ? [r.capture.file, r.capture.trace]
              .filter((f) => f !== undefined)
              .map((f) => `[[ATTACHMENT|${f}]]`)
              .join('\n')
          : r.capture.error
      out.push(`    <system-out>${clean(text)}</system-out>`)
    }
    out.push('  </testsuite>')
  }
  out.push('</testsuites>')
  return out.join('\n') + '\n'
}
