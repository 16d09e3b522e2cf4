/**
 * What goes on a lab's timeline besides the lab's own operations: the
 * netlink announcements of every lab namespace (links, addresses, routes,
 * neighbours, as `nslab monitor` prints them), read on each node's own
 * netlink socket (joined to those groups while recording, so they arrive
 * with the answers to the lab's requests: no socket or wake-up of their
 * own), following nodes added later. A link whose device the
 * kernel reports down (or up again) changes colour on the trace even when a
 * process, not the lab, did it.
 *
 * Also the texts the facade records for its operations, so lab.ts stays a
 * list of calls.
 */
import {
  type EventWatcher,
  type NetlinkEvent,
  type RawMessage,
  decodeEvent,
  describeEvent,
} from '../netlink/index.js'
import { nowUs } from './timeline.js'
import type { LabModel } from './model.js'
import type { LabNode, Port } from './node.js'
import type { LinkStatus, TraceEvent } from './timeline.js'

/** `a/eth0 198.18.0.1/30 fd00::1/64` for one end of a link. */
export function endText(node: LabNode, port: Port): string {
  const addrs = [
    port.v4 && `${port.v4}/${port.segment.v4.prefixLen}`,
    port.v6 && `${port.v6}/${port.segment.v6.prefixLen}`,
  ].filter(Boolean)
  return `${node.name}/${port.device}${addrs.length ? ` ${addrs.join(' ')}` : ''}`
}

/** Both ends of the link with this id (the first node's port first), or undefined. */
export function linkEnds(
  model: LabModel,
  id: string,
): { a: LabNode; portA: Port; b: LabNode; portB: Port } | undefined {
  for (const a of model.allNodes) {
    const portA = a.ports.find((p) => p.link === id)
    if (!portA) continue
    const portB = portA.peer.ports.find((p) => p.link === id)
    if (portB) return { a, portA, b: portA.peer, portB }
  }
  return undefined
}

/** Record that a link was made: its two ends, and that it is up. */
export function recordLinkMade(model: LabModel, id: string): void {
  const ends = linkEnds(model, id)
  model.timeline.record({
    kind: 'lab',
    title: ends ? `link ${ends.a.name} ⟷ ${ends.b.name} made` : `link ${id} made`,
    ...(ends ? { detail: `${endText(ends.a, ends.portA)}\n${endText(ends.b, ends.portB)}` } : {}),
    links: [id],
    linkState: { [id]: 'up' },
  })
}

/**
 * Netlink announcements of lab namespaces onto the timeline. Link state
 * follows the kernel: a lab link's device reported not running turns the
 * link 'down', running again turns it back to what it was (impaired or up).
 */
export class NetlinkRecorder {
  private readonly watchers = new Map<LabNode, EventWatcher>()
  private readonly down = new Set<string>()
  private closed = false

  constructor(private readonly model: LabModel) {
    for (const n of model.allNodes) this.follow(n)
  }

  /** Record a node's announcements too (a node added after the recording started). */
  follow(node: LabNode): void {
    if (this.closed || this.watchers.has(node)) return
    const w = node.netlink.watchMessages(
      ['link', 'addr', 'route', 'neigh'],
      (m) => {
        // Kept as bytes (a view of the datagram the transport copied out for this dispatch);
        // decoded only if the timeline is read.
        this.model.timeline.recordLater(nowUs(), () => this.describe(node, m))
      },
      (err) =>
        this.model.timeline.record({
          kind: 'note',
          node: node.name,
          title: `${node.name}: netlink events lost (${err.message})`,
        }),
      // The kernel's own local-table routes follow from the addresses and links shown:
      // a third of a lab's announcements, left out (the recorded state lists them).
      { skipLocalTableRoutes: true },
    )
    this.watchers.set(node, w)
  }

  private describe(node: LabNode, m: RawMessage): Omit<TraceEvent, 't'> | undefined {
    let ev: NetlinkEvent | undefined
    try {
      ev = decodeEvent(m)
    } catch (err) {
      return {
        kind: 'note',
        node: node.name,
        title: `${node.name}: undecodable netlink message (${(err as Error).message})`,
      }
    }
    return ev && this.event(node, ev)
  }

  private event(node: LabNode, ev: NetlinkEvent): Omit<TraceEvent, 't'> {
    const deviceName = (index: number): string | undefined =>
      node.ports.find((p) => p.index === index)?.device
    const port =
      ev.kind === 'link'
        ? node.ports.find((p) => p.index === ev.link.index)
        : ev.kind === 'addr'
          ? node.ports.find((p) => p.index === ev.addr.index)
          : ev.kind === 'neigh'
            ? node.ports.find((p) => p.index === ev.neigh.index)
            : ev.route.oif === undefined
              ? undefined
              : node.ports.find((p) => p.index === ev.route.oif)
    let linkState: Record<string, LinkStatus> | undefined
    if (ev.kind === 'link' && port) {
      const running = ev.action === 'new' && ev.link.up && ev.link.operstate === 'UP'
      if (!running && !this.down.has(port.link)) {
        this.down.add(port.link)
        linkState = { [port.link]: 'down' }
      } else if (running && this.down.has(port.link)) {
        this.down.delete(port.link)
        linkState = { [port.link]: this.model.impairedLinks.has(port.link) ? 'impaired' : 'up' }
      }
    }
    return {
      kind: 'netlink',
      node: node.name,
      title: `${node.name}: ${describeEvent(ev, deviceName)}`,
      ...(port ? { links: [port.link] } : {}),
      ...(linkState ? { linkState } : {}),
    }
  }

  close(): void {
    this.closed = true
    for (const w of this.watchers.values()) w.close()
    this.watchers.clear()
  }
}
