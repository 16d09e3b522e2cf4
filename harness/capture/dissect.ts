/**
 * A pure packet dissector for one-line summaries: the Protocol, Source,
 * Destination and Info columns of the trace page, modelled on tshark's
 * (test/capture/dissect.pure.test.ts holds them against tshark itself).
 *
 * Layout follows Wireshark's dissector tables: the link type picks the first
 * decoder, then an EtherType table, an IP protocol table and a port table
 * hand the payload on. Every decoder reads inside the bytes it was given,
 * checks a length before each header it reads, and reports a header it cannot
 * read whole as `[Malformed: 12 of 20 header bytes]` under that header's
 * protocol; nothing throws (a last-resort catch in `dissect` turns a bug into
 * a summary rather than a crash of the page). Encapsulation (VLAN tags, GRE,
 * IP in IP, VXLAN) recurses through the tables with a depth limit, and every
 * loop (VLAN tags, IPv6 extension headers, TCP options, DNS names and
 * records) advances through the bytes or is counted, so any input ends.
 */
import { bytesToIpv4, bytesToIpv6 } from '../util/ip.js'

/** One packet's summary, as tshark's Protocol, Source, Destination and Info columns. */
export interface Dissection {
  /** The top protocol understood (`ICMP`, `TCP`, `DNS`, `WireGuard`, `ARP`, …); never empty. */
  protocol: string
  /** IP addresses (IPv6 in RFC 5952 form), or MAC addresses for ARP and other non-IP frames; '' where the frame is too short to say. */
  src: string
  dst: string
  /** One line: ports go here (`40000 → 53`), not in src/dst. */
  info: string
}

/** LINKTYPE_ETHERNET (veth, bridge, lo) and LINKTYPE_RAW (tun devices: WireGuard), as in pcapng.ts. */
const LINKTYPE_ETHERNET = 1
const LINKTYPE_RAW = 101

/** Nested encapsulations followed (VLAN tags, GRE, IP in IP, VXLAN) before giving up. */
const MAX_DEPTH = 8

/** What a layer hands to the next: the addresses so far and what ICMP echo shows of the IP header. */
interface Ctx {
  depth: number
  src: string
  dst: string
  /** `ttl=64` (IPv4) or `hop limit=64` (IPv6), for ICMP echo lines. */
  hops?: string
}

type Decoder = (b: Uint8Array, c: Ctx) => Dissection

/* ----------------------------------------------------------------------------------------------
 * Entry point
 * -------------------------------------------------------------------------------------------- */

/** The link types this dissector reads: pcapng LINKTYPE_* → first decoder. */
const LINK_TYPES: ReadonlyMap<number, Decoder> = new Map<number, Decoder>([
  [LINKTYPE_ETHERNET, ethernet],
  [LINKTYPE_RAW, rawIp],
])

/**
 * linkType: 1 Ethernet (veth, bridge, lo), 101 raw IP (tun/WireGuard devices).
 * Never throws: malformed or cut bytes give a summary saying so (e.g.
 * protocol 'IPv4', info '[Malformed: 12 of 20 header bytes]').
 */
export function dissect(data: Uint8Array, linkType: number): Dissection {
  const c: Ctx = { depth: 0, src: '', dst: '' }
  const decoder = LINK_TYPES.get(linkType)
  if (decoder === undefined)
    return { protocol: 'Unknown', src: '', dst: '', info: `Link type ${linkType}, ${data.length} bytes` }
  try {
    return decoder(data, c)
  } catch (err) {
    // Not reached by design (every read is length-checked); a bug shows as a line, not a crash.
    return { protocol: 'Unknown', src: c.src, dst: c.dst, info: `[Dissector error: ${String(err)}]` }
  }
}

/* ----------------------------------------------------------------------------------------------
 * Helpers
 * -------------------------------------------------------------------------------------------- */

function u8(b: Uint8Array, o: number): number {
  return b[o] ?? 0
}
function u16(b: Uint8Array, o: number): number {
  return (u8(b, o) << 8) | u8(b, o + 1)
}
function u32(b: Uint8Array, o: number): number {
  return u16(b, o) * 0x10000 + u16(b, o + 2)
}
function u32le(b: Uint8Array, o: number): number {
  return u8(b, o) + (u8(b, o + 1) << 8) + (u8(b, o + 2) << 16) + u8(b, o + 3) * 0x1000000
}
function hex(n: number, digits: number): string {
  return '0x' + n.toString(16).padStart(digits, '0')
}
function mac(b: Uint8Array, o: number): string {
  return Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':')
}
function ipv4(b: Uint8Array, o: number): string {
  return bytesToIpv4(b.subarray(o, o + 4))
}
function ipv6(b: Uint8Array, o: number): string {
  return bytesToIpv6(b.subarray(o, o + 16))
}

function out(c: Ctx, protocol: string, info: string): Dissection {
  return { protocol, src: c.src, dst: c.dst, info }
}

/** A header cut short: `[Malformed: 12 of 20 header bytes]` (after `prefix`, e.g. the ports). */
function malformed(c: Ctx, protocol: string, have: number, need: number, prefix = ''): Dissection {
  return out(c, protocol, `${prefix}[Malformed: ${have} of ${need} header bytes]`)
}

/** A header whose fields contradict themselves (a length shorter than the header, …). */
function bogus(c: Ctx, protocol: string, what: string, prefix = ''): Dissection {
  return out(c, protocol, `${prefix}[Malformed: ${what}]`)
}

