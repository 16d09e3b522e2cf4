/**
 * The 'ipsec' tunnel driver: a tunnel-mode ESP connection between two lab
 * nodes, made by the kernel (XFRM) through netlink, no daemon. Each end gets
 * an xfrm interface (`ip link add ipsecN type xfrm if_id N`) holding its inner
 * address; the states and policies carry the same if_id, so they match only
 * traffic routed through that interface and the inner ranges may overlap the
 * underlay or other tunnels' ranges. Keys are static AEAD
 * rfc4106(gcm(aes)) keys made with node:crypto (no IKE): a lab, not a VPN.
 *
 * `await lab.tunnel(a, b, { type: 'ipsec', subnet: '10.10.0.0/30' })`
 */
import { randomBytes } from 'node:crypto'
import type { LabNode } from '../lab/node.js'
import { TopologyError } from '../lab/errors.js'
import { BaseTunnel } from './base-tunnel.js'
import type { Tunnel, TunnelDriver, TunnelOptions } from '../lab/tunnel.js'
import { type XfrmPolicySpec, type XfrmStateSpec, Xfrm, createXfrmInterface } from '../netlink/index.js'
import { bytesToIp, parseCidr } from '../util/ip.js'

/** Options of `lab.tunnel(a, b, { type: 'ipsec', ... })`. */
export interface IpsecTunnelOptions extends TunnelOptions {
  type: 'ipsec'
  /** Inner subnet; a gets its first host address, b the second (default 10.200.0.0/30). */
  subnet?: string
  /** Or each end's inner address with its prefix, explicitly. */
  inner?: { a: string; b: string }
  /** More prefixes routed into the tunnel from each end (the peer's LAN...). */
  routes?: { a?: string[]; b?: string[] }
  /** Outer family (default 4: the ends' IPv4 addresses facing each other). */
  underlay?: 4 | 6
  /** MTU of the xfrm interfaces (default 1400). */
  mtu?: number
}

const AEAD = 'rfc4106(gcm(aes))'
/** 16 bytes of AES-128 key and the 4-byte salt rfc4106 takes at its end: 160 bits. */
const AEAD_KEY_BYTES = 20
const ICV_BITS = 128

let nextIfId = 1

/** The `n`-th address of `subnet`, with the subnet's prefix length. */
function hostAddress(subnet: string, n: number): string {
  const c = parseCidr(subnet)
  const bytes = Buffer.from(c.bytes)
  let carry = n
  for (let i = bytes.length - 1; i >= 0 && carry > 0; i--) {
    const v = (bytes[i] ?? 0) + carry
    bytes[i] = v & 0xff
    carry = v >> 8
  }
  return `${bytesToIp(bytes)}/${c.prefixLen}`
}

interface End {
  node: LabNode
  outer: string
  peerOuter: string
  device: string
  inner: string
  routes: string[]
  xfrm: Xfrm
  states: XfrmStateSpec[]
  policies: XfrmPolicySpec[]
}

class IpsecTunnel extends BaseTunnel {
  readonly type = 'ipsec'
  readonly implementation = `kernel xfrm (ESP tunnel mode, ${AEAD}, xfrm interface)`
  readonly devices: { a: string; b: string }
  readonly addresses: { a: string; b: string }
  private installed = false

  constructor(
    name: string,
    a: LabNode,
    b: LabNode,
    private readonly ends: [End, End],
  ) {
    super(name, a, b)
    this.devices = { a: ends[0].device, b: ends[1].device }
    this.addresses = { a: ends[0].inner.split('/')[0]!, b: ends[1].inner.split('/')[0]! }
  }

  /** Add the states first: on a kernel without ESP that fails before anything else exists. */
  async install(): Promise<void> {
    for (const e of this.ends) for (const s of e.states) await e.xfrm.addState(s)
    for (const e of this.ends) for (const p of e.policies) await e.xfrm.addPolicy(p)
    this.installed = true
  }

  get up(): boolean {
    return this.installed
  }

  private async uninstall(): Promise<void> {
    const errors: unknown[] = []
    for (const e of this.ends) {
      for (const p of e.policies) await e.xfrm.deletePolicy(p).catch((err: unknown) => errors.push(err))
      for (const s of e.states) await e.xfrm.deleteState(s).catch((err: unknown) => errors.push(err))
    }
    this.installed = false
    const real = errors.filter((err) => !(err instanceof Error && /ENOENT|ESRCH/.test(err.message)))
    if (real.length) throw new AggregateError(real, `${this.name}: removing states and policies failed`)
  }

