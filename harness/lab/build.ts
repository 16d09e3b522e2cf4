/**
 * A topology given as data, built in batches (Lab.build): every namespace,
 * then every switch's bridge together, every veth pair together, every
 * end's addresses and up together (one datagram per namespace), every
 * carrier waited for together, impairments and NAT, and the routes synced
 * once at the end, instead of one awaited call per node and link with a
 * route sync after each. Each thing registers its undo where it is made; a
 * failure half-way unwinds everything the build made.
 */
import { TopologyError } from './errors.js'
import { type Impairment, applyImpairment } from './impair.js'
import { type HalfMade, type LinkOptions, connectAll } from './links.js'
import { addNat } from './nat.js'
import { recordLinkMade } from './recorder.js'
import { impairmentText } from './impairment.js'
import type { LabNode } from './node.js'
import {
  type HostOptions,
  type NodeContext,
  type NodeEntry,
  checkNewNames,
  createBridge,
  createNodesOf,
} from './nodes.js'
import { syncRoutes } from './routing.js'

export interface SwitchOptions {
  /** How many members the switch must hold (sizes its IPv4 subnet; 1 to 1024, default 254). */
  hosts?: number
  subnet?: string
  subnet6?: string
}

/** A host by name, or with options. */
export type HostSpec = string | ({ name: string } & HostOptions)
/** A switch by name, or with options. */
export type SwitchSpec = string | ({ name: string } & SwitchOptions)
/**
 * A link: its two ends, or its ends with options, an impairment and the
 * direction it applies to ('both' by default; 'forward' is from the first end).
 */
export type LinkSpec =
  | readonly [string, string]
  | ({
      between: readonly [string, string]
      impair?: Impairment
      direction?: 'both' | 'forward' | 'reverse'
    } & LinkOptions)

/** A topology as data: `lab.build({ hosts: ['a', 'b'], routers: ['r'], links: [['a', 'r'], ['r', 'b']] })`. */
export interface TopologySpec {
  hosts?: readonly HostSpec[]
  routers?: readonly string[]
  switches?: readonly SwitchSpec[]
  /** Links may also name nodes the lab already has. */
  links?: readonly LinkSpec[]
  /** Routers that masquerade towards one of their links (see Lab.nat). */
  nat?: readonly { router: string; outside: string }[]
}

/** What building needs of the lab beyond making nodes: following new nodes with its capture. */
export interface BuildContext extends NodeContext {
  follow(nodes: readonly LabNode[]): void
}

const nameOf = (s: HostSpec | SwitchSpec): string => (typeof s === 'string' ? s : s.name)

/**
 * Build `spec` into the lab (see the module comment). Run inside
 * undo.atomically(). Resolves with the nodes made, by name.
 */
export async function buildTopology(ctx: BuildContext, spec: TopologySpec): Promise<Record<string, LabNode>> {
  const { model, undo } = ctx
  const entries: NodeEntry[] = [
    ...(spec.hosts ?? []).map((h) => ({
      name: nameOf(h),
      kind: 'host' as const,
      options: typeof h === 'string' ? {} : { bare: h.bare },
    })),
    ...(spec.routers ?? []).map((name) => ({ name, kind: 'router' as const })),
    ...(spec.switches ?? []).map((s) => ({ name: nameOf(s), kind: 'switch' as const })),
  ]
  // Everything that can be refused without the kernel, before anything is made.
  checkNewNames(
    model,
    entries.map((e) => e.name),
  )
  const known = new Set([...model.nodes.keys(), ...entries.map((e) => e.name)])
  const links = (spec.links ?? []).map((l) => {
    const [x, y] = Array.isArray(l)
      ? (l as readonly [string, string])
      : (l as { between: [string, string] }).between
    for (const [end, role] of [
      [x, 'from'],
      [y, 'to'],
    ] as const)
      if (!known.has(end))
        throw new TopologyError(
          `cannot connect ${role} ${JSON.stringify(end)}: lab ${model.id} has no such node`,
        )
    if (Array.isArray(l)) return { x, y, options: {} }
    const { between: _, impair, direction, ...options } = l as Exclude<LinkSpec, readonly [string, string]>
    return { x, y, options, impair, direction }
  })
  for (const n of spec.nat ?? [])
    for (const end of [n.router, n.outside])
      if (!known.has(end))
        throw new TopologyError(`cannot NAT through ${JSON.stringify(end)}: lab ${model.id} has no such node`)
  const switchSegments = (spec.switches ?? []).map((s) => {
    const o: SwitchOptions = typeof s === 'string' ? {} : s
    return model.plan.switchSegment(`switch ${nameOf(s)}`, o.hosts ?? 254, o)
  })

  const made = await createNodesOf(ctx, entries)
  const switches = made.filter((n) => n.kind === 'switch')
  for (const [i, sw] of switches.entries()) {
    const segment = switchSegments[i]!
    model.switchSegments.set(sw, segment)
    model.segments.push({ id: `sw:${sw.name}`, segment })
    undo.defer(`switch ${sw.name} in the model`, () => {
      model.switchSegments.delete(sw)
      const j = model.segments.findIndex((s) => s.segment === segment)
      if (j >= 0) model.segments.splice(j, 1)
    })
  }
  await Promise.all(switches.map((sw) => createBridge(model, sw)))
  ctx.follow(made)

  const halfMade: HalfMade = []
  const linksMade = await connectAll(model, undo, links, halfMade)
  for (const l of linksMade) recordLinkMade(model, l.link)
  const impairs: Promise<void>[] = []
  for (const [i, l] of links.entries()) {
    if (!l.impair) continue
    const p = linksMade[i]!
    // 'forward' is from the first end named (the link's `a` unless it was a switch).
    const [from, to] = p.a.name === l.x ? [p.a, p.b] : [p.b, p.a]
    const port = (n: LabNode, device: string) => n.ports.find((q) => q.device === device)!
    const fromPort = port(from, from === p.a ? p.devA : p.devB)
    const toPort = port(to, to === p.a ? p.devA : p.devB)
    const dir = l.direction ?? 'both'
    if (dir !== 'reverse') impairs.push(applyImpairment(from, fromPort, l.impair))
    if (dir !== 'forward') impairs.push(applyImpairment(to, toPort, l.impair))
    const text = impairmentText(l.impair)
    if (text) {
      model.impairedLinks.add(p.link)
      model.timeline.record({
        kind: 'lab',
        title: `link ${from.name} ⟷ ${to.name} impaired: ${text}${dir === 'both' ? '' : ` (${dir})`}`,
        links: [p.link],
        linkState: { [p.link]: 'impaired' },
      })
    }
  }
  await Promise.all(impairs)
  for (const n of spec.nat ?? []) {
    await addNat(model, n.router, n.outside)
    model.timeline.record({ kind: 'lab', node: n.router, title: `${n.router} NAT towards ${n.outside}` })
  }
  await syncRoutes(model)
  for (const drop of halfMade) drop()
  return Object.fromEntries(made.map((n) => [n.name, n]))
}