function deeper(c: Ctx): Ctx | undefined {
  return c.depth + 1 > MAX_DEPTH ? undefined : { ...c, depth: c.depth + 1 }
}

function tooDeep(c: Ctx, protocol: string): Dissection {
  return out(c, protocol, `[Encapsulation deeper than ${MAX_DEPTH} levels]`)
}

/* ----------------------------------------------------------------------------------------------
 * Link layer: Ethernet II / 802.3 (IEEE 802.3), 802.1Q / 802.1ad tags, raw IP
 * -------------------------------------------------------------------------------------------- */

/** EtherType → decoder, or a name for protocols summarised by name only. */
const ETHERTYPES: ReadonlyMap<number, { name: string; decode?: Decoder }> = new Map([
  [0x0800, { name: 'IPv4', decode: ipv4Packet }],
  [0x0806, { name: 'ARP', decode: arp }],
  [0x86dd, { name: 'IPv6', decode: ipv6Packet }],
  [0x8035, { name: 'RARP' }],
  [0x8847, { name: 'MPLS' }],
  [0x8848, { name: 'MPLS' }],
  [0x8863, { name: 'PPPoED' }],
  [0x8864, { name: 'PPPoES' }],
  [0x888e, { name: 'EAPOL' }],
  [0x88cc, { name: 'LLDP' }],
  [0x88e5, { name: 'MACsec' }],
  [0x88f7, { name: 'PTPv2' }],
  [0x9000, { name: 'LOOP' }],
])

/** 802.1Q customer tag, 802.1ad service tag, and the older QinQ 0x9100: each 4 bytes, then the real EtherType. */
const VLAN_TPIDS = new Set([0x8100, 0x88a8, 0x9100])

function ethernet(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 14) return malformed(c, 'Ethernet', b.length, 14)
  c.dst = mac(b, 0)
  c.src = mac(b, 6)
  let type = u16(b, 12)
  let off = 14
  // Tags are passed through (each consumes 4 bytes, so the loop ends with the bytes).
  while (VLAN_TPIDS.has(type)) {
    if (b.length < off + 4) return malformed(c, '802.1Q', b.length - off, 4)
    type = u16(b, off + 2)
    off += 4
  }
  // IEEE 802.3: a length (≤ 1500) in place of the EtherType, then an LLC header.
  if (type <= 1500) return llc(b.subarray(off, off + type), c)
  return etherType(type, b.subarray(off), c)
}

function etherType(type: number, b: Uint8Array, c: Ctx): Dissection {
  const entry = ETHERTYPES.get(type)
  if (entry?.decode) return entry.decode(b, c)
  if (entry) return out(c, entry.name, `${entry.name} (EtherType ${hex(type, 4)}), ${b.length} bytes`)
  // Unknown: named by its number, as tshark does.
  return out(c, hex(type, 4), `Ethernet II, type ${hex(type, 4)}, ${b.length} bytes`)
}

/** IEEE 802.2 LLC: DSAP 0x42 is the spanning tree (802.1D). */
function llc(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 3) return malformed(c, 'LLC', b.length, 3)
  const dsap = u8(b, 0)
  const ssap = u8(b, 1)
  if (dsap === 0x42 && ssap === 0x42) return out(c, 'STP', 'Spanning tree BPDU')
  return out(c, 'LLC', `DSAP ${hex(dsap, 2)}, SSAP ${hex(ssap, 2)}`)
}

/** LINKTYPE_RAW: the IP header first; its version nibble says which. */
function rawIp(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 1) return malformed(c, 'Raw', 0, 1)
  const version = u8(b, 0) >> 4
  if (version === 4) return ipv4Packet(b, c)
  if (version === 6) return ipv6Packet(b, c)
  return out(c, 'Raw', `Raw packet data, IP version ${version}, ${b.length} bytes`)
}

/* ----------------------------------------------------------------------------------------------
 * ARP (RFC 826; probes and announcements, RFC 5227)
 * -------------------------------------------------------------------------------------------- */

function arp(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 8) return malformed(c, 'ARP', b.length, 8)
  const htype = u16(b, 0)
  const ptype = u16(b, 2)
  const hlen = u8(b, 4)
  const plen = u8(b, 5)
  const op = u16(b, 6)
  const need = 8 + 2 * hlen + 2 * plen
  if (b.length < need) return malformed(c, 'ARP', b.length, need)
  if (htype !== 1 || ptype !== 0x0800 || hlen !== 6 || plen !== 4)
    return out(c, 'ARP', `ARP opcode ${op}, hardware type ${htype}, protocol type ${hex(ptype, 4)}`)
  const sha = mac(b, 8)
  const spa = ipv4(b, 14)
  const tha = mac(b, 18)
  const tpa = ipv4(b, 24)
  const gratuitous = spa === tpa
  const zeroTha = tha === '00:00:00:00:00:00'
  if (op === 1) {
    if (gratuitous && zeroTha) return out(c, 'ARP', `ARP Announcement for ${spa}`)
    if (gratuitous) return out(c, 'ARP', `Gratuitous ARP for ${spa} (Request)`)
    if (spa === '0.0.0.0' && zeroTha) return out(c, 'ARP', `Who has ${tpa}? (ARP Probe)`)
    return out(c, 'ARP', `Who has ${tpa}? Tell ${spa}`)
  }
  if (op === 2) {
    if (gratuitous) return out(c, 'ARP', `Gratuitous ARP for ${spa} (Reply)`)
    return out(c, 'ARP', `${spa} is at ${sha}`)
  }
  return out(c, 'ARP', `ARP opcode ${op}`)
}

