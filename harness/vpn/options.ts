/**
 * The options every tunnel driver understands, checked once. A bad option
 * fails before anything is started, with one sentence naming it.
 */
import type { TunnelOptions } from '../lab/tunnel.js'
import type { LabNode } from '../lab/node.js'
import type { TunnelDns } from './dns.js'
import { type Subnet4, parseSubnet4 } from './subnet.js'

export type TunnelMode = 'split' | 'full'

export interface VpnTunnelOptions {
  /** Inner IPv4 subnet (default 100.64.N.0/24, N counted per process); end a gets .1, end b .2. */
  subnet?: string
  /**
   * split (default): only `routes` go through the tunnel on end b; full: b's
   * default route goes through it (0.0.0.0/1 + 128.0.0.0/1), the route to a's
   * outer address stays on the underlay.
   */
  mode?: TunnelMode
  /** Subnets behind end a that end b reaches through the tunnel (OpenVPN pushes them). */
  routes?: string[]
  /** DNS end b uses while the tunnel is up (OpenVPN pushes it; written to b's /etc/netns resolv.conf). */
  dns?: TunnelDns
  /** MTU of the tunnel devices. */
  mtu?: number
  /** UDP port end a listens on (default: one per tunnel, from 1194 / 51820 up). */
  port?: number
}

export interface CheckedOptions {
  name: string
  subnet: Subnet4
  mode: TunnelMode
  routes: string[]
  dns: TunnelDns | undefined
  mtu: number | undefined
  port: number
  /** a's outer address facing b: the endpoint b connects to. */
  endpoint: string
}

const KNOWN = new Set(['type', 'name', 'subnet', 'mode', 'routes', 'dns', 'mtu', 'port'])
let counter = 0

/** A per-process sequence number: inner subnets, device names and ports of tunnels made here. */
export function nextTunnelNumber(): number {
  return counter++
}

export function checkOptions(
  a: LabNode,
  b: LabNode,
  options: TunnelOptions,
  defaults: { basePort: number; n: number },
): CheckedOptions {
  const where = `${options.type} tunnel ${a.name}--${b.name}`
  const bad = (msg: string): never => {
    throw new TypeError(`${where}: ${msg}`)
  }
  for (const k of Object.keys(options))
    if (!KNOWN.has(k)) bad(`unknown option ${JSON.stringify(k)}; known: ${[...KNOWN].join(', ')}`)
  const o = options as TunnelOptions & VpnTunnelOptions
  const mode = o.mode ?? 'split'
  if (mode !== 'split' && mode !== 'full') bad(`mode must be split or full, not ${JSON.stringify(mode)}`)
  let subnet: Subnet4
  try {
    subnet = parseSubnet4(o.subnet ?? `100.64.${defaults.n % 256}.0/24`)
  } catch (err) {
    return bad(`subnet: ${(err as Error).message}`)
  }
  if (subnet.prefixLen > 30) bad(`subnet ${o.subnet} is too small for two ends (at most /30)`)
  const routes = o.routes ?? []
  if (!Array.isArray(routes)) bad('routes must be a list of subnets')
  for (const r of routes) {
    try {
      parseSubnet4(r)
    } catch (err) {
      bad(`route ${JSON.stringify(r)}: ${(err as Error).message}`)
    }
  }
  if (o.dns !== undefined && (!Array.isArray(o.dns.nameservers) || o.dns.nameservers.length === 0))
    bad('dns needs at least one nameserver: { nameservers: [10.0.0.53] }')
  if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 576 || o.mtu > 65535))
    bad(`mtu ${o.mtu} must be an integer from 576 to 65535`)
  const port = o.port ?? defaults.basePort + (defaults.n % 1000)
  let endpoint: string
  try {
    endpoint = a.address(b)
  } catch {
    return bad(`${a.name} has no address facing ${b.name}: connect them (the underlay) first`)
  }
  return {
    name: o.name ?? `${options.type}-${a.name}-${b.name}`,
    subnet,
    mode,
    routes,
    dns: o.dns,
    mtu: o.mtu,
    port,
    endpoint,
  }
}
