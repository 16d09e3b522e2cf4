/**
 * Captured frames, decoded just enough to filter them: Ethernet (VLAN tags
 * skipped) or bare IP (tun devices), ARP, IPv4, IPv6 (hop-by-hop, routing,
 * destination options and fragment headers skipped), ICMP and ICMPv6 type
 * and code, TCP and UDP ports. Pure: bytes in, data out. Any input decodes
 * without throwing; what a truncated frame lacks is simply absent, so a
 * filter asking for it does not match.
 */
import { bytesToIp, ipToBytes, parseCidr } from '../util/ip.js'

/** ARPHRD_* device types whose frames start with an Ethernet header. */
const ETHERNET_HATYPES = new Set([1 /* ARPHRD_ETHER */, 772 /* ARPHRD_LOOPBACK */])

const ETH_P_IP = 0x0800
const ETH_P_ARP = 0x0806
const ETH_P_IPV6 = 0x86dd
const VLAN_TAGS = new Set([0x8100, 0x88a8, 0x9100])

export type Protocol = 'arp' | 'ip' | 'ip6' | 'icmp' | 'icmp6' | 'tcp' | 'udp'
export const PROTOCOLS: readonly Protocol[] = ['arp', 'ip', 'ip6', 'icmp', 'icmp6', 'tcp', 'udp']

export interface DecodedPacket {
  /** The outermost protocol found: `arp`, `ip` (IPv4), `ip6`, or undefined (something else, or too short). */
  network?: 'arp' | 'ip' | 'ip6'
  /** The EtherType, when the frame had an Ethernet header (after VLAN tags). */
  etherType?: number
  /** Source and destination address: IP, or ARP's sender and target protocol addresses (IPv4 only). */
  src?: string
  dst?: string
  /** ARP: 1 request, 2 reply. */
  arpOp?: number
  /** IP protocol number (IPv6: after the extension headers skipped). */
  ipProtocol?: number
  /** A fragment that is not the first: it carries no transport header. */
  laterFragment?: boolean
  transport?: 'icmp' | 'icmp6' | 'tcp' | 'udp'
  srcPort?: number
  dstPort?: number
  icmpType?: number
  icmpCode?: number
  /** TCP flags byte (FIN 1, SYN 2, RST 4, PSH 8, ACK 16). */
  tcpFlags?: number
  /** Bytes of the IP packet the header claims (total length / payload + 40). */
  ipLength?: number
}

/** Decode a frame; `hatype` says whether it starts with Ethernet (default) or bare IP (tun, 0xfffe). */
export function decodePacket(data: Uint8Array, hatype?: number): DecodedPacket {
  const out: DecodedPacket = {}
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  let at = 0
  let type: number
  if (hatype === undefined || ETHERNET_HATYPES.has(hatype)) {
    if (data.length < 14) return out
    type = view.getUint16(12)
    at = 14
    while (VLAN_TAGS.has(type)) {
      if (data.length < at + 4) return out
      type = view.getUint16(at + 2)
      at += 4
    }
    out.etherType = type
  } else {
    if (data.length < 1) return out
    const version = data[0]! >> 4
    type = version === 4 ? ETH_P_IP : version === 6 ? ETH_P_IPV6 : -1
  }
  if (type === ETH_P_ARP) decodeArp(data, at, out)
  else if (type === ETH_P_IP) decodeIpv4(data, view, at, out)
  else if (type === ETH_P_IPV6) decodeIpv6(data, view, at, out)
  return out
}

function decodeArp(data: Uint8Array, at: number, out: DecodedPacket): void {
  out.network = 'arp'
  if (data.length < at + 8) return
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const ptype = view.getUint16(at + 2)
  const hlen = data[at + 4]!
  const plen = data[at + 5]!
  out.arpOp = view.getUint16(at + 6)
  if (ptype !== ETH_P_IP || plen !== 4) return
  const spa = at + 8 + hlen
  const tpa = spa + 4 + hlen
  if (data.length < tpa + 4) return
  out.src = bytesToIp(data.subarray(spa, spa + 4))
  out.dst = bytesToIp(data.subarray(tpa, tpa + 4))
}

