/**
 * What a lab is made of, as data: its nodes, the segments they share (links
 * and switches, with the addresses the plan gave), the routes it installed,
 * NAT edges and tunnels, and the per-node counters the operations keep. The
 * operation modules (nodes, links, routing, nat, neighbours, lifecycle) read
 * and update it; the Lab class is the facade over both.
 */
import { TopologyError } from './errors.js'
import type { LabNode, Port } from './node.js'
import { AddressPlan, type PlanOptions, type Segment } from './plan.js'
import type { PlannedRoute } from './routes.js'
import type { Tunnel } from './tunnel.js'
import type { SegmentMember } from './neighbours.js'
import { Timeline } from './timeline.js'

export class LabModel {
  readonly nodes = new Map<string, LabNode>()
  readonly plan: AddressPlan
  /** The segment of each switch. */
  readonly switchSegments = new Map<LabNode, Segment>()
  /** Every segment with an id: `sw:<name>` for a switch, `<a>--<b>#<n>` for a link. */
  readonly segments: { id: string; segment: Segment }[] = []
  /** The routes installed now (what routing.sync last made true). */
  installedRoutes: PlannedRoute[] = []
  /** NAT routers and the segment they masquerade out of. */
  readonly natOutside = new Map<LabNode, Segment>()
  readonly tunnels: Tunnel[] = []
  /** How many links each pair of nodes has (`a--b` sorted), for device names of parallel links. */
  readonly linkCount = new Map<string, number>()
  /**
   * The ifindex the next device made in a node asks for. A fresh namespace
   * has only lo (1); the lab makes every other device in it and counts, so
   * it never has to ask the kernel which index a new link got.
   */
  readonly nextIndex = new Map<LabNode, number>()
  /** A switch's bridge ifindex. */
  readonly bridgeIndex = new Map<LabNode, number>()

  /** Ids of the links impaired now (Port.link). */
  readonly impairedLinks = new Set<string>()
  /** Everything the lab did and saw, in order (see timeline.ts). */
  readonly timeline: Timeline

  constructor(
    readonly id: string,
    options: PlanOptions & { timelineEvents?: number } = {},
  ) {
    this.plan = new AddressPlan(options)
    this.timeline = new Timeline(options.timelineEvents)
  }

  /** A node by name (a TopologyError names the lab when there is none). */
  node(name: string): LabNode {
    const n = this.nodes.get(name)
    if (!n) throw new TopologyError(`lab ${this.id} has no node named ${JSON.stringify(name)}`)
    return n
  }

  /** A node of this lab given by object or name; `role` says what it was wanted for. */
  resolve(node: LabNode | string, role: string): LabNode {
    const name = typeof node === 'string' ? node : node.name
    const n = this.nodes.get(name)
    if (!n || (typeof node !== 'string' && n !== node))
      throw new TopologyError(
        `cannot connect ${role} ${JSON.stringify(name)}: lab ${this.id} has no such node`,
      )
    return n
  }

  /** Hosts and routers (every node that is not a switch). */
  get hosts(): LabNode[] {
    return [...this.nodes.values()].filter((n) => n.kind !== 'switch')
  }

  get allNodes(): LabNode[] {
    return [...this.nodes.values()]
  }

  /** The two ends of the link between x and y (the `nth` one if there are several). */
  link(
    x: LabNode | string,
    y: LabNode | string,
    nth = 0,
  ): { a: LabNode; portA: Port; b: LabNode; portB: Port } {
    const a = this.resolve(x, 'from')
    const b = this.resolve(y, 'to')
    const portA = a.ports.filter((p) => p.peer === b)[nth]
    if (!portA)
      throw new TopologyError(
        `there is no link ${a.name}--${b.name}${nth ? ` number ${nth}` : ''} in lab ${this.id}`,
      )
    const portB = b.ports.filter((p) => p.peer === a)[nth]!
    return { a, portA, b, portB }
  }

  /** Every node linked to switch `sw`, with its port there. */
  segmentMembers(sw: LabNode): SegmentMember[] {
    return this.allNodes.flatMap((node) =>
      node.ports.filter((port) => port.peer === sw).map((port) => ({ node, port })),
    )
  }

  /** The id of a segment the model knows. */
  segmentId(segment: Segment): string | undefined {
    return this.segments.find((s) => s.segment === segment)?.id
  }
}
