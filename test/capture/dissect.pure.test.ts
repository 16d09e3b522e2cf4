// The packet dissector (harness/capture/dissect.ts), three ways: exact
// summaries of hand-built frames for every protocol it knows, fast-check
// properties (it never throws, whatever the bytes or wherever a real frame is
// cut), and tshark as the authority: the same frames in a pcapng written by
// our writer, tshark's Protocol and Info columns against ours.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { type Dissection, dissect } from '../../harness/capture/dissect.js'
import { writeBlocks } from '../../harness/capture/pcapng-file.js'
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  type PacketOptions,
  pcapngBlocks,
} from '../../harness/capture/pcapng.js'
import { bytesToIp, ipToBytes } from '../../harness/util/ip.js'
import { FUZZ_TIMEOUT, fuzzRuns } from '../support/fuzz.js'
import { tsharkFields } from './tshark.js'

/* ------------------------------------------------------------------------------------------------
 * Frame builders (no checksums but IPv4's: tshark does not check the others by default)
 * ---------------------------------------------------------------------------------------------- */

const MAC_A = '02:00:00:00:00:0a'
const MAC_B = '02:00:00:00:00:0b'

function macBytes(m: string): Buffer {
  return Buffer.from(m.replaceAll(':', ''), 'hex')
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}
function u32le(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b
}

/** Ethernet II, optional 802.1Q tags, padded to 60 bytes as a NIC would. */
function eth(
  type: number,
  payload: Buffer,
  o: { src?: string; dst?: string; vlans?: number[] } = {},
): Buffer {
  const tags = (o.vlans ?? []).map((vid) => Buffer.concat([u16(0x8100), u16(vid)]))
  const frame = Buffer.concat([
    macBytes(o.dst ?? MAC_B),
    macBytes(o.src ?? MAC_A),
    ...tags,
    u16(type),
    payload,
  ])
  return frame.length < 60 ? Buffer.concat([frame, Buffer.alloc(60 - frame.length)]) : frame
}

function ip4(
  src: string,
  dst: string,
  proto: number,
  payload: Buffer,
  o: { ttl?: number; id?: number; mf?: boolean; offset?: number } = {},
): Buffer {
  const h = Buffer.alloc(20)
  h[0] = 0x45
  h.writeUInt16BE(20 + payload.length, 2)
  h.writeUInt16BE(o.id ?? 0x1234, 4)
  h.writeUInt16BE((o.mf ? 0x2000 : 0x4000 * Number(o.offset === undefined)) | ((o.offset ?? 0) >> 3), 6)
  h[8] = o.ttl ?? 64
  h[9] = proto
  ipToBytes(src).copy(h, 12)
  ipToBytes(dst).copy(h, 16)
  let sum = 0
  for (let i = 0; i < 20; i += 2) sum += h.readUInt16BE(i)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16)
  h.writeUInt16BE(~sum & 0xffff, 10)
  return Buffer.concat([h, payload])
}

function ip6(src: string, dst: string, next: number, payload: Buffer, o: { hlim?: number } = {}): Buffer {
  const h = Buffer.alloc(40)
  h[0] = 0x60
  h.writeUInt16BE(payload.length, 4)
  h[6] = next
  h[7] = o.hlim ?? 64
  ipToBytes(src).copy(h, 8)
  ipToBytes(dst).copy(h, 24)
  return Buffer.concat([h, payload])
}

/** An IPv6 extension header of the RFC 8200 shape (next header, length in 8-byte units after the first 8). */
function ext6(next: number, body: Buffer = Buffer.alloc(6)): Buffer {
  const length = Math.ceil((body.length + 2) / 8) * 8
  const h = Buffer.alloc(length)
  h[0] = next
  h[1] = length / 8 - 1
  body.copy(h, 2)
  if (body.length === 6 && body.every((x) => x === 0)) h[2] = 1 // PadN option over the rest
  if (h[2] === 1) h[3] = length - 4
  return h
}

function udpSeg(sport: number, dport: number, payload: Buffer): Buffer {
  // A checksum that is not 0 (0 is illegal over IPv6) and not checked (tshark does not by default).
  return Buffer.concat([u16(sport), u16(dport), u16(8 + payload.length), u16(0x5555), payload])
}

const TCP = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, ECE: 64, CWR: 128 }

function tcpSeg(
  sport: number,
  dport: number,
  o: { seq?: number; ack?: number; flags: number; win?: number; options?: Buffer; payload?: Buffer },
): Buffer {
  const options = o.options ?? Buffer.alloc(0)
  const h = Buffer.alloc(20)
  h.writeUInt16BE(sport, 0)
  h.writeUInt16BE(dport, 2)
  h.writeUInt32BE(o.seq ?? 0, 4)
  h.writeUInt32BE(o.ack ?? 0, 8)
  h[12] = ((20 + options.length) / 4) << 4
  h[13] = o.flags
  h.writeUInt16BE(o.win ?? 64240, 14)
  return Buffer.concat([h, options, o.payload ?? Buffer.alloc(0)])
}

function icmp4(type: number, code: number, rest: Buffer, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([type, code, 0, 0]), rest, body])
}

function icmp6(type: number, code: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, code, 0, 0]), body])
}

/** A DNS name in wire form, or a compression pointer to `pointer`. */
function dnsName(name: string): Buffer {
  const parts = name === '' ? [] : name.split('.')
  return Buffer.concat([
    ...parts.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ])
}
function pointer(off: number): Buffer {
  return u16(0xc000 | off)
}

function dnsMessage(
  id: number,
  flags: number,
  questions: { name: Buffer; type: number }[],
  answers: { name: Buffer; type: number; rdata: Buffer }[] = [],
): Buffer {
  return Buffer.concat([
    u16(id),
    u16(flags),
    u16(questions.length),
    u16(answers.length),
    u16(0),
    u16(0),
    ...questions.map((q) => Buffer.concat([q.name, u16(q.type), u16(1)])),
    ...answers.map((a) =>
      Buffer.concat([a.name, u16(a.type), u16(1), u32(300), u16(a.rdata.length), a.rdata]),
    ),
  ])
}

/* WireGuard messages: type, 3 reserved bytes, little-endian indices, then the fixed-size crypto fields. */
function wgInitiation(sender: number): Buffer {
  return Buffer.concat([Buffer.from([1, 0, 0, 0]), u32le(sender), Buffer.alloc(140, 0x5a)])
}
function wgResponse(sender: number, receiver: number): Buffer {
  return Buffer.concat([Buffer.from([2, 0, 0, 0]), u32le(sender), u32le(receiver), Buffer.alloc(80, 0x5a)])
}
function wgCookie(receiver: number): Buffer {
  return Buffer.concat([Buffer.from([3, 0, 0, 0]), u32le(receiver), Buffer.alloc(56, 0x5a)])
}
function wgData(receiver: number, counter: number, datalen: number): Buffer {
  const c = Buffer.alloc(8)
  c.writeBigUInt64LE(BigInt(counter))
  return Buffer.concat([Buffer.from([4, 0, 0, 0]), u32le(receiver), c, Buffer.alloc(datalen + 16, 0x5a)])
}

/** OpenVPN: opcode << 3 | key id, then a session id (8 bytes), an HMAC-less ack array and packet id. */
function ovpn(opcode: number, keyId = 0): Buffer {
  return Buffer.concat([
    Buffer.from([(opcode << 3) | keyId]),
    Buffer.from('0102030405060708', 'hex'),
    Buffer.from([0]),
    u32(0),
  ])
}