/* ----------------------------------------------------------------------------------------------
 * IP protocols (IANA protocol numbers)
 * -------------------------------------------------------------------------------------------- */

/**
 * IP protocol number → name (tshark's Protocol column), decoder where we read further, and the
 * IANA-style name tshark writes in fragment lines where it differs from the short one.
 */
interface IpProtocol {
  name: string
  decode?: Decoder
  long?: string
}
const IP_PROTOCOLS: ReadonlyMap<number, IpProtocol> = new Map<number, IpProtocol>([
  [1, { name: 'ICMP', decode: icmp }],
  [2, { name: 'IGMP', decode: igmp }],
  [4, { name: 'IPv4', decode: (b, c) => encapsulated(ipv4Packet, b, c, 'IPv4'), long: 'IPIP' }],
  [6, { name: 'TCP', decode: tcp }],
  [17, { name: 'UDP', decode: udp }],
  [33, { name: 'DCCP', long: 'Datagram Congestion Control Protocol' }],
  [41, { name: 'IPv6', decode: (b, c) => encapsulated(ipv6Packet, b, c, 'IPv6') }],
  [46, { name: 'RSVP', long: 'Reservation Protocol' }],
  [47, { name: 'GRE', decode: gre, long: 'Generic Routing Encapsulation' }],
  [50, { name: 'ESP', decode: esp, long: 'Encap Security Payload' }],
  [51, { name: 'AH', long: 'Authentication Header' }],
  [58, { name: 'ICMPv6', decode: icmpv6 }],
  [88, { name: 'EIGRP' }],
  [89, { name: 'OSPF', long: 'OSPF IGP' }],
  [103, { name: 'PIM' }],
  [112, { name: 'VRRP' }],
  [115, { name: 'L2TP', long: 'Layer 2 Tunneling' }],
  [132, { name: 'SCTP' }],
  [136, { name: 'UDP-Lite', long: 'UDPLite' }],
])

/** `UDP 17`, `Generic Routing Encapsulation 47`, `Unknown 253`: as in tshark's fragment lines. */
function protoLabel(p: number): string {
  const entry = IP_PROTOCOLS.get(p)
  return `${entry?.long ?? entry?.name ?? 'Unknown'} ${p}`
}

function ipProtocol(p: number, b: Uint8Array, c: Ctx, ipName: string): Dissection {
  const entry = IP_PROTOCOLS.get(p)
  if (entry?.decode) return entry.decode(b, c)
  if (entry) return out(c, entry.name, `${entry.name} (IP proto ${p}), ${b.length} bytes`)
  return out(c, ipName, `IP proto ${p}, ${b.length} bytes`)
}

/** An inner packet (IP in IP, GRE, VXLAN): one level deeper, or a line saying it is too deep. */
function encapsulated(decode: Decoder, b: Uint8Array, c: Ctx, protocol: string): Dissection {
  const inner = deeper(c)
  return inner === undefined ? tooDeep(c, protocol) : decode(b, inner)
}

/* ----------------------------------------------------------------------------------------------
 * IPv4 (RFC 791)
 * -------------------------------------------------------------------------------------------- */

function ipv4Packet(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 20) return malformed(c, 'IPv4', b.length, 20)
  const version = u8(b, 0) >> 4
  const ihl = (u8(b, 0) & 0x0f) * 4
  if (version !== 4) return bogus(c, 'IPv4', `IP version ${version} in an IPv4 header`)
  if (ihl < 20) return bogus(c, 'IPv4', `header length ${ihl} below 20`)
  if (b.length < ihl) return malformed(c, 'IPv4', b.length, ihl)
  c.src = ipv4(b, 12)
  c.dst = ipv4(b, 16)
  const total = u16(b, 2)
  if (total < ihl) return bogus(c, 'IPv4', `total length ${total} below the header length ${ihl}`)
  c.hops = `ttl=${u8(b, 8)}`
  const id = u16(b, 4)
  const frag = u16(b, 6)
  const more = (frag & 0x2000) !== 0
  const offset = (frag & 0x1fff) * 8
  const proto = u8(b, 9)
  // The payload ends where the total length says (Ethernet pads short frames), or where the capture was cut.
  const payload = b.subarray(ihl, Math.min(total, b.length))
  if (more || offset > 0)
    return out(
      c,
      'IPv4',
      `Fragmented IP protocol (proto=${protoLabel(proto)}, off=${offset}, ID=${hex(id, 4).slice(2)})`,
    )
  return ipProtocol(proto, payload, c, 'IPv4')
}

/* ----------------------------------------------------------------------------------------------
 * IPv6 (RFC 8200) and its extension headers
 * -------------------------------------------------------------------------------------------- */

/** Extension headers walked to the upper-layer header: hop-by-hop 0, routing 43, destination options 60, mobility 135, HIP 139, shim6 140 (RFC 8200 4.1, RFC 6564 length format), AH 51 (RFC 4302: length in 4-byte units). */
const IPV6_EXTENSIONS = new Set([0, 43, 60, 135, 139, 140])
const IPV6_FRAGMENT = 44
const IPV6_AH = 51
const IPV6_NO_NEXT = 59

