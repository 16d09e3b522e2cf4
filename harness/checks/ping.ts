/**
 * ping without spawning `ping`: an ICMP datagram socket (SOCK_DGRAM,
 * IPPROTO_ICMP/ICMPV6) created inside the namespace, watched by the event
 * loop. The kernel fills in the identifier and checksum and hands back only
 * this socket's echo replies. Needs net.ipv4.ping_group_range to include our
 * group in that namespace (the Lab sets it for its hosts).
 */
import { isIPv4, isIPv6 } from 'node:net'
import { type NetnsRef, socketIn } from '../netns/index.js'
import {
  AF_INET,
  AF_INET6,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_IP,
  IPPROTO_IPV6,
  setsockoptInt,
  MSG_DONTWAIT,
  SOL_SOCKET,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SysError,
  close,
  recv,
  sendto,
  sockaddrIp,
  watchFd,
} from '../sys/index.js'

/**
 * Receive buffer for `count` echo replies: every reply may arrive before the
 * event loop reads one (a burst sent with no interval; a VM whose vCPU was
 * not scheduled for a second). The default buffer (net.core.rmem_default,
 * 208 KiB) holds 256 small replies on 6.18 and 138 on 7.3 (each costs its
 * skb's truesize, 832 and 1536 bytes there): beyond that the kernel drops
 * them and the check would report loss the network never had.
 */
export function replyBuffer(count: number, size: number): number {
  const perReply = 2048 + size
  return Math.min(32 << 20, Math.max(256 << 10, count * perReply))
}

const IP_MTU_DISCOVER = 10
const IPV6_MTU_DISCOVER = 23
const PMTUDISC_DO = 2

export interface PingOptions {
  /** Echo requests to send (default 3). */
  count?: number
  /** Milliseconds between requests (default 0: back to back). */
  interval?: number
  /** Milliseconds to wait for replies after the last request (default 1000). */
  timeout?: number
  /** Payload bytes (default 56, as ping). */
  size?: number
  /** Label of the source, for messages. */
  from?: string
  /**
   * Set Don't Fragment (IP_PMTUDISC_DO): a request larger than the path MTU
   * is refused (EMSGSIZE) instead of fragmented. Used by the path-MTU probe.
   */
  dontFragment?: boolean
}

export interface PingResult {
  from: string
  to: string
  /** Requests the kernel accepted (fewer than `count` when sending failed, see `errors`). */
  sent: number
  received: number
  /** Fraction of the `count` requests that got no reply, 0..1. */
  loss: number
  /** Round-trip times in ms; null when nothing came back. */
  rtt: { min: number; avg: number; max: number } | null
  /** Errors the kernel reported (ENETUNREACH, EHOSTUNREACH...), deduplicated. */
  errors: string[]
}

export async function ping(ns: NetnsRef, to: string, options: PingOptions = {}): Promise<PingResult> {
  return (await pingEach(ns, [to], options))[0]!
}

/** Sequence numbers are 16 bits: at most this many requests on one socket. */
export const MAX_REQUESTS = 0xffff

/**
 * Ping several addresses of one family from one ICMP socket at once: each
 * round sends one request to every target (`interval` between rounds), and a
 * reply finds its target by its sequence number. One socket and one watch
 * for all of them, where `ping` per target makes its own: how a
 * reachability matrix probes a source's peers together. Results in the order
 * of `targets`; `from` may name the source per target.
 */
