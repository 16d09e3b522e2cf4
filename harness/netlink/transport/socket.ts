/**
 * One rtnetlink socket, opened inside a namespace (the way vishvananda's
 * NewHandleAt does) and watched by the event loop, never blocking it.
 *
 * Requests carry sequence numbers; replies are matched by them, so many
 * requests can be in flight at once. Dumps collect their parts until
 * NLMSG_DONE and are retried when the kernel marks them NLM_F_DUMP_INTR.
 * Messages that match no request (multicast events) go to listeners.
 *
 * Requests made in the same synchronous run (`Promise.all([...])`) go out
 * together, several messages in one datagram, at the next microtask, the way
 * iproute2's batch mode and the bench floor send them; the kernel answers
 * each one on its own (an error in one does not stop the others). Sockets
 * send in the order of their first request in that run, and rtnetlink
 * handles a datagram inside sendto(): requests on socket B made after
 * requests on socket A see A's done (a veth made through A, configured
 * through B, in one go).
 *
 * rtnetlink handles requests inside sendto(): the answers are already queued
 * when sendto() returns. So they are read right away (non-blocking recv)
 * instead of a turn of the event loop later in the poll callback; the poll
 * callback still picks up whatever comes later (events, dump parts the eager
 * read left).
 */
// Imported, not the globals (accessors in Node 20: a getter call per use in unoptimised code).
import { Buffer } from 'node:buffer'
import { performance } from 'node:perf_hooks'
import {
  AF_NETLINK,
  MSG_DONTWAIT,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOL_SOCKET,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  type FdWatcher,
  SysError,
  bind,
  close,
  recv,
  sendto,
  type SocketFilter,
  attachSocketFilter,
  detachSocketFilter,
  setsockoptInt,
  sockaddrNl,
  socket,
  watchFd,
} from '../../sys/index.js'
import { type NetnsRef, openCurrentNetns, resolveNetns, withNetns } from '../../netns/index.js'
import { NETLINK_OPT, NETLINK_ROUTE, NLMSG, NLM_F, SOL_NETLINK } from '../codec/constants.js'
import {
  NLMSG_HDRLEN,
  type RawMessage,
  checkHeaderFields,
  parseMessages,
  writeHeaderFields,
} from '../codec/header.js'
import { peekHostS32, peekHostU16, peekHostU32, readHostS32 } from '../codec/hostorder.js'
import { decodeNlmsgerr } from '../codec/nlmsgerr.js'
import { NetlinkError, NetlinkTransportError, type RequestContext } from './errors.js'

export interface NetlinkSocketOptions {
  /** Namespace to open the socket in (default: the calling thread's). */
  netns?: NetnsRef
  /** Netlink protocol (default NETLINK_ROUTE). */
  protocol?: number
  /** Multicast groups (RTNLGRP_* numbers) to join, for event sockets. */
  groups?: readonly number[]
  /**
   * Receive buffer in bytes (SO_RCVBUFFORCE). Default: 8 MiB for event
   * sockets (groups), and for request sockets once a datagram carries many
   * requests; the kernel's default until then.
   */
  receiveBuffer?: number
}

interface Pending {
  seq: number
  type: number
  flags: number
  payload: Buffer
  context: RequestContext
  parts: RawMessage[]
  interrupted: boolean
  retries: number
  resolve: (messages: RawMessage[]) => void
  reject: (err: Error) => void
}

const MAX_DUMP_RETRIES = 10
const RECV_BUFFER = 1 << 20
/** SO_RCVBUFFORCE for event sockets and big batches: many answers or events can queue. */
const RECEIVE_BUFFER = 8 << 20
/** A datagram with more requests than this raises the receive buffer first (their ACKs queue at once). */
const MANY_REQUESTS = 64
/** Most bytes of requests sent in one datagram (the send buffer is 1 MiB). */
const MAX_BATCH = 64 << 10
/**
 * One receive buffer for every socket of this thread: a datagram is copied
 * out of it before it is dispatched, so nothing keeps a view into it (and a
 * socket opened per operation does not allocate a megabyte).
 */
