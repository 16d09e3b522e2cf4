/**
 * What `nslab down` says about a removal: the truth, read back from the
 * namespaces still present afterwards, never what it meant to do.
 */
import type { GcReport } from '../lab/gc.js'

const PERMISSION = /\b(EPERM|EACCES)\b/

/**
 * Lines for stdout and stderr, and the exit code: 0 removed, 1 an error,
 * 3 an error the kernel gave for want of privilege. `present` is the list of
 * namespaces there after the removal (listNetns()).
 */
export function removalReport(
  report: GcReport,
  present: readonly string[],
): { out: string[]; err: string[]; code: number } {
  const out: string[] = []
  const err = report.errors.map((e) => `error: ${e}`)
  const still = new Set(present)
  let failed = report.errors.length > 0
  for (const lab of report.reaped) {
    const left = lab.namespaces.filter((n) => still.has(n))
    if (left.length === 0)
      out.push(
        `removed lab ${lab.id}: ${lab.namespaces.length} namespace(s)${lab.killed.length ? `, killed ${lab.killed.join(' ')}` : ''}`,
      )
    else {
      failed = true
      err.push(
        `could not remove lab ${lab.id}: ${left.length} of ${lab.namespaces.length} namespace(s) still there (${left.join(' ')})`,
      )
    }
  }
  const code = !failed ? 0 : report.errors.some((e) => PERMISSION.test(e)) ? 3 : 1
  return { out, err, code }
}
