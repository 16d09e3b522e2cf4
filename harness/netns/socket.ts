import { SOCK_CLOEXEC, socket } from '../sys/index.js'
import type { NetnsRef } from './handle.js'
import { withNetns } from './thread.js'

/**
 * Create a socket inside a namespace and return its fd. The socket belongs
 * to the namespace it was created in for life, whichever thread uses it
 * afterwards (the kernel binds a socket to its creator's namespace):
 * adopt it on any thread with `new net.Socket({ fd })`, `server.listen({ fd })`
 * or `dgram.createSocket(...).bind({ fd })`.
 */
export function socketIn(ref: NetnsRef, domain: number, type: number, protocol = 0): number {
  return withNetns(ref, () => socket(domain, type | SOCK_CLOEXEC, protocol))
}