let recvBuffer: Buffer | undefined
/**
 * One send buffer for every socket of this thread: a flush writes its
 * datagram (headers and payloads) there and sendto() copies it out before the
 * flush goes on, so requests are not framed one by one and concatenated.
 */
let sendBuffer: Buffer | undefined

function sendBufferFor(bytes: number): Buffer {
  if (sendBuffer === undefined || sendBuffer.length < bytes)
    sendBuffer = Buffer.allocUnsafe(Math.max(bytes, MAX_BATCH))
  return sendBuffer
}
/**
 * Answers are read inside the send and resolve on microtasks, so a loop of
 * awaited requests would never give the event loop a turn (timers, I/O,
 * signal handlers would starve). Once requests have gone out back to back
 * for YIELD_MS without a turn, the next flush waits for one (setImmediate).
 */
const YIELD_MS = 5
let burstStart = -1

function flushSoon(flush: () => void): void {
  if (burstStart < 0) {
    burstStart = performance.now()
    // Runs at the next turn of the event loop: the burst is over.
    setImmediate(() => {
      burstStart = -1
    }).unref()
  }
  if (performance.now() - burstStart > YIELD_MS) setImmediate(flush)
  // A reaction on a settled promise: the same microtask queue as queueMicrotask, without the
  // AsyncResource Node makes for every queueMicrotask call. flush throws nothing.
  else settled.then(flush)
}

const settled = Promise.resolve()

/** sockaddr_nl of the kernel (port 0), the destination of every request. */
const KERNEL = sockaddrNl(0, 0)

/** What a socket has done, for tests and diagnostics. */
export interface NetlinkSocketStats {
  /** Dumps the kernel marked NLM_F_DUMP_INTR (the table changed mid-dump) and that were sent again. */
  dumpRetries: number
  /** Requests sent (retries included). */
  requests: number
  /** Datagrams sent: fewer than requests when requests were batched. */
  datagrams: number
}

export type MessageListener = (message: RawMessage) => void
export type ErrorListener = (err: Error) => void

/**
 * An announcement of what a request of ours changed, multicast to a group
 * this socket joined: IPv4 addresses (rtmsg_ifa), routes (rtmsg_fib) and
 * others stamp it with the request's seq and port id, so it looks like a
 * reply. It has the request's own type (RTM_NEWADDR for RTM_NEWADDR), which
 * no reply has unless the request asked for an echo (NLM_F_ECHO): a GET is
 * answered with NEW messages, a change with an ACK.
 */
function isOwnAnnouncement(p: Pending, m: RawMessage): boolean {
  return m.header.type === p.type && (p.flags & NLM_F.ECHO) === 0
}

export class NetlinkSocket {
  readonly fd: number
  /** The namespace the socket lives in, for messages. */
  readonly netns: string
  /** The port id the kernel gave this socket (nl_pid). */
  readonly portId: number
  private seq: number
  private readonly pending = new Map<number, Pending>()
  private readonly listeners = new Set<MessageListener>()
  private readonly errorListeners = new Set<ErrorListener>()
  /**
   * The event loop's watch on the fd, made on first need: when a listener or
   * hold() wants events, or an answer was not queued yet after a send. A
   * socket used for plain requests answers inside sendto() and never needs it.
   */
  private watcher: FdWatcher | undefined
  private keepAlive = 0
  private refd = false
  /** The receive buffer was raised (configure, join, or a big batch). */
  private bigBuffer = false
  private draining = false
  private dumpChain: Promise<void> = Promise.resolve()
  private closed = false
  /** The socket filter on (filterFor), with how many callers want it. */
  private filter: { program: SocketFilter; users: number } | undefined
  /** Groups joined for a while (joinFor), with how many callers want each. */
  private readonly memberships = new Map<number, number>()
  /** Groups 1-32 joined for the socket's life (open's groups, join), as bind()'s mask: bit g-1. */
  private permanentGroups = 0
  private readonly counters: NetlinkSocketStats = { dumpRetries: 0, requests: 0, datagrams: 0 }
  /** Requests encoded and waiting for the next flush (same synchronous run). */
  private outbox: Pending[] = []
  private flushQueued = false

