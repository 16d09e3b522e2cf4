/**
 * The `packets` expectation: count the packets the lab's capture holds on
 * a node or one end of a link (one direction or both), that a filter
 * matches, since a `mark:` step or since the lab was created; the detail
 * shows the first few that matched, one line each, with node names.
 */
import { isIP } from 'node:net'
import { type PacketFilter, compileFilter, decodePacket, summarizePacket } from '../capture/match.js'
import type { LabPacket } from '../lab/capture.js'
import { PACKET_OUTGOING } from '../sys/index.js'
import { canonicalIp } from '../util/ip.js'
import type { RunContext } from './context.js'
import type { Expectation, PacketMatchSpec, PacketsSpec } from './schema.js'

/** Matching packets listed in an outcome's detail. */
const SHOWN = 5

/** Does this expectation (or a step's) count packets? The runner captures in memory if so. */
export function usesPackets(e: Expectation): boolean {
  return e.packets !== undefined
}

/** Where a `packets` expectation looks: a node, and one of its devices or all but lo. */
export function packetsPlace(ctx: RunContext, on: PacketsSpec['on']): { node: string; device?: string } {
  if (typeof on === 'string') return { node: on }
  if ('between' in on) {
    const [a, b] = on.between
    const port = ctx.node(a).ports.find((p) => p.peer === ctx.node(b))
    if (!port) throw new TypeError(`packets on: ${a} has no link to ${b}`)
    return { node: a, device: port.device }
  }
  return on.device === undefined ? { node: on.node } : { node: on.node, device: on.device }
}

/** Every address a node holds: its ports' and its tunnel ends' (inner) addresses. */
export function nodeAddresses(ctx: RunContext, name: string): string[] {
  const node = ctx.node(name)
  const out: string[] = []
  for (const a of node.addresses()) {
    if (a.v4) out.push(a.v4)
    if (a.v6) out.push(a.v6)
  }
  for (const { tunnel } of ctx.tunnels.values()) {
    if (tunnel.a === node) out.push(tunnel.addresses.a)
    if (tunnel.b === node) out.push(tunnel.addresses.b)
  }
  return out
}

/** The scenario's filter with node names replaced by their addresses. */
export function resolveMatch(ctx: RunContext, m: PacketMatchSpec): PacketFilter {
  const ends = (v: string | string[] | undefined): string[] | undefined => {
    if (v === undefined) return undefined
    return (typeof v === 'string' ? [v] : v).flatMap((x) =>
      isIP(x.split('/')[0]!) !== 0 ? [x] : nodeAddresses(ctx, x),
    )
  }
  const f: PacketFilter = {}
  if (m.protocol !== undefined) f.protocol = m.protocol
  const from = ends(m.from)
  const to = ends(m.to)
  const host = ends(m.host)
  if (from) f.from = from
  if (to) f.to = to
  if (host) f.host = host
  if (m.port !== undefined) f.port = m.port
  if (m.srcPort !== undefined) f.srcPort = m.srcPort
  if (m.dstPort !== undefined) f.dstPort = m.dstPort
  if (m.icmpType !== undefined) f.icmpType = m.icmpType
  if (m.icmpCode !== undefined) f.icmpCode = m.icmpCode
  if (m.not) f.not = Array.isArray(m.not) ? m.not.map((n) => resolveMatch(ctx, n)) : resolveMatch(ctx, m.not)
  return f
}

/** Address → node name (tunnel addresses as `node.tunnel`), for the lines shown. */
function addressNamer(ctx: RunContext): (address: string) => string {
  const names = new Map<string, string>()
  for (const n of ctx.lab.allNodes)
    for (const a of n.addresses()) {
      if (a.v4) names.set(a.v4, n.name)
      if (a.v6) names.set(canonicalIp(a.v6), n.name)
    }
  for (const [name, { tunnel }] of ctx.tunnels) {
    names.set(tunnel.addresses.a, `${tunnel.a.name}.${name}`)
    names.set(tunnel.addresses.b, `${tunnel.b.name}.${name}`)
  }
  return (a) => names.get(a) ?? a
}

/** `12:34:56.789012` (UTC), from a packet's kernel timestamp. */
function timeOfDay(p: { sec: number; nsec: number }): string {
  const d = new Date(p.sec * 1000)
  return `${d.toISOString().slice(11, 19)}.${String(Math.floor(p.nsec / 1000)).padStart(6, '0')}`
}

function describeCount(c: PacketsSpec['count']): string {
  if (typeof c === 'number') return `exactly ${c}`
  if (c.min !== undefined && c.max !== undefined) return `${c.min} to ${c.max}`
  return c.min !== undefined ? `at least ${c.min}` : `at most ${c.max}`
}