export async function pingEach(
  ns: NetnsRef,
  targets: readonly string[],
  options: Omit<PingOptions, 'from'> & { from?: string | readonly string[] } = {},
): Promise<PingResult[]> {
  const count = options.count ?? 3
  const interval = options.interval ?? 0
  const timeout = options.timeout ?? 1000
  const size = options.size ?? 56
  if (targets.length === 0) return []
  const v6 = isIPv6(targets[0]!)
  for (const to of targets) {
    if (!isIPv4(to) && !isIPv6(to))
      throw new TypeError(`ping needs a literal IPv4 or IPv6 address, got ${JSON.stringify(to)}`)
    if (isIPv6(to) !== v6)
      throw new TypeError(`one ping socket speaks one family: ${targets[0]} and ${to} do not mix`)
  }
  if (count * targets.length > MAX_REQUESTS)
    throw new RangeError(
      `${count} requests to each of ${targets.length} addresses exceed the ${MAX_REQUESTS} sequence numbers of one socket`,
    )
  const label = (i: number): string =>
    typeof options.from === 'string'
      ? options.from
      : (options.from?.[i] ?? (typeof ns === 'string' ? ns : 'namespace'))
  let fd: number
  try {
    fd = socketIn(ns, v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP)
  } catch (err) {
    if (err instanceof SysError && err.code === 'EACCES')
      throw new Error(
        `ICMP datagram sockets are not allowed in ${label(0)}: set net.ipv4.ping_group_range to "0 2147483647" there (the Lab does this for its hosts)`,
        { cause: err },
      )
    throw err
  }
  const requests = count * targets.length
  try {
    // FORCE passes net.core.rmem_max (root, CAP_NET_ADMIN); without it, as big as allowed.
    setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, replyBuffer(requests, size))
  } catch {
    try {
      setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, replyBuffer(requests, size))
    } catch {
      // the default buffer then
    }
  }
  if (options.dontFragment) {
    try {
      if (v6) setsockoptInt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, PMTUDISC_DO)
      else setsockoptInt(fd, IPPROTO_IP, IP_MTU_DISCOVER, PMTUDISC_DO)
    } catch (err) {
      close(fd)
      throw err
    }
  }
  const dests = targets.map((to) => sockaddrIp(to))
  // Per target: the requests that left and are not answered yet (seq -> when), the round trips, the errors.
  const state = targets.map(() => ({ sent: 0, rtts: [] as number[], errors: new Set<string>() }))
  const outstanding = new Map<number, { target: number; at: number }>()
  /** Errors the socket reported that no request can be tied to (none on a socket never connected). */
  const socketErrors = new Set<string>()
  const buf = Buffer.alloc(size + 64)
  const watcher = watchFd(fd)
  let sending = true
  let finish: () => void = () => undefined
  const done = new Promise<void>((resolve) => (finish = resolve))

  const onReadable = (): void => {
    try {
      for (;;) {
        let length: number
        try {
          // recv, not recvfrom: a reply is known by its sequence number, not by who sent it.
          length = recv(fd, buf, MSG_DONTWAIT)
        } catch (err) {
          if (err instanceof SysError) {
            socketErrors.add(err.code)
            continue
          }
          throw err
        }
        if (length < 0) break
        if (length < 8) continue
        const type = buf[0]
        if (type !== (v6 ? 129 : 0)) continue
        const seq = buf.readUInt16BE(6)
        const req = outstanding.get(seq)
        if (req === undefined) continue
        outstanding.delete(seq)
        state[req.target]!.rtts.push(performance.now() - req.at)
        // Every request that left has been answered: no need to wait out the timeout.
        if (outstanding.size === 0 && sending === false) finish()
      }
    } catch (err) {
      socketErrors.add(String((err as Error).message))
      finish()
    }
  }
  watcher.start({ readable: true }, onReadable)

  const packet = Buffer.alloc(8 + size)
  packet[0] = v6 ? 128 : 8
  for (let i = 0; i < size; i++) packet[8 + i] = i & 0xff
  let timer: NodeJS.Timeout | undefined
  try {
    let seq = 0
    for (let round = 1; round <= count; round++) {
      for (let t = 0; t < targets.length; t++) {
        seq++
        packet.writeUInt16BE(seq, 6)
        outstanding.set(seq, { target: t, at: performance.now() })
        try {
          if (sendto(fd, packet, 0, dests[t]!) >= 0) state[t]!.sent++
        } catch (err) {
          outstanding.delete(seq)
          if (err instanceof SysError) state[t]!.errors.add(err.code)
          else throw err
        }
      }
      if (interval > 0 && round < count) await new Promise((r) => setTimeout(r, interval))
    }
    sending = false
    if (outstanding.size > 0) {
      timer = setTimeout(finish, timeout)
      await done
    }
  } finally {
    clearTimeout(timer)
    watcher.close()
    close(fd)
  }
  return targets.map((to, t) => {
    const { sent, rtts, errors } = state[t]!
    for (const e of socketErrors) errors.add(e)
    const received = rtts.length
    return {
      from: label(t),
      to,
      sent,
      received,
      loss: count === 0 ? 0 : 1 - received / count,
      rtt:
        received === 0
          ? null
          : {
              min: Math.min(...rtts),
              avg: rtts.reduce((a, b) => a + b, 0) / received,
              max: Math.max(...rtts),
            },
      errors: [...errors],
    }
  })
}