function ipv6Packet(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 40) return malformed(c, 'IPv6', b.length, 40)
  const version = u8(b, 0) >> 4
  if (version !== 6) return bogus(c, 'IPv6', `IP version ${version} in an IPv6 header`)
  c.src = ipv6(b, 8)
  c.dst = ipv6(b, 24)
  c.hops = `hop limit=${u8(b, 7)}`
  const payloadLength = u16(b, 4)
  // Jumbograms (RFC 2675) have payload length 0: take what was captured.
  const end = payloadLength === 0 ? b.length : Math.min(40 + payloadLength, b.length)
  let next = u8(b, 6)
  let off = 40
  // Each extension header is at least 8 bytes long, so this walk ends within the packet.
  for (;;) {
    if (IPV6_EXTENSIONS.has(next) || next === IPV6_AH) {
      if (end < off + 8) return malformed(c, 'IPv6', Math.max(0, end - off), 8)
      const length = next === IPV6_AH ? (u8(b, off + 1) + 2) * 4 : (u8(b, off + 1) + 1) * 8
      if (end < off + length) return malformed(c, 'IPv6', end - off, length)
      next = u8(b, off)
      off += length
      continue
    }
    if (next === IPV6_FRAGMENT) {
      if (end < off + 8) return malformed(c, 'IPv6', Math.max(0, end - off), 8)
      const inner = u8(b, off)
      const fo = u16(b, off + 2)
      const offset = fo & 0xfff8
      const more = (fo & 1) !== 0
      const ident = u32(b, off + 4)
      if (offset > 0 || more)
        return out(
          c,
          'IPv6',
          `IPv6 fragment (off=${offset} more=${more ? 'y' : 'n'} ident=${hex(ident, 8)} nxt=${inner})`,
        )
      // An atomic fragment (RFC 6946): the whole packet follows.
      next = inner
      off += 8
      continue
    }
    break
  }
  if (next === IPV6_NO_NEXT) return out(c, 'IPv6', 'IPv6 no next header')
  return ipProtocol(next, b.subarray(off, end), c, 'IPv6')
}

/* ----------------------------------------------------------------------------------------------
 * ICMP (RFC 792; fragmentation needed RFC 1191)
 * -------------------------------------------------------------------------------------------- */

const ICMP_TYPES: ReadonlyMap<number, string> = new Map([
  [0, 'Echo (ping) reply'],
  [3, 'Destination unreachable'],
  [4, 'Source quench (flow control)'],
  [5, 'Redirect'],
  [8, 'Echo (ping) request'],
  [9, 'Router advertisement'],
  [10, 'Router solicitation'],
  [11, 'Time-to-live exceeded'],
  [12, 'Parameter problem'],
  [13, 'Timestamp request'],
  [14, 'Timestamp reply'],
  [17, 'Address mask request'],
  [18, 'Address mask reply'],
])

const ICMP_ID_SEQ = new Set([0, 8, 13, 14, 17, 18])

const ICMP_CODES: ReadonlyMap<number, readonly string[]> = new Map([
  [
    3,
    [
      'Network unreachable',
      'Host unreachable',
      'Protocol unreachable',
      'Port unreachable',
      'Fragmentation needed',
      'Source route failed',
      'Destination network unknown',
      'Destination host unknown',
      'Source host isolated',
      'Network administratively prohibited',
      'Host administratively prohibited',
      'Network unreachable for TOS',
      'Host unreachable for TOS',
      'Communication administratively filtered',
      'Host precedence violation',
      'Precedence cutoff in effect',
    ],
  ],
  [
    5,
    [
      'Redirect for network',
      'Redirect for host',
      'Redirect for TOS and network',
      'Redirect for TOS and host',
    ],
  ],
  [11, ['Time to live exceeded in transit', 'Fragment reassembly time exceeded']],
  [12, ['Pointer indicates the error', 'Required option missing', 'Bad length']],
])

function icmp(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 8) return malformed(c, 'ICMP', b.length, 8)
  const type = u8(b, 0)
  const code = u8(b, 1)
  const name = ICMP_TYPES.get(type) ?? `Unknown ICMP (obsolete or malformed?) (type ${type})`
  // Echo, timestamp and address mask messages carry an identifier and a sequence number.
  if (ICMP_ID_SEQ.has(type)) {
    const id = u16(b, 4)
    const seq = u16(b, 6)
    const le = ((seq & 0xff) << 8) | (seq >> 8)
    return out(c, 'ICMP', `${name} id=${hex(id, 4)}, seq=${seq}/${le}${c.hops ? `, ${c.hops}` : ''}`)
  }
  const codes = ICMP_CODES.get(type)
  if (codes === undefined) return out(c, 'ICMP', name)
  let info = `${name} (${codes[code] ?? `Unknown code: ${code}`})`
  // RFC 1191: the next-hop MTU in the low 16 bits of the second word.
  if (type === 3 && code === 4) info += `, MTU ${u16(b, 6)}`
  return out(c, 'ICMP', info)
}

/* ----------------------------------------------------------------------------------------------
 * IGMP (v1 RFC 1112, v2 RFC 2236, v3 RFC 3376): the version is in the type and the length
 * -------------------------------------------------------------------------------------------- */

