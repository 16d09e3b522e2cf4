/**
 * What a trace holds, as plain JSON-able data: the lab's topology, a
 * timeline of everything the lab did and saw, the packets around it with a
 * one-line summary each, and every host's state as it was recorded. The
 * page (harness/trace/page) reads exactly this; the recorder, the capture
 * and the state reader fill it.
 *
 * Times are microseconds since the Unix epoch on CLOCK_REALTIME: the clock
 * of the capture's kernel timestamps, so packets and lab events interleave
 * truthfully (a float: the fraction keeps nanoseconds where known).
 */

import type { NodeState } from '../lab/state.js'
import type { TraceEvent } from '../lab/timeline.js'

/** The events (and link states) are recorded by the lab's timeline: see harness/lab/timeline.ts. */
export type { LinkStatus, TraceEvent, TraceEventKind } from '../lab/timeline.js'

export type NodeKindName = 'host' | 'router' | 'switch'

/** One end of a link or tunnel. */
export interface TraceEnd {
  node: string
  device: string
  /** Addresses with prefix length (`198.18.0.1/30`, `fd00::1/64`). */
  addresses: string[]
}

export interface TraceLink {
  /** Stable id, used in the SVG (`link-<id>` element id) and by events' linkState. */
  id: string
  a: TraceEnd
  b: TraceEnd
  mtu?: number
  /** A short text of the impairment set on it when the topology was drawn (`delay 20ms loss 1%`). */
  impairment?: string
}

export interface TraceTunnel {
  id: string
  /** wireguard, openvpn, xfrm, … */
  type: string
  a: TraceEnd
  b: TraceEnd
}

export interface TraceTopology {
  /** The lab's name (its id). */
  lab: string
  nodes: { name: string; kind: NodeKindName }[]
  links: TraceLink[]
  tunnels: TraceTunnel[]
  /** NAT routers and the node on their outside. */
  nat: { router: string; outside: string }[]
}

/** One packet, summarised (the pcapng beside the page has the bytes). */
export interface TracePacket {
  t: number
  /** The node and device it was captured on. */
  node: string
  device: string
  /** The link id of that device, when it is a lab link. */
  link?: string
  /** in: received by the node; out: sent by it. */
  dir: 'in' | 'out'
  /** Bytes on the wire. */
  length: number
  /** The top protocol a person cares about (ICMP, TCP, DNS, WireGuard, ARP, …). */
  protocol: string
  /** Source and destination as shown: node names where the address is a lab address. */
  src: string
  dst: string
  /** A tshark-like info column (`Echo (ping) request id=0x1c2b, seq=1`). */
  info: string
}

/**
 * A host's state at one moment: what the failure report prints (links,
 * addresses, routes, neighbours, nftables), without the processes' output,
 * which the timeline carries line by line.
 */
export type TraceHostState = Omit<NodeState, 'processes'>

export interface TraceStateSnapshot {
  t: number
  /** Why it was recorded (`at the failure`). */
  reason: string
  hosts: TraceHostState[]
}

/** What was left out to keep the page within its size budget: said on the page, never silent. */
export interface TraceTruncation {
  events?: { kept: number; dropped: number }
  packets?: { kept: number; dropped: number }
  /** Other notes (`capture ring let go of 1234 older packets`). */
  notes: string[]
}

export interface TraceData {
  /** Format version of this structure. */
  version: 1
  /** What the trace is of: a test's full name or a scenario's name. */
  title: string
  lab: string
  /** When the lab (and its timeline) started, and when the trace was written. */
  started: number
  written: number
  topology: TraceTopology
  /** The topology drawn by Graphviz (an <svg> element's text; ids `node-<name>`, `link-<id>`, `tunnel-<id>`). */
  svg: string
  events: TraceEvent[]
  packets: TracePacket[]
  states: TraceStateSnapshot[]
  /** Index into events of the failure the page opens on (absent: the page opens at the end). */
  failure?: number
  /** The pcapng beside the page, relative to the page's own location. */
  pcapng?: string
  truncated: TraceTruncation
}