const V4A = '10.0.0.1'
const V4B = '10.0.0.2'
const V6A = 'fd00::1'
const V6B = 'fd00::2'

/* ------------------------------------------------------------------------------------------------
 * The corpus: each frame with the summary we expect, and what tshark is checked on
 * ---------------------------------------------------------------------------------------------- */

interface Case {
  name: string
  linkType: number
  data: Buffer
  /** Our summary, exactly. */
  want: Dissection
  /** Pieces both our Info and tshark's must contain (default: ours equals tshark's, normalised). */
  keys?: string[]
  /** Leave this frame out of the tshark check (said why). */
  notTshark?: string
}

const ipv4Src = { src: V4A, dst: V4B }
const ipv6Src = { src: V6A, dst: V6B }
const macs = { src: MAC_A, dst: MAC_B }

const dnsQuery = dnsMessage(0x1234, 0x0100, [{ name: dnsName('example.lab'), type: 1 }])
const dnsResponse = dnsMessage(
  0x1234,
  0x8180,
  [{ name: dnsName('www.example.lab'), type: 1 }],
  [
    // www.example.lab CNAME web.example.lab (web + pointer to example.lab at 16), web.example.lab A 10.0.0.1
    { name: pointer(12), type: 5, rdata: Buffer.concat([Buffer.from([3]), Buffer.from('web'), pointer(16)]) },
    { name: pointer(45), type: 1, rdata: ipToBytes('10.0.0.80') },
  ],
)