  private constructor(fd: number, netns: string, portId: number) {
    this.fd = fd
    this.netns = netns
    this.portId = portId
    this.seq = (Date.now() & 0x7fffffff) >>> 0
  }

  /** Open a socket in a namespace, with extended acks, strict checks and a large receive buffer. */
  static open(options: NetlinkSocketOptions = {}): NetlinkSocket {
    const protocol = options.protocol ?? NETLINK_ROUTE
    let fd: number
    let label: string
    if (options.netns === undefined) {
      fd = openSocket(protocol)
      using here = openCurrentNetns()
      label = `${here.id.ino} (this thread's)`
    } else {
      const { ns, owned } = resolveNetns(options.netns)
      try {
        label = ns.label
        fd = withNetns(ns, () => openSocket(protocol))
      } finally {
        if (owned) ns.close()
      }
    }
    try {
      const sock = new NetlinkSocket(fd, label, configure(fd, options))
      for (const g of options.groups ?? []) if (inBindMask(g)) sock.permanentGroups |= groupBit(g)
      sock.bigBuffer = options.receiveBuffer !== undefined || (options.groups?.length ?? 0) > 0
      return sock
    } catch (err) {
      close(fd)
      throw err
    }
  }

  /**
   * Send one request and resolve with the messages that answer it: nothing
   * but the ACK for a change (or the echoed object with NLM_F_ECHO), every
   * part for a dump. Rejects with NetlinkError carrying the kernel's message.
   */
  request(type: number, flags: number, payload: Buffer, context: RequestContext): Promise<RawMessage[]> {
    if (this.closed)
      return Promise.reject(new NetlinkTransportError(`netlink socket in ${this.netns} is closed`))
    return new Promise((resolve, reject) => {
      // Checked now, written at the flush: a bad field rejects this request only.
      checkHeaderFields(payload.length, type, flags | NLM_F.REQUEST | NLM_F.ACK)
      const p: Pending = {
        seq: 0,
        type,
        flags: flags | NLM_F.REQUEST | NLM_F.ACK,
        payload,
        context,
        parts: [],
        interrupted: false,
        retries: 0,
        resolve,
        reject,
      }
      this.send(p)
    })
  }

  /**
   * A dump request (NLM_F_DUMP), retried while the kernel says it was
   * interrupted. The kernel runs one dump per socket at a time (a second one
   * fails with EBUSY), so dumps on a socket are queued; other requests are
   * not held up by them.
   */
  dump(type: number, payload: Buffer, context: RequestContext): Promise<RawMessage[]> {
    const run = (): Promise<RawMessage[]> => this.request(type, NLM_F.DUMP, payload, context)
    const result = this.dumpChain.then(run, run)
    this.dumpChain = result.then(
      () => undefined,
      () => undefined,
    )
    return result
  }

  /** Receive messages that answer no request (multicast events). Returns an unsubscribe function. */
  onMessage(listener: MessageListener, onError?: ErrorListener): () => void {
    this.listeners.add(listener)
    if (onError) this.errorListeners.add(onError)
    this.watch()
    return () => {
      this.listeners.delete(listener)
      if (onError) this.errorListeners.delete(onError)
    }
  }

  /** Keep the event loop alive while someone waits for events (counted). */
  hold(): () => void {
    this.keepAlive++
    this.watch()
    this.updateRef()
    let released = false
    return () => {
      if (released) return
      released = true
      this.keepAlive--
      this.updateRef()
    }
  }

  /** Join a multicast group (RTNLGRP_*) after opening, for the socket's life. */
  join(group: number): void {
    this.raiseBuffer()
    setsockoptInt(this.fd, SOL_NETLINK, NETLINK_OPT.ADD_MEMBERSHIP, group)
    if (inBindMask(group)) this.permanentGroups |= groupBit(group)
  }

