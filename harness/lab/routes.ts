/**
 * Routes computed from the topology, so every node reaches every segment by
 * default: a breadth-first search from each node over segments, crossing only
 * routers. The result is per node: destination subnet -> gateway (an
 * address of the next router on a segment the node shares with it). No
 * default routes: traffic to anything outside the lab has no route.
 * Pure: no I/O.
 */

export interface RouteNode {
  name: string
  router: boolean
}

export interface RouteSegment {
  id: string
  v4: string
  v6: string
  /** member node -> its addresses on this segment. */
  members: ReadonlyMap<string, { v4: string; v6: string }>
}

export interface PlannedRoute {
  node: string
  /** Destination subnet (text, with prefix). */
  dst: string
  gateway: string
  /** The segment through which the gateway is reached. */
  via: string
}

/**
 * `nat` maps a NAT router to the id of its outside segment: nodes that reach
 * it from outside learn no route through it to its inside segments (that is
 * what masquerading hides), while inside nodes route out through it.
 */
export function computeRoutes(
  nodes: readonly RouteNode[],
  segments: readonly RouteSegment[],
  nat: ReadonlyMap<string, string> = new Map(),
): PlannedRoute[] {
  const router = new Set(nodes.filter((n) => n.router).map((n) => n.name))
  const segsOf = new Map<string, RouteSegment[]>()
  for (const s of segments) {
    for (const m of s.members.keys()) {
      let list = segsOf.get(m)
      if (!list) segsOf.set(m, (list = []))
      list.push(s)
    }
  }
  const routes: PlannedRoute[] = []
  for (const n of nodes) {
    const own = segsOf.get(n.name) ?? []
    // first hop (router, segment shared with n) by which each segment was reached
    const reached = new Map<string, { router: string; seg: RouteSegment }>()
    const seenRouters = new Set<string>([n.name])
    let frontier: { router: string; via: string; first: { router: string; seg: RouteSegment } }[] = []
    const mine = new Set(own.map((s) => s.id))
    for (const s of own) {
      for (const m of s.members.keys()) {
        if (!router.has(m) || seenRouters.has(m)) continue
        seenRouters.add(m)
        frontier.push({ router: m, via: s.id, first: { router: m, seg: s } })
      }
    }
    while (frontier.length > 0) {
      const next: typeof frontier = []
      for (const { router: r, via, first } of frontier) {
        // Entered a NAT router from outside: its inside is hidden.
        if (nat.get(r) === via) continue
        for (const s of segsOf.get(r) ?? []) {
          if (mine.has(s.id) || reached.has(s.id)) continue
          reached.set(s.id, first)
          for (const m of s.members.keys()) {
            if (!router.has(m) || seenRouters.has(m)) continue
            seenRouters.add(m)
            next.push({ router: m, via: s.id, first })
          }
        }
      }
      frontier = next
    }
    // A subnet reachable twice (overlapping private ranges in separate parts
    // of a lab) keeps its connected or nearest route only.
    const have = new Set(own.flatMap((s) => [s.v4, s.v6]))
    for (const s of segments) {
      const hop = reached.get(s.id)
      if (!hop) continue
      const gw = hop.seg.members.get(hop.router)!
      if (!have.has(s.v4)) routes.push({ node: n.name, dst: s.v4, gateway: gw.v4, via: hop.seg.id })
      if (!have.has(s.v6)) routes.push({ node: n.name, dst: s.v6, gateway: gw.v6, via: hop.seg.id })
      have.add(s.v4)
      have.add(s.v6)
    }
  }
  return routes
}