function igmp(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 8) return malformed(c, 'IGMP', b.length, 8)
  const type = u8(b, 0)
  const group = ipv4(b, 4)
  switch (type) {
    case 0x11: {
      // A query: 8 bytes is v1 (max response time 0) or v2, 12 or more is v3.
      const version = b.length >= 12 ? 'IGMPv3' : u8(b, 1) === 0 ? 'IGMPv1' : 'IGMPv2'
      const which = group === '0.0.0.0' ? 'general' : `specific for group ${group}`
      return out(c, version, `Membership Query, ${which}`)
    }
    case 0x12:
      return out(c, 'IGMPv1', `Membership Report group ${group}`)
    case 0x16:
      return out(c, 'IGMPv2', `Membership Report group ${group}`)
    case 0x17:
      return out(c, 'IGMPv2', `Leave Group ${group}`)
    case 0x22: {
      // v3 report: group records of 8 bytes + sources and aux data; listed up to the bytes there are.
      const groups: string[] = []
      const count = u16(b, 6)
      let off = 8
      for (let i = 0; i < count && off + 8 <= b.length; i++) {
        groups.push(ipv4(b, off + 4))
        off += 8 + u16(b, off + 2) * 4 + u8(b, off + 1) * 4
      }
      return out(c, 'IGMPv3', `Membership Report${groups.length ? ` groups ${groups.join(', ')}` : ''}`)
    }
  }
  return out(c, 'IGMP', `Unknown Type: ${hex(type, 2)}`)
}

/* ----------------------------------------------------------------------------------------------
 * ICMPv6 (RFC 4443; neighbour discovery RFC 4861; MLDv2 RFC 3810)
 * -------------------------------------------------------------------------------------------- */

const ICMPV6_TYPES: ReadonlyMap<number, string> = new Map([
  [1, 'Destination Unreachable'],
  [2, 'Packet Too Big'],
  [3, 'Time Exceeded'],
  [4, 'Parameter Problem'],
  [128, 'Echo (ping) request'],
  [129, 'Echo (ping) reply'],
  [130, 'Multicast Listener Query'],
  [131, 'Multicast Listener Report'],
  [132, 'Multicast Listener Done'],
  [133, 'Router Solicitation'],
  [134, 'Router Advertisement'],
  [135, 'Neighbor Solicitation'],
  [136, 'Neighbor Advertisement'],
  [137, 'Redirect'],
  [143, 'Multicast Listener Report Message v2'],
])

/** Code texts as tshark prints them (its capitalisation, which varies). */
const ICMPV6_CODES: ReadonlyMap<number, readonly string[]> = new Map([
  [
    1,
    [
      'no route to destination',
      'Administratively prohibited',
      'Beyond scope of source address',
      'Address unreachable',
      'Port unreachable',
      'Source address failed ingress/egress policy',
      'Reject route to destination',
      'Error in Source Routing Header',
    ],
  ],
  [3, ['hop limit exceeded in transit', 'fragment reassembly time exceeded']],
  [
    4,
    [
      'erroneous header field encountered',
      'unrecognized Next Header type encountered',
      'unrecognized IPv6 option encountered',
      'IPv6 First Fragment has incomplete IPv6 Header Chain',
    ],
  ],
])

/** Neighbour discovery's link-layer address options (RFC 4861 4.6.1): 1 source, 2 target. */
function ndLinkAddress(b: Uint8Array, off: number, want: number): string | undefined {
  // Each option is a multiple of 8 bytes and at least 8: the walk advances.
  while (off + 8 <= b.length) {
    const type = u8(b, off)
    const length = u8(b, off + 1) * 8
    if (length === 0) return undefined
    if (type === want && length >= 8) return mac(b, off + 2)
    off += length
  }
  return undefined
}

function icmpv6(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 4) return malformed(c, 'ICMPv6', b.length, 4)
  const type = u8(b, 0)
  const code = u8(b, 1)
  const name = ICMPV6_TYPES.get(type) ?? `Unknown ICMPv6 type (${type})`
  const need = type === 135 || type === 136 ? 24 : type === 134 ? 16 : 8
  if (ICMPV6_TYPES.has(type) && b.length < need) return malformed(c, 'ICMPv6', b.length, need)
  switch (type) {
    case 128:
    case 129:
      return out(
        c,
        'ICMPv6',
        `${name} id=${hex(u16(b, 4), 4)}, seq=${u16(b, 6)}${c.hops ? `, ${c.hops}` : ''}`,
      )
    case 2:
      return out(c, 'ICMPv6', `${name}, MTU ${u32(b, 4)}`)
    case 133:
    case 134: {
      const from = ndLinkAddress(b, type === 133 ? 8 : 16, 1)
      return out(c, 'ICMPv6', from === undefined ? name : `${name} from ${from}`)
    }
    case 135: {
      const target = ipv6(b, 8)
      const from = ndLinkAddress(b, 24, 1)
      return out(c, 'ICMPv6', `${name} for ${target}${from === undefined ? '' : ` from ${from}`}`)
    }
    case 136: {
      const flags = u8(b, 4)
      const names = [
        ...(flags & 0x80 ? ['rtr'] : []),
        ...(flags & 0x40 ? ['sol'] : []),
        ...(flags & 0x20 ? ['ovr'] : []),
      ]
      const target = ipv6(b, 8)
      const at = ndLinkAddress(b, 24, 2)
      return out(
        c,
        'ICMPv6',
        `${name} ${target} (${names.length ? names.join(', ') : 'none'})${at === undefined ? '' : ` is at ${at}`}`,
      )
    }
  }
  const codes = ICMPV6_CODES.get(type)
  if (codes === undefined) return out(c, 'ICMPv6', name)
  return out(c, 'ICMPv6', `${name} (${codes[code] ?? `Unknown (${code})`})`)
}

/* ----------------------------------------------------------------------------------------------
 * UDP (RFC 768), TCP (RFC 9293) and the port table
 * -------------------------------------------------------------------------------------------- */

/**
 * Port → application decoder, tried for the lower port first, as tshark
 * does; `payload` is the transport's payload. TCP carries DNS and OpenVPN
 * with a 2-byte length in front (RFC 1035 4.2.2; OpenVPN's TCP framing).
 */