  /** Up: the states and policies come back. */
  protected bringUp(): Promise<void> {
    return this.install()
  }

  /** Down: the states and policies go (traffic through the interfaces is dropped). */
  protected bringDown(): Promise<void> {
    return this.uninstall()
  }

  protected async teardown(): Promise<void> {
    if (this.installed) await this.uninstall()
    for (const e of this.ends) await e.node.netlink.deleteLink(e.device).catch(() => {})
  }

  protected override release(): void {
    for (const e of this.ends) e.xfrm.close()
  }
}

async function create(a: LabNode, b: LabNode, options: TunnelOptions): Promise<Tunnel> {
  const o = options as IpsecTunnelOptions
  const family = o.underlay ?? 4
  const subnet = o.subnet ?? '10.200.0.0/30'
  const inner = o.inner ?? { a: hostAddress(subnet, 1), b: hostAddress(subnet, 2) }
  const innerFamily = parseCidr(inner.a).family
  if (parseCidr(inner.b).family !== innerFamily)
    throw new TopologyError(
      `ipsec tunnel ${a.name}-${b.name}: inner addresses ${inner.a} and ${inner.b} mix families`,
    )
  const any = innerFamily === 2 ? '0.0.0.0/0' : '::/0'
  const ifId = nextIfId++
  const name = o.name ?? `ipsec-${a.name}-${b.name}`
  const outerA = a.address(b, family)
  const outerB = b.address(a, family)
  const spiAB = 0x100 + (randomBytes(3).readUIntBE(0, 3) & 0x7fffff)
  const spiBA = spiAB + 1
  const keyAB = randomBytes(AEAD_KEY_BYTES)
  const keyBA = randomBytes(AEAD_KEY_BYTES)
  const state = (src: string, dst: string, spi: number, key: Buffer): XfrmStateSpec => ({
    src,
    dst,
    spi,
    mode: 'tunnel',
    reqid: ifId,
    replayWindow: 32,
    aead: { name: AEAD, key, icvBits: ICV_BITS },
    ifId,
  })
  const policies = (self: string, peer: string): XfrmPolicySpec[] =>
    (['out', 'in', 'fwd'] as const).map((dir) => {
      const [src, dst] = dir === 'out' ? [self, peer] : [peer, self]
      return {
        selector: { src: any, dst: any },
        dir,
        ifId,
        templates: [{ src, dst, proto: 'esp', mode: 'tunnel', reqid: ifId }],
      }
    })
  const device = `ipsec${ifId}`
  const opened: Xfrm[] = []
  const end = (node: LabNode, self: string, peer: string, addr: string, routes?: string[]): End => {
    const xfrm = Xfrm.open(node.netns)
    opened.push(xfrm)
    const [spiOut, keyOut, spiIn, keyIn] =
      node === a ? [spiAB, keyAB, spiBA, keyBA] : [spiBA, keyBA, spiAB, keyAB]
    return {
      node,
      outer: self,
      peerOuter: peer,
      device,
      inner: addr,
      routes: routes ?? [],
      xfrm,
      states: [state(self, peer, spiOut, keyOut), state(peer, self, spiIn, keyIn)],
      policies: policies(self, peer),
    }
  }
  let tunnel: IpsecTunnel | undefined
  try {
    const ends: [End, End] = [
      end(a, outerA, outerB, inner.a, o.routes?.a),
      end(b, outerB, outerA, inner.b, o.routes?.b),
    ]
    tunnel = new IpsecTunnel(name, a, b, ends)
    await tunnel.install()
    for (const e of ends) {
      const nl = e.node.netlink
      const lower = e.node.ports.find((p) => p.v4 === e.outer || p.v6 === e.outer)?.index
      await createXfrmInterface(nl.socket, e.device, { ifId, lower, mtu: o.mtu ?? 1400 })
      const index = (await nl.getLink(e.device)).index
      await nl.addAddress(index, e.inner)
      await nl.setLink(index, { up: true })
      for (const dst of e.routes) await nl.addRoute({ dst, oif: index })
    }
    return tunnel
  } catch (err) {
    if (tunnel) await tunnel.destroy().catch(() => {})
    else for (const x of opened) x.close()
    throw err
  }
}

/** The driver `lab.tunnel(a, b, { type: 'ipsec' })` uses. */
export const ipsecDriver: TunnelDriver = { type: 'ipsec', create }
