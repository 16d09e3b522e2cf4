/** The frame decoder and packet filters (harness/capture/match.ts): pure, no kernel. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  PacketFilterError,
  compileFilter,
  decodePacket,
  summarizePacket,
  type PacketFilter,
} from '../../harness/capture/match.js'
import { ipToBytes } from '../../harness/util/ip.js'

const MAC_A = Buffer.from('02aa00000001', 'hex')
const MAC_B = Buffer.from('02bb00000002', 'hex')

function ether(type: number, payload: Buffer, vlan?: number): Buffer {
  const tag = vlan === undefined ? Buffer.alloc(0) : Buffer.from([0x81, 0x00, vlan >> 8, vlan & 0xff])
  const t = Buffer.alloc(2)
  t.writeUInt16BE(type)
  return Buffer.concat([MAC_B, MAC_A, tag, t, payload])
}

function ipv4(src: string, dst: string, protocol: number, payload: Buffer, fragOffset = 0): Buffer {
  const h = Buffer.alloc(20)
  h[0] = 0x45
  h.writeUInt16BE(20 + payload.length, 2)
  h.writeUInt16BE(fragOffset, 6)
  h[8] = 64
  h[9] = protocol
  ipToBytes(src).copy(h, 12)
  ipToBytes(dst).copy(h, 16)
  return Buffer.concat([h, payload])
}

function ipv6(src: string, dst: string, next: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40)
  h[0] = 0x60
  h.writeUInt16BE(payload.length, 4)
  h[6] = next
  h[7] = 64
  ipToBytes(src).copy(h, 8)
  ipToBytes(dst).copy(h, 24)
  return Buffer.concat([h, payload])
}

const ports = (src: number, dst: number, rest = 4): Buffer => {
  const b = Buffer.alloc(4 + rest)
  b.writeUInt16BE(src, 0)
  b.writeUInt16BE(dst, 2)
  return b
}
const tcp = (src: number, dst: number, flags: number): Buffer => {
  const b = ports(src, dst, 16)
  b[12] = 0x50
  b[13] = flags
  return b
}
const icmp = (type: number, code: number): Buffer => Buffer.from([type, code, 0, 0, 0, 0, 0, 0])

function arp(op: number, sender: string, target: string): Buffer {
  const b = Buffer.alloc(28)
  b.writeUInt16BE(1, 0)
  b.writeUInt16BE(0x0800, 2)
  b[4] = 6
  b[5] = 4
  b.writeUInt16BE(op, 6)
  MAC_A.copy(b, 8)
  ipToBytes(sender).copy(b, 14)
  ipToBytes(target).copy(b, 24)
  return b
}

const udpFrame = ether(0x0800, ipv4('198.18.0.1', '198.18.0.6', 17, ports(40000, 51820)))
const fragNeeded = ether(0x0800, ipv4('198.18.0.2', '198.18.0.1', 1, icmp(3, 4)))
const tooBig = ether(0x86dd, ipv6('fd00::2', 'fd00::1', 58, icmp(2, 0)))

describe('decodePacket', () => {
  it('reads Ethernet, IPv4 and UDP ports', () => {
    expect(decodePacket(udpFrame)).toMatchObject({
      network: 'ip',
      etherType: 0x0800,
      src: '198.18.0.1',
      dst: '198.18.0.6',
      transport: 'udp',
      srcPort: 40000,
      dstPort: 51820,
      ipLength: 28,
    })
  })

  it('skips VLAN tags', () => {
    const f = ether(0x0800, ipv4('10.0.0.1', '10.0.0.2', 6, tcp(1234, 80, 0x02)), 100)
    expect(decodePacket(f)).toMatchObject({ network: 'ip', transport: 'tcp', dstPort: 80, tcpFlags: 2 })
  })

  it('reads ICMP and ICMPv6 type and code', () => {
    expect(decodePacket(fragNeeded)).toMatchObject({ transport: 'icmp', icmpType: 3, icmpCode: 4 })
    expect(decodePacket(tooBig)).toMatchObject({
      network: 'ip6',
      src: 'fd00::2',
      transport: 'icmp6',
      icmpType: 2,
      icmpCode: 0,
    })
  })

  it('skips IPv6 extension headers (hop-by-hop, fragment)', () => {
    const hop = Buffer.from([44, 0, 1, 4, 0, 0, 0, 0]) // next: fragment, padding
    const frag = Buffer.from([17, 0, 0, 0, 0, 0, 0, 1]) // next: udp, offset 0
    const f = ether(0x86dd, ipv6('fd00::1', 'fd00::2', 0, Buffer.concat([hop, frag, ports(53, 5353)])))
    expect(decodePacket(f)).toMatchObject({ ipProtocol: 17, transport: 'udp', srcPort: 53, dstPort: 5353 })
    const later = Buffer.from([17, 0, 0x05, 0x00, 0, 0, 0, 1]) // offset 160
    const g = ether(0x86dd, ipv6('fd00::1', 'fd00::2', 44, Buffer.concat([later, ports(53, 5353)])))
    expect(decodePacket(g)).toMatchObject({ laterFragment: true, ipProtocol: 17 })
    expect(decodePacket(g).dstPort).toBeUndefined()
  })

  it('gives no ports for an IPv4 fragment that is not the first', () => {
    const f = ether(0x0800, ipv4('10.0.0.1', '10.0.0.2', 17, ports(1, 2), 185))
    expect(decodePacket(f)).toMatchObject({ laterFragment: true, ipProtocol: 17 })
    expect(decodePacket(f).srcPort).toBeUndefined()
  })

  it('reads ARP sender and target', () => {
    expect(decodePacket(ether(0x0806, arp(1, '10.0.0.1', '10.0.0.2')))).toMatchObject({
      network: 'arp',
      arpOp: 1,
      src: '10.0.0.1',
      dst: '10.0.0.2',
    })
  })

  it('reads bare IP from tun devices (WireGuard: ARPHRD_NONE)', () => {
    const raw = ipv4('100.64.0.2', '203.0.113.1', 1, icmp(8, 0))
    expect(decodePacket(raw, 0xfffe)).toMatchObject({ network: 'ip', icmpType: 8, dst: '203.0.113.1' })
    expect(decodePacket(ipv6('fd00::1', 'fd00::2', 58, icmp(128, 0)), 0xfffe)).toMatchObject({
      network: 'ip6',
      icmpType: 128,
    })
  })

  it('decodes any bytes without throwing; a truncated packet lacks what was cut', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(undefined, 1, 772, 0xfffe), (b, h) => {
        decodePacket(b, h)
      }),
      { numRuns: 2000 },
    )
    const full = decodePacket(udpFrame)
    for (let n = 0; n < udpFrame.length; n++) {
      const cut = decodePacket(udpFrame.subarray(0, n))
      if (n < 14 + 20) expect(cut.src).toBeUndefined()
      if (n < 14 + 20 + 4) expect(cut.dstPort).toBeUndefined()
      for (const [k, v] of Object.entries(cut))
        if (k !== 'ipLength') expect(v).toEqual(full[k as keyof typeof full])
    }
  })
})

describe('compileFilter', () => {
  const hits = (f: PacketFilter, frame: Buffer): boolean => compileFilter(f)(decodePacket(frame))

  it('matches protocol, addresses, subnets and ports', () => {
    expect(hits({ protocol: 'udp', to: ['198.18.0.6'], port: 51820 }, udpFrame)).toBe(true)
    expect(hits({ protocol: ['tcp', 'icmp'] }, udpFrame)).toBe(false)
    expect(hits({ protocol: 'ip' }, udpFrame)).toBe(true)
    expect(hits({ protocol: 'ip6' }, udpFrame)).toBe(false)
    expect(hits({ from: ['198.18.0.0/30'] }, udpFrame)).toBe(true)
    expect(hits({ from: ['198.18.0.4/30'] }, udpFrame)).toBe(false)
    expect(hits({ host: ['198.18.0.6', 'fd00::9'] }, udpFrame)).toBe(true)
    expect(hits({ srcPort: 51820 }, udpFrame)).toBe(false)
    expect(hits({ dstPort: 51820, srcPort: 40000 }, udpFrame)).toBe(true)
    expect(hits({ to: ['fd00::/8'] }, udpFrame)).toBe(false)
    expect(hits({}, udpFrame)).toBe(true)
  })

  it('knows ICMP messages by name, in both families', () => {
    expect(hits({ icmpType: 'frag-needed' }, fragNeeded)).toBe(true)
    expect(hits({ icmpType: 'packet-too-big' }, fragNeeded)).toBe(false)
    expect(hits({ icmpType: 'packet-too-big' }, tooBig)).toBe(true)
    expect(hits({ icmpType: 'destination-unreachable' }, fragNeeded)).toBe(true)
    expect(hits({ icmpType: 'port-unreachable' }, fragNeeded)).toBe(false)
    expect(hits({ icmpType: 3, icmpCode: 4 }, fragNeeded)).toBe(true)
    expect(hits({ icmpType: 3, icmpCode: 3 }, fragNeeded)).toBe(false)
    expect(hits({ icmpType: 'frag-needed' }, udpFrame)).toBe(false)
  })

  it('leaves out what `not` matches (one filter or any of a list)', () => {
    const tunnel = { protocol: 'udp', to: ['198.18.0.6'], dstPort: 51820 } as const
    expect(hits({ not: tunnel }, udpFrame)).toBe(false)
    expect(hits({ not: tunnel }, fragNeeded)).toBe(true)
    expect(hits({ not: [{ protocol: 'icmp6' }, tunnel] }, udpFrame)).toBe(false)
    expect(hits({ protocol: ['ip', 'ip6'], not: [{ protocol: 'icmp6' }, tunnel] }, tooBig)).toBe(false)
  })

  it('a truncated packet does not match a filter on what was cut', () => {
    expect(hits({ port: 51820 }, udpFrame.subarray(0, 14 + 20 + 2))).toBe(false)
    expect(hits({ icmpType: 'frag-needed' }, fragNeeded.subarray(0, 14 + 20))).toBe(false)
  })

  it('refuses bad addresses and ICMP names, naming the field', () => {
    expect(() => compileFilter({ to: ['10.0.0.300'] })).toThrow(PacketFilterError)
    expect(() => compileFilter({ not: { from: ['nope'] } })).toThrow(
      /^match\.not\.from: "nope" is not an address/,
    )
    expect(() => compileFilter({ icmpType: 'frag-neded' })).toThrow(
      /unknown ICMP message "frag-neded"; known: echo-request/,
    )
  })

  it('never throws on any bytes, with any filter', () => {
    const f = compileFilter({
      protocol: ['tcp', 'arp'],
      host: ['10.0.0.0/8', 'fd00::/8'],
      port: 80,
      not: { icmpType: 'echo-request' },
    })
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => void f(decodePacket(b))),
      { numRuns: 2000 },
    )
  })
})

describe('summarizePacket', () => {
  it('says what a packet is in one line, with node names', () => {
    const names = new Map([
      ['198.18.0.1', 'a'],
      ['198.18.0.2', 'r1'],
      ['198.18.0.6', 'server'],
    ])
    const name = (x: string): string => names.get(x) ?? x
    expect(summarizePacket(decodePacket(udpFrame), name)).toBe('udp a:40000 → server:51820, 28 bytes')
    expect(summarizePacket(decodePacket(fragNeeded), name)).toBe('icmp frag-needed (3/4) r1 → a, 28 bytes')
    expect(summarizePacket(decodePacket(tooBig))).toBe(
      'icmp6 packet-too-big (2/0) fd00::2 → fd00::1, 48 bytes',
    )
    expect(summarizePacket(decodePacket(ether(0x0806, arp(1, '10.0.0.1', '10.0.0.2'))))).toBe(
      'arp who-has 10.0.0.2 tell 10.0.0.1',
    )
    const syn = ether(0x0800, ipv4('10.0.0.1', '10.0.0.2', 6, tcp(1234, 80, 0x12)))
    expect(summarizePacket(decodePacket(syn))).toBe('tcp 10.0.0.1:1234 → 10.0.0.2:80 [SYN,ACK], 40 bytes')
    expect(summarizePacket(decodePacket(Buffer.alloc(3)))).toBe('not an IP packet (too short)')
  })
})
