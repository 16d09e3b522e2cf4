import { CLONE_NEWNET, O_CLOEXEC, O_RDONLY, close, open, setns, unshare } from '../sys/index.js'
import { type NetnsRef, usingNetns } from './handle.js'

/**
 * An fd on this thread's own namespace, opened once: module state is per
 * thread (each worker loads its own copy), and nslab never moves a thread
 * for good after its first switch (a runtime worker enters its namespace
 * before anything else runs). Saves an open() of /proc on every switch.
 * Nested switches (depth > 0) open the current namespace instead, so they
 * come back to where they were, not to the thread's home.
 */
let homeFd = -1
let depth = 0

function openHome(): { fd: number; owned: boolean } {
  if (depth > 0) return { fd: open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC), owned: true }
  if (homeFd < 0) homeFd = open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC)
  return { fd: homeFd, owned: false }
}

/** Run `fn` away from home (`leave` switches), then switch back whatever happens. */
function away<T>(leave: () => void, fn: () => T): T {
  const home = openHome()
  try {
    leave()
    depth++
    try {
      return fn()
    } finally {
      depth--
      restore(home.fd)
    }
  } finally {
    if (home.owned) close(home.fd)
  }
}

/** The calling thread could not get back to its own namespace: nothing it does next can be trusted. */
export class NetnsRestoreError extends Error {
  override readonly name = 'NetnsRestoreError'
}

/**
 * Run `fn` synchronously on the calling thread inside the namespace `ref`,
 * then switch back, whatever happens.
 *
 * Only for short synchronous work that creates kernel objects right there
 * (a socket fd, a netlink socket). Do not call Node APIs that create sockets
 * lazily: `net.connect()` opens its socket on a later tick and
 * `server.listen(port, host)` after a deferred lookup, so they would land in
 * the WRONG namespace (the thread's own, after the switch back). Create the
 * fd here with `socketIn()` and adopt it (`new net.Socket({ fd })`,
 * `server.listen({ fd })`), or use a worker that lives in the namespace.
 */
export function withNetns<T>(ref: NetnsRef, fn: () => T): T {
  return usingNetns(ref, (target) =>
    away(
      () => setns(target.fd, CLONE_NEWNET, target.label),
      () => {
        const result = fn()
        if (result instanceof Promise) {
          result.catch(() => undefined)
          throw new TypeError(
            'withNetns() runs synchronous work only: the promise would resume outside the namespace. Use a namespace worker (host.run) for async work.',
          )
        }
        return result
      },
    ),
  )
}

function restore(home: number): void {
  try {
    setns(home, CLONE_NEWNET)
  } catch (err) {
    throw new NetnsRestoreError(
      `could not return the thread to its own network namespace: ${(err as Error).message}`,
      { cause: err },
    )
  }
}

/**
 * Enter a fresh, anonymous namespace on the calling thread, run `fn` there,
 * and come back, whatever happens. Used to create named namespaces without
 * leaving the thread in them.
 */
export function withNewNetns<T>(fn: () => T): T {
  return away(() => unshare(CLONE_NEWNET), fn)
}