interface PortEntry {
  udp?: Decoder
  tcp?: Decoder
}
const PORTS: ReadonlyMap<number, PortEntry> = new Map<number, PortEntry>([
  [53, { udp: dns, tcp: (b, c) => dns(b.subarray(2), c) }],
  [1194, { udp: openvpn, tcp: (b, c) => openvpn(b.subarray(2), c) }],
  [4789, { udp: vxlan }],
  [51820, { udp: wireguard }],
])

/** `40000 → 53 ` */
function ports(sport: number, dport: number): string {
  return `${sport} → ${dport} `
}

/** The application decoder of the lower port, else of the higher one. */
function byPort(sport: number, dport: number, which: keyof PortEntry): Decoder | undefined {
  const [low, high] = sport <= dport ? [sport, dport] : [dport, sport]
  return PORTS.get(low)?.[which] ?? PORTS.get(high)?.[which]
}

function udp(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 8) {
    const prefix = b.length >= 4 ? ports(u16(b, 0), u16(b, 2)) : ''
    return malformed(c, 'UDP', b.length, 8, prefix)
  }
  const sport = u16(b, 0)
  const dport = u16(b, 2)
  const length = u16(b, 4)
  if (length !== 0 && length < 8) return bogus(c, 'UDP', `length ${length} below 8`, ports(sport, dport))
  // Length 0 is a jumbogram's (RFC 2675): the IP layer's end is the end.
  const payload = b.subarray(8, length === 0 ? b.length : Math.min(length, b.length))
  if (payload.length > 0) {
    const app = byPort(sport, dport, 'udp')
    if (app) return app(payload, c)
    // WireGuard on any port: its message type and exact lengths (tshark's heuristic).
    if (looksLikeWireGuard(payload)) return wireguard(payload, c)
  }
  return out(c, 'UDP', `${ports(sport, dport)}Len=${length === 0 ? payload.length : length - 8}`)
}

/** TCP flags, bit 0 (FIN) upward, as tshark lists them. */
const TCP_FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR', 'AE'] as const

function tcp(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 20) {
    const prefix = b.length >= 4 ? ports(u16(b, 0), u16(b, 2)) : ''
    return malformed(c, 'TCP', b.length, 20, prefix)
  }
  const sport = u16(b, 0)
  const dport = u16(b, 2)
  const seq = u32(b, 4)
  const ack = u32(b, 8)
  const dataOffset = (u8(b, 12) >> 4) * 4
  const bits = ((u8(b, 12) & 1) << 8) | u8(b, 13)
  const win = u16(b, 14)
  const prefix = ports(sport, dport)
  if (dataOffset < 20) return bogus(c, 'TCP', `header length ${dataOffset} below 20`, prefix)
  if (b.length < dataOffset) return malformed(c, 'TCP', b.length, dataOffset, prefix)
  const flags = TCP_FLAGS.filter((_, i) => bits & (1 << i))
  const payload = b.subarray(dataOffset)
  // A reset's data is a diagnostic text (RFC 9293 3.5.3), not the application's: not handed on.
  if (payload.length > 0 && !(bits & 0x04)) {
    const app = byPort(sport, dport, 'tcp')
    if (app) return app(payload, c)
  }
  let info = `${prefix}[${flags.length ? flags.join(', ') : '<None>'}] Seq=${seq}`
  if (bits & 0x10) info += ` Ack=${ack}`
  info += ` Win=${win}`
  if (bits & 0x20) info += ` Urg=${u16(b, 18)}`
  info += ` Len=${payload.length}`
  const options = tcpOptions(b.subarray(20, dataOffset))
  return out(c, 'TCP', options ? `${info} ${options}` : info)
}

/** The options tshark's Info shows: MSS, SACK_PERM, TSval/TSecr, WS (as the multiplier). */
function tcpOptions(o: Uint8Array): string {
  const parts: string[] = []
  // Every option but EOL and NOP has a length ≥ 2: the walk advances.
  for (let i = 0; i < o.length;) {
    const kind = u8(o, i)
    if (kind === 0) break
    if (kind === 1) {
      i++
      continue
    }
    const length = u8(o, i + 1)
    if (length < 2 || i + length > o.length) break
    if (kind === 2 && length === 4) parts.push(`MSS=${u16(o, i + 2)}`)
    else if (kind === 3 && length === 3) parts.push(`WS=${2 ** Math.min(u8(o, i + 2), 14)}`)
    else if (kind === 4 && length === 2) parts.push('SACK_PERM')
    else if (kind === 8 && length === 10) parts.push(`TSval=${u32(o, i + 2)} TSecr=${u32(o, i + 6)}`)
    i += length
  }
  return parts.join(' ')
}

/* ----------------------------------------------------------------------------------------------
 * DNS (RFC 1035; AAAA RFC 3596; SRV RFC 2782)
 * -------------------------------------------------------------------------------------------- */

const DNS_OPCODES: ReadonlyMap<number, string> = new Map([
  [0, 'Standard query'],
  [1, 'Inverse query'],
  [2, 'Server status request'],
  [4, 'Zone change notification'],
  [5, 'Dynamic update'],
])

const DNS_RCODES: readonly string[] = [
  'No error',
  'Format error',
  'Server failure',
  'No such name',
  'Not implemented',
  'Refused',
  'Name exists',
  'RRset exists',
  'RRset does not exist',
  'Not authoritative',
  'Name out of zone',
]