const cases: Case[] = [
  // ARP (RFC 826, RFC 5227)
  {
    name: 'ARP request',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0806, arpBody(1, MAC_A, V4A, '00:00:00:00:00:00', V4B), { dst: 'ff:ff:ff:ff:ff:ff' }),
    want: { protocol: 'ARP', src: MAC_A, dst: 'ff:ff:ff:ff:ff:ff', info: 'Who has 10.0.0.2? Tell 10.0.0.1' },
  },
  {
    name: 'ARP reply',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0806, arpBody(2, MAC_B, V4B, MAC_A, V4A), { src: MAC_B, dst: MAC_A }),
    want: { protocol: 'ARP', src: MAC_B, dst: MAC_A, info: `10.0.0.2 is at ${MAC_B}` },
  },
  {
    name: 'gratuitous ARP reply',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0806, arpBody(2, MAC_A, V4A, 'ff:ff:ff:ff:ff:ff', V4A), { dst: 'ff:ff:ff:ff:ff:ff' }),
    want: {
      protocol: 'ARP',
      src: MAC_A,
      dst: 'ff:ff:ff:ff:ff:ff',
      info: 'Gratuitous ARP for 10.0.0.1 (Reply)',
    },
  },
  {
    name: 'ARP probe',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0806, arpBody(1, MAC_A, '0.0.0.0', '00:00:00:00:00:00', V4A), { dst: 'ff:ff:ff:ff:ff:ff' }),
    want: { protocol: 'ARP', src: MAC_A, dst: 'ff:ff:ff:ff:ff:ff', info: 'Who has 10.0.0.1? (ARP Probe)' },
  },
  {
    name: 'ARP announcement',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0806, arpBody(1, MAC_A, V4A, '00:00:00:00:00:00', V4A), { dst: 'ff:ff:ff:ff:ff:ff' }),
    want: { protocol: 'ARP', src: MAC_A, dst: 'ff:ff:ff:ff:ff:ff', info: 'ARP Announcement for 10.0.0.1' },
  },
  // ICMP (RFC 792, RFC 1191)
  {
    name: 'ICMP echo request',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4A, V4B, 1, icmp4(8, 0, Buffer.concat([u16(0x1c2b), u16(1)]), Buffer.alloc(16)))),
    want: { protocol: 'ICMP', ...ipv4Src, info: 'Echo (ping) request id=0x1c2b, seq=1/256, ttl=64' },
  },
  {
    name: 'ICMP echo reply',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(V4B, V4A, 1, icmp4(0, 0, Buffer.concat([u16(0x1c2b), u16(258)]), Buffer.alloc(16)), { ttl: 63 }),
    ),
    want: { protocol: 'ICMP', src: V4B, dst: V4A, info: 'Echo (ping) reply id=0x1c2b, seq=258/513, ttl=63' },
  },
  {
    name: 'ICMP fragmentation needed',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(
        '10.0.1.1',
        V4A,
        1,
        icmp4(
          3,
          4,
          Buffer.concat([u16(0), u16(1400)]),
          ip4(V4A, V4B, 17, udpSeg(40000, 9999, Buffer.alloc(1400))).subarray(0, 28),
        ),
      ),
    ),
    want: {
      protocol: 'ICMP',
      src: '10.0.1.1',
      dst: V4A,
      info: 'Destination unreachable (Fragmentation needed), MTU 1400',
    },
    keys: ['Destination unreachable (Fragmentation needed)'],
  },
  {
    name: 'ICMP port unreachable',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(V4B, V4A, 1, icmp4(3, 3, u32(0), ip4(V4A, V4B, 17, udpSeg(40000, 9999, Buffer.alloc(4))))),
    ),
    want: { protocol: 'ICMP', src: V4B, dst: V4A, info: 'Destination unreachable (Port unreachable)' },
  },
  {
    name: 'ICMP time-to-live exceeded',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(
        '10.0.1.1',
        V4A,
        1,
        icmp4(11, 0, u32(0), ip4(V4A, V4B, 17, udpSeg(40000, 33434, Buffer.alloc(4)), { ttl: 1 })),
      ),
    ),
    want: {
      protocol: 'ICMP',
      src: '10.0.1.1',
      dst: V4A,
      info: 'Time-to-live exceeded (Time to live exceeded in transit)',
    },
  },
  // ICMPv6 (RFC 4443, RFC 4861)
  {
    name: 'ICMPv6 echo request',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x86dd,
      ip6(V6A, V6B, 58, icmp6(128, 0, Buffer.concat([u16(0x0042), u16(7), Buffer.alloc(8)]))),
    ),
    want: { protocol: 'ICMPv6', ...ipv6Src, info: 'Echo (ping) request id=0x0042, seq=7, hop limit=64' },
  },
  {
    name: 'ICMPv6 echo reply',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x86dd,
      ip6(V6B, V6A, 58, icmp6(129, 0, Buffer.concat([u16(0x0042), u16(7), Buffer.alloc(8)])), { hlim: 255 }),
    ),
    want: {
      protocol: 'ICMPv6',
      src: V6B,
      dst: V6A,
      info: 'Echo (ping) reply id=0x0042, seq=7, hop limit=255',
    },
  },
  {
    name: 'neighbor solicitation',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x86dd,
      ip6(
        'fe80::a',
        'ff02::1:ff00:b',
        58,
        icmp6(135, 0, Buffer.concat([u32(0), ipToBytes('fe80::b'), Buffer.from([1, 1]), macBytes(MAC_A)])),
        { hlim: 255 },
      ),
      { dst: '33:33:ff:00:00:0b' },
    ),
    want: {
      protocol: 'ICMPv6',
      src: 'fe80::a',
      dst: 'ff02::1:ff00:b',
      info: `Neighbor Solicitation for fe80::b from ${MAC_A}`,
    },
  },
  {
    name: 'neighbor advertisement',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x86dd,
      ip6(
        'fe80::b',
        'fe80::a',
        58,
        icmp6(
          136,
          0,
          Buffer.concat([u32(0x60000000), ipToBytes('fe80::b'), Buffer.from([2, 1]), macBytes(MAC_B)]),
        ),
        { hlim: 255 },
      ),
      { src: MAC_B, dst: MAC_A },
    ),
    want: {
      protocol: 'ICMPv6',
      src: 'fe80::b',
      dst: 'fe80::a',
      info: `Neighbor Advertisement fe80::b (sol, ovr) is at ${MAC_B}`,
    },
  },
  {
    name: 'router solicitation',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x86dd,
      ip6(
        'fe80::a',
        'ff02::2',
        58,
        icmp6(133, 0, Buffer.concat([u32(0), Buffer.from([1, 1]), macBytes(MAC_A)])),
        { hlim: 255 },
      ),
      {
        dst: '33:33:00:00:00:02',
      },
    ),
    want: { protocol: 'ICMPv6', src: 'fe80::a', dst: 'ff02::2', info: `Router Solicitation from ${MAC_A}` },
  },
  {
    name: 'router advertisement',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x86dd,
      ip6(
        'fe80::b',
        'ff02::1',
        58,
        icmp6(
          134,
          0,
          Buffer.concat([
            Buffer.from([64, 0]),
            u16(1800),
            u32(0),
            u32(0),
            Buffer.from([1, 1]),
            macBytes(MAC_B),
          ]),
        ),
        { hlim: 255 },
      ),
      { src: MAC_B, dst: '33:33:00:00:00:01' },
    ),
    want: { protocol: 'ICMPv6', src: 'fe80::b', dst: 'ff02::1', info: `Router Advertisement from ${MAC_B}` },
  },
  {
    name: 'ICMPv6 packet too big',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x86dd,
      ip6(
        'fd00:1::1',
        V6A,
        58,
        icmp6(2, 0, Buffer.concat([u32(1280), ip6(V6A, V6B, 17, udpSeg(40000, 9999, Buffer.alloc(8)))])),
      ),
    ),
    want: { protocol: 'ICMPv6', src: 'fd00:1::1', dst: V6A, info: 'Packet Too Big, MTU 1280' },
    keys: ['Packet Too Big'],
  },
  {
    name: 'ICMPv6 port unreachable',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x86dd,
      ip6(
        V6B,
        V6A,
        58,
        icmp6(1, 4, Buffer.concat([u32(0), ip6(V6A, V6B, 17, udpSeg(40000, 9999, Buffer.alloc(8)))])),
      ),
    ),
    want: { protocol: 'ICMPv6', src: V6B, dst: V6A, info: 'Destination Unreachable (Port unreachable)' },
  },
  {
    name: 'ICMPv6 time exceeded',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x86dd,
      ip6(
        'fd00:1::1',
        V6A,
        58,
        icmp6(
          3,
          0,
          Buffer.concat([u32(0), ip6(V6A, V6B, 17, udpSeg(40000, 9999, Buffer.alloc(8)), { hlim: 1 })]),
        ),
      ),
    ),
    want: {
      protocol: 'ICMPv6',
      src: 'fd00:1::1',
      dst: V6A,
      info: 'Time Exceeded (hop limit exceeded in transit)',
    },
  },
  // TCP (RFC 9293)
  {
    name: 'TCP SYN with options',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(
        V4A,
        V4B,
        6,
        tcpSeg(40000, 80, {
          seq: 1000,
          flags: TCP.SYN,
          options: Buffer.from('020405b40402080a000000640000000001030307', 'hex'),
        }),
      ),
    ),
    want: {
      protocol: 'TCP',
      ...ipv4Src,
      info: '40000 → 80 [SYN] Seq=1000 Win=64240 Len=0 MSS=1460 SACK_PERM TSval=100 TSecr=0 WS=128',
    },
  },
  {
    name: 'TCP SYN-ACK over IPv6',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x86dd,
      ip6(V6B, V6A, 6, tcpSeg(80, 40000, { seq: 5000, ack: 1001, flags: TCP.SYN | TCP.ACK, win: 65160 })),
    ),
    want: {
      protocol: 'TCP',
      src: V6B,
      dst: V6A,
      info: '80 → 40000 [SYN, ACK] Seq=5000 Ack=1001 Win=65160 Len=0',
    },
  },
  {
    name: 'TCP data',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(
        V4A,
        V4B,
        6,
        tcpSeg(40000, 8080, {
          seq: 1001,
          ack: 5001,
          flags: TCP.PSH | TCP.ACK,
          win: 502,
          payload: Buffer.from('hello'),
        }),
      ),
    ),
    want: { protocol: 'TCP', ...ipv4Src, info: '40000 → 8080 [PSH, ACK] Seq=1001 Ack=5001 Win=502 Len=5' },
  },
  {
    name: 'TCP RST',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(V4B, V4A, 6, tcpSeg(81, 40000, { seq: 0, ack: 1001, flags: TCP.RST | TCP.ACK, win: 0 })),
    ),
    want: { protocol: 'TCP', src: V4B, dst: V4A, info: '81 → 40000 [RST, ACK] Seq=0 Ack=1001 Win=0 Len=0' },
  },
  {
    name: 'TCP FIN with ECN flags',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(
        V4A,
        V4B,
        6,
        tcpSeg(40003, 80, { seq: 7, ack: 9, flags: TCP.FIN | TCP.ACK | TCP.ECE | TCP.CWR, win: 100 }),
      ),
    ),
    want: { protocol: 'TCP', ...ipv4Src, info: '40003 → 80 [FIN, ACK, ECE, CWR] Seq=7 Ack=9 Win=100 Len=0' },
  },
  // UDP (RFC 768)
  {
    name: 'UDP',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4A, V4B, 17, udpSeg(40000, 9999, Buffer.from('hello, world')))),
    want: { protocol: 'UDP', ...ipv4Src, info: '40000 → 9999 Len=12' },
  },
  {
    name: 'UDP over IPv6 on a tun device',
    linkType: LINKTYPE_RAW,
    data: ip6(V6A, V6B, 17, udpSeg(40000, 9999, Buffer.alloc(100))),
    want: { protocol: 'UDP', ...ipv6Src, info: '40000 → 9999 Len=100' },
  },
  // DNS (RFC 1035)
  {
    name: 'DNS query',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4A, V4B, 17, udpSeg(40000, 53, dnsQuery))),
    want: { protocol: 'DNS', ...ipv4Src, info: 'Standard query 0x1234 A example.lab' },
  },
  {
    name: 'DNS response with compression pointers',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4B, V4A, 17, udpSeg(53, 40000, dnsResponse))),
    want: {
      protocol: 'DNS',
      src: V4B,
      dst: V4A,
      info: 'Standard query response 0x1234 A www.example.lab CNAME web.example.lab A 10.0.0.80',
    },
  },
  {
    name: 'DNS AAAA response over IPv6',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x86dd,
      ip6(
        V6B,
        V6A,
        17,
        udpSeg(
          53,
          40001,
          dnsMessage(
            0xbeef,
            0x8180,
            [{ name: dnsName('b.lab'), type: 28 }],
            [{ name: pointer(12), type: 28, rdata: ipToBytes('fd00::2') }],
          ),
        ),
      ),
    ),
    want: {
      protocol: 'DNS',
      src: V6B,
      dst: V6A,
      info: 'Standard query response 0xbeef AAAA b.lab AAAA fd00::2',
    },
  },
  {
    name: 'DNS no such name',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(
        V4B,
        V4A,
        17,
        udpSeg(53, 40000, dnsMessage(0x0001, 0x8183, [{ name: dnsName('nope.lab'), type: 1 }])),
      ),
    ),
    want: {
      protocol: 'DNS',
      src: V4B,
      dst: V4A,
      info: 'Standard query response 0x0001 No such name A nope.lab',
    },
  },
  {
    name: 'DNS over TCP',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(
        V4A,
        V4B,
        6,
        tcpSeg(40002, 53, {
          seq: 1,
          ack: 1,
          flags: TCP.PSH | TCP.ACK,
          payload: Buffer.concat([u16(dnsQuery.length), dnsQuery]),
        }),
      ),
    ),
    want: { protocol: 'DNS', ...ipv4Src, info: 'Standard query 0x1234 A example.lab' },
  },
  // WireGuard
  {
    name: 'WireGuard handshake initiation',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4A, V4B, 17, udpSeg(51820, 51820, wgInitiation(0x11223344)))),
    want: { protocol: 'WireGuard', ...ipv4Src, info: 'Handshake Initiation, sender=0x11223344' },
  },
  {
    name: 'WireGuard handshake response',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4B, V4A, 17, udpSeg(51820, 51820, wgResponse(0x55667788, 0x11223344)))),
    want: {
      protocol: 'WireGuard',
      src: V4B,
      dst: V4A,
      info: 'Handshake Response, sender=0x55667788, receiver=0x11223344',
    },
  },
  {
    name: 'WireGuard cookie reply',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4B, V4A, 17, udpSeg(51820, 51820, wgCookie(0x11223344)))),
    want: { protocol: 'WireGuard', src: V4B, dst: V4A, info: 'Cookie Reply, receiver=0x11223344' },
  },
  {
    name: 'WireGuard transport data on another port (heuristic)',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x86dd, ip6(V6A, V6B, 17, udpSeg(40000, 43210, wgData(0x55667788, 5, 96)))),
    want: {
      protocol: 'WireGuard',
      ...ipv6Src,
      info: 'Transport Data, receiver=0x55667788, counter=5, datalen=96',
    },
  },
  {
    name: 'WireGuard keepalive',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4A, V4B, 17, udpSeg(51820, 51820, wgData(0x55667788, 6, 0)))),
    want: { protocol: 'WireGuard', ...ipv4Src, info: 'Keepalive, receiver=0x55667788, counter=6' },
  },
  // OpenVPN
  {
    name: 'OpenVPN hard reset client v2 over UDP',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4A, V4B, 17, udpSeg(40000, 1194, ovpn(7)))),
    want: { protocol: 'OpenVPN', ...ipv4Src, info: 'MessageType: P_CONTROL_HARD_RESET_CLIENT_V2, key id 0' },
    keys: ['P_CONTROL_HARD_RESET_CLIENT_V2'],
  },
  {
    name: 'OpenVPN hard reset server v2 over UDP',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4B, V4A, 17, udpSeg(1194, 40000, ovpn(8)))),
    want: {
      protocol: 'OpenVPN',
      src: V4B,
      dst: V4A,
      info: 'MessageType: P_CONTROL_HARD_RESET_SERVER_V2, key id 0',
    },
    keys: ['P_CONTROL_HARD_RESET_SERVER_V2'],
  },
  {
    name: 'OpenVPN data v2, key id 1',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(
        V4A,
        V4B,
        17,
        udpSeg(40000, 1194, Buffer.concat([Buffer.from([(9 << 3) | 1, 0, 0, 1]), Buffer.alloc(40, 0x77)])),
      ),
    ),
    want: { protocol: 'OpenVPN', ...ipv4Src, info: 'MessageType: P_DATA_V2, key id 1' },
    keys: ['P_DATA_V2'],
  },
  {
    name: 'OpenVPN over TCP',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(
        V4A,
        V4B,
        6,
        tcpSeg(40000, 1194, {
          seq: 1,
          ack: 1,
          flags: TCP.PSH | TCP.ACK,
          payload: Buffer.concat([u16(14), ovpn(7)]),
        }),
      ),
    ),
    want: { protocol: 'OpenVPN', ...ipv4Src, info: 'MessageType: P_CONTROL_HARD_RESET_CLIENT_V2, key id 0' },
    keys: ['P_CONTROL_HARD_RESET_CLIENT_V2'],
  },
  // IPv4 fragments, VLAN tags, IPv6 extension headers
  {
    name: 'IPv4 first fragment',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(V4A, V4B, 17, udpSeg(40000, 9999, Buffer.alloc(1472)).subarray(0, 1480), { id: 0x04d2, mf: true }),
    ),
    want: { protocol: 'IPv4', ...ipv4Src, info: 'Fragmented IP protocol (proto=UDP 17, off=0, ID=04d2)' },
  },
  {
    name: 'IPv4 last fragment',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4A, V4B, 17, Buffer.alloc(100), { id: 0x04d3, offset: 1480 })),
    want: { protocol: 'IPv4', ...ipv4Src, info: 'Fragmented IP protocol (proto=UDP 17, off=1480, ID=04d3)' },
  },
  {
    name: '802.1Q tagged ICMP',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4A, V4B, 1, icmp4(8, 0, Buffer.concat([u16(1), u16(1)]))), { vlans: [10] }),
    want: { protocol: 'ICMP', ...ipv4Src, info: 'Echo (ping) request id=0x0001, seq=1/256, ttl=64' },
  },
  {
    name: 'QinQ: two 802.1Q tags',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4A, V4B, 17, udpSeg(1, 2, Buffer.alloc(3))), { vlans: [100, 10] }),
    want: { protocol: 'UDP', ...ipv4Src, info: '1 → 2 Len=3' },
  },
  {
    name: 'IPv6 hop-by-hop, routing, destination options, then UDP',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x86dd,
      ip6(
        V6A,
        V6B,
        0,
        Buffer.concat([ext6(43), routingHeader(60), ext6(17), udpSeg(40000, 9999, Buffer.alloc(4))]),
      ),
    ),
    want: { protocol: 'UDP', ...ipv6Src, info: '40000 → 9999 Len=4' },
  },
  {
    name: 'IPv6 fragment',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x86dd,
      ip6(V6A, V6B, 44, Buffer.concat([Buffer.from([17, 0]), u16(0x0001), u32(0xabcd), Buffer.alloc(64)])),
    ),
    want: { protocol: 'IPv6', ...ipv6Src, info: 'IPv6 fragment (off=0 more=y ident=0x0000abcd nxt=17)' },
  },
  // IGMP (RFC 2236, RFC 3376): the version goes in the Protocol column, as tshark puts it
  {
    name: 'IGMPv2 membership report',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(V4A, '239.1.2.3', 2, Buffer.concat([Buffer.from([0x16, 0, 0, 0]), ipToBytes('239.1.2.3')]), {
        ttl: 1,
      }),
    ),
    want: { protocol: 'IGMPv2', src: V4A, dst: '239.1.2.3', info: 'Membership Report group 239.1.2.3' },
  },
  {
    name: 'IGMPv2 leave',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(V4A, '224.0.0.2', 2, Buffer.concat([Buffer.from([0x17, 0, 0, 0]), ipToBytes('239.1.2.3')]), {
        ttl: 1,
      }),
    ),
    want: { protocol: 'IGMPv2', src: V4A, dst: '224.0.0.2', info: 'Leave Group 239.1.2.3' },
  },
  {
    name: 'IGMPv3 general query',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(
        V4B,
        '224.0.0.1',
        2,
        Buffer.concat([Buffer.from([0x11, 100, 0, 0]), u32(0), Buffer.from([2, 125, 0, 0])]),
        { ttl: 1 },
      ),
    ),
    want: { protocol: 'IGMPv3', src: V4B, dst: '224.0.0.1', info: 'Membership Query, general' },
  },
  {
    name: 'IGMPv3 report',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(
        V4A,
        '224.0.0.22',
        2,
        Buffer.concat([
          Buffer.from([0x22, 0, 0, 0]),
          u16(0),
          u16(1),
          Buffer.from([4, 0]),
          u16(0),
          ipToBytes('239.1.2.3'),
        ]),
        { ttl: 1 },
      ),
    ),
    want: { protocol: 'IGMPv3', src: V4A, dst: '224.0.0.22', info: 'Membership Report groups 239.1.2.3' },
    keys: ['Membership Report', '239.1.2.3'],
  },
  {
    name: 'ICMP timestamp request',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4A, V4B, 1, icmp4(13, 0, Buffer.concat([u16(5), u16(6)]), Buffer.alloc(12)))),
    want: { protocol: 'ICMP', ...ipv4Src, info: 'Timestamp request id=0x0005, seq=6/1536, ttl=64' },
  },
  // Other IP protocols and tunnels
  {
    name: 'ESP',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4A, V4B, 50, Buffer.concat([u32(0x1000), u32(1), Buffer.alloc(48)]))),
    want: { protocol: 'ESP', ...ipv4Src, info: 'ESP (SPI=0x00001000)' },
  },
  {
    name: 'GRE carrying IPv4',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(
        '192.0.2.1',
        '192.0.2.2',
        47,
        Buffer.concat([u16(0), u16(0x0800), ip4(V4A, V4B, 17, udpSeg(5, 6, Buffer.alloc(2)))]),
      ),
    ),
    want: { protocol: 'UDP', ...ipv4Src, info: '5 → 6 Len=2' },
  },
  {
    name: 'IPv6 in IPv4 (6in4)',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4('192.0.2.1', '192.0.2.2', 41, ip6(V6A, V6B, 58, icmp6(128, 0, Buffer.concat([u16(9), u16(9)])))),
    ),
    want: { protocol: 'ICMPv6', ...ipv6Src, info: 'Echo (ping) request id=0x0009, seq=9, hop limit=64' },
  },
  {
    name: 'VXLAN carrying ARP',
    linkType: LINKTYPE_ETHERNET,
    data: eth(
      0x0800,
      ip4(
        '192.0.2.1',
        '192.0.2.2',
        17,
        udpSeg(
          50000,
          4789,
          Buffer.concat([
            Buffer.from('0800000000000a00', 'hex'),
            eth(0x0806, arpBody(1, MAC_A, V4A, '00:00:00:00:00:00', V4B), { dst: 'ff:ff:ff:ff:ff:ff' }),
          ]),
        ),
      ),
    ),
    want: { protocol: 'ARP', src: MAC_A, dst: 'ff:ff:ff:ff:ff:ff', info: 'Who has 10.0.0.2? Tell 10.0.0.1' },
  },
  {
    name: 'an IP protocol without a name',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x0800, ip4(V4A, V4B, 253, Buffer.alloc(10))),
    want: { protocol: 'IPv4', ...ipv4Src, info: 'IP proto 253, 10 bytes' },
    keys: [],
  },
  {
    name: 'an unknown EtherType',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x88b5, Buffer.alloc(46)),
    want: { protocol: '0x88b5', ...macs, info: 'Ethernet II, type 0x88b5, 46 bytes' },
    keys: [],
  },
  {
    name: 'LLDP, named',
    linkType: LINKTYPE_ETHERNET,
    data: eth(0x88cc, Buffer.from('020704020000000001040303657468300602007800000000000000', 'hex')),
    want: { protocol: 'LLDP', ...macs, info: 'LLDP (EtherType 0x88cc), 46 bytes' },
    keys: [],
  },
  // Raw IP (tun / WireGuard devices)
  {
    name: 'raw IPv4 ICMP (a WireGuard device)',
    linkType: LINKTYPE_RAW,
    data: ip4('10.9.0.1', '10.9.0.2', 1, icmp4(8, 0, Buffer.concat([u16(0x0abc), u16(3)]), Buffer.alloc(56))),
    want: {
      protocol: 'ICMP',
      src: '10.9.0.1',
      dst: '10.9.0.2',
      info: 'Echo (ping) request id=0x0abc, seq=3/768, ttl=64',
    },
  },
  {
    name: 'raw IPv6 TCP',
    linkType: LINKTYPE_RAW,
    data: ip6('fd09::1', 'fd09::2', 6, tcpSeg(40000, 443, { seq: 1, flags: TCP.SYN })),
    want: {
      protocol: 'TCP',
      src: 'fd09::1',
      dst: 'fd09::2',
      info: '40000 → 443 [SYN] Seq=1 Win=64240 Len=0',
    },
  },
  // Cut and malformed
  {
    name: 'a cut IPv4 header',
    linkType: LINKTYPE_RAW,
    data: ip4(V4A, V4B, 1, Buffer.alloc(8)).subarray(0, 12),
    want: { protocol: 'IPv4', src: '', dst: '', info: '[Malformed: 12 of 20 header bytes]' },
    notTshark: 'tshark marks it [Malformed Packet] under IPv4 and shows no Info we could compare',
  },
]

