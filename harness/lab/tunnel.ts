/**
 * Tunnels between lab nodes: the Lab's side of them. The Lab knows how to
 * ask for a tunnel and when to tear it down; the implementations (OpenVPN,
 * WireGuard, IPsec, plain tun) live in harness/vpn and register a driver
 * here, so the lab layer never imports the vpn layer.
 */
import type { LabNode } from './node.js'
import { TopologyError } from './errors.js'

export interface TunnelOptions {
  /** Which implementation: 'openvpn', 'wireguard', 'ipsec', ... (a registered driver). */
  type: string
  /** Name for reports and `lab.tunnelNamed()` (default `<type>-<a>-<b>`). */
  name?: string
  /** Driver-specific settings (inner subnet, routes to push, DNS, MTU...). */
  [option: string]: unknown
}

/** A running tunnel between two lab nodes. */
export interface Tunnel {
  readonly name: string
  readonly type: string
  /** What actually runs it (`kernel`, `wireguard-go`, `openvpn 2.6.3`, ...), for reports. */
  readonly implementation: string
  readonly a: LabNode
  readonly b: LabNode
  /** The tunnel device in each end's namespace. */
  readonly devices: { a: string; b: string }
  /** Each end's inner address (no prefix length). */
  readonly addresses: { a: string; b: string }
  /** Take the tunnel down (the peer process dies, or the device goes down) or bring it back. */
  setUp(up: boolean): Promise<void>
  /** Stop what the tunnel started; idempotent. The namespaces go with the lab. */
  destroy(): Promise<void>
  /**
   * Key material a packet capture can carry so Wireshark opens the tunnel
   * (pcapng decryption secrets): Wireshark's WireGuard key log lines, or a
   * TLS key log. Absent where nothing useful can be given.
   */
  secrets?(): { type: 'wireguard' | 'tls'; data: string }[]
}

export interface TunnelDriver {
  readonly type: string
  create(a: LabNode, b: LabNode, options: TunnelOptions): Promise<Tunnel>
}

const drivers = new Map<string, TunnelDriver>()

/** Make a tunnel type available to `lab.tunnel()` (harness/vpn registers its drivers on import). */
export function registerTunnelDriver(driver: TunnelDriver): void {
  drivers.set(driver.type, driver)
}

export function tunnelDriver(type: string): TunnelDriver {
  const d = drivers.get(type)
  if (!d)
    throw new TopologyError(
      `unknown tunnel type ${JSON.stringify(type)}; known: ${[...drivers.keys()].join(', ') || '(none registered: import nslab, not nslab/lab internals)'}`,
    )
  return d
}
