/**
 * A scenario's topology in one normal form (lists or maps of nodes, short or
 * long links, all the same shape), with the place in the file each came
 * from. Both validation and building read this form.
 */
import type { DocPath } from './diagnostics.js'
import type { ImpairmentSpec, LinkSpec, NodeSpec, Scenario, SwitchSpec, TunnelSpec } from './schema.js'

export type Kind = 'host' | 'router' | 'switch'

export interface NodeDecl {
  name: string
  kind: Kind
  spec: NodeSpec
  switchSpec: SwitchSpec
  path: DocPath
}

export interface LinkDecl {
  a: string
  b: string
  subnet?: string
  subnet6?: string
  addresses: Record<string, { v4?: string; v6?: string }>
  mtu?: number
  impair?: ImpairmentSpec
  path: DocPath
  /** Where each end's name is written. */
  endPaths: [DocPath, DocPath]
}

function nodes<S>(
  value: string[] | Record<string, S | null> | undefined,
  kind: Kind,
  key: string,
): { name: string; spec: S | undefined; path: DocPath }[] {
  if (value === undefined) return []
  if (Array.isArray(value))
    return value.map((name, i) => ({ name, spec: undefined, path: ['topology', key, i] }))
  return Object.entries(value).map(([name, spec]) => ({
    name,
    spec: spec ?? undefined,
    path: ['topology', key, name],
  }))
}

export function nodeDecls(s: Scenario): NodeDecl[] {
  const t = s.topology
  return [
    ...nodes(t.hosts, 'host', 'hosts').map((n) => ({ ...n, kind: 'host' as const })),
    ...nodes(t.routers, 'router', 'routers').map((n) => ({ ...n, kind: 'router' as const })),
    ...nodes(t.switches, 'switch', 'switches').map((n) => ({ ...n, kind: 'switch' as const })),
  ].map((n) => ({
    name: n.name,
    kind: n.kind,
    spec: n.kind === 'switch' ? {} : ((n.spec as NodeSpec | undefined) ?? {}),
    switchSpec: n.kind === 'switch' ? ((n.spec as SwitchSpec | undefined) ?? {}) : {},
    path: n.path,
  }))
}

export function linkDecls(s: Scenario): LinkDecl[] {
  return (s.topology.links ?? []).map((l: LinkSpec, i) => {
    const path: DocPath = ['topology', 'links', i]
    if (Array.isArray(l))
      return {
        a: l[0],
        b: l[1],
        addresses: {},
        path,
        endPaths: [
          [...path, 0],
          [...path, 1],
        ],
      }
    const addresses: LinkDecl['addresses'] = {}
    for (const [n, v] of Object.entries(l.addresses ?? {}))
      addresses[n] = typeof v === 'string' ? { v4: v } : v
    return {
      a: l.between[0],
      b: l.between[1],
      subnet: l.subnet,
      subnet6: l.subnet6,
      addresses,
      mtu: l.mtu,
      impair: l.impair,
      path,
      endPaths: [
        [...path, 'between', 0],
        [...path, 'between', 1],
      ],
    }
  })
}

export interface TunnelDecl {
  /** The name steps and expectations use (given, or <type>-<a>-<b>). */
  name: string
  spec: TunnelSpec
  path: DocPath
}

export function tunnelDecls(s: Scenario): TunnelDecl[] {
  return (s.topology.tunnels ?? []).map((spec, i) => ({
    name: spec.name ?? `${spec.type}-${spec.between[0]}-${spec.between[1]}`,
    spec,
    path: ['topology', 'tunnels', i],
  }))
}
