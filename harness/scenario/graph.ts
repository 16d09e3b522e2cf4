/**
 * A picture of a scenario's topology, before anything is built: the
 * scenario as a TraceTopology (addresses from the Lab's own address plan run
 * dry, in build order, so they are those `nslab run` gives), drawn as
 * Mermaid text, as Graphviz DOT (harness/trace/graph.ts) or as an SVG laid
 * out by Graphviz. Device names depend on the lab's id, unknown until it
 * runs: they are left empty, as are the inner addresses of tunnels without
 * a `subnet`.
 */
import { AddressPlan, type Segment, hostAddress, parseSubnet } from '../lab/plan.js'
import type { TraceEnd, TraceLink, TraceTopology, TraceTunnel } from '../trace/data.js'
import { renderSvg, topologyDot, topologyMermaid } from '../trace/graph.js'
import { impairmentText, linkId, twoWayImpairment } from '../trace/lab-topology.js'
import { impairmentOf } from './impairment.js'
import type { Scenario } from './schema.js'
import { linkDecls, nodeDecls, tunnelDecls } from './topology.js'

/** Each end's addresses as the plan would give them (none where the plan refuses: the validator says why). */
function plannedAddresses(s: Scenario): Map<number, Record<string, string[]>> {
  const plan = new AddressPlan()
  const switches = new Map<string, Segment | undefined>()
  const kinds = new Map(nodeDecls(s).map((n) => [n.name, n.kind]))
  for (const n of nodeDecls(s).filter((d) => d.kind === 'switch')) {
    try {
      switches.set(n.name, plan.switchSegment(`switch ${n.name}`, n.switchSpec.members ?? 254, n.switchSpec))
    } catch {
      switches.set(n.name, undefined)
    }
  }
  const out = new Map<number, Record<string, string[]>>()
  linkDecls(s).forEach((l, i) => {
    const sw = kinds.get(l.b) === 'switch' ? l.b : kinds.get(l.a) === 'switch' ? l.a : undefined
    const ends: Record<string, string[]> = {}
    out.set(i, ends)
    try {
      const seg = sw
        ? switches.get(sw)
        : plan.segment(`link ${l.a}--${l.b}`, 2, { subnet: l.subnet, subnet6: l.subnet6 })
      if (!seg) return
      for (const end of [l.a, l.b].filter((e) => e !== sw)) {
        const a = plan.assign(seg, end, l.addresses[end])
        ends[end] = [`${a.v4}/${seg.v4.prefixLen}`, `${a.v6}/${seg.v6.prefixLen}`]
      }
    } catch {
      // An invalid topology: drawn without addresses.
    }
  })
  return out
}

/** The scenario's topology as the trace page and the graph draw it (same link ids as the lab's). */
export function scenarioTopology(s: Scenario): TraceTopology {
  const addresses = plannedAddresses(s)
  const count = new Map<string, number>()
  const links: TraceLink[] = linkDecls(s).map((l, i) => {
    const pair = [l.a, l.b].sort().join('--')
    const nth = count.get(pair) ?? 0
    count.set(pair, nth + 1)
    const ends = addresses.get(i) ?? {}
    const end = (node: string): TraceEnd => ({ node, device: '', addresses: ends[node] ?? [] })
    const link: TraceLink = { id: linkId(l.a, l.b, nth), a: end(l.a), b: end(l.b) }
    if (l.mtu !== undefined) link.mtu = l.mtu
    if (l.impair) {
      const { impairment, direction } = impairmentOf(l.impair)
      const text = impairmentText(impairment)
      const ab = direction === 'reverse' ? '' : text
      const ba = direction === 'forward' ? '' : text
      const both = twoWayImpairment(l.a, ab, l.b, ba)
      if (both) link.impairment = both
    }
    return link
  })
  const tunnels: TraceTunnel[] = tunnelDecls(s).map((t) => {
    const [a, b] = t.spec.between
    let inner: [string[], string[]] = [[], []]
    if (t.spec.subnet) {
      try {
        const net = parseSubnet(t.spec.subnet)
        inner = [[`${hostAddress(net, 1)}/${net.prefixLen}`], [`${hostAddress(net, 2)}/${net.prefixLen}`]]
      } catch {
        // The validator reports a bad subnet.
      }
    }
    return {
      id: t.name,
      type: t.spec.type,
      a: { node: a, device: '', addresses: inner[0] },
      b: { node: b, device: '', addresses: inner[1] },
    }
  })
  return {
    lab: s.name ?? 'lab',
    nodes: nodeDecls(s).map((n) => ({ name: n.name, kind: n.kind })),
    links,
    tunnels,
    nat: (s.topology.nat ?? []).map((n) => ({ router: n.router, outside: n.outside })),
  }
}

/** Mermaid flowchart text of the scenario's topology. */
export function toMermaid(s: Scenario): string {
  return topologyMermaid(scenarioTopology(s))
}

/** Graphviz DOT of the scenario's topology (tunnels and NAT included). */
export function toDot(s: Scenario): string {
  return topologyDot(scenarioTopology(s))
}

/** The scenario's topology laid out by Graphviz: an <svg> element. */
export function toSvg(s: Scenario): Promise<string> {
  return renderSvg(toDot(s))
}