function arpBody(op: number, sha: string, spa: string, tha: string, tpa: string): Buffer {
  return Buffer.concat([
    u16(1),
    u16(0x0800),
    Buffer.from([6, 4]),
    u16(op),
    macBytes(sha),
    ipToBytes(spa),
    macBytes(tha),
    ipToBytes(tpa),
  ])
}

/** A type 0 routing header with one address (RFC 8200 4.4 shape: next, length, type, segments left, reserved, addresses). */
function routingHeader(next: number): Buffer {
  return Buffer.concat([Buffer.from([next, 2, 0, 0]), u32(0), ipToBytes('fd00::9')])
}

/* ------------------------------------------------------------------------------------------------
 * 1. Hand-built frames
 * ---------------------------------------------------------------------------------------------- */

describe('summaries of hand-built frames', () => {
  for (const c of cases)
    it(c.name, () => {
      expect(dissect(c.data, c.linkType)).toEqual(c.want)
    })

  it('a DNS name whose pointer points at itself ends (a loop), and says the answer is malformed', () => {
    const m = Buffer.concat([
      u16(7),
      u16(0x8180),
      u16(1),
      u16(1),
      u16(0),
      u16(0),
      dnsName('a.lab'),
      u16(1),
      u16(1),
      pointer(23),
      u16(1),
      u16(1),
      u32(0),
      u16(4),
      ipToBytes(V4A),
    ])
    // The answer's name (at 23) points at 23.
    const d = dissect(eth(0x0800, ip4(V4B, V4A, 17, udpSeg(53, 40000, m))), LINKTYPE_ETHERNET)
    expect(d).toEqual({
      protocol: 'DNS',
      src: V4B,
      dst: V4A,
      info: 'Standard query response 0x0007 A a.lab [Malformed answer]',
    })
  })

  it('two DNS pointers to each other end too', () => {
    const m = Buffer.concat([
      u16(7),
      u16(0x0100),
      u16(1),
      u16(0),
      u16(0),
      u16(0),
      pointer(14),
      pointer(12),
      u16(1),
      u16(1),
    ])
    expect(dissect(eth(0x0800, ip4(V4A, V4B, 17, udpSeg(40000, 53, m))), LINKTYPE_ETHERNET).info).toBe(
      'Standard query 0x0007 [Malformed question]',
    )
  })

  it('a DNS root name and an unknown type', () => {
    const m = dnsMessage(9, 0x0100, [{ name: dnsName(''), type: 65280 }])
    expect(dissect(eth(0x0800, ip4(V4A, V4B, 17, udpSeg(40000, 53, m))), LINKTYPE_ETHERNET).info).toBe(
      'Standard query 0x0009 Unknown (65280) <Root>',
    )
  })

  it('Ethernet padding is not payload: the IP total length says where the packet ends', () => {
    const d = dissect(eth(0x0800, ip4(V4A, V4B, 17, udpSeg(1, 2, Buffer.alloc(0)))), LINKTYPE_ETHERNET)
    expect(d.info).toBe('1 → 2 Len=0')
  })

  it('cut headers say how much of them there is, under the protocol of the header', () => {
    expect(dissect(Buffer.alloc(0), LINKTYPE_ETHERNET)).toEqual({
      protocol: 'Ethernet',
      src: '',
      dst: '',
      info: '[Malformed: 0 of 14 header bytes]',
    })
    const tcpFrame = eth(0x0800, ip4(V4A, V4B, 6, tcpSeg(40000, 80, { flags: TCP.SYN }))).subarray(
      0,
      14 + 20 + 12,
    )
    expect(dissect(tcpFrame, LINKTYPE_ETHERNET)).toEqual({
      protocol: 'TCP',
      ...ipv4Src,
      info: '40000 → 80 [Malformed: 12 of 20 header bytes]',
    })
    const arpFrame = eth(0x0806, arpBody(1, MAC_A, V4A, MAC_B, V4B)).subarray(0, 14 + 20)
    expect(dissect(arpFrame, LINKTYPE_ETHERNET)).toEqual({
      protocol: 'ARP',
      ...macs,
      info: '[Malformed: 20 of 28 header bytes]',
    })
    const ip6Frame = ip6(V6A, V6B, 0, Buffer.concat([Buffer.from([17, 4]), Buffer.alloc(6)]))
    expect(dissect(ip6Frame, LINKTYPE_RAW)).toEqual({
      protocol: 'IPv6',
      ...ipv6Src,
      info: '[Malformed: 8 of 40 header bytes]',
    })
  })

  it('contradicting lengths are named', () => {
    const bad = ip4(V4A, V4B, 17, Buffer.alloc(8))
    bad.writeUInt16BE(10, 2)
    expect(dissect(bad, LINKTYPE_RAW).info).toBe('[Malformed: total length 10 below the header length 20]')
    expect(dissect(Buffer.from([0x30, 0, 0]), LINKTYPE_RAW)).toEqual({
      protocol: 'Raw',
      src: '',
      dst: '',
      info: 'Raw packet data, IP version 3, 3 bytes',
    })
  })

  it('encapsulation deeper than the limit stops with a line saying so', () => {
    let packet = ip4(V4A, V4B, 17, udpSeg(1, 2, Buffer.alloc(0)))
    for (let i = 0; i < 20; i++) packet = ip4('192.0.2.1', '192.0.2.2', 4, packet)
    expect(dissect(packet, LINKTYPE_RAW)).toEqual({
      protocol: 'IPv4',
      src: '192.0.2.1',
      dst: '192.0.2.2',
      info: '[Encapsulation deeper than 8 levels]',
    })
  })

  it('an unknown link type', () => {
    expect(dissect(Buffer.alloc(4), 113)).toEqual({
      protocol: 'Unknown',
      src: '',
      dst: '',
      info: 'Link type 113, 4 bytes',
    })
  })
})