  /**
   * Join multicast groups for a while, counted: the socket stays a member of
   * each until every caller has called the returned function (which leaves
   * the groups whose count falls to 0; never one joined for good). For waits
   * on a request socket: no socket of its own. Two or more of groups 1-32
   * changing at once take one bind() with the socket's own port id and the
   * whole new mask (the kernel replaces the first 32 memberships of a bound
   * socket that rebinds its port) instead of a setsockopt each. Messages the
   * groups sent before leaving and not read yet still go to listeners (or
   * nowhere).
   */
  joinFor(...groups: number[]): () => void {
    if (this.closed) throw new NetlinkTransportError(`netlink socket in ${this.netns} is closed`)
    const fresh = [...new Set(groups)].filter((g) => !this.memberships.has(g))
    for (const g of groups) this.memberships.set(g, (this.memberships.get(g) ?? 0) + 1)
    try {
      this.changeMemberships(fresh, true)
    } catch (err) {
      this.forget(groups)
      throw err
    }
    let left = false
    return () => {
      if (left) return
      left = true
      const gone = this.forget(groups)
      if (!this.closed) this.changeMemberships(gone, false)
    }
  }

  /** Count `groups` down once each; returns those no caller wants any more. */
  private forget(groups: readonly number[]): number[] {
    const gone: number[] = []
    for (const g of groups) {
      const now = (this.memberships.get(g) ?? 1) - 1
      if (now > 0) this.memberships.set(g, now)
      else if (this.memberships.delete(g)) gone.push(g)
    }
    return gone
  }

  /** Make the kernel's memberships follow `memberships` for `changed` (joined or left). */
  private changeMemberships(changed: readonly number[], joining: boolean): void {
    if (changed.length === 0) return
    if (joining) this.raiseBuffer()
    const byMask = changed.filter(inBindMask).length > 1
    if (byMask) {
      let mask = this.permanentGroups
      for (const g of this.memberships.keys()) if (inBindMask(g)) mask |= groupBit(g)
      bind(this.fd, sockaddrNl(this.portId, mask))
    }
    for (const g of changed) {
      if (byMask && inBindMask(g)) continue
      if (joining) setsockoptInt(this.fd, SOL_NETLINK, NETLINK_OPT.ADD_MEMBERSHIP, g)
      else if (!inBindMask(g) || !(this.permanentGroups & groupBit(g)))
        setsockoptInt(this.fd, SOL_NETLINK, NETLINK_OPT.DROP_MEMBERSHIP, g)
    }
  }

  /**
   * Run `filter` on what the socket receives for a while (counted, like
   * joinFor: it is removed when every caller has called the returned
   * function). One filter at a time: a different one while this one is on
   * is refused.
   */
  filterFor(filter: SocketFilter): () => void {
    if (this.closed) throw new NetlinkTransportError(`netlink socket in ${this.netns} is closed`)
    if (this.filter && this.filter.program !== filter)
      throw new NetlinkTransportError(`netlink socket in ${this.netns} already runs another socket filter`)
    if (!this.filter) {
      attachSocketFilter(this.fd, filter)
      this.filter = { program: filter, users: 0 }
    }
    const on = this.filter
    on.users++
    let off = false
    return () => {
      if (off) return
      off = true
      if (--on.users > 0 || this.filter !== on) return
      this.filter = undefined
      if (!this.closed) detachSocketFilter(this.fd)
    }
  }

