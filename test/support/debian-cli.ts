/**
 * The nslab command for the Debian kernel tests (test/vm/debian-*.test.ts):
 * run with a hard timeout, timed, and `nslab kernel list`'s table parsed.
 */
import { spawn } from 'node:child_process'

export interface Ran {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

export function nslab(args: string[], timeoutMs: number): Promise<Ran> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'harness/cli/main.ts', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: performance.now() - t0 })
    })
  })
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