/* ------------------------------------------------------------------------------------------------
 * 2. Properties (and `npm run fuzz`: NSLAB_FUZZ_RUNS raises the runs)
 * ---------------------------------------------------------------------------------------------- */

function wellFormed(d: Dissection): void {
  expect(typeof d.protocol).toBe('string')
  expect(d.protocol).not.toBe('')
  expect(typeof d.src).toBe('string')
  expect(typeof d.dst).toBe('string')
  expect(typeof d.info).toBe('string')
  expect(d.info).not.toMatch(/\n/)
  expect(d.info).not.toMatch(/Dissector error/)
}

/* ------------------------------------------------------------------------------------------------
 * Generated frames: well-formed stacks with random fields, for the properties and the tshark check
 * ---------------------------------------------------------------------------------------------- */

const arbV4 = fc
  .uint8Array({ minLength: 4, maxLength: 4 })
  .map((b) => bytesToIp(Uint8Array.from([10, b[1]!, b[2]!, b[3]!])))
const arbV6 = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .map((b) => bytesToIp(Uint8Array.from([0xfd, ...b.subarray(1)])))
/** Ephemeral ports tshark has no dissector registered on, and the ports of our table. */
const ephemeral = fc.integer({ min: 49152, max: 51000 })
const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,9}$/)
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'))