const DNS_TYPES: ReadonlyMap<number, string> = new Map([
  [1, 'A'],
  [2, 'NS'],
  [5, 'CNAME'],
  [6, 'SOA'],
  [12, 'PTR'],
  [15, 'MX'],
  [16, 'TXT'],
  [28, 'AAAA'],
  [33, 'SRV'],
  [35, 'NAPTR'],
  [39, 'DNAME'],
  [41, 'OPT'],
  [43, 'DS'],
  [46, 'RRSIG'],
  [47, 'NSEC'],
  [48, 'DNSKEY'],
  [64, 'SVCB'],
  [65, 'HTTPS'],
  [252, 'AXFR'],
  [255, 'ANY'],
  [257, 'CAA'],
])

/** Labels and pointers followed in one name: a name has at most 127 labels (255 bytes), so more is a loop. */
const DNS_MAX_STEPS = 128
/** Records read per section: bounded work whatever the counts claim (the records' bytes bound them too). */
const DNS_MAX_RECORDS = 64

/** A name at `off`, with compression pointers (RFC 1035 4.1.4) followed at most DNS_MAX_STEPS times; `end` is where the name ends in place. */
function dnsName(m: Uint8Array, off: number): { name: string; end: number } | undefined {
  const labels: string[] = []
  let end: number | undefined
  let at = off
  for (let step = 0; step < DNS_MAX_STEPS; step++) {
    if (at >= m.length) return undefined
    const len = u8(m, at)
    if (len === 0) return { name: labels.length ? labels.join('.') : '<Root>', end: end ?? at + 1 }
    if ((len & 0xc0) === 0xc0) {
      if (at + 2 > m.length) return undefined
      end ??= at + 2
      at = u16(m, at) & 0x3fff
      continue
    }
    if (len & 0xc0) return undefined // extended label types (RFC 6891 obsoletes them)
    if (at + 1 + len > m.length) return undefined
    labels.push(dnsLabel(m.subarray(at + 1, at + 1 + len)))
    at += 1 + len
  }
  return undefined
}

/** A label's text: printable ASCII as is, other bytes as \xNN. */
function dnsLabel(b: Uint8Array): string {
  let s = ''
  for (const x of b)
    s += x > 0x20 && x < 0x7f ? String.fromCharCode(x) : `\\x${x.toString(16).padStart(2, '0')}`
  return s
}

function dnsType(t: number): string {
  return DNS_TYPES.get(t) ?? `Unknown (${t})`
}

/** An answer's text in tshark's Info (`A 10.0.0.1`, `CNAME www.lab`); undefined when its data is cut. */
function dnsRdata(m: Uint8Array, type: number, off: number, len: number): string | undefined {
  const rd = m.subarray(off, off + len)
  const t = dnsType(type)
  const name = (at: number): string | undefined => dnsName(m, at)?.name
  switch (type) {
    case 1:
      return len === 4 ? `${t} ${ipv4(rd, 0)}` : undefined
    case 28:
      return len === 16 ? `${t} ${ipv6(rd, 0)}` : undefined
    case 2:
    case 5:
    case 6: // SOA: its primary name server
    case 12:
    case 39: {
      const n = name(off)
      return n === undefined ? undefined : `${t} ${n}`
    }
    case 15: {
      const n = len >= 3 ? name(off + 2) : undefined
      return n === undefined ? undefined : `${t} ${u16(rd, 0)} ${n}`
    }
    case 33: {
      const n = len >= 7 ? name(off + 6) : undefined
      return n === undefined ? undefined : `${t} ${u16(rd, 0)} ${u16(rd, 2)} ${u16(rd, 4)} ${n}`
    }
    default:
      return t
  }
}

function dns(m: Uint8Array, c: Ctx): Dissection {
  if (m.length < 12) return malformed(c, 'DNS', m.length, 12)
  const id = u16(m, 0)
  const flags = u16(m, 2)
  const response = (flags & 0x8000) !== 0
  const opcode = (flags >> 11) & 0xf
  const rcode = flags & 0xf
  const qd = u16(m, 4)
  const an = u16(m, 6)
  const parts = [
    `${DNS_OPCODES.get(opcode) ?? `Unknown operation (${opcode})`}${response ? ' response' : ''} ${hex(id, 4)}`,
  ]
  if (response && rcode !== 0) parts.push(DNS_RCODES[rcode] ?? `Unknown error (${rcode})`)
  let off = 12
  for (let i = 0; i < Math.min(qd, DNS_MAX_RECORDS); i++) {
    const n = dnsName(m, off)
    if (n === undefined || n.end + 4 > m.length)
      return out(c, 'DNS', `${parts.join(' ')} [Malformed question]`)
    parts.push(`${dnsType(u16(m, n.end))} ${n.name}`)
    off = n.end + 4
  }
  if (response) {
    for (let i = 0; i < Math.min(an, DNS_MAX_RECORDS); i++) {
      const n = dnsName(m, off)
      if (n === undefined || n.end + 10 > m.length)
        return out(c, 'DNS', `${parts.join(' ')} [Malformed answer]`)
      const type = u16(m, n.end)
      const rdlen = u16(m, n.end + 8)
      const rdata = n.end + 10
      if (rdata + rdlen > m.length) return out(c, 'DNS', `${parts.join(' ')} [Malformed answer]`)
      const text = dnsRdata(m, type, rdata, rdlen)
      if (text === undefined) return out(c, 'DNS', `${parts.join(' ')} [Malformed answer]`)
      parts.push(text)
      off = rdata + rdlen
    }
  }
  return out(c, 'DNS', parts.join(' '))
}

