/**
 * A running lab's topology read back from the kernel, for `nslab graph LAB`
 * where the lab belongs to another process (`nslab up`, `nslab run --keep`,
 * a test's): its namespaces from the lab's record, each one's links and
 * addresses over rtnetlink, its forwarding sysctl (router or host), its
 * bridge (switch), netem/tbf qdiscs (impairments) and the NAT table.
 *
 * Veth pairs are matched by ifindex (each end's IFLA_LINK is the other's
 * index) and by the lab's device naming (`<lab>-<peer>[.n]` in each end),
 * so link ids are those labTopology gives the same lab (`<x>--<y>#<n>`).
 * Tunnels (wireguard, tun, xfrm devices) are paired by a shared inner
 * subnet; their names live only in the owner process, so a tunnel's id is
 * `<type>-<a>-<b>` (the scenario default). Not read: partitions (nftables
 * rules between groups of nodes, not a property of one link) and loss made
 * with nftables where the kernel has no netem.
 */
import { LabNotFoundError, listOwners, recordNamespaces } from '../lab/index.js'
import { deviceName } from '../lab/names.js'
import { NAT_TABLE } from '../lab/nat.js'
import { contains, parseSubnet } from '../lab/plan.js'
import type { Address, Link } from '../netlink/index.js'
import { Netlink } from '../netlink/index.js'
import { exec, getSysctl, listNetns } from '../netns/index.js'
import type { LinkStatus, NodeKindName, TraceEnd, TraceLink, TraceTopology, TraceTunnel } from './data.js'
import { linkId } from './lab-topology.js'

/** What one namespace of the lab holds, as read (the pure half's input). */
export interface KernelNamespace {
  /** The node's name (the namespace name without the lab's prefix). */
  node: string
  forwarding: boolean
  links: Pick<Link, 'index' | 'name' | 'kind' | 'mtu' | 'up' | 'operstate' | 'master' | 'linkIndex'>[]
  addresses: Pick<Address, 'index' | 'cidr' | 'scope' | 'family'>[]
  /** `tc qdisc show` lines (`qdisc netem 8001: dev x root refcnt 2 limit 1000 delay 20ms`). */
  qdiscs: string[]
  /** Devices the NAT table masquerades out of. */
  natDevices: string[]
}

export interface KernelTopology {
  topology: TraceTopology
  /** Links and tunnels that are not up (down: either end is not operationally up). */
  linkState: Record<string, LinkStatus>
}

const TUNNEL_KINDS = new Set(['wireguard', 'tun', 'xfrm', 'ipip', 'gre', 'vti', 'sit', 'ip6tnl', 'ip6gre'])

function tunnelType(l: { kind: string | undefined; name: string }): string {
  if (l.kind === 'wireguard' || /^wg/.test(l.name)) return 'wireguard'
  if (l.kind === 'tun') return 'openvpn'
  if (l.kind === 'xfrm') return 'ipsec'
  return l.kind ?? 'tunnel'
}

/** The impairment text of a device's root qdisc (netem's settings, or tbf's rate), if any. */
export function qdiscImpairment(qdiscs: readonly string[], device: string): string | undefined {
  for (const line of qdiscs) {
    const m = /^qdisc (netem|tbf) \S+ dev (\S+) root\b(.*)$/.exec(line.trim())
    if (!m || m[2] !== device) continue
    const rest = m[3]!.replace(/\brefcnt \d+\s*/, '').trim()
    if (m[1] === 'netem')
      return (
        rest
          .replace(/^limit \d+\s*/, '')
          .replace(/\bseed \d+\s*/, '')
          .replace(/\s+/g, ' ')
          .trim() || undefined
      )
    const rate = /\brate (\S+)/.exec(rest)
    return rate ? `rate ${rate[1]}` : undefined
  }
  return undefined
}