const arbDns: fc.Arbitrary<Buffer> = fc
  .record({
    id: fc.nat(0xffff),
    response: fc.boolean(),
    rcode: fc.constantFrom(0, 0, 2, 3, 5),
    qname: domain,
    qtype: fc.constantFrom(1, 2, 5, 6, 12, 15, 16, 28, 33, 255),
    answers: fc.array(
      fc.oneof(
        arbV4.map((a) => ({ type: 1, rdata: ipToBytes(a) })),
        arbV6.map((a) => ({ type: 28, rdata: ipToBytes(a) })),
        fc.tuple(fc.constantFrom(2, 5, 12), domain).map(([type, d]) => ({ type, rdata: dnsName(d) })),
        fc
          .tuple(fc.nat(100), domain)
          .map(([pref, d]) => ({ type: 15, rdata: Buffer.concat([u16(pref), dnsName(d)]) })),
        fc.tuple(fc.nat(100), fc.nat(100), fc.nat(0xffff), domain).map(([prio, w, port, d]) => ({
          type: 33,
          rdata: Buffer.concat([u16(prio), u16(w), u16(port), dnsName(d)]),
        })),
        fc.tuple(domain, domain).map(([m, r]) => ({
          type: 6,
          rdata: Buffer.concat([dnsName(m), dnsName(r), Buffer.alloc(20, 1)]),
        })),
        label.map((t) => ({ type: 16, rdata: Buffer.concat([Buffer.from([t.length]), Buffer.from(t)]) })),
      ),
      { maxLength: 3 },
    ),
  })
  .map((d) =>
    dnsMessage(
      d.id,
      d.response ? 0x8180 | d.rcode : 0x0100,
      [{ name: dnsName(d.qname), type: d.qtype }],
      d.response ? d.answers.map((a) => ({ name: pointer(12), ...a })) : [],
    ),
  )

const index = fc.nat(0xffffffff)
const arbWireGuard: fc.Arbitrary<Buffer> = fc.oneof(
  index.map(wgInitiation),
  fc.tuple(index, index).map(([s, r]) => wgResponse(s, r)),
  index.map(wgCookie),
  fc.tuple(index, fc.nat(1_000_000), fc.nat(6)).map(([r, c, n]) => wgData(r, c, n * 16)),
)
const arbOpenVpn: fc.Arbitrary<Buffer> = fc
  .tuple(fc.constantFrom(1, 2, 3, 4, 5, 7, 8), fc.nat(7))
  .map(([op, k]) => ovpn(op, k))

