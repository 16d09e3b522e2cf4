/**
 * One builder at a time for what is built into a shared cache (the runner
 * image, and the debootstrap .deb cache it is built from): an exclusive
 * flock(2) on a lock file in the cache directory. The lock belongs to the
 * open file, so the kernel drops it when the holder dies, however it dies,
 * and a tool the holder started with the lock passed on (`lock.stdio`) keeps
 * holding it while it runs on after its parent was killed: nobody else
 * writes into the cache until that tool is gone.
 *
 * `buildOnce` is the whole protocol: look for the product; if it is missing,
 * take the lock (waiting, with one line naming the holder's pid, while another
 * process builds), look again, and build only if it is still missing. The
 * holder writes its pid, start time and what it builds into the lock file for
 * the waiters to name, and removes the file when it lets go (a waiter that
 * then finds it has locked a removed file opens the path again).
 */
import type { StdioOptions } from 'node:child_process'
import {
  closeSync,
  constants as fsc,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { dirname } from 'node:path'
import { flock, LOCK_EX, LOCK_NB } from '../sys/index.js'
import { ContainerError } from './errors.js'
import { processStartTime } from './owner.js'

/** The fd number at which a child started with `lock.stdio(...)` holds the lock (debootstrap uses 3 to 7). */
export const LOCK_CHILD_FD = 9
export const DEFAULT_WAIT_MS = 20 * 60_000
export const DEFAULT_POLL_MS = 500

/** What the holder writes into the lock file. */
export interface LockHolder {
  pid: number
  /** The holder's start time (/proc/PID/stat field 22), to tell it from a process that reused its pid. */
  startTime: number
  /** What it builds, for people reading the waiters' line. */
  what: string
  /** When it took the lock (ISO time). */
  since: string
}

type StdioEntry = Exclude<StdioOptions, string>[number]

/** The lock, held until `release()` (or until this process and every child it was passed to are gone). */
export class BuildLock {
  #released = false
  constructor(
    readonly path: string,
    readonly fd: number,
  ) {}

  /**
   * `spawn` stdio that also hands the lock to the child, at fd LOCK_CHILD_FD:
   * if this process is killed while the child runs, the lock stays held
   * until the child (and whatever it started) exits.
   */
  stdio(stdin: StdioEntry, stdout: StdioEntry, stderr: StdioEntry): StdioEntry[] {
    const entries: StdioEntry[] = [stdin, stdout, stderr]
    while (entries.length < LOCK_CHILD_FD) entries.push('ignore')
    entries.push(this.fd)
    return entries
  }

  /** Remove the lock file (while still holding it) and close it, which lets the next builder in. Idempotent. */
  release(): void {
    if (this.#released) return
    this.#released = true
    try {
      if (sameFile(this.fd, this.path)) unlinkSync(this.path)
    } catch {
      /* already gone: nothing to remove */
    } finally {
      closeSync(this.fd)
    }
  }
}

/** True while `path` still names the file open at `fd` (a holder removes the file as it lets go). */
function sameFile(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd)
    const b = statSync(path)
    return a.ino === b.ino && a.dev === b.dev
  } catch {
    return false
  }
}

/** The holder's record in the lock file, or undefined while it is being written (or unreadable). */
export function readHolder(path: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>
    if (typeof h.pid !== 'number' || typeof h.startTime !== 'number') return undefined
    return { pid: h.pid, startTime: h.startTime, what: String(h.what ?? '?'), since: String(h.since ?? '?') }
  } catch {
    return undefined
  }
}

/** "pid 123" or, when that process is gone but a tool it started still holds the lock, says so. */
function describeHolder(h: LockHolder | undefined): string {
  if (!h) return 'another process'
  const alive = processStartTime(h.pid) === h.startTime
  return alive ? `pid ${h.pid}` : `pid ${h.pid} (gone; a tool it started still holds the lock)`
}