/** The `n` of a device named `<lab>-<peer>[.n]`, or undefined when it is not the device towards `peer`. */
function nthTowards(labId: string, device: string, peer: string): number | undefined {
  for (let n = 0; n < 64; n++) if (deviceName(labId, peer, n) === device) return n
  return undefined
}

const isUp = (l: { up: boolean; operstate: string }): boolean => l.up && l.operstate === 'UP'

/** The topology from what each namespace holds. Pure. */
export function kernelTopology(labId: string, spaces: readonly KernelNamespace[]): KernelTopology {
  const linkState: Record<string, LinkStatus> = {}
  const bridge = `${labId}-br` // as nodes.ts names a switch's bridge
  const kinds = new Map<string, NodeKindName>(
    spaces.map((s) => [
      s.node,
      s.links.some((l) => l.kind === 'bridge' && l.name === bridge)
        ? 'switch'
        : s.forwarding
          ? 'router'
          : 'host',
    ]),
  )
  const addrs = (s: KernelNamespace, index: number): string[] =>
    s.addresses
      .filter((a) => a.index === index && a.scope === 'global')
      .sort((x, y) => x.family - y.family)
      .map((a) => a.cidr)
  const end = (s: KernelNamespace, l: KernelNamespace['links'][number]): TraceEnd => ({
    node: s.node,
    device: l.name,
    addresses: addrs(s, l.index),
  })

  // Veths: each end once, matched to its peer.
  type Veth = { s: KernelNamespace; l: KernelNamespace['links'][number] }
  const veths: Veth[] = spaces.flatMap((s) => s.links.filter((l) => l.kind === 'veth').map((l) => ({ s, l })))
  const used = new Set<Veth>()
  const links: TraceLink[] = []
  const deviceLink = new Map<string, TraceLink>() // `${node}\0${device}` -> link
  const counts = new Map<string, number>()
  for (const x of veths) {
    if (used.has(x)) continue
    const candidates = veths.filter(
      (y) =>
        y !== x && !used.has(y) && y.s !== x.s && y.l.index === x.l.linkIndex && y.l.linkIndex === x.l.index,
    )
    const named = candidates.filter((y) => {
      const n = nthTowards(labId, x.l.name, y.s.node)
      return n !== undefined && n === nthTowards(labId, y.l.name, x.s.node)
    })
    const y = named[0] ?? (candidates.length === 1 ? candidates[0] : undefined)
    if (!y) continue
    used.add(x).add(y)
    const [p, q] = x.s.node < y.s.node ? [x, y] : [y, x]
    const pair = `${p.s.node}--${q.s.node}`
    let nth = nthTowards(labId, p.l.name, q.s.node)
    if (nth === undefined) {
      nth = counts.get(pair) ?? 0
      counts.set(pair, nth + 1)
    }
    const link: TraceLink = { id: linkId(p.s.node, q.s.node, nth), a: end(p.s, p.l), b: end(q.s, q.l) }
    const mtu = p.l.mtu ?? q.l.mtu
    if (mtu !== undefined && mtu !== 1500) link.mtu = mtu
    const ab = qdiscImpairment(p.s.qdiscs, p.l.name)
    const ba = qdiscImpairment(q.s.qdiscs, q.l.name)
    if (ab || ba)
      link.impairment =
        ab === ba
          ? ab!
          : [ab && `${p.s.node}→${q.s.node}: ${ab}`, ba && `${q.s.node}→${p.s.node}: ${ba}`]
              .filter(Boolean)
              .join('; ')
    if (!isUp(p.l) || !isUp(q.l)) linkState[link.id] = 'down'
    links.push(link)
    deviceLink.set(`${p.s.node}\0${p.l.name}`, link)
    deviceLink.set(`${q.s.node}\0${q.l.name}`, link)
  }
  links.sort((u, v) => (u.id < v.id ? -1 : u.id > v.id ? 1 : 0))

  // Tunnels: devices of tunnel kinds, paired by a shared IPv4 (else IPv6) subnet.
  type Tun = { s: KernelNamespace; l: KernelNamespace['links'][number]; cidrs: string[] }
  const tuns: Tun[] = spaces.flatMap((s) =>
    s.links
      .filter((l) => l.kind !== undefined && TUNNEL_KINDS.has(l.kind))
      .map((l) => ({ s, l, cidrs: addrs(s, l.index) })),
  )
  const sameSubnet = (u: Tun, v: Tun): boolean =>
    u.cidrs.some((c) => {
      const net = parseSubnet(c)
      return v.cidrs.some(
        (d) => contains(net, d.split('/')[0]!) && contains(parseSubnet(d), c.split('/')[0]!),
      )
    })
  const tunnels: TraceTunnel[] = []
  const paired = new Set<Tun>()
  for (const u of tuns) {
    if (paired.has(u)) continue
    const v = tuns.find((v) => v !== u && !paired.has(v) && v.s !== u.s && sameSubnet(u, v))
    if (!v) continue
    paired.add(u).add(v)
    // The server end first, as scenarios write it: the lower inner address.
    const [p, q] = u.cidrs[0]! <= v.cidrs[0]! ? [u, v] : [v, u]
    const type = tunnelType(p.l)
    const t: TraceTunnel = { id: `${type}-${p.s.node}-${q.s.node}`, type, a: end(p.s, p.l), b: end(q.s, q.l) }
    // A tunnel device without carrier reports UNKNOWN while it works: down is only what says so.
    const down = (l: Tun['l']): boolean => !l.up || l.operstate === 'DOWN' || l.operstate === 'LOWERLAYERDOWN'
    if (down(p.l) || down(q.l)) linkState[t.id] = 'down'
    tunnels.push(t)
  }

  const nat: TraceTopology['nat'] = []
  for (const s of spaces)
    for (const d of s.natDevices) {
      const l = deviceLink.get(`${s.node}\0${d}`)
      if (l) nat.push({ router: s.node, outside: l.a.node === s.node ? l.b.node : l.a.node })
    }

  return {
    topology: {
      lab: labId,
      nodes: spaces.map((s) => ({ name: s.node, kind: kinds.get(s.node)! })),
      links,
      tunnels,
      nat,
    },
    linkState,
  }
}

