/**
 * Waiting for a daemon to say it is ready: resolve when a line of its
 * output matches, reject when it exits first or the deadline passes (with
 * the tail of its output). Never a sleep.
 */
import type { NetnsProcess } from '../netns/index.js'

function tail(proc: NetnsProcess, lines = 15): string {
  const { stdout, stderr } = proc.output()
  return (stdout + stderr).trim().split('\n').slice(-lines).join('\n')
}

export function waitForOutput(
  proc: NetnsProcess,
  pattern: RegExp,
  options: { timeout: number; what: string },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const seen = (): boolean => {
      const { stdout, stderr } = proc.output()
      return pattern.test(stdout) || pattern.test(stderr)
    }
    const cleanup = (): void => {
      clearTimeout(timer)
      proc.stdout.off('data', check)
      proc.stderr.off('data', check)
    }
    const check = (): void => {
      if (!seen()) return
      cleanup()
      resolve()
    }
    const timer = setTimeout(() => {
      cleanup()
      proc.kill('SIGKILL')
      reject(
        new Error(
          `${options.what}: ${proc.argv[0]} in ${proc.netns} did not print ${pattern} within ${options.timeout / 1000} s; its last output:\n${tail(proc)}`,
        ),
      )
    }, options.timeout)
    proc.stdout.on('data', check)
    proc.stderr.on('data', check)
    proc.started.catch((err: unknown) => {
      cleanup()
      reject(err as Error)
    })
    void proc.exited.then((st) => {
      // Output may still be in flight: look once more before failing.
      if (seen()) return check()
      cleanup()
      reject(
        new Error(
          `${options.what}: ${proc.argv[0]} in ${proc.netns} exited (${st.code ?? st.signal}) before it was ready; its last output:\n${tail(proc)}`,
        ),
      )
    })
    check()
  })
}

/** Stop a daemon: SIGTERM, then SIGKILL if it has not gone after `graceMs`. */
export async function stopProcess(proc: NetnsProcess, graceMs = 5000): Promise<void> {
  if (proc.exitedAlready) return
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
  try {
    await proc.exited
  } finally {
    clearTimeout(timer)
  }
}
