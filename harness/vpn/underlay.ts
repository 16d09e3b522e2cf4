/**
 * The underlay path to a tunnel's peer, as the kernel would route it now
 * (`ip -j route get`): a full tunnel pins a host route to the peer's outer
 * address on it, so the tunnel's own packets do not go into the tunnel.
 */
import type { LabNode } from '../lab/node.js'

export interface UnderlayRoute {
  dst: string
  gateway: string | undefined
  device: string
}

export async function underlayRoute(node: LabNode, peer: string): Promise<UnderlayRoute> {
  const r = await node.exec(['ip', '-j', 'route', 'get', peer], { timeout: 10_000 })
  if (r.code !== 0)
    throw new Error(
      `${node.name} has no route to its tunnel peer ${peer} (${r.stderr.trim()}): connect them before making the tunnel`,
    )
  const [route] = JSON.parse(r.stdout) as { dst: string; gateway?: string; dev: string }[]
  if (!route) throw new Error(`ip route get ${peer} in ${node.netns} printed no route`)
  return { dst: peer, gateway: route.gateway, device: route.dev }
}

/** Pin `peer/32` to its current underlay path (before the tunnel takes the default route). */
export async function pinUnderlay(node: LabNode, route: UnderlayRoute): Promise<void> {
  const link = await node.netlink.getLink(route.device)
  await node.netlink.replaceRoute({ dst: `${route.dst}/32`, gateway: route.gateway, oif: link.index })
}
