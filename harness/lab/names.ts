/**
 * Names the lab gives to namespaces and devices. Every one carries the lab's
 * id; interface names respect IFNAMSIZ (15 bytes) and a name that would not
 * fit is shortened predictably (a stable hash of the full name), never
 * truncated into a collision.
 */
import { createHash, randomBytes } from 'node:crypto'

export const NS_PREFIX = 'nslab'
export const IFNAMSIZ_MAX = 15

/** A fresh lab id: 4 hex characters (plus the pid's low bits to keep parallel runs apart). */
export function newLabId(): string {
  return randomBytes(2).toString('hex')
}

export const HOST_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

/** One sentence if a user's host name cannot be used. */
export function checkHostName(name: string): void {
  if (typeof name !== 'string' || !HOST_NAME_RE.test(name) || name.length > 64)
    throw new TypeError(
      `host name ${JSON.stringify(name)} must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit`,
    )
}

/** The namespace name of a lab node: `nslab-<lab>-<node>`. */
export function netnsName(labId: string, node: string): string {
  return `${NS_PREFIX}-${labId}-${node}`
}

function hash4(text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 4)
}

/**
 * The device name, inside `node`'s namespace, of its link towards `peer`:
 * `<lab>-<peer>`, shortened to `<lab>-<peer head><hash>` when it would not
 * fit in 15 bytes. The hash covers the full peer name, so two long names that
 * share a head still differ.
 */
export function deviceName(labId: string, peer: string, index = 0): string {
  const suffix = index > 0 ? `.${index}` : ''
  const full = `${labId}-${peer}${suffix}`
  if (Buffer.byteLength(full) <= IFNAMSIZ_MAX) return full
  const room = IFNAMSIZ_MAX - labId.length - 1 - 4 - suffix.length
  return `${labId}-${peer.slice(0, Math.max(0, room))}${hash4(peer)}${suffix}`
}