function decodeIpv4(data: Uint8Array, view: DataView, at: number, out: DecodedPacket): void {
  if (data.length < at + 20 || data[at]! >> 4 !== 4) return
  out.network = 'ip'
  const ihl = (data[at]! & 0x0f) * 4
  out.ipLength = view.getUint16(at + 2)
  out.ipProtocol = data[at + 9]!
  out.src = bytesToIp(data.subarray(at + 12, at + 16))
  out.dst = bytesToIp(data.subarray(at + 16, at + 20))
  if ((view.getUint16(at + 6) & 0x1fff) !== 0) {
    out.laterFragment = true
    return
  }
  if (ihl < 20) return
  transport(data, view, at + ihl, out.ipProtocol, out)
}

/** IPv6 extension headers skipped to find the transport header: hop-by-hop, routing, fragment, destination options. */
const EXTENSIONS = new Set([0, 43, 44, 60])

function decodeIpv6(data: Uint8Array, view: DataView, at: number, out: DecodedPacket): void {
  if (data.length < at + 40 || data[at]! >> 4 !== 6) return
  out.network = 'ip6'
  out.ipLength = view.getUint16(at + 4) + 40
  out.src = bytesToIp(data.subarray(at + 8, at + 24))
  out.dst = bytesToIp(data.subarray(at + 24, at + 40))
  let next = data[at + 6]!
  let p = at + 40
  for (let hops = 0; EXTENSIONS.has(next) && hops < 8; hops++) {
    if (data.length < p + 8) {
      out.ipProtocol = next
      return
    }
    if (next === 44) {
      if ((view.getUint16(p + 2) & 0xfff8) !== 0) out.laterFragment = true
      next = data[p]!
      p += 8
    } else {
      const len = (data[p + 1]! + 1) * 8
      next = data[p]!
      p += len
    }
  }
  out.ipProtocol = next
  if (!out.laterFragment) transport(data, view, p, next, out)
}

function transport(data: Uint8Array, view: DataView, at: number, protocol: number, out: DecodedPacket): void {
  if (protocol === 1 || protocol === 58) {
    out.transport = protocol === 1 ? 'icmp' : 'icmp6'
    if (data.length < at + 2) return
    out.icmpType = data[at]!
    out.icmpCode = data[at + 1]!
  } else if (protocol === 6 || protocol === 17) {
    out.transport = protocol === 6 ? 'tcp' : 'udp'
    if (data.length < at + 4) return
    out.srcPort = view.getUint16(at)
    out.dstPort = view.getUint16(at + 2)
    if (protocol === 6 && data.length >= at + 14) out.tcpFlags = data[at + 13]!
  }
}

/** ICMP and ICMPv6 messages by name: [type, code], the code optional. */
export const ICMP_NAMES: Record<string, { v4?: [number, number?]; v6?: [number, number?] }> = {
  'echo-request': { v4: [8], v6: [128] },
  'echo-reply': { v4: [0], v6: [129] },
  'destination-unreachable': { v4: [3], v6: [1] },
  'net-unreachable': { v4: [3, 0] },
  'host-unreachable': { v4: [3, 1] },
  'protocol-unreachable': { v4: [3, 2] },
  'port-unreachable': { v4: [3, 3], v6: [1, 4] },
  'frag-needed': { v4: [3, 4] },
  'admin-prohibited': { v4: [3, 13], v6: [1, 1] },
  'packet-too-big': { v6: [2] },
  'time-exceeded': { v4: [11], v6: [3] },
  redirect: { v4: [5], v6: [137] },
  'router-solicitation': { v4: [10], v6: [133] },
  'router-advertisement': { v4: [9], v6: [134] },
  'neighbor-solicitation': { v6: [135] },
  'neighbor-advertisement': { v6: [136] },
  'mld-query': { v6: [130] },
  'mld-report': { v6: [131] },
  'mldv2-report': { v6: [143] },
}