/* ----------------------------------------------------------------------------------------------
 * WireGuard (the protocol of wireguard.com/protocol, as Wireshark's packet-wireguard.c reads it)
 * -------------------------------------------------------------------------------------------- */

/** Message type → name and exact length (transport data: at least 32, a multiple of 16). */
const WG_MESSAGES: ReadonlyMap<number, { name: string; length?: number }> = new Map([
  [1, { name: 'Handshake Initiation', length: 148 }],
  [2, { name: 'Handshake Response', length: 92 }],
  [3, { name: 'Cookie Reply', length: 64 }],
  [4, { name: 'Transport Data' }],
])

/** Wireshark's heuristic: a known type with its exact length; transport data with zero reserved bytes, ≥ 32 bytes, 16-aligned. */
function looksLikeWireGuard(b: Uint8Array): boolean {
  if (b.length < 4) return false
  const m = WG_MESSAGES.get(u8(b, 0))
  if (m === undefined) return false
  if (m.length !== undefined) return b.length === m.length
  return u8(b, 1) === 0 && u8(b, 2) === 0 && u8(b, 3) === 0 && b.length >= 32 && b.length % 16 === 0
}

function wireguard(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 4) return malformed(c, 'WireGuard', b.length, 4)
  const type = u8(b, 0)
  const m = WG_MESSAGES.get(type)
  if (m === undefined) return out(c, 'WireGuard', `Unknown message type ${type}`)
  // Indices are little-endian 32-bit, the counter little-endian 64-bit.
  const need = m.length ?? 32
  if (b.length < need) return malformed(c, 'WireGuard', b.length, need)
  // 0x%08X, as Wireshark prints them.
  const index = (at: number): string => `0x${u32le(b, at).toString(16).toUpperCase().padStart(8, '0')}`
  switch (type) {
    case 1:
      return out(c, 'WireGuard', `${m.name}, sender=${index(4)}`)
    case 2:
      return out(c, 'WireGuard', `${m.name}, sender=${index(4)}, receiver=${index(8)}`)
    case 3:
      return out(c, 'WireGuard', `${m.name}, receiver=${index(4)}`)
  }
  const counter = BigInt(u32le(b, 8)) + (BigInt(u32le(b, 12)) << 32n)
  const datalen = b.length - 32
  const head = `receiver=${index(4)}, counter=${counter}`
  // An empty transport message is a keepalive (the protocol's passive keepalive).
  if (datalen === 0) return out(c, 'WireGuard', `Keepalive, ${head}`)
  return out(c, 'WireGuard', `${m.name}, ${head}, datalen=${datalen}`)
}

/* ----------------------------------------------------------------------------------------------
 * OpenVPN (its wire protocol: opcode in the top 5 bits of the first byte, key id in the low 3)
 * -------------------------------------------------------------------------------------------- */

const OPENVPN_OPCODES: readonly (string | undefined)[] = [
  undefined,
  'P_CONTROL_HARD_RESET_CLIENT_V1',
  'P_CONTROL_HARD_RESET_SERVER_V1',
  'P_CONTROL_SOFT_RESET_V1',
  'P_CONTROL_V1',
  'P_ACK_V1',
  'P_DATA_V1',
  'P_CONTROL_HARD_RESET_CLIENT_V2',
  'P_CONTROL_HARD_RESET_SERVER_V2',
  'P_DATA_V2',
  'P_CONTROL_HARD_RESET_CLIENT_V3',
  'P_CONTROL_WKC_V1',
]

function openvpn(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 1) return malformed(c, 'OpenVPN', 0, 1)
  const opcode = u8(b, 0) >> 3
  const keyId = u8(b, 0) & 7
  const name = OPENVPN_OPCODES[opcode] ?? `Unknown opcode ${opcode}`
  return out(c, 'OpenVPN', `MessageType: ${name}, key id ${keyId}`)
}

/* ----------------------------------------------------------------------------------------------
 * Tunnels carrying frames or packets: GRE (RFC 2784, keys and sequence RFC 2890), VXLAN (RFC 7348), ESP (RFC 4303)
 * -------------------------------------------------------------------------------------------- */

/** GRE protocol types beyond the EtherTypes: transparent Ethernet bridging (gretap). */
const GRE_TEB = 0x6558

function gre(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 4) return malformed(c, 'GRE', b.length, 4)
  const flags = u16(b, 0)
  const type = u16(b, 2)
  // Checksum (C) and routing (R) share one word; key (K) and sequence (S) one each.
  const length = 4 + (flags & 0xc000 ? 4 : 0) + (flags & 0x2000 ? 4 : 0) + (flags & 0x1000 ? 4 : 0)
  if (b.length < length) return malformed(c, 'GRE', b.length, length)
  const inner = deeper(c)
  if (inner === undefined) return tooDeep(c, 'GRE')
  const payload = b.subarray(length)
  if (type === GRE_TEB) return ethernet(payload, inner)
  if (ETHERTYPES.get(type)?.decode) return etherType(type, payload, inner)
  return out(c, 'GRE', `Encapsulated ${hex(type, 4)}`)
}

function vxlan(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 8) return malformed(c, 'VXLAN', b.length, 8)
  return encapsulated(ethernet, b.subarray(8), c, 'VXLAN')
}

function esp(b: Uint8Array, c: Ctx): Dissection {
  if (b.length < 8) return malformed(c, 'ESP', b.length, 8)
  return out(c, 'ESP', `ESP (SPI=${hex(u32(b, 0), 8)})`)
}