/** The devices `oifname "x" masquerade` names in the lab's NAT table (nft's text). */
export function natDevicesOf(nftText: string): string[] {
  return [...nftText.matchAll(/oifname "([^"]+)" masquerade/g)].map((m) => m[1]!)
}

/** Read one namespace of a lab. */
async function readNamespace(netns: string, node: string): Promise<KernelNamespace> {
  const nl = Netlink.open(netns)
  try {
    const [links, addresses] = await Promise.all([nl.listLinks(), nl.listAddresses()])
    const forwarding = getSysctl(netns, 'net.ipv4.ip_forward') === '1'
    const [tc, nft] = await Promise.all([
      exec(netns, ['tc', 'qdisc', 'show'], { timeout: 10_000 }).catch(() => ({ stdout: '' })),
      forwarding
        ? exec(netns, ['nft', 'list', 'table', 'inet', NAT_TABLE], { timeout: 10_000 }).catch(() => ({
            stdout: '',
          }))
        : { stdout: '' },
    ])
    return {
      node,
      forwarding,
      links,
      addresses,
      qdiscs: tc.stdout.split('\n').filter(Boolean),
      natDevices: natDevicesOf(nft.stdout),
    }
  } finally {
    nl.close()
  }
}

/** A running lab's topology and link states, read from the kernel (the lab may belong to any process). */
export async function readLabTopology(labId: string): Promise<KernelTopology> {
  const record = listOwners().find((o) => o.id === labId)
  if (!record) throw new LabNotFoundError(labId)
  const names = recordNamespaces(record, listNetns()).sort()
  const spaces = await Promise.all(names.map((n) => readNamespace(n, n.slice(record.prefix.length))))
  return kernelTopology(labId, spaces)
}