const arbUdp: fc.Arbitrary<Buffer> = fc.oneof(
  // Text, not random bytes: tshark's heuristics (RTCP's, …) claim some random payloads on any port.
  fc
    .tuple(ephemeral, ephemeral, fc.stringMatching(/^[a-z ]{0,40}$/))
    .map(([s, d, p]) => udpSeg(s, d, Buffer.from(p))),
  fc
    .tuple(ephemeral, arbDns, fc.boolean())
    .map(([p, m, reply]) => (reply ? udpSeg(53, p, m) : udpSeg(p, 53, m))),
  fc
    .tuple(ephemeral, arbWireGuard, fc.boolean())
    .map(([p, m, std]) => udpSeg(std ? 51820 : p, std ? 51820 : p + 1, m)),
  fc.tuple(ephemeral, arbOpenVpn).map(([p, m]) => udpSeg(p, 1194, m)),
)

const tcpOption = fc.oneof(
  fc.integer({ min: 536, max: 9000 }).map((mss) => Buffer.concat([Buffer.from([2, 4]), u16(mss)])),
  fc.nat(14).map((ws) => Buffer.from([3, 3, ws])),
  fc.constant(Buffer.from([4, 2])),
  fc.tuple(index, index).map(([a, b]) => Buffer.concat([Buffer.from([8, 10]), u32(a), u32(b)])),
  fc.constant(Buffer.from([1])),
)
const arbTcp: fc.Arbitrary<Buffer> = fc
  .record({
    sport: ephemeral,
    dport: fc.oneof(ephemeral, fc.constant(53)),
    seq: index,
    ack: index,
    flags: fc.nat(0xff),
    win: fc.nat(0xffff),
    options: fc.array(tcpOption, { maxLength: 4 }),
    dns: arbDns,
    data: fc.uint8Array({ maxLength: 30 }),
  })
  .map((t) => {
    const raw = Buffer.concat(t.options)
    const options = Buffer.concat([raw, Buffer.alloc((4 - (raw.length % 4)) % 4)])
    const payload = t.dport === 53 ? Buffer.concat([u16(t.dns.length), t.dns]) : Buffer.from(t.data)
    return tcpSeg(t.sport, t.dport, { ...t, options, payload })
  })

const arbIcmp: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .tuple(fc.constantFrom(0, 8), fc.nat(0xffff), fc.nat(0xffff))
    .map(([t, id, seq]) => icmp4(t, 0, Buffer.concat([u16(id), u16(seq)]), Buffer.alloc(8))),
  fc
    .tuple(fc.constantFrom(3, 11), fc.nat(15), fc.nat(0xffff))
    .map(([t, code, mtu]) =>
      icmp4(
        t,
        t === 11 ? code % 2 : code,
        Buffer.concat([u16(0), u16(mtu)]),
        ip4('10.0.0.1', '10.0.0.2', 17, udpSeg(50000, 50001, Buffer.alloc(0))),
      ),
    ),
)
const arbIcmpv6: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .tuple(fc.constantFrom(128, 129), fc.nat(0xffff), fc.nat(0xffff))
    .map(([t, id, seq]) => icmp6(t, 0, Buffer.concat([u16(id), u16(seq)]))),
  fc
    .tuple(arbV6, fc.uint8Array({ minLength: 6, maxLength: 6 }))
    .map(([target, m]) => icmp6(135, 0, Buffer.concat([u32(0), ipToBytes(target), Buffer.from([1, 1]), m]))),
  fc
    .tuple(arbV6, fc.nat(7), fc.uint8Array({ minLength: 6, maxLength: 6 }))
    .map(([target, f, m]) =>
      icmp6(136, 0, Buffer.concat([u32(f * 0x20000000), ipToBytes(target), Buffer.from([2, 1]), m])),
    ),
  fc
    .tuple(fc.constantFrom(1, 3), fc.nat(6))
    .map(([t, code]) => icmp6(t, t === 3 ? code % 2 : code, Buffer.concat([u32(0), Buffer.alloc(48)]))),
)

/** A transport (or ICMP) segment and its IP protocol number, for IPv4 or IPv6. */
const arbL4 = (v6: boolean): fc.Arbitrary<[number, Buffer]> =>
  fc.oneof(
    arbUdp.map((b): [number, Buffer] => [17, b]),
    arbTcp.map((b): [number, Buffer] => [6, b]),
    v6 ? arbIcmpv6.map((b): [number, Buffer] => [58, b]) : arbIcmp.map((b): [number, Buffer] => [1, b]),
  )

/** IPv6 extension headers before the upper layer: hop-by-hop (first only), routing, destination options. */
const arbExtensions = fc.tuple(fc.boolean(), fc.array(fc.constantFrom(43, 60), { maxLength: 3 }))

function chain(first: boolean, rest: number[], upper: number, l4: Buffer): [number, Buffer] {
  const kinds = [...(first ? [0] : []), ...rest]
  let next = upper
  let body = l4
  for (const kind of kinds.reverse()) {
    body = Buffer.concat([kind === 43 ? routingHeader(next) : ext6(next), body])
    next = kind
  }
  return [next, body]
}

const arbPacket: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .tuple(arbV4, arbV4, arbL4(false), fc.integer({ min: 1, max: 255 }))
    .map(([s, d, [p, l4], ttl]) => ip4(s, d, p, l4, { ttl })),
  fc
    .tuple(arbV6, arbV6, arbL4(true), fc.integer({ min: 1, max: 255 }), arbExtensions)
    .map(([s, d, [p, l4], hlim, [hbh, rest]]) => {
      const [next, body] = chain(hbh, rest, p, l4)
      return ip6(s, d, next, body, { hlim })
    }),
  // Fragments, each with an ID of its own (so tshark's reassembly never completes one).
  fc
    .tuple(arbV4, arbV4, fc.constantFrom(1, 6, 17, 47, 50), fc.nat(0xffff), fc.nat(200), fc.boolean())
    .filter(([, , , , off, mf]) => off > 0 || mf)
    .map(([s, d, p, id, off, mf]) => ip4(s, d, p, Buffer.alloc(64, 0x33), { id, offset: off * 8, mf })),
  fc
    .tuple(arbV6, arbV6, fc.constantFrom(6, 17, 58), fc.nat(0xffffffff), fc.nat(200), fc.boolean())
    .filter(([, , , , off, more]) => off > 0 || more)
    .map(([s, d, p, ident, off, more]) =>
      ip6(
        s,
        d,
        44,
        Buffer.concat([
          Buffer.from([p, 0]),
          u16((off << 3) | Number(more)),
          u32(ident),
          Buffer.alloc(64, 0x33),
        ]),
      ),
    ),
)

const generatedFrame: fc.Arbitrary<{ linkType: number; data: Buffer }> = fc.oneof(
  arbPacket.map((data) => ({ linkType: LINKTYPE_RAW, data })),
  fc.tuple(arbPacket, fc.array(fc.nat(4094), { maxLength: 2 })).map(([p, vlans]) => ({
    linkType: LINKTYPE_ETHERNET,
    data: eth(p[0]! >> 4 === 4 ? 0x0800 : 0x86dd, p, { vlans }),
  })),
  fc
    .tuple(fc.constantFrom(1, 2), arbV4, arbV4, fc.uint8Array({ minLength: 6, maxLength: 6 }))
    .map(([op, spa, tpa, m]) => {
      const sha = Array.from(m, (x) => x.toString(16).padStart(2, '0')).join(':')
      return {
        linkType: LINKTYPE_ETHERNET,
        data: eth(0x0806, arpBody(op, sha, spa, op === 1 ? '00:00:00:00:00:00' : MAC_B, tpa)),
      }
    }),
)

