/**
 * rtnetlink events: join multicast groups on a socket of their own inside a
 * namespace, decode what the kernel announces, and let callers iterate or
 * wait for a condition, never sleep: a listener subscribed before the
 * action sees every announcement that follows it.
 */
import type { NetnsRef } from '../netns/index.js'
import type { SocketFilter } from '../sys/index.js'
import { RTM, RTNLGRP } from './codec/constants.js'
import type { RawMessage } from './codec/header.js'
import { decodeAddr } from './codec/messages/addr.js'
import { decodeLink } from './codec/messages/link.js'
import { decodeNeigh } from './codec/messages/neigh.js'
import { decodeRoute } from './codec/messages/route.js'
import { type Address, toAddress } from './addr.js'
import { type Link, toLink } from './link.js'
import { type Neighbour, toNeighbour } from './neigh.js'
import { type Route, toRoute } from './route.js'
import { NetlinkSocket } from './transport/socket.js'

export type EventGroup = 'link' | 'addr' | 'route' | 'neigh'

export type NetlinkEvent =
  | { kind: 'link'; action: 'new' | 'del'; link: Link }
  | { kind: 'addr'; action: 'new' | 'del'; addr: Address }
  | { kind: 'route'; action: 'new' | 'del'; route: Route }
  | { kind: 'neigh'; action: 'new' | 'del'; neigh: Neighbour }

const GROUPS: Record<EventGroup, number[]> = {
  link: [RTNLGRP.LINK],
  addr: [RTNLGRP.IPV4_IFADDR, RTNLGRP.IPV6_IFADDR],
  route: [RTNLGRP.IPV4_ROUTE, RTNLGRP.IPV6_ROUTE],
  neigh: [RTNLGRP.NEIGH],
}

/** How one object's messages become events: the decoder and the operations' conversion. */
type EventDecoder = (payload: RawMessage['payload'], action: 'new' | 'del') => NetlinkEvent

const link: EventDecoder = (p, action) => ({ kind: 'link', action, link: toLink(decodeLink(p)) })
const addr: EventDecoder = (p, action) => ({ kind: 'addr', action, addr: toAddress(decodeAddr(p)) })
const route: EventDecoder = (p, action) => ({ kind: 'route', action, route: toRoute(decodeRoute(p)) })
const neigh: EventDecoder = (p, action) => ({ kind: 'neigh', action, neigh: toNeighbour(decodeNeigh(p)) })

/** The message types reported as events: type -> action and decoder. */
const EVENTS = new Map<number, readonly [action: 'new' | 'del', decode: EventDecoder]>([
  [RTM.NEWLINK, ['new', link]],
  [RTM.DELLINK, ['del', link]],
  [RTM.NEWADDR, ['new', addr]],
  [RTM.DELADDR, ['del', addr]],
  [RTM.NEWROUTE, ['new', route]],
  [RTM.DELROUTE, ['del', route]],
  [RTM.NEWNEIGH, ['new', neigh]],
  [RTM.DELNEIGH, ['del', neigh]],
])

/** Decode one multicast message into an event, or undefined for types we do not report. */
export function decodeEvent(m: RawMessage): NetlinkEvent | undefined {
  const entry = EVENTS.get(m.header.type)
  return entry === undefined ? undefined : entry[1](m.payload, entry[0])
}

export class EventTimeoutError extends Error {
  override readonly name = 'EventTimeoutError'
}

/**
 * A live subscription. Events are buffered from the moment it is made, so
 * subscribe first, then act, then wait: nothing announced in between is lost.
 */
export class EventSubscription implements AsyncIterable<NetlinkEvent> {
  readonly netns: string
  private readonly sock: NetlinkSocket
  private readonly buffer: NetlinkEvent[] = []
  private readonly waiters = new Set<() => void>()
  private failure: Error | undefined
  private closed = false

  constructor(netns: NetnsRef | undefined, groups: readonly EventGroup[]) {
    const ids = groups.flatMap((g) => GROUPS[g])
    this.sock = NetlinkSocket.open({ netns, groups: ids })
    this.netns = this.sock.netns
    this.sock.onMessage(
      (m) => {
        let ev: NetlinkEvent | undefined
        try {
          ev = decodeEvent(m)
        } catch (err) {
          this.failure = err as Error
        }
        if (ev) this.buffer.push(ev)
        this.wake()
      },
      (err) => {
        this.failure = err
        this.wake()
      },
    )
  }

  private wake(): void {
    for (const w of [...this.waiters]) w()
  }

