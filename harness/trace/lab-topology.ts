/**
 * A Lab's model as a TraceTopology: what the picture and the trace page
 * draw. Pure (reads the model, asks the kernel nothing).
 *
 * Link ids: every veth is one link, `<x>--<y>#<n>` with the two node names
 * sorted and `n` counting the links between that pair (0 first): the key
 * links.ts counts parallel links by, and for a link between two hosts or
 * routers the id of its segment in model.segments. A host's port on a
 * switch is a link of its own (`h--sw#0`), so every captured device maps to
 * exactly one link (linkOfDevice); the switch's segment (`sw:<name>`) is
 * the set of its ports' links. Tunnel ids are the tunnels' names.
 */
import { impairmentText } from '../lab/impairment.js'
import type { LabModel } from '../lab/model.js'
import type { LabNode, Port } from '../lab/node.js'
import type { TraceEnd, TraceLink, TraceTopology, TraceTunnel } from './data.js'

/** The id of the `nth` link between nodes `x` and `y` (names, either order). */
export function linkId(x: string, y: string, nth = 0): string {
  return `${[x, y].sort().join('--')}#${nth}`
}

/** The text of a link's impairment from each end's egress: one text when both directions agree. */
export function twoWayImpairment(a: string, ab: string, b: string, ba: string): string | undefined {
  if (!ab && !ba) return undefined
  if (ab === ba) return ab
  return [ab && `${a}→${b}: ${ab}`, ba && `${b}→${a}: ${ba}`].filter(Boolean).join('; ')
}

function end(node: LabNode, port: Port): TraceEnd {
  const addresses: string[] = []
  if (port.v4) addresses.push(`${port.v4}/${port.segment.v4.prefixLen}`)
  if (port.v6) addresses.push(`${port.v6}/${port.segment.v6.prefixLen}`)
  return { node: node.name, device: port.device, addresses }
}

/** The link id of `device` in `node` (a veth of the lab, also a switch's port), or undefined. */
export function linkOfDevice(model: LabModel, node: string, device: string): string | undefined {
  return model.nodes.get(node)?.ports.find((p) => p.device === device)?.link
}

/** The tunnel id (its name) whose device in `node` is `device`, or undefined. */
export function tunnelOfDevice(model: LabModel, node: string, device: string): string | undefined {
  return model.tunnels.find(
    (t) => (t.a.name === node && t.devices.a === device) || (t.b.name === node && t.devices.b === device),
  )?.name
}

/** The lab as the trace draws it. */
export function labTopology(model: LabModel): TraceTopology {
  const links: TraceLink[] = []
  for (const a of model.allNodes)
    for (const portA of a.ports) {
      const b = portA.peer
      // Each veth once: from the end whose name sorts first.
      if (a.name > b.name) continue
      const portB = b.ports.find((q) => q.link === portA.link)
      if (!portB) continue
      const link: TraceLink = { id: portA.link, a: end(a, portA), b: end(b, portB) }
      const mtu = portA.mtu ?? portB.mtu
      if (mtu !== undefined) link.mtu = mtu
      const impairment = twoWayImpairment(
        a.name,
        impairmentText(portA.impairment),
        b.name,
        impairmentText(portB.impairment),
      )
      if (impairment) link.impairment = impairment
      links.push(link)
    }
  const tunnels: TraceTunnel[] = model.tunnels.map((t) => ({
    id: t.name,
    type: t.type,
    // A tunnel's addresses are known without their prefix length: given as the address alone.
    a: { node: t.a.name, device: t.devices.a, addresses: [t.addresses.a] },
    b: { node: t.b.name, device: t.devices.b, addresses: [t.addresses.b] },
  }))
  const nat: TraceTopology['nat'] = []
  for (const [router, segment] of model.natOutside) {
    const port = router.ports.find((p) => p.segment === segment)
    if (port) nat.push({ router: router.name, outside: port.peer.name })
  }
  return {
    lab: model.id,
    nodes: model.allNodes.map((n) => ({ name: n.name, kind: n.kind })),
    links,
    tunnels,
    nat,
  }
}

export { impairmentText } from '../lab/impairment.js'