  private raiseBuffer(): void {
    if (this.bigBuffer) return
    raiseReceiveBuffer(this.fd, RECEIVE_BUFFER)
    this.bigBuffer = true
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Counters (a copy): dumps retried after NLM_F_DUMP_INTR, requests and datagrams sent. */
  get stats(): NetlinkSocketStats {
    return { ...this.counters }
  }

  /** Close the socket; requests still waiting are rejected. Idempotent. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.watcher?.close()
    this.watcher = undefined
    close(this.fd)
    this.outbox = []
    if (this.pending.size > 0)
      this.failAll(
        new NetlinkTransportError(`netlink socket in ${this.netns} was closed before the kernel answered`),
      )
    this.listeners.clear()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0
    if (this.seq === 0) this.seq = 1
    return this.seq
  }

  private send(p: Pending): void {
    p.seq = this.nextSeq()
    p.parts = []
    p.interrupted = false
    this.pending.set(p.seq, p)
    this.counters.requests++
    // No ref() here: the flush (this same run) reads the answers inside sendto's
    // wake, and refs the watch only for an answer still to come (two koffi calls
    // a request saved on a socket that is watched for events).
    this.outbox.push(p)
    if (!this.flushQueued) {
      this.flushQueued = true
      flushSoon(() => this.flush())
    }
  }

  /** Send what the outbox holds, in datagrams of up to MAX_BATCH bytes, then read the answers. */
  private flush(): void {
    this.flushQueued = false
    while (this.outbox.length > 0 && !this.closed) {
      // The requests that fit one datagram (at least one); indexed loops, not for-of (an iterator
      // per loop costs in code V8 has not optimised).
      const queued = this.outbox
      let count = 0
      let bytes = 0
      while (count < queued.length) {
        const size = NLMSG_HDRLEN + queued[count]!.payload.length
        if (count > 0 && bytes + size > MAX_BATCH) break
        bytes += size
        count++
      }
      const batch = count === queued.length ? queued : queued.slice(0, count)
      this.outbox = count === queued.length ? [] : queued.slice(count)
      if (batch.length > MANY_REQUESTS && !this.bigBuffer) {
        try {
          this.raiseBuffer()
        } catch (err) {
          for (const p of batch) {
            this.pending.delete(p.seq)
            p.reject(err as Error)
          }
          this.updateRef()
          continue
        }
      }
      // Header and payload of each request, one after the other (payloads are 4-byte aligned by the
      // codec, so messages concatenate as they are).
      const datagram = sendBufferFor(bytes)
      let at = 0
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i]!
        const size = NLMSG_HDRLEN + p.payload.length
        writeHeaderFields(datagram, at, size, p.type, p.flags, p.seq, 0)
        datagram.set(p.payload, at + NLMSG_HDRLEN)
        at += size
      }
      try {
        this.counters.datagrams++
        if (sendto(this.fd, datagram, 0, KERNEL, bytes) < 0)
          throw new NetlinkTransportError(`netlink send buffer full in ${this.netns}`)
      } catch (err) {
        for (const p of batch) {
          this.pending.delete(p.seq)
          p.reject(
            err instanceof SysError ? new NetlinkError(err.errno, p.context, this.netns) : (err as Error),
          )
        }
        this.updateRef()
        continue
      }
      // The kernel handled the requests inside sendto(): read the answers now.
      this.drain(true)
    }
    this.updateRef()
  }

  private updateRef(): void {
    if (this.closed) return
    const want = this.pending.size > 0 || this.keepAlive > 0
    if (want === this.refd) return
    this.refd = want
    if (!this.watcher) return
    if (want) this.watcher.ref()
    else this.watcher.unref()
  }

  /** Start watching the fd with the event loop (once); referenced while anyone waits. */
  private watch(): void {
    if (this.watcher || this.closed) return
    const w = watchFd(this.fd)
    w.start({ readable: true }, () => this.onReadable())
    this.watcher = w
    this.refd = this.pending.size > 0 || this.keepAlive > 0
    if (!this.refd) w.unref()
  }

  /** The poll callback: drain the socket. */
  private onReadable(): void {
    this.drain(false)
  }

  /**
   * Read and dispatch queued datagrams. `eager` (right after a send): stop as
   * soon as no request is waiting, leaving events to the poll callback; else
   * read until nothing is queued. Not re-entered: a dump retry sent while
   * draining is read by the loop already running. Nothing may escape from
   * here (it runs in the poll callback).
   */
  private drain(eager: boolean): void {
    if (this.draining) return
    this.draining = true
    try {
      const buf = (recvBuffer ??= Buffer.allocUnsafe(RECV_BUFFER))
      while (!this.closed && !(eager && this.pending.size === 0)) {
        const size = recv(this.fd, buf, MSG_DONTWAIT)
        if (size < 0) {
          // Nothing queued yet though someone waits (not rtnetlink's way, but
          // possible): let the event loop say when it comes.
          if (this.pending.size > 0) this.watch()
          break
        }
        if (size > buf.length) {
          this.failAll(
            new NetlinkTransportError(`a ${size}-byte netlink datagram did not fit the receive buffer`),
          )
          continue
        }
        // A plain ACK answers its request from the receive buffer; anything else is copied out first.
        if (!this.settleAck(buf, size)) this.dispatch(Buffer.from(buf.subarray(0, size)))
      }
    } catch (err) {
      if (err instanceof SysError && err.code === 'ENOBUFS') {
        // The kernel dropped messages: replies to pending requests may be lost.
        const lost = new NetlinkTransportError(
          `netlink receive buffer overrun in ${this.netns} (ENOBUFS): replies or events were dropped`,
        )
        this.failAll(lost)
        for (const l of this.errorListeners) safe(() => l(lost))
        return
      }
      const failure = err instanceof Error ? err : new Error(String(err))
      this.failAll(failure)
      for (const l of this.errorListeners) safe(() => l(failure))
    } finally {
      this.draining = false
    }
  }

  /**
   * A datagram holding nothing but a plain ACK (NLMSG_ERROR, error 0) of a
   * waiting request: resolve it without copying or parsing, as onReply would.
   * Returns false for anything else, which goes through dispatch.
   */
  private settleAck(buf: Buffer, size: number): boolean {
    // Unchecked reads: the datagram's first 20 bytes are checked to be there first.
    if (size < NLMSG_HDRLEN + 4 || size > buf.length || peekHostU32(buf, 0) !== size) return false
    if (peekHostU16(buf, 4) !== NLMSG.ERROR || peekHostS32(buf, NLMSG_HDRLEN) !== 0) return false
    const seq = peekHostU32(buf, 8)
    if (seq === 0 || peekHostU32(buf, 12) !== this.portId) return false
    const p = this.pending.get(seq)
    if (p === undefined) return false
    this.settle(p)
    p.resolve(p.parts)
    return true
  }

  private dispatch(datagram: Buffer): void {
    let messages: RawMessage[]
    try {
      messages = parseMessages(datagram)
    } catch (err) {
      for (const l of this.errorListeners) safe(() => l(err as Error))
      return
    }
    for (const m of messages) {
      const p =
        m.header.seq !== 0 && m.header.pid === this.portId ? this.pending.get(m.header.seq) : undefined
      if (!p || isOwnAnnouncement(p, m)) {
        for (const l of this.listeners) safe(() => l(m))
        continue
      }
      this.onReply(p, m)
    }
  }

  private onReply(p: Pending, m: RawMessage): void {
    if (m.header.flags & NLM_F.DUMP_INTR) p.interrupted = true
    switch (m.header.type) {
      case NLMSG.ERROR: {
        // A plain ACK (error 0, nothing to explain): skip the full decode.
        if (m.payload.length >= 4 && readHostS32(m.payload, 0) === 0) {
          this.settle(p)
          p.resolve(p.parts)
          return
        }
        const e = decodeNlmsgerr(m.payload, m.header.flags)
        this.settle(p)
        if (e.error === 0) p.resolve(p.parts)
        else p.reject(new NetlinkError(-e.error, p.context, this.netns, e))
        return
      }
      case NLMSG.DONE: {
        const e = decodeNlmsgerr(m.payload, m.header.flags, { done: true })
        if (e.error < 0) {
          this.settle(p)
          p.reject(new NetlinkError(-e.error, p.context, this.netns, e))
          return
        }
        // With NLM_F_ACK a dump still ends at DONE (the kernel sends no extra ACK).
        if (p.interrupted && p.retries < MAX_DUMP_RETRIES) {
          this.pending.delete(p.seq)
          p.retries++
          this.counters.dumpRetries++
          this.send(p)
          return
        }
        this.settle(p)
        if (p.interrupted) {
          p.reject(
            new NetlinkTransportError(
              `${p.context.op} in ${this.netns}: the dump was interrupted ${MAX_DUMP_RETRIES + 1} times while things changed`,
            ),
          )
        } else p.resolve(p.parts)
        return
      }
      case NLMSG.NOOP:
        return
      default:
        p.parts.push(m)
    }
  }

  private settle(p: Pending): void {
    this.pending.delete(p.seq)
    this.updateRef()
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()]
    this.pending.clear()
    this.updateRef()
    for (const p of all) p.reject(err)
  }
}