const whatOf = (h: LockHolder | undefined) => h?.what ?? 'an image'
const duration = (ms: number) =>
  ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`

export interface AcquireOptions {
  /** What this process is about to build (written into the lock file for waiters to read). */
  what: string
  log?: (line: string) => void
  /** Give up waiting after this long (default 20 min). */
  waitMs?: number
  /** Check the lock this often while waiting (default 500 ms). */
  pollMs?: number
  /** Stop waiting (with a ContainerError) once this is aborted, say by SIGINT. */
  signal?: AbortSignal
}

/**
 * Take the lock at `path` (its directory is created), waiting while another
 * process holds it. Says once, through `log`, whom it waits for. Returns
 * the lock, whether it had to wait, and the holder it waited for (the last
 * one whose record it could read).
 */
export async function acquireBuildLock(
  path: string,
  o: AcquireOptions,
): Promise<{ lock: BuildLock; waited: boolean; waitedFor?: LockHolder }> {
  const waitMs = o.waitMs ?? DEFAULT_WAIT_MS
  const pollMs = o.pollMs ?? DEFAULT_POLL_MS
  mkdirSync(dirname(path), { recursive: true })
  const deadline = Date.now() + waitMs
  let waitedFor: LockHolder | undefined
  let announced = false
  let polls = 0
  for (;;) {
    const fd = openSync(path, fsc.O_RDWR | fsc.O_CREAT, 0o644)
    let kept = false
    try {
      if (flock(fd, LOCK_EX | LOCK_NB, path)) {
        // Locked; but if the holder removed this file as it let go, the lock is on the path's new file.
        if (!sameFile(fd, path)) continue
        const me: LockHolder = {
          pid: process.pid,
          startTime: processStartTime(process.pid) ?? 0,
          what: o.what,
          since: new Date().toISOString(),
        }
        ftruncateSync(fd, 0)
        writeSync(fd, JSON.stringify(me) + '\n', 0)
        kept = true
        const lock = new BuildLock(path, fd)
        return waitedFor ? { lock, waited: true, waitedFor } : { lock, waited: polls > 0 }
      }
    } finally {
      if (!kept) closeSync(fd)
    }
    const holder = readHolder(path)
    if (holder) waitedFor = holder
    // The holder writes its record right after locking: give it one poll before naming nobody.
    if (!announced && (holder || polls > 0)) {
      announced = true
      const then = holder?.what === o.what ? 'then reusing it' : `then building ${o.what}`
      o.log?.(
        `waiting for ${describeHolder(holder)} to finish building ${whatOf(holder)} (lock ${path}), ${then}`,
      )
    }
    if (Date.now() >= deadline) {
      const kill = holder ? ` (kill ${holder.pid})` : ''
      throw new ContainerError(
        `gave up after ${duration(waitMs)} waiting for ${describeHolder(holder)} to finish building ${whatOf(holder)} (lock ${path}); if that build hangs, stop it${kill} and run again (fuser -v ${path} lists the processes holding the lock)`,
      )
    }
    polls++
    await new Promise((r) => setTimeout(r, pollMs))
    if (o.signal?.aborted)
      throw new ContainerError(
        `stopped waiting for ${describeHolder(holder)} to finish building ${whatOf(holder)} (lock ${path}): interrupted`,
      )
  }
}

export interface BuildOnceOptions<T> extends AcquireOptions {
  /** The lock file, beside the cache the build writes into. */
  lockPath: string
  /** The product if it exists already (looked up before taking the lock, and again once it is held). */
  find: () => Promise<T | undefined>
  /** Make it; runs with the lock held, released afterwards whatever happens. */
  build: (lock: BuildLock) => Promise<T>
}

export interface BuildOnceResult<T> {
  value: T
  /** True when this process built it; false when it existed or another process built it meanwhile. */
  built: boolean
  /** The holder this process waited for, if it had to wait. */
  waitedFor?: LockHolder
}

/** Find the product, or build it, with at most one process building at a time; the others wait and reuse it. */
export async function buildOnce<T>(o: BuildOnceOptions<T>): Promise<BuildOnceResult<T>> {
  const found = await o.find()
  if (found !== undefined) return { value: found, built: false }
  const { lock, waited, waitedFor } = await acquireBuildLock(o.lockPath, o)
  const extra = waitedFor ? { waitedFor } : {}
  try {
    const meanwhile = await o.find()
    if (meanwhile !== undefined) {
      if (waited)
        o.log?.(
          `${o.what} was built meanwhile by ${waitedFor ? `pid ${waitedFor.pid}` : 'another process'}: reusing it`,
        )
      return { value: meanwhile, built: false, ...extra }
    }
    const value = await o.build(lock)
    return { value, built: true, ...extra }
  } finally {
    lock.release()
  }
}