function countHolds(c: PacketsSpec['count'], n: number): boolean {
  if (typeof c === 'number') return n === c
  return (c.min === undefined || n >= c.min) && (c.max === undefined || n <= c.max)
}

function describeFilter(m: PacketMatchSpec | undefined): string {
  if (m === undefined) return 'any packet'
  const parts: string[] = []
  for (const [k, v] of Object.entries(m)) {
    if (v === undefined) continue
    if (k === 'not')
      parts.push(
        `not (${(Array.isArray(v) ? (v as PacketMatchSpec[]) : [v as PacketMatchSpec]).map(describeFilter).join(') nor (')})`,
      )
    else parts.push(`${k} ${Array.isArray(v) ? v.join('|') : String(v)}`)
  }
  return parts.join(', ') || 'any packet'
}

export interface CountedPackets {
  matched: LabPacket[]
  /** Packets on the place and direction (and since the mark) before filtering. */
  seen: number
}

/** The packets of `packets` (already captured and flushed) that the expectation counts. */
export function countPackets(
  ctx: RunContext,
  spec: PacketsSpec,
  packets: readonly LabPacket[],
): CountedPackets {
  const place = packetsPlace(ctx, spec.on)
  const predicate = compileFilter(resolveMatch(ctx, spec.match ?? {}))
  const since = spec.since === undefined ? undefined : ctx.mark(spec.since)
  const direction = spec.direction ?? 'both'
  const matched: LabPacket[] = []
  let seen = 0
  for (const p of packets) {
    if (p.node !== place.node) continue
    if (place.device === undefined ? p.device === 'lo' : p.device !== place.device) continue
    const out = p.type === PACKET_OUTGOING
    if ((direction === 'out' && !out) || (direction === 'in' && out)) continue
    if (since !== undefined && BigInt(p.sec) * 1_000_000_000n + BigInt(p.nsec) < since) continue
    seen++
    if (predicate(decodePacket(p.data, p.hatype))) matched.push(p)
  }
  return { matched, seen }
}

export async function checkPackets(
  ctx: RunContext,
  spec: PacketsSpec,
): Promise<{ ok: boolean; label: string; detail: string }> {
  const place = packetsPlace(ctx, spec.on)
  const where = `${place.node}${place.device === undefined ? '' : `/${place.device}`}`
  const direction = spec.direction ?? 'both'
  const label = `packets on ${where}${direction === 'both' ? '' : ` ${direction}`}${spec.since === undefined ? '' : ` since ${spec.since}`}: ${describeFilter(spec.match)}, ${describeCount(spec.count)}`
  const capture = ctx.lab.packetCapture
  if (!capture)
    return {
      ok: false,
      label,
      detail:
        'the lab captures no packets: call lab.capture() before the run (runScenario does when the scenario has a packets expectation)',
    }
  await capture.flush()
  const packets = capture.packets()
  if (place.device !== undefined) {
    const node = ctx.node(place.node)
    const devices = new Set(['lo', ...node.ports.map((p) => p.device)])
    for (const { tunnel } of ctx.tunnels.values()) {
      if (tunnel.a === node) devices.add(tunnel.devices.a)
      if (tunnel.b === node) devices.add(tunnel.devices.b)
    }
    for (const p of packets) if (p.node === place.node) devices.add(p.device)
    if (!devices.has(place.device))
      return {
        ok: false,
        label,
        detail: `${place.node} has no device ${place.device} and none was seen there; its devices: ${[...devices].join(', ')}`,
      }
  }
  const { matched, seen } = countPackets(ctx, spec, packets)
  const ok = countHolds(spec.count, matched.length)
  const name = addressNamer(ctx)
  const lines = matched.slice(0, SHOWN).map((p) => {
    const dir = p.type === PACKET_OUTGOING ? 'out' : 'in'
    return `  ${timeOfDay(p)} ${p.node}/${p.device} ${dir} ${summarizePacket(decodePacket(p.data, p.hatype), name)}`
  })
  const more = matched.length > SHOWN ? `\n  ... and ${matched.length - SHOWN} more` : ''
  const stats = capture.stats()
  const lost = [
    stats.kernelDrops ? `the kernel dropped ${stats.kernelDrops} frame(s)` : '',
    stats.memory.droppedPackets ? `the capture let ${stats.memory.droppedPackets} older packet(s) go` : '',
  ].filter(Boolean)
  const caveat = lost.length ? `; careful: ${lost.join(' and ')}, so the count may be low` : ''
  return {
    ok,
    label,
    detail: `${matched.length} of ${seen} packet(s) matched (expected ${describeCount(spec.count)})${caveat}${lines.length ? `:\n${lines.join('\n')}${more}` : ''}`,
  }
}