/**
 * A non-blocking netlink socket in the calling thread's namespace. (Not a
 * closure made per open: tsx names those with a defineProperty call each.)
 */
function openSocket(protocol: number): number {
  return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol)
}

/** Raise the receive buffer (SO_RCVBUFFORCE as root, else SO_RCVBUF up to rmem_max). */
function raiseReceiveBuffer(fd: number, bytes: number): void {
  try {
    setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes)
  } catch {
    setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, bytes)
  }
}

/**
 * Socket options. The receive buffer is raised here only for event sockets
 * (groups) or when asked: a request socket reads its answers right after each
 * datagram, and dumps wait for room (the kernel continues a dump when the
 * reader drains), so the default buffer serves until a datagram carries many
 * requests (see flush). The default send buffer (about 208 KiB) holds the
 * largest batch (MAX_BATCH).
 */
function configure(fd: number, options: NetlinkSocketOptions): number {
  const big = options.receiveBuffer !== undefined || (options.groups?.length ?? 0) > 0
  if (big) raiseReceiveBuffer(fd, options.receiveBuffer ?? RECEIVE_BUFFER)
  // Indexed loops, not for-of: an iterator per loop, per socket, costs in code V8 has not optimised.
  for (let i = 0; i < SOCKET_OPTIONS.length; i++) enableOption(fd, SOCKET_OPTIONS[i]!)
  const port = bindPort(fd)
  const groups = options.groups ?? []
  for (let i = 0; i < groups.length; i++)
    setsockoptInt(fd, SOL_NETLINK, NETLINK_OPT.ADD_MEMBERSHIP, groups[i]!)
  return port
}

