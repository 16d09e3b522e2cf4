/**
 * The nslab command as a child process, for tests that use it the way a
 * person does: argv in, exit code and output back, killed with SIGKILL after
 * `timeoutMs` (a regression that spins or hangs fails the test instead of
 * hanging the suite).
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'

export const root = join(import.meta.dirname, '../..')
const MAIN = join(root, 'harness/cli/main.ts')

export interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  /** Variables added to this process's environment. */
  env?: Record<string, string>
  /** A command put in front (e.g. setpriv ... to drop capabilities). */
  prefix?: readonly string[]
  /** SIGKILL after this long (default 30 s). */
  timeoutMs?: number
  /** Called with all of stdout so far whenever more arrives, and a way to signal the child. */
  onStdout?: (text: string, kill: (signal: NodeJS.Signals) => void) => void
}

/** Run `node --import tsx harness/cli/main.ts ...args` from the project's root. */
export function runScript(
  script: string,
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliRun> {
  const argv = [...(options.prefix ?? []), process.execPath, '--import', 'tsx', script, ...args]
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: root,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 30_000,
      killSignal: 'SIGKILL',
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      options.onStdout?.(stdout, (s) => child.kill(s))
    })
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

/** The nslab command. */
export function nslab(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  return runScript(MAIN, args, options)
}