describe('dissect never throws', { timeout: FUZZ_TIMEOUT }, () => {
  const linkType = fc.constantFrom(LINKTYPE_ETHERNET, LINKTYPE_RAW)

  it('on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), linkType, (b, lt) => wellFormed(dissect(b, lt))),
      fuzzRuns(2000),
    )
  })

  it('on arbitrary bytes behind real headers (IPv4, IPv6, UDP ports of the table, VLAN, GRE)', () => {
    const heads = cases.flatMap((c) =>
      [16, 34, 42, 54, 62]
        .filter((n) => n < c.data.length)
        .map((n) => ({ lt: c.linkType, head: c.data.subarray(0, n) })),
    )
    fc.assert(
      fc.property(fc.constantFrom(...heads), fc.uint8Array({ maxLength: 200 }), (h, tail) =>
        wellFormed(dissect(Buffer.concat([h.head, tail]), h.lt)),
      ),
      fuzzRuns(3000),
    )
  })

  it('on generated well-formed frames, and always with src and dst', () => {
    fc.assert(
      fc.property(generatedFrame, (f) => {
        const d = dissect(f.data, f.linkType)
        wellFormed(d)
        expect(d.info).not.toMatch(/Malformed/)
        expect(d.src).not.toBe('')
        expect(d.dst).not.toBe('')
      }),
      fuzzRuns(2000),
    )
  })

  it('on generated frames cut anywhere', () => {
    fc.assert(
      fc.property(generatedFrame, fc.nat(), (f, n) =>
        wellFormed(dissect(f.data.subarray(0, n % (f.data.length + 1)), f.linkType)),
      ),
      fuzzRuns(2000),
    )
  })

  it('on every real frame cut at every length', () => {
    for (const c of cases)
      for (let n = 0; n <= c.data.length; n++) wellFormed(dissect(c.data.subarray(0, n), c.linkType))
  })

  it('on real frames with random bytes changed', () => {
    const edit = fc.record({
      at: fc.nat(),
      value: fc.constantFrom(0, 1, 4, 6, 0x11, 0x2c, 0x3a, 0x40, 0x45, 0x60, 0x80, 0xc0, 0xff),
    })
    fc.assert(
      fc.property(fc.constantFrom(...cases), fc.array(edit, { minLength: 1, maxLength: 8 }), (c, edits) => {
        const b = Buffer.from(c.data)
        for (const { at, value } of edits) b[at % b.length] = value
        wellFormed(dissect(b, c.linkType))
      }),
      fuzzRuns(3000),
    )
  })
})

/* ------------------------------------------------------------------------------------------------
 * 3. tshark as the authority
 * ---------------------------------------------------------------------------------------------- */

/** Protocol names where ours and tshark's differ on purpose: ours → tshark's. None so far. */
const PROTOCOL_NAMES: ReadonlyMap<string, string> = new Map([])

/** What tshark adds to Info that a per-packet summary cannot know (request/response pairing, reassembly, ARP's memory of earlier packets). */
const TSHARK_DECORATIONS = [
  / \((no response found!|reply in \d+|request in \d+)\)/g,
  / \[Reassembled in #\d+\]/g,
  / \(duplicate use of [\d.]+ detected!\)/g,
]

/** What our Info adds to tshark's: the MTU of ICMP "too big" errors, OpenVPN's key id. */
const OUR_ADDITIONS = [/, MTU \d+$/, /, key id \d$/]

function normalise(info: string): string {
  let s = info.replace(/\s+/g, ' ').trim()
  for (const d of TSHARK_DECORATIONS) s = s.replace(d, '')
  return s
}

function withoutAdditions(info: string): string {
  let s = info
  for (const a of OUR_ADDITIONS) s = s.replace(a, '')
  return s
}

/**
 * tshark's preferences for a per-packet view: raw sequence numbers, no stream analysis or TCP
 * reassembly. IP reassembly stays on, as in Wireshark's default view: each fragment of the corpus
 * has an ID of its own, so none completes and each shows as `Fragmented IP protocol`.
 */
const PREFS = [
  'tcp.relative_sequence_numbers:FALSE',
  'tcp.analyze_sequence_numbers:FALSE',
  'tcp.desegment_tcp_streams:FALSE',
  'dns.desegment_dns_messages:FALSE',
]

const dir = mkdtempSync(join(tmpdir(), 'nslab-dissect-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0

/** tshark's Protocol and Info columns for frames of both link types, written by our pcapng writer. */
async function tsharkColumns(
  frames: { linkType: number; data: Uint8Array }[],
): Promise<{ protocol: string; info: string }[]> {
  const file = join(dir, `frames-${files++}.pcapng`)
  const interfaces = [
    { name: 'eth', linkType: LINKTYPE_ETHERNET },
    { name: 'tun', linkType: LINKTYPE_RAW },
  ]
  const packets: PacketOptions[] = frames.map((f, i) => ({
    interfaceId: f.linkType === LINKTYPE_RAW ? 1 : 0,
    timestamp: 1_700_000_000_000_000_000n + BigInt(i) * 1000n,
    data: f.data,
  }))
  await writeBlocks(file, pcapngBlocks({ interfaces, packets }))
  const rows = tsharkFields(file, ['frame.number', '_ws.col.Protocol', '_ws.col.Info'], undefined, PREFS)
  expect(rows.length).toBe(frames.length)
  return rows.map(([, protocol = '', info = '']) => ({ protocol, info: normalise(info) }))
}

/** Where ours and tshark's disagree: the protocol (case aside, through PROTOCOL_NAMES), and Info (equal, or `keys` in both). */
function disagreements(
  name: string,
  ours: Dissection,
  theirs: { protocol: string; info: string },
  keys?: string[],
): string[] {
  const found: string[] = []
  const ourProtocol = PROTOCOL_NAMES.get(ours.protocol) ?? ours.protocol
  if (ourProtocol.toLowerCase() !== theirs.protocol.toLowerCase())
    found.push(`${name}: protocol ${ours.protocol} vs tshark ${theirs.protocol}`)
  const both = `\n  ours:   ${ours.info}\n  tshark: ${theirs.info}`
  if (keys === undefined) {
    if (withoutAdditions(ours.info) !== theirs.info) found.push(`${name}: info${both}`)
  } else {
    for (const k of keys)
      if (!ours.info.includes(k) || !theirs.info.includes(k))
        found.push(`${name}: key ${JSON.stringify(k)}${both}`)
  }
  return found
}

describe('tshark agrees', () => {
  it('on the Protocol column and Info (or its key pieces), for every frame of the corpus, both link types', async () => {
    const checked = cases.filter((c) => c.notTshark === undefined)
    const theirs = await tsharkColumns(checked)
    expect(checked.flatMap((c, i) => disagreements(c.name, c.want, theirs[i]!, c.keys))).toEqual([])
  })

  it('on generated frames: random addresses, ports, ids, flags, options, DNS names, WireGuard and OpenVPN messages', async () => {
    const count = Math.min(fuzzRuns(400).numRuns ?? 400, 20000)
    const frames = fc.sample(generatedFrame, { numRuns: count, seed: 20240601 })
    const theirs = await tsharkColumns(frames)
    const found = frames.flatMap((f, i) =>
      disagreements(
        `#${i + 1} ${Buffer.from(f.data).toString('hex')}`,
        dissect(f.data, f.linkType),
        theirs[i]!,
      ),
    )
    expect(found.slice(0, 20)).toEqual([])
  })
})