  /** The next buffered event, waiting for one if needed. */
  private async next(signal?: AbortSignal): Promise<NetlinkEvent | undefined> {
    const release = this.sock.hold()
    try {
      for (;;) {
        if (this.failure) throw this.failure
        const ev = this.buffer.shift()
        if (ev) return ev
        if (this.closed || signal?.aborted) return undefined
        await new Promise<void>((resolve) => {
          const done = (): void => {
            this.waiters.delete(done)
            signal?.removeEventListener('abort', done)
            resolve()
          }
          this.waiters.add(done)
          signal?.addEventListener('abort', done, { once: true })
        })
      }
    } finally {
      release()
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<NetlinkEvent> {
    for (;;) {
      const ev = await this.next()
      if (!ev) return
      yield ev
    }
  }

  /**
   * Resolve with the first event (buffered or future) that satisfies
   * `predicate`; reject after `timeout` ms or when `signal` aborts, saying
   * what was awaited and in which namespace.
   */
  async waitFor(
    predicate: (ev: NetlinkEvent) => boolean,
    options: { timeout?: number; signal?: AbortSignal; what?: string } = {},
  ): Promise<NetlinkEvent> {
    const controller = new AbortController()
    const timer =
      options.timeout === undefined ? undefined : setTimeout(() => controller.abort(), options.timeout)
    const onAbort = (): void => controller.abort()
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      for (;;) {
        const ev = await this.next(controller.signal)
        if (!ev) {
          const what = options.what ?? 'a matching netlink event'
          if (options.signal?.aborted)
            throw new EventTimeoutError(`gave up waiting for ${what} in namespace ${this.netns}: aborted`)
          if (this.closed)
            throw new EventTimeoutError(
              `subscription in namespace ${this.netns} closed while waiting for ${what}`,
            )
          throw new EventTimeoutError(`no ${what} in namespace ${this.netns} within ${options.timeout} ms`)
        }
        if (predicate(ev)) return ev
      }
    } finally {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.sock.close()
    this.wake()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}

/** Subscribe to link/addr/route/neigh events in a namespace (default: the calling thread's). */
export function subscribe(netns: NetnsRef | undefined, groups: readonly EventGroup[]): EventSubscription {
  return new EventSubscription(netns, groups)
}

/**
 * One line for an event, as `ip monitor` would say it: `new link eth0 UP mtu 1500`,
 * `del addr 10.0.0.1/24 dev eth0`, `new route 10.0.1.0/24 via 10.0.0.2 dev
 * eth0`, `new neigh 10.0.0.2 lladdr 02:… dev eth0 reachable`. `deviceName`
 * turns an ifindex into a name where the caller knows it.
 */
export function describeEvent(
  ev: NetlinkEvent,
  deviceName: (index: number) => string | undefined = () => undefined,
): string {
  const dev = (index: number | undefined): string =>
    index === undefined ? '' : ` dev ${deviceName(index) ?? `if${index}`}`
  switch (ev.kind) {
    case 'link':
      return `${ev.action} link ${ev.link.name} ${ev.link.operstate}${ev.link.up ? '' : ' (admin down)'}${ev.link.mtu ? ` mtu ${ev.link.mtu}` : ''}`
    case 'addr':
      return `${ev.action} addr ${ev.addr.cidr}${dev(ev.addr.index)}${ev.addr.tentative ? ' tentative' : ''}`
    case 'route': {
      const r = ev.route
      return `${ev.action} route ${r.type !== 'unicast' ? `${r.type} ` : ''}${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${dev(r.oif)}${r.table !== 254 ? ` table ${r.table}` : ''}`
    }
    case 'neigh':
      return `${ev.action} neigh ${ev.neigh.address}${ev.neigh.lladdr ? ` lladdr ${ev.neigh.lladdr}` : ''}${dev(ev.neigh.index)} ${ev.neigh.state.join(',')}`
  }
}

/** A callback watcher (see watchEvents): close() leaves the groups and closes its socket (if its own). */
export interface EventWatcher {
  readonly netns: string
  close(): void
}

/**
 * Call `onMessage` with every message of `groups` announced in a namespace
 * from now on, undecoded (a recorder that decodes only what it is asked to
 * show later pays a copy per message, not a decode). The socket does not
 * keep the process alive; a socket error goes to `onError`.
 */
export function watchMessages(
  netns: NetnsRef | undefined,
  groups: readonly EventGroup[],
  onMessage: (m: RawMessage) => void,
  onError: (err: Error) => void = () => undefined,
): EventWatcher {
  const sock = NetlinkSocket.open({ netns, groups: groups.flatMap((g) => GROUPS[g]) })
  sock.onMessage(onMessage, onError)
  return { netns: sock.netns, close: () => sock.close() }
}

/**
 * `watchMessages` on a socket that exists already (a client's request
 * socket, see Netlink.watchMessages): it joins `groups` for as long as the
 * watcher lives (counted, so other waits on the socket keep theirs), and the
 * announcements are read with the answers to its requests instead of waking
 * the event loop for a socket of their own. An overrun (ENOBUFS) fails the
 * requests waiting on that socket too, and goes to `onError`. With `filter`,
 * the socket runs it (see NetlinkSocket.filterFor) while the watcher lives.
 */
export function watchMessagesOn(
  sock: NetlinkSocket,
  groups: readonly EventGroup[],
  onMessage: (m: RawMessage) => void,
  onError: (err: Error) => void = () => undefined,
  filter?: SocketFilter,
): EventWatcher {
  // The filter first: no announcement it drops is queued once the groups are joined.
  const unfilter = filter ? sock.filterFor(filter) : undefined
  const leave = [sock.joinFor(...groups.flatMap((g) => GROUPS[g]))]
  if (unfilter) leave.push(unfilter)
  const off = sock.onMessage(onMessage, onError)
  let closed = false
  return {
    netns: sock.netns,
    close: () => {
      if (closed) return
      closed = true
      off()
      for (const l of leave) l()
    },
  }
}

/**
 * Call `onEvent` for every event of `groups` announced in a namespace from
 * now on, as it is read (no buffering, for listeners that never wait). The
 * socket does not keep the process alive. A message that fails to decode, or
 * a socket error, goes to `onError` and the watcher goes on.
 */
export function watchEvents(
  netns: NetnsRef | undefined,
  groups: readonly EventGroup[],
  onEvent: (ev: NetlinkEvent) => void,
  onError: (err: Error) => void = () => undefined,
): EventWatcher {
  return watchMessages(
    netns,
    groups,
    (m) => {
      let ev: NetlinkEvent | undefined
      try {
        ev = decodeEvent(m)
      } catch (err) {
        onError(err as Error)
        return
      }
      if (ev) onEvent(ev)
    },
    onError,
  )
}
