import { fstatSync } from 'node:fs'
import {
  CLONE_NEWNET,
  NS_GET_NSTYPE,
  O_CLOEXEC,
  O_RDONLY,
  SysError,
  close,
  ioctl,
  open,
} from '../sys/index.js'
import { netnsPath } from './names.js'

/** Thrown when a path or fd is not a network namespace. */
export class NotANetnsError extends Error {
  override readonly name = 'NotANetnsError'
}

/**
 * Identity of a namespace: the device and inode of its nsfs file (two paths
 * or fds name the same namespace exactly when these are equal).
 */
export interface NetnsId {
  dev: bigint
  ino: bigint
}

/**
 * An open network namespace: an fd on its nsfs file. Holding it keeps the
 * namespace alive; close it (or `using` it) when done.
 */
export class Netns {
  /** The open fd (O_CLOEXEC). -1 once closed. */
  fd: number
  /** The path it was opened from. */
  readonly path: string
  /** Its name under /run/netns, if opened by name. */
  readonly name: string | undefined
  private identity: NetnsId | undefined

  constructor(fd: number, path: string, name?: string) {
    this.fd = fd
    this.path = path
    this.name = name
  }

  /** Device and inode of the namespace (fstat on first use; an fd opened per operation rarely needs it). */
  get id(): NetnsId {
    if (!this.identity) {
      if (this.fd < 0) throw new TypeError(`namespace handle ${this.label} is closed`)
      const st = fstatSync(this.fd, { bigint: true })
      this.identity = { dev: st.dev, ino: st.ino }
    }
    return this.identity
  }

  /** A label for messages: the name, else the path. */
  get label(): string {
    return this.name ?? this.path
  }

  /** True when both handles refer to the same namespace (same dev and inode). */
  is(other: Netns | NetnsId): boolean {
    return sameNetns(this.id, other instanceof Netns ? other.id : other)
  }

  close(): void {
    if (this.fd >= 0) {
      const fd = this.fd
      this.fd = -1
      close(fd)
    }
  }

  [Symbol.dispose](): void {
    this.close()
  }
}

export function sameNetns(a: NetnsId, b: NetnsId): boolean {
  return a.dev === b.dev && a.ino === b.ino
}

/** Open any path that should be a network namespace file, checking that it is one. */
export function openNetnsPath(path: string, name?: string): Netns {
  let fd: number
  try {
    fd = open(path, O_RDONLY | O_CLOEXEC)
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENOENT')
      throw new NotANetnsError(
        name ? `namespace ${name} does not exist (no ${path}; see: ip netns list)` : `${path} does not exist`,
      )
    throw err
  }
  try {
    let type: number
    try {
      type = ioctl(fd, NS_GET_NSTYPE, 0, path)
    } catch (err) {
      if (err instanceof SysError && (err.code === 'ENOTTY' || err.code === 'EINVAL'))
        throw new NotANetnsError(
          `${path} is not a namespace file${name ? ` (is namespace ${name} mounted? try: nslab gc)` : ''}`,
        )
      throw err
    }
    if (type !== CLONE_NEWNET) throw new NotANetnsError(`${path} is a namespace, but not a network namespace`)
    return new Netns(fd, path, name)
  } catch (err) {
    close(fd)
    throw err
  }
}

/** Open a named namespace (`/run/netns/NAME`). */
export function openNetns(name: string): Netns {
  return openNetnsPath(netnsPath(name), name)
}

/** Open the network namespace of a process. */
export function openNetnsOfPid(pid: number): Netns {
  if (!Number.isInteger(pid) || pid <= 0) throw new TypeError(`not a process id: ${pid}`)
  return openNetnsPath(`/proc/${pid}/ns/net`)
}

/** Open the namespace the calling thread is in now. */
export function openCurrentNetns(): Netns {
  return openNetnsPath('/proc/thread-self/ns/net')
}

/** A namespace given as a name, an open handle, or by path/pid. */
export type NetnsRef = string | Netns | { path: string } | { pid: number }

/**
 * Resolve a NetnsRef to an open handle. `owned` says whether the caller must
 * close it (true when this call opened it).
 */
export function resolveNetns(ref: NetnsRef): { ns: Netns; owned: boolean } {
  if (ref instanceof Netns) {
    if (ref.fd < 0) throw new TypeError(`namespace handle ${ref.label} is closed`)
    return { ns: ref, owned: false }
  }
  if (typeof ref === 'string') return { ns: openNetns(ref), owned: true }
  if ('path' in ref) return { ns: openNetnsPath(ref.path), owned: true }
  return { ns: openNetnsOfPid(ref.pid), owned: true }
}

/** Run fn with an open handle for ref, closing it afterwards if this call opened it. */
export function usingNetns<T>(ref: NetnsRef, fn: (ns: Netns) => T): T {
  const { ns, owned } = resolveNetns(ref)
  try {
    return fn(ns)
  } finally {
    if (owned) ns.close()
  }
}
