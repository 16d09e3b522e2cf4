/**
 * The nslab command for the Debian kernel tests (test/vm/debian-*.test.ts):
 * run with a hard timeout, timed, and `nslab kernel list`'s table parsed.
 */
import { nslab as runNslab } from './cli.js'

export interface Ran {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

/** The nslab command (test/support/cli.ts), killed after `timeoutMs`, with how long it took. */
export async function nslab(args: string[], timeoutMs: number): Promise<Ran> {
  const t0 = performance.now()
  const r = await runNslab(args, { env: { FORCE_COLOR: '0' }, timeoutMs })
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 }
}

export interface Row {
  version: string
  packageVersion: string
  suites: string[]
  marks: string[]
}

export function parseList(out: string): Row[] {
  return out
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => {
      const [version = '', packageVersion = '', suites = '', marks = ''] = l.split(/\s+/)
      return { version, packageVersion, suites: suites.split(','), marks: marks ? marks.split(',') : [] }
    })
}
