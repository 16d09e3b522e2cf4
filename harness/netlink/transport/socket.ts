/**
 * One rtnetlink socket, opened inside a namespace (the way vishvananda's
 * NewHandleAt does) and watched by the event loop, never blocking it.
 *
 * Requests carry sequence numbers; replies are matched by them, so many
 * requests can be in flight at once. Dumps collect their parts until
 * NLMSG_DONE and are retried when the kernel marks them NLM_F_DUMP_INTR.
 * Messages that match no request (multicast events) go to listeners.
 */
import {
  AF_NETLINK,
  MSG_DONTWAIT,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOL_SOCKET,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  type FdWatcher,
  SysError,
  bind,
  close,
  getsockname,
  recvfrom,
  sendto,
  setsockoptInt,
  sockaddrNl,
  socket,
  watchFd,
} from '../../sys/index.js'
import { type NetnsRef, openCurrentNetns, resolveNetns, withNetns } from '../../netns/index.js'
import { NETLINK_OPT, NETLINK_ROUTE, NLMSG, NLM_F, SOL_NETLINK } from '../codec/constants.js'
import { NLMSG_HDRLEN, type RawMessage, encodeHeader, parseMessages } from '../codec/header.js'
import { decodeNlmsgerr } from '../codec/nlmsgerr.js'
import { NetlinkError, NetlinkTransportError, type RequestContext } from './errors.js'

export interface NetlinkSocketOptions {
  /** Namespace to open the socket in (default: the calling thread's). */
  netns?: NetnsRef
  /** Netlink protocol (default NETLINK_ROUTE). */
  protocol?: number
  /** Multicast groups (RTNLGRP_* numbers) to join, for event sockets. */
  groups?: readonly number[]
  /** Receive buffer in bytes (SO_RCVBUFFORCE), default 8 MiB. */
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

export type MessageListener = (message: RawMessage) => void
export type ErrorListener = (err: Error) => void

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
  private readonly watcher: FdWatcher
  private readonly buf = Buffer.allocUnsafe(RECV_BUFFER)
  private keepAlive = 0
  private dumpChain: Promise<void> = Promise.resolve()
  private closed = false

  private constructor(fd: number, netns: string) {
    this.fd = fd
    this.netns = netns
    const addr = getsockname(fd)
    this.portId = addr.readUInt32LE(4)
    this.seq = (Date.now() & 0x7fffffff) >>> 0
    this.watcher = watchFd(fd)
    this.watcher.start({ readable: true }, () => this.onReadable())
    this.watcher.unref()
  }

  /** Open a socket in a namespace, with extended acks, strict checks and a large receive buffer. */
  static open(options: NetlinkSocketOptions = {}): NetlinkSocket {
    const protocol = options.protocol ?? NETLINK_ROUTE
    const make = (): number => socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol)
    let fd: number
    let label: string
    if (options.netns === undefined) {
      fd = make()
      using here = openCurrentNetns()
      label = `${here.id.ino} (this thread's)`
    } else {
      const { ns, owned } = resolveNetns(options.netns)
      try {
        label = ns.label
        fd = withNetns(ns, make)
      } finally {
        if (owned) ns.close()
      }
    }
    try {
      configure(fd, options)
      return new NetlinkSocket(fd, label)
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
    return () => {
      this.listeners.delete(listener)
      if (onError) this.errorListeners.delete(onError)
    }
  }

  /** Keep the event loop alive while someone waits for events (counted). */
  hold(): () => void {
    this.keepAlive++
    this.updateRef()
    let released = false
    return () => {
      if (released) return
      released = true
      this.keepAlive--
      this.updateRef()
    }
  }

  /** Join a multicast group (RTNLGRP_*) after opening. */
  join(group: number): void {
    setsockoptInt(this.fd, SOL_NETLINK, NETLINK_OPT.ADD_MEMBERSHIP, group)
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Close the socket; requests still waiting are rejected. Idempotent. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.watcher.close()
    close(this.fd)
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
    const msg = Buffer.allocUnsafe(NLMSG_HDRLEN + p.payload.length)
    encodeHeader({ length: msg.length, type: p.type, flags: p.flags, seq: p.seq, pid: 0 }).copy(msg, 0)
    p.payload.copy(msg, NLMSG_HDRLEN)
    this.pending.set(p.seq, p)
    this.updateRef()
    try {
      // The kernel handles rtnetlink requests inside sendto(), so the reply is
      // queued by the time this returns; the poll callback picks it up.
      if (sendto(this.fd, msg, 0, sockaddrNl(0, 0)) < 0)
        throw new NetlinkTransportError(`netlink send buffer full in ${this.netns}`)
    } catch (err) {
      this.pending.delete(p.seq)
      this.updateRef()
      p.reject(err instanceof SysError ? new NetlinkError(err.errno, p.context, this.netns) : (err as Error))
    }
  }

  private updateRef(): void {
    if (this.closed) return
    if (this.pending.size > 0 || this.keepAlive > 0) this.watcher.ref()
    else this.watcher.unref()
  }

  /** The poll callback: drain the socket. Nothing may escape from here. */
  private onReadable(): void {
    try {
      while (!this.closed) {
        const r = recvfrom(this.fd, this.buf, MSG_DONTWAIT)
        if (!r) break
        if (r.size > r.length) {
          this.failAll(
            new NetlinkTransportError(`a ${r.size}-byte netlink datagram did not fit the receive buffer`),
          )
          continue
        }
        this.dispatch(Buffer.from(this.buf.subarray(0, r.length)))
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
    }
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
      if (!p) {
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

function configure(fd: number, options: NetlinkSocketOptions): void {
  const rcvbuf = options.receiveBuffer ?? 8 << 20
  try {
    setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
  } catch {
    setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf)
  }
  setsockoptInt(fd, SOL_SOCKET, SO_SNDBUF, 1 << 20)
  for (const opt of [NETLINK_OPT.EXT_ACK, NETLINK_OPT.CAP_ACK, NETLINK_OPT.GET_STRICT_CHK]) {
    try {
      setsockoptInt(fd, SOL_NETLINK, opt, 1)
    } catch (err) {
      // Older kernels lack some of these; requests still work, with terser errors.
      if (!(err instanceof SysError && err.code === 'ENOPROTOOPT')) throw err
    }
  }
  bind(fd, sockaddrNl(0, 0))
  for (const g of options.groups ?? []) setsockoptInt(fd, SOL_NETLINK, NETLINK_OPT.ADD_MEMBERSHIP, g)
}

function safe(fn: () => void): void {
  try {
    fn()
  } catch {
    // a listener's bug must not abort the process from inside the poll callback
  }
}