/** Explanations of errors (extended acks, no copy of the request in them), strict checks. */
const SOCKET_OPTIONS = [NETLINK_OPT.EXT_ACK, NETLINK_OPT.CAP_ACK, NETLINK_OPT.GET_STRICT_CHK]

function enableOption(fd: number, opt: number): void {
  try {
    setsockoptInt(fd, SOL_NETLINK, opt, 1)
  } catch (err) {
    // Older kernels lack some of these; requests still work, with terser errors.
    if (!(err instanceof SysError && err.code === 'ENOPROTOOPT')) throw err
  }
}

/** Binds of a chosen port; the address is filled in per bind. */
const BIND_ADDRESS = sockaddrNl(0, 0)
/** Ports below -4096 (as s32): 2^31 - 4096 of them, [S32_MIN, -4097]. */
const PORTS = 0x80000000 - 4096
const MAX_BIND_TRIES = 64

/**
 * Bind the socket to a port id chosen here and return it. Binding port 0
 * lets the kernel choose, but then only getsockname() says which: one more
 * call per socket. This chooses the way the kernel's autobind does once a
 * process's pid is taken: a random negative s32 below -4096 (the kernel's
 * own pick is a port nothing holds; positive ports are where daemons bind
 * their pid), and another when one is taken (EADDRINUSE).
 */
function bindPort(fd: number): number {
  for (let tries = 1; ; tries++) {
    const port = 0x80000000 + Math.floor(Math.random() * PORTS)
    BIND_ADDRESS.writeUInt32LE(port, 4)
    try {
      bind(fd, BIND_ADDRESS)
      return port
    } catch (err) {
      if (!(err instanceof SysError && err.code === 'EADDRINUSE') || tries >= MAX_BIND_TRIES) throw err
    }
  }
}

/** Groups bind()'s nl_groups can name: 1-32, group g as bit g-1. */
function inBindMask(group: number): boolean {
  return group >= 1 && group <= 32
}

function groupBit(group: number): number {
  return 1 << (group - 1)
}

function safe(fn: () => void): void {
  try {
    fn()
  } catch {
    // a listener's bug must not abort the process from inside the poll callback
  }
}
