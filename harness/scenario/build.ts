/**
 * Build a scenario's topology into a Lab: nodes, links (with MTU and
 * impairments), NAT, /etc/netns files, tunnels, processes. The Lab rolls
 * back on its own when destroyed; this only decides the order.
 */
import { startNetworkManager } from '../vpn/nm/index.js'
import '../vpn/index.js' // registers the tunnel drivers
import type { Lab } from '../lab/index.js'
import type { RunContext } from './context.js'
import { startProcess } from './process.js'
import type { Scenario } from './schema.js'
import { linkDecls, nodeDecls, tunnelDecls } from './topology.js'
import { impairmentOf } from './impairment.js'

export interface BuildOptions {
  /** Send processes' output to files instead of this process (they survive `nslab up`). */
  logDir?: string
}

export async function buildTopology(ctx: RunContext, s: Scenario, options: BuildOptions = {}): Promise<void> {
  const lab: Lab = ctx.lab
  const decls = nodeDecls(s)
  // Nodes, links, impairments and NAT in batches, the routes once (Lab.build).
  await lab.build({
    hosts: decls.filter((n) => n.kind === 'host').map((n) => ({ name: n.name, bare: n.spec.bare })),
    routers: decls.filter((n) => n.kind === 'router').map((n) => n.name),
    switches: decls
      .filter((n) => n.kind === 'switch')
      .map((n) => ({
        name: n.name,
        hosts: n.switchSpec.members,
        subnet: n.switchSpec.subnet,
        subnet6: n.switchSpec.subnet6,
      })),
    links: linkDecls(s).map((l) => {
      const impair = l.impair ? impairmentOf(l.impair) : undefined
      return {
        between: [l.a, l.b] as const,
        subnet: l.subnet,
        subnet6: l.subnet6,
        addresses: l.addresses,
        mtu: l.mtu,
        impair: impair?.impairment,
        direction: impair?.direction,
      }
    }),
    nat: s.topology.nat ?? [],
  })
  for (const n of decls) {
    if (n.spec.dns) {
      const lines = n.spec.dns.nameservers.map((a) => `nameserver ${a}`)
      if (n.spec.dns.search?.length) lines.push(`search ${n.spec.dns.search.join(' ')}`)
      lab.writeEtcFile(n.name, 'resolv.conf', lines.join('\n') + '\n')
    }
    if (n.spec.hosts) {
      const hosts = ctx.bind(n.spec.hosts)
      const lines = [
        '127.0.0.1 localhost',
        '::1 localhost',
        ...Object.entries(hosts).map(([name, a]) => `${a} ${name}`),
      ]
      lab.writeEtcFile(n.name, 'hosts', lines.join('\n') + '\n')
    }
  }
  // After the /etc/netns files: a tunnel's pushed DNS replaces the node's own while it is up.
  for (const t of tunnelDecls(s)) {
    const { between, ...options } = ctx.bind(t.spec)
    const tunnel = await lab.tunnel(between[0], between[1], { ...options, name: t.name })
    ctx.tunnels.set(t.name, { tunnel, up: true })
  }
  for (const n of decls)
    if (n.spec.networkManager) ctx.nm.set(n.name, await startNetworkManager(ctx.node(n.name)))
  ctx.recordEvents()
  for (const n of decls)
    for (const p of n.spec.processes ?? []) await startProcess(ctx, n.name, ctx.bind(p), options.logDir)
}
