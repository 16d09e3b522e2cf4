/**
 * What a lab looked like: per node, its links, addresses, routes,
 * neighbours, nftables rules, and the output of the processes started in it.
 * Read from the kernel at the moment it is asked for, for failure reports.
 */
import type { LabNode } from './node.js'

export interface NodeState {
  name: string
  kind: string
  netns: string
  links: string[]
  addresses: string[]
  routes: string[]
  neighbours: string[]
  nftables: string
  processes: { argv: string[]; pid: number | undefined; running: boolean; stdout: string; stderr: string }[]
}

export async function nodeState(n: LabNode): Promise<NodeState> {
  const nl = n.netlink
  const [links, addrs, routes, neigh] = await Promise.all([
    nl.listLinks(),
    nl.listAddresses(),
    nl.listRoutes({ table: 'all' }),
    nl.listNeighbours(),
  ])
  const name = new Map(links.map((l) => [l.index, l.name]))
  const nft = await n
    .exec(['nft', 'list', 'ruleset'], { timeout: 5000 })
    .catch((e: Error) => ({ stdout: `(nft: ${e.message})` }))
  return {
    name: n.name,
    kind: n.kind,
    netns: n.netns,
    links: links.map(
      (l) =>
        `${l.name}${l.kind ? ` (${l.kind})` : ''} ${l.up ? 'UP' : 'DOWN'} ${l.operstate} mtu ${l.mtu}${l.master ? ` master ${name.get(l.master)}` : ''}`,
    ),
    addresses: addrs
      .filter((a) => a.scope !== 'host')
      .map((a) => `${a.cidr} dev ${name.get(a.index) ?? a.index}`),
    routes: routes
      .filter((r) => r.table !== 255)
      .map(
        (r) =>
          `${r.type !== 'unicast' ? `${r.type} ` : ''}${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.oif ? ` dev ${name.get(r.oif)}` : ''}${r.table !== 254 ? ` table ${r.table}` : ''}`,
      ),
    neighbours: neigh
      .filter((x) => x.lladdr)
      .map((x) => `${x.address} lladdr ${x.lladdr} dev ${name.get(x.index)} ${x.state.join(',')}`),
    nftables: nft.stdout.trim(),
    processes: n.history.map((p) => ({ argv: p.argv, pid: p.pid, running: !p.exitedAlready, ...p.output() })),
  }
}

/** What the state report needs of a lab. */
export interface LabView {
  readonly id: string
  readonly allNodes: readonly LabNode[]
}

export async function labState(lab: LabView): Promise<NodeState[]> {
  return Promise.all(lab.allNodes.map((n) => nodeState(n)))
}

/** The state as text a person reads in a failure report. */
export function formatLabState(lab: LabView, state: readonly NodeState[]): string {
  const out = [`lab ${lab.id} at the moment of failure (enter a host: ip netns exec NAME sh):`]
  for (const n of state) {
    out.push('', `${n.kind} ${n.name}  [${n.netns}]`)
    const section = (title: string, lines: string[]): void => {
      if (lines.length) out.push(`  ${title}:`, ...lines.map((l) => `    ${l}`))
    }
    section('links', n.links)
    section('addresses', n.addresses)
    section('routes', n.routes)
    section('neighbours', n.neighbours)
    if (n.nftables) section('nftables', n.nftables.split('\n'))
    for (const p of n.processes) {
      section(`process ${p.argv.join(' ')} (pid ${p.pid ?? '?'}, ${p.running ? 'running' : 'exited'})`, [
        ...p.stdout
          .trimEnd()
          .split('\n')
          .filter(Boolean)
          .map((l) => `out| ${l}`),
        ...p.stderr
          .trimEnd()
          .split('\n')
          .filter(Boolean)
          .map((l) => `err| ${l}`),
      ])
    }
  }
  return out.join('\n')
}