/**
 * What a packet must be. Every field given must hold (and); `not` must not.
 * Addresses are literal addresses or subnets (`10.0.0.0/24`); a list means
 * any of them. `port` is either port; `from`/`to` are source/destination
 * (ARP: sender/target), `host` either.
 */
export interface PacketFilter {
  protocol?: Protocol | readonly Protocol[]
  from?: readonly string[]
  to?: readonly string[]
  host?: readonly string[]
  port?: number
  srcPort?: number
  dstPort?: number
  /** An ICMP/ICMPv6 message name (ICMP_NAMES), or a type number (with `icmpCode` to narrow). */
  icmpType?: string | number
  icmpCode?: number
  /** Packets that match this (or any of these) are left out. */
  not?: PacketFilter | readonly PacketFilter[]
}

/** Why a filter cannot be used: the field and the reason. */
export class PacketFilterError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message)
    this.name = 'PacketFilterError'
  }
}

interface Net {
  bytes: Uint8Array
  bits: number
}

/** A filter compiled: addresses parsed once, names checked. */
export type PacketPredicate = (p: DecodedPacket) => boolean

function parseNet(text: string, field: string): Net {
  try {
    const c = parseCidr(text)
    return { bytes: c.bytes, bits: c.prefixLen }
  } catch (err) {
    throw new PacketFilterError(
      field,
      `${field}: ${JSON.stringify(text)} is not an address or subnet (${(err as Error).message})`,
    )
  }
}

function inNet(address: string | undefined, nets: readonly Net[]): boolean {
  if (address === undefined) return false
  let bytes: Uint8Array
  try {
    bytes = ipToBytes(address)
  } catch {
    return false
  }
  return nets.some((n) => {
    if (n.bytes.length !== bytes.length) return false
    let bits = n.bits
    for (let i = 0; bits > 0; i++, bits -= 8) {
      const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
      if ((bytes[i]! & mask) !== (n.bytes[i]! & mask)) return false
    }
    return true
  })
}

function protocolIs(p: DecodedPacket, want: Protocol): boolean {
  switch (want) {
    case 'arp':
    case 'ip':
    case 'ip6':
      return p.network === want
    default:
      return p.transport === want
  }
}

/** Compile a filter (throws PacketFilterError naming the field for a bad address or ICMP name). */
export function compileFilter(f: PacketFilter, field = 'match'): PacketPredicate {
  const tests: PacketPredicate[] = []
  if (f.protocol !== undefined) {
    const list = (typeof f.protocol === 'string' ? [f.protocol] : f.protocol) as readonly Protocol[]
    for (const x of list)
      if (!PROTOCOLS.includes(x))
        throw new PacketFilterError(
          `${field}.protocol`,
          `${field}.protocol: unknown protocol ${JSON.stringify(x)}; known: ${PROTOCOLS.join(', ')}`,
        )
    tests.push((p) => list.some((x) => protocolIs(p, x)))
  }
  const nets = (key: 'from' | 'to' | 'host'): Net[] | undefined =>
    f[key]?.map((a) => parseNet(a, `${field}.${key}`))
  const from = nets('from')
  const to = nets('to')
  const host = nets('host')
  if (from) tests.push((p) => inNet(p.src, from))
  if (to) tests.push((p) => inNet(p.dst, to))
  if (host) tests.push((p) => inNet(p.src, host) || inNet(p.dst, host))
  if (f.port !== undefined) tests.push((p) => p.srcPort === f.port || p.dstPort === f.port)
  if (f.srcPort !== undefined) tests.push((p) => p.srcPort === f.srcPort)
  if (f.dstPort !== undefined) tests.push((p) => p.dstPort === f.dstPort)
  if (f.icmpType !== undefined) {
    const t = f.icmpType
    if (typeof t === 'number') {
      tests.push((p) => p.icmpType === t && (f.icmpCode === undefined || p.icmpCode === f.icmpCode))
    } else {
      const named = ICMP_NAMES[t]
      if (!named)
        throw new PacketFilterError(
          `${field}.icmpType`,
          `${field}.icmpType: unknown ICMP message ${JSON.stringify(t)}; known: ${Object.keys(ICMP_NAMES).join(', ')}, or a type number`,
        )
      const one = (tc: [number, number?] | undefined, transport: string, p: DecodedPacket): boolean =>
        tc !== undefined &&
        p.transport === transport &&
        p.icmpType === tc[0] &&
        (tc[1] === undefined || p.icmpCode === tc[1]) &&
        (f.icmpCode === undefined || p.icmpCode === f.icmpCode)
      tests.push((p) => one(named.v4, 'icmp', p) || one(named.v6, 'icmp6', p))
    }
  } else if (f.icmpCode !== undefined) tests.push((p) => p.icmpCode === f.icmpCode)
  if (f.not) {
    const list: readonly PacketFilter[] = Array.isArray(f.not) ? f.not : [f.not as PacketFilter]
    const nots = list.map((n, i) =>
      compileFilter(n, Array.isArray(f.not) ? `${field}.not[${i}]` : `${field}.not`),
    )
    tests.push((p) => !nots.some((n) => n(p)))
  }
  return (p) => tests.every((t) => t(p))
}

