/**
 * The routes a topology implies, made true in the kernel: computed from the
 * model (routes.ts, pure), diffed against what was installed, stale ones
 * deleted and fresh ones added, every node at once. Only labs with routers
 * need routes: hosts on one link or switch reach each other directly.
 */
import type { LabModel } from './model.js'
import { type PlannedRoute, computeRoutes } from './routes.js'
import { subnetText } from './plan.js'

const key = (r: PlannedRoute): string => `${r.node}|${r.dst}|${r.gateway}`

/** Install the routes the topology implies (only when it has routers), removing stale ones. */
export async function syncRoutes(model: LabModel): Promise<void> {
  if (!model.hosts.some((n) => n.kind === 'router')) return
  const want = computeRoutes(
    model.hosts.map((n) => ({ name: n.name, router: n.kind === 'router' })),
    model.segments.map(({ id, segment }) => ({
      id,
      v4: subnetText(segment.v4),
      v6: subnetText(segment.v6),
      members: segment.members,
    })),
    new Map([...model.natOutside].map(([r, seg]) => [r.name, model.segmentId(seg)!])),
  )
  const have = new Set(model.installedRoutes.map(key))
  const wantKeys = new Set(want.map(key))
  const stale = model.installedRoutes.filter((r) => !wantKeys.has(key(r)))
  const fresh = want.filter((r) => !have.has(key(r)))
  await Promise.all(
    stale.map((r) =>
      model
        .node(r.node)
        .netlink.deleteRoute({ dst: r.dst, gateway: r.gateway })
        .catch(() => undefined),
    ),
  )
  await Promise.all(
    fresh.map((r) => model.node(r.node).netlink.replaceRoute({ dst: r.dst, gateway: r.gateway })),
  )
  model.installedRoutes = want
}

/**
 * Put the lab's routes back on `nodes` (taking a link down makes the
 * kernel drop every route through it; replace is idempotent).
 */
export async function restoreRoutes(model: LabModel, nodes: readonly string[]): Promise<void> {
  await Promise.all(
    model.installedRoutes
      .filter((r) => nodes.includes(r.node))
      .map((r) => model.node(r.node).netlink.replaceRoute({ dst: r.dst, gateway: r.gateway })),
  )
}
