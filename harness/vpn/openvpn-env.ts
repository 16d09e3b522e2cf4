/**
 * What an OpenVPN server pushed, read the way NetworkManager's openvpn
 * helper reads it: from the environment OpenVPN gives its `--up` script
 * (ifconfig_local, route_network_N, foreign_option_N "dhcp-option DNS ...",
 * trusted_ip, tun_mtu...). The script dumps `env -0`; this parses the dump.
 * OpenVPN 2.6 puts no redirect-gateway in that environment (with
 * --route-noexec), so the PUSH_REPLY line of the client's log is the
 * second source: the options exactly as the server sent them. Pure: no I/O.
 */
import { prefixOfNetmask } from './subnet.js'

export interface PushedRoute {
  /** `10.50.0.0/24` */
  dst: string
  /** The VPN-side gateway (route_gateway_N, else route_vpn_gateway). */
  gateway: string | undefined
  metric: number | undefined
}

export interface PushedConfig {
  /** The tunnel device OpenVPN opened. */
  device: string
  /** This end's inner address and prefix length. */
  localAddress: string
  prefixLen: number
  /** The server's outer (underlay) address and port. */
  peer: string
  peerPort: number | undefined
  /** The VPN gateway (route_vpn_gateway). */
  gateway: string | undefined
  mtu: number | undefined
  routes: PushedRoute[]
  /** dhcp-option DNS servers, in order. */
  dns: string[]
  /** dhcp-option DOMAIN (the first), then DOMAIN-SEARCH entries. */
  domain: string | undefined
  search: string[]
  /** The server pushed redirect-gateway: the default route belongs in the tunnel. */
  redirectGateway: boolean
  /** The PUSH_REPLY options as received (`route 10.50.0.0 255.255.255.0`, ...), when the log showed them. */
  pushReply: string[]
}

/** The options of the last PUSH_REPLY a client logged (verb 3 and up). */
export function parsePushReply(log: string): string[] {
  const all = [...log.matchAll(/PUSH_REPLY,([^'\n]*)'/g)]
  const last = all.at(-1)
  return last ? last[1]!.split(',').map((o) => o.trim()) : []
}

/** Split an `env -0` dump into variables. */
export function parseEnvDump(dump: string): Map<string, string> {
  const vars = new Map<string, string>()
  for (const entry of dump.split('\0')) {
    const eq = entry.indexOf('=')
    if (eq > 0) vars.set(entry.slice(0, eq), entry.slice(eq + 1))
  }
  return vars
}

function numbered(vars: Map<string, string>, prefix: string): string[] {
  const out: string[] = []
  for (let i = 1; vars.has(`${prefix}${i}`); i++) out.push(vars.get(`${prefix}${i}`)!)
  return out
}

export function pushedConfig(vars: Map<string, string>, pushReply: string[] = []): PushedConfig {
  const need = (k: string): string => {
    const v = vars.get(k)
    if (v === undefined)
      throw new Error(`the OpenVPN up-script environment lacks ${k}: the server did not configure the client`)
    return v
  }
  const routes: PushedRoute[] = []
  for (let i = 1; vars.has(`route_network_${i}`); i++) {
    const metric = vars.get(`route_metric_${i}`)
    routes.push({
      dst: `${vars.get(`route_network_${i}`)}/${prefixOfNetmask(vars.get(`route_netmask_${i}`) ?? '255.255.255.255')}`,
      gateway: vars.get(`route_gateway_${i}`) ?? vars.get('route_vpn_gateway'),
      metric: metric === undefined ? undefined : Number(metric),
    })
  }
  const dns: string[] = []
  const domains: string[] = []
  const search: string[] = []
  for (const opt of numbered(vars, 'foreign_option_')) {
    const m = /^dhcp-option\s+(\S+)\s+(.+)$/i.exec(opt.trim())
    if (!m) continue
    const kind = m[1]!.toUpperCase()
    if (kind === 'DNS') dns.push(m[2]!.trim())
    else if (kind === 'DOMAIN') domains.push(m[2]!.trim())
    else if (kind === 'DOMAIN-SEARCH') search.push(m[2]!.trim())
  }
  const mtu = vars.get('tun_mtu')
  const port = vars.get('trusted_port')
  const rg = vars.get('redirect_gateway')
  return {
    device: need('dev'),
    localAddress: need('ifconfig_local'),
    prefixLen: vars.has('ifconfig_netmask') ? prefixOfNetmask(vars.get('ifconfig_netmask')!) : 32,
    peer: need('trusted_ip'),
    peerPort: port === undefined ? undefined : Number(port),
    gateway: vars.get('route_vpn_gateway'),
    mtu: mtu === undefined ? undefined : Number(mtu),
    routes,
    dns,
    domain: domains[0],
    search: [...domains, ...search],
    redirectGateway: (rg !== undefined && rg !== '0') || pushReply.some((o) => /^redirect-gateway\b/.test(o)),
    pushReply,
  }
}
