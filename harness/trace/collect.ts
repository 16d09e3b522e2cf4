/**
 * A trace of a lab, gathered at the moment it is asked for (a failure): the
 * topology drawn by Graphviz, the lab's timeline, the packets its capture
 * holds summarised one line each with node names, and every node's state
 * read from the kernel now. Then written as one HTML page beside the
 * pcapng it links to.
 */
import { mkdirSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { dissect } from '../capture/dissect.js'
import { PACKET_OUTGOING } from '../sys/index.js'
import { linkTypeOf } from '../capture/index.js'
import { addressNames, nameLinkLocals } from '../lab/capture.js'
import type { Lab } from '../lab/lab.js'
import { labState } from '../lab/state.js'
import { type TraceEvent, nowUs } from '../lab/timeline.js'
import type { TraceData, TracePacket, TraceStateSnapshot, TraceTopology } from './data.js'
import { renderSvg, topologyDot } from './graph.js'
import { labTopology } from './lab-topology.js'
import { writeTraceHtml } from './page.js'

export interface TraceOptions {
  /** What the trace is of: a test's full name, a scenario's name. */
  title: string
  /**
   * The failure, put on the timeline now (unless the timeline already ends
   * in one, as a scenario's does) and opened on by the page.
   */
  failure?: { message: string; detail?: string }
  /** The pcapng beside the page (a path; the page links to it by its name). */
  pcapng?: string
  /** Most packets summarised into the page (default 50,000; the pcapng has them all). */
  maxPackets?: number
  /** Largest page in bytes (default: the page's own, 8 MiB). */
  maxBytes?: number
}

const DEFAULT_MAX_PACKETS = 50_000

/** The lab's packets, one line each: node names for lab addresses, link ids for lab devices. */
function tracePackets(
  lab: Lab,
  topology: TraceTopology,
  max: number,
  names: ReadonlyMap<string, string>,
): { packets: TracePacket[]; dropped: number } {
  const capture = lab.packetCapture
  if (!capture) return { packets: [], dropped: 0 }
  const linkOf = new Map<string, string>()
  for (const l of topology.links) for (const end of [l.a, l.b]) linkOf.set(`${end.node}/${end.device}`, l.id)
  for (const t of topology.tunnels)
    for (const end of [t.a, t.b]) linkOf.set(`${end.node}/${end.device}`, t.id)
  const all = capture.packets()
  const kept = all.length > max ? all.slice(all.length - max) : all
  const named = (address: string): string => names.get(address) ?? address
  const packets = kept.map((p): TracePacket => {
    const d = dissect(p.data, linkTypeOf(p.hatype))
    const link = linkOf.get(`${p.node}/${p.device}`)
    return {
      t: p.sec * 1e6 + p.nsec / 1000,
      node: p.node,
      device: p.device,
      ...(link === undefined ? {} : { link }),
      dir: p.type === PACKET_OUTGOING ? 'out' : 'in',
      length: p.length,
      protocol: d.protocol,
      src: named(d.src),
      dst: named(d.dst),
      info: d.info,
    }
  })
  return { packets, dropped: all.length - kept.length }
}

/** Every node's state now, as the failure report prints it. */
async function snapshot(lab: Lab, reason: string): Promise<TraceStateSnapshot> {
  const t = nowUs()
  const state = await labState(lab)
  return {
    t,
    reason,
    hosts: state.map(({ processes: _, ...host }) => host),
  }
}

/**
 * Where a timeline's topology starts: links made before the events kept
 * (a shared lab's build, or events let go of the ring) are up from the
 * start, so the page does not grey them out.
 */
function startEvent(
  topology: TraceTopology,
  events: readonly TraceEvent[],
  t: number,
): TraceEvent | undefined {
  const made = new Set(
    events.flatMap((e) => (e.kind === 'lab' && e.linkState ? Object.keys(e.linkState) : [])),
  )
  const before = [...topology.links.map((l) => l.id), ...topology.tunnels.map((x) => x.id)].filter(
    (id) => !made.has(id),
  )
  if (before.length === 0) return undefined
  return {
    t,
    kind: 'note',
    title: `${before.length} link(s) made before this trace begins`,
    links: before,
    linkState: Object.fromEntries(before.map((id) => [id, 'up' as const])),
  }
}

/**
 * The event a page opens on: the failed expectation (or step) that the
 * failure reports, when there is one before it (a scenario's), else the
 * failure itself (a test's assertion), else the last thing that failed.
 */
export function failureIndex(events: readonly TraceEvent[]): number {
  const failure = events.findLastIndex((e) => e.kind === 'failure')
  const failedCheck = events.findLastIndex(
    (e) => (e.kind === 'expect' || e.kind === 'step') && e.ok === false,
  )
  if (failure < 0) return events.findLastIndex((e) => e.ok === false)
  return failedCheck >= 0 && failedCheck < failure ? failedCheck : failure
}

/** Every address of the lab → its node's name, link-local ones asked of the kernel (one dump per node). */
async function labAddressNames(lab: Lab): Promise<Map<string, string>> {
  const names = addressNames({ allNodes: lab.allNodes, tunnels: lab.tunnelList })
  await nameLinkLocals(lab.allNodes, names)
  return names
}

/**
 * Gather a lab's trace now (reads the kernel: the capture's last frames,
 * every node's state). `names`: the lab's address names when the caller
 * asked for them already (writeTrace, for the pcapng too).
 */
export async function traceData(
  lab: Lab,
  options: TraceOptions,
  names?: ReadonlyMap<string, string>,
): Promise<TraceData> {
  const timeline = lab.timeline
  if (options.failure && timeline.events().at(-1)?.kind !== 'failure')
    timeline.record({
      kind: 'failure',
      title: options.failure.message.split('\n')[0]!,
      ...(options.failure.detail === undefined ? {} : { detail: options.failure.detail }),
    })
  await lab.packetCapture?.flush()
  const topology = labTopology(lab.model)
  const [svg, state] = await Promise.all([
    renderSvg(topologyDot(topology)),
    snapshot(
      lab,
      options.failure || timeline.events().at(-1)?.kind === 'failure'
        ? 'at the failure'
        : 'when the trace was written',
    ),
  ])
  const events = timeline.events()
  const first = Math.min(timeline.started, events[0]?.t ?? Infinity)
  const start = startEvent(topology, events, first)
  if (start) events.unshift(start)
  const failure = failureIndex(events)
  const { packets, dropped } = tracePackets(
    lab,
    topology,
    options.maxPackets ?? DEFAULT_MAX_PACKETS,
    names ?? (await labAddressNames(lab)),
  )
  const notes: string[] = []
  const stats = lab.packetCapture?.stats()
  if (stats && stats.kernelDrops > 0)
    notes.push(`the kernel dropped ${stats.kernelDrops} frame(s) the capture could not read in time`)
  if (stats && stats.memory.droppedPackets > 0)
    notes.push(`the capture's memory ring let go of ${stats.memory.droppedPackets} older packet(s)`)
  if (!lab.packetCapture) notes.push('no packets: this lab was not capturing')
  return {
    version: 1,
    title: options.title,
    lab: lab.id,
    started: first,
    written: nowUs(),
    topology,
    svg,
    events,
    packets,
    states: [state],
    ...(failure >= 0 ? { failure } : {}),
    ...(options.pcapng === undefined ? {} : { pcapng: basename(options.pcapng) }),
    truncated: {
      ...(timeline.dropped > 0 ? { events: { kept: events.length, dropped: timeline.dropped } } : {}),
      ...(dropped > 0 ? { packets: { kept: packets.length, dropped } } : {}),
      notes,
    },
  }
}

export interface WrittenTrace {
  /** The page. */
  html: string
  bytes: number
  /** The pcapng beside it, when the lab was capturing. */
  pcapng?: { path: string; packets: number; interfaces: number; kernelDrops: number; evicted: number }
  /** What the page left out to stay within its size (also said on the page). */
  truncated: TraceData['truncated']
}

/**
 * Write `<base>.pcapng` (when the lab captures) and `<base>.trace.html`
 * linking to it. Reads the kernel first (see traceData).
 */
export async function writeTrace(lab: Lab, base: string, options: TraceOptions): Promise<WrittenTrace> {
  mkdirSync(dirname(base), { recursive: true })
  let pcapng: WrittenTrace['pcapng']
  const capture = lab.packetCapture
  // Asked once for both files (the link-local addresses are a dump per node).
  const names = await labAddressNames(lab)
  if (capture) {
    const path = options.pcapng ?? `${base}.pcapng`
    const r = await capture.write(path, { comment: options.title, names })
    pcapng = {
      path,
      packets: r.packets,
      interfaces: r.interfaces,
      kernelDrops: r.kernelDrops,
      evicted: r.evicted,
    }
  }
  const data = await traceData(lab, { ...options, ...(pcapng ? { pcapng: pcapng.path } : {}) }, names)
  const file = join(dirname(base), `${basename(base)}.trace.html`)
  const w = writeTraceHtml(file, data, options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes })
  return { html: w.path, bytes: w.bytes, ...(pcapng ? { pcapng } : {}), truncated: w.truncated }
}
