/**
 * Waiting for links to come operationally up (carrier on, qdisc attached) on
 * a handle's own request socket: it joins RTNLGRP_LINK for the length of the
 * wait (a setsockopt each way) and the transport hands it the announcements
 * that answer no request, instead of a socket of its own per wait (a setns
 * pair, a socket, its options, a bind and an event-loop watch).
 *
 *   const watch = nl.watchOperUp([2, 3])   // before bringing them up
 *   await nl.setLink(2, { up: true }) ...
 *   await watch.done({ timeout: 10_000 })  // then
 *   watch.close()
 *
 * Watch before acting, wait after: an announcement made in between is not
 * lost. done() asks the kernel first about the links no announcement named
 * yet (one datagram), so a link that was up before the watch began counts.
 */
import { IF_OPER, RTM, RTNLGRP } from './codec/constants.js'
import { peekHostS32 } from './codec/hostorder.js'
import { decodeLink } from './codec/messages/link.js'
import { EventTimeoutError } from './events.js'
import { getLink } from './link.js'
import type { NetlinkSocket } from './transport/socket.js'

/** ifinfomsg: family (u8), pad, type (u16), index (s32), flags, change. */
const IFINFOMSG_LEN = 16

export class OperUpWatch {
  /** Links not seen operationally up yet. */
  private readonly waiting: Set<number>
  private failure: Error | undefined
  private wake: (() => void) | undefined
  private readonly leave: () => void
  private readonly off: () => void
  private closed = false

  constructor(
    private readonly sock: NetlinkSocket,
    indexes: readonly number[],
  ) {
    this.waiting = new Set(indexes)
    this.leave = sock.joinFor(RTNLGRP.LINK)
    this.off = sock.onMessage(
      (m) => {
        // Only RTM_NEWLINK of the links waited for (AF_UNSPEC: a bridge's AF_BRIDGE port
        // announcements say nothing of operstate), decoded only then.
        const p = m.payload
        if (m.header.type !== RTM.NEWLINK || p.length < IFINFOMSG_LEN || p[0] !== 0) return
        const index = peekHostS32(p, 4)
        if (!this.waiting.has(index)) return
        try {
          if (decodeLink(p).operstate !== IF_OPER.UP) return
        } catch (err) {
          this.failure = err as Error
          this.wake?.()
          return
        }
        this.waiting.delete(index)
        if (this.waiting.size === 0) this.wake?.()
      },
      (err) => {
        this.failure = err
        this.wake?.()
      },
    )
  }

  /**
   * Resolve once every watched link is operationally up; reject after
   * `timeout` ms naming the links still waited for (`name` says how to call
   * one). Asks the kernel about the links no announcement named yet first.
   */
  async done(options: { timeout?: number; name?: (index: number) => string } = {}): Promise<void> {
    if (this.waiting.size > 0) {
      const now = await Promise.all([...this.waiting].map((i) => getLink(this.sock, i)))
      for (const l of now) if (l.operstate === 'UP') this.waiting.delete(l.index)
    }
    if (this.failure) throw this.failure
    if (this.waiting.size === 0) return
    const release = this.sock.hold()
    let timer: NodeJS.Timeout | undefined
    try {
      await new Promise<void>((resolve, reject) => {
        this.wake = () => (this.failure ? reject(this.failure) : this.waiting.size === 0 && resolve())
        if (options.timeout !== undefined)
          timer = setTimeout(() => {
            const names = [...this.waiting].map((i) => options.name?.(i) ?? `#${i}`)
            reject(
              new EventTimeoutError(
                `no carrier on ${names.join(', ')} (operstate UP) in namespace ${this.sock.netns} within ${options.timeout} ms`,
              ),
            )
          }, options.timeout)
      })
    } finally {
      clearTimeout(timer)
      this.wake = undefined
      release()
    }
  }

  /** Stop watching (leave the group once no other watch on the socket needs it). Idempotent. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.off()
    this.leave()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
