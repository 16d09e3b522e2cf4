/**
 * The guest's whole console on disk: written as it comes into the run's
 * control directory, and kept (copied out before the directory goes) when
 * the run failed, so a hang, a panic or a segfault in the guest can be read
 * afterwards, not only the last lines an error message quotes.
 */
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { cacheDir } from './initramfs.js'

/** How many kept consoles a directory holds; the oldest go first. */
export const KEPT_CONSOLES = 40

/** Where failed runs' consoles are kept: NSLAB_VM_CONSOLE_DIR, else `consoles` in nslab's cache. */
export function consoleDir(): string {
  return process.env.NSLAB_VM_CONSOLE_DIR || join(cacheDir(), 'consoles')
}

/** The console of one run, appended to a file as it comes (opened at the first byte). */
export class ConsoleFile {
  private fd: number | undefined
  private opened = false

  constructor(readonly path: string) {}

  write(chunk: Buffer): void {
    try {
      if (!this.opened) {
        this.opened = true
        this.fd = openSync(this.path, 'a', 0o600)
      }
      if (this.fd === undefined) return
      writeSync(this.fd, chunk)
    } catch {
      // A full disk loses the file, not the run (the in-memory tail still says the end).
      this.close()
    }
  }

  close(): void {
    if (this.fd === undefined) return
    closeSync(this.fd)
    this.fd = undefined
  }

  /**
   * Copy the file into `dir` as `<time>-<kernel>-<pid>.log` and return its
   * path; keep only the newest KEPT_CONSOLES there. Undefined (with the
   * reason passed to `onError`) when it could not be kept.
   */
  keep(dir: string, kernel: string, onError: (why: string) => void): string | undefined {
    this.close()
    try {
      // A guest that printed nothing leaves an empty file, which says so.
      if (!this.opened) writeFileSync(this.path, '')
      mkdirSync(dir, { recursive: true })
      const stamp = new Date().toISOString().replace(/[:.]/g, '-')
      const target = join(dir, `${stamp}-${kernel.replace(/[^A-Za-z0-9.+_-]/g, '_')}-${process.pid}.log`)
      copyFileSync(this.path, target)
      pruneConsoles(dir, KEPT_CONSOLES)
      return target
    } catch (err) {
      onError(`could not keep the VM's console in ${dir}: ${(err as Error).message}`)
      return undefined
    }
  }
}

/** Remove all but the newest `keep` `.log` files of `dir` (by modification time). */
export function pruneConsoles(dir: string, keep: number): void {
  const logs = readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t || (a.f < b.f ? 1 : -1))
  for (const { f } of logs.slice(keep)) unlinkSync(join(dir, f))
}