const ICMP_BY_NUMBER = new Map<string, string>()
for (const [name, { v4, v6 }] of Object.entries(ICMP_NAMES)) {
  for (const [family, tc] of [
    ['icmp', v4],
    ['icmp6', v6],
  ] as const) {
    if (!tc) continue
    const key = `${family}:${tc[0]}:${tc[1] ?? '*'}`
    if (!ICMP_BY_NUMBER.has(key)) ICMP_BY_NUMBER.set(key, name)
  }
}

function icmpName(transport: 'icmp' | 'icmp6', type: number, code: number | undefined): string {
  return (
    ICMP_BY_NUMBER.get(`${transport}:${type}:${code}`) ??
    ICMP_BY_NUMBER.get(`${transport}:${type}:*`) ??
    `type ${type}`
  )
}

/**
 * One line for a decoded packet: `udp 198.18.0.2:40000 → 198.18.0.6:51820`,
 * `icmp frag-needed (3/4) r1 → a`. `name` turns an address into a node name
 * where it knows one.
 */
export function summarizePacket(p: DecodedPacket, name: (address: string) => string = (a) => a): string {
  const addr = (a: string | undefined, port?: number): string => {
    const n = a === undefined ? '?' : name(a)
    if (port === undefined) return n
    return a !== undefined && a.includes(':') && n === a ? `[${n}]:${port}` : `${n}:${port}`
  }
  if (p.network === 'arp')
    return p.arpOp === 1
      ? `arp who-has ${addr(p.dst)} tell ${addr(p.src)}`
      : p.arpOp === 2
        ? `arp reply ${addr(p.src)} is-at (to ${addr(p.dst)})`
        : `arp op ${p.arpOp ?? '?'}`
  if (p.network === undefined)
    return p.etherType === undefined
      ? 'not an IP packet (too short)'
      : `ethertype 0x${p.etherType.toString(16).padStart(4, '0')}`
  const ends = `${addr(p.src, p.srcPort)} → ${addr(p.dst, p.dstPort)}`
  const size = p.ipLength === undefined ? '' : `, ${p.ipLength} bytes`
  if (p.transport === 'icmp' || p.transport === 'icmp6') {
    const what =
      p.icmpType === undefined
        ? '(truncated)'
        : `${icmpName(p.transport, p.icmpType, p.icmpCode)} (${p.icmpType}/${p.icmpCode ?? '?'})`
    return `${p.transport} ${what} ${ends}${size}`
  }
  if (p.transport === 'tcp') {
    const flags =
      p.tcpFlags === undefined
        ? ''
        : ` [${['FIN', 'SYN', 'RST', 'PSH', 'ACK'].filter((_, i) => (p.tcpFlags! >> i) & 1).join(',')}]`
    return `tcp ${ends}${flags}${size}`
  }
  if (p.transport === 'udp') return `udp ${ends}${size}`
  const what = p.laterFragment ? 'fragment' : `protocol ${p.ipProtocol ?? '?'}`
  return `${p.network} ${what} ${ends}${size}`
}
