import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  AF,
  NLM_F,
  RTA,
  RTAX,
  RTM,
  RTN,
  RTNH_F,
  RTPROT,
  RT_SCOPE,
  RT_TABLE,
} from '../../../harness/netlink/codec/constants.js'
import { NetlinkDecodeError } from '../../../harness/netlink/codec/errors.js'
import { parseMessages } from '../../../harness/netlink/codec/header.js'
import { encodeRequest } from '../../../harness/netlink/codec/message.js'
import {
  decodeRoute,
  decodeRtHeader,
  encodeRoute,
  encodeRtHeader,
  type RouteMessage,
} from '../../../harness/netlink/codec/messages/route.js'
import { routeAdd, routeShow6All, routeShowLocal, routeShowMain } from './fixtures/route.js'
import { receivedBuffer, sentMessage } from './helpers.js'

function dumped(buf: Buffer): RouteMessage[] {
  return parseMessages(buf)
    .filter((m) => m.header.type === RTM.NEWROUTE)
    .map((m) => decodeRoute(m.payload, m.offset + 16))
}

/** The fields `ip route` prints, as one line per route. */
function summary(r: RouteMessage): string {
  const dst = r.dst === undefined ? 'default' : `${r.dst}/${r.dstLen}`
  const parts = [r.type, dst, `table ${r.table}`, `proto ${r.protocol}`, `scope ${r.scope}`, `dev ${r.oif}`]
  if (r.gateway !== undefined) parts.push(`via ${r.gateway}`)
  if (r.prefsrc !== undefined) parts.push(`src ${r.prefsrc}`)
  if (r.priority !== undefined) parts.push(`metric ${r.priority}`)
  return parts.join(' ')
}

describe('decodeRoute on kernel dumps', () => {
  it('ip route show table local', () => {
    expect(dumped(receivedBuffer(routeShowLocal, 0)).map(summary)).toEqual([
      `${RTN.LOCAL} 127.0.0.0/8 table 255 proto 2 scope 254 dev 1 src 127.0.0.1`,
      `${RTN.LOCAL} 127.0.0.1/32 table 255 proto 2 scope 254 dev 1 src 127.0.0.1`,
      `${RTN.BROADCAST} 127.255.255.255/32 table 255 proto 2 scope 253 dev 1 src 127.0.0.1`,
      `${RTN.LOCAL} 198.18.0.0/30 table 255 proto 2 scope 254 dev 1 src 198.18.0.1`,
      `${RTN.LOCAL} 198.18.0.1/32 table 255 proto 2 scope 254 dev 1 src 198.18.0.1`,
      `${RTN.BROADCAST} 198.18.0.3/32 table 255 proto 2 scope 253 dev 1 src 198.18.0.1`,
      `${RTN.LOCAL} 198.18.1.1/32 table 255 proto 2 scope 254 dev 3 src 198.18.1.1`,
      `${RTN.BROADCAST} 198.18.1.255/32 table 255 proto 2 scope 253 dev 3 src 198.18.1.1`,
    ])
  })

  it('ip route show: a connected route and a gateway route', () => {
    const routes = dumped(receivedBuffer(routeShowMain, 0))
    expect(routes).toMatchObject([
      {
        family: AF.INET,
        dst: '198.18.1.0',
        dstLen: 24,
        table: RT_TABLE.MAIN,
        protocol: RTPROT.KERNEL,
        scope: RT_SCOPE.LINK,
        type: RTN.UNICAST,
        prefsrc: '198.18.1.1',
        oif: 3,
      },
      {
        dst: '198.18.2.0',
        dstLen: 24,
        gateway: '198.18.1.2',
        protocol: RTPROT.BOOT,
        scope: RT_SCOPE.UNIVERSE,
        oif: 3,
      },
    ])
  })

  it('ip -6 route show table all: RTA_TABLE, RTA_PRIORITY and RTA_PREF', () => {
    const routes = dumped(receivedBuffer(routeShow6All, 0))
    expect(routes.map((r) => [r.dst, r.dstLen, r.table, r.type, r.priority, r.oif])).toEqual([
      ['fd00::', 64, RT_TABLE.MAIN, RTN.UNICAST, 256, 1],
      ['fd00:1::', 64, RT_TABLE.MAIN, RTN.UNICAST, 256, 3],
      ['fe80::', 64, RT_TABLE.MAIN, RTN.UNICAST, 256, 2],
      ['fe80::', 64, RT_TABLE.MAIN, RTN.UNICAST, 256, 3],
      ['::1', 128, RT_TABLE.LOCAL, RTN.LOCAL, 0, 1],
      ['fd00::1', 128, RT_TABLE.LOCAL, RTN.LOCAL, 0, 1],
      ['fd00:1::1', 128, RT_TABLE.LOCAL, RTN.LOCAL, 0, 3],
      ['ff00::', 8, RT_TABLE.LOCAL, RTN.MULTICAST, 256, 2],
      ['ff00::', 8, RT_TABLE.LOCAL, RTN.MULTICAST, 256, 3],
    ])
    expect(routes.every((r) => r.pref === 0 && r.family === AF.INET6)).toBe(true)
  })
})

describe('encodeRoute reproduces the requests ip sent, byte for byte', () => {
  it('ip route add 198.18.2.0/24 via 198.18.1.2 dev nslabfx0', () => {
    const bytes = encodeRequest(
      { type: RTM.NEWROUTE, flags: NLM_F.REQUEST | NLM_F.ACK | NLM_F.EXCL | NLM_F.CREATE, seq: 1795404333 },
      encodeRoute({
        dst: '198.18.2.0/24',
        gateway: '198.18.1.2',
        oif: 3,
        table: RT_TABLE.MAIN,
        protocol: RTPROT.BOOT,
        scope: RT_SCOPE.UNIVERSE,
        type: RTN.UNICAST,
      }),
    )
    expect(bytes).toEqual(sentMessage(routeAdd, 0))
  })

  it('the filtered dump request of ip route show table local', () => {
    const bytes = encodeRequest(
      { type: RTM.GETROUTE, flags: NLM_F.REQUEST | NLM_F.DUMP, seq: 1795404333 },
      encodeRoute({ family: AF.INET, extra: (w) => w.u32(RTA.TABLE, RT_TABLE.LOCAL) }),
    )
    expect(bytes).toEqual(sentMessage(routeShowLocal, 0))
  })
})

describe('route details', () => {
  it('puts table ids above 255 in RTA_TABLE and reads them back', () => {
    const payload = encodeRoute({ dst: '198.18.0.0/15', table: 1000, type: RTN.UNICAST })
    expect(payload[4]).toBe(RT_TABLE.UNSPEC)
    expect(decodeRoute(payload)).toMatchObject({ table: 1000, dst: '198.18.0.0', dstLen: 15 })
  })

  it('encodes and decodes metrics and multipath next hops', () => {
    const payload = encodeRoute({
      dst: 'fd00:2::/64',
      metrics: { [RTAX.MTU]: 1400, [RTAX.HOPLIMIT]: 7 },
      multipath: [
        { ifindex: 3, gateway: 'fd00:1::2', weight: 2 },
        { ifindex: 4, gateway: 'fd00:1::3', flags: RTNH_F.ONLINK },
      ],
    })
    const route = decodeRoute(payload)
    expect(route.metrics).toEqual({ [RTAX.MTU]: 1400, [RTAX.HOPLIMIT]: 7 })
    expect(
      route.multipath?.map((h) => ({ ifindex: h.ifindex, hops: h.hops, flags: h.flags, gateway: h.gateway })),
    ).toEqual([
      { ifindex: 3, hops: 1, flags: 0, gateway: 'fd00:1::2' },
      { ifindex: 4, hops: 0, flags: RTNH_F.ONLINK, gateway: 'fd00:1::3' },
    ])
  })

  it('rejects a next hop that claims more bytes than RTA_MULTIPATH holds', () => {
    const bad = Buffer.from('2000' + '00' + '00' + '03000000', 'hex')
    const payload = encodeRoute({ family: AF.INET, extra: (w) => w.attr(RTA.MULTIPATH, bad) })
    expect(() => decodeRoute(payload, 16)).toThrow(NetlinkDecodeError)
    expect(() => decodeRoute(payload, 16)).toThrow('rtnexthop at offset 32 claims length 32 but must be 8..8')
  })

  it('leaves addresses of non-IP families undecoded', () => {
    const payload = encodeRoute({
      family: AF.MPLS,
      extra: (w) => w.attr(RTA.DST, Buffer.from('00001100', 'hex')),
    })
    const route = decodeRoute(payload)
    expect(route.dst).toBeUndefined()
    expect(route.attrs[0]?.value.toString('hex')).toBe('00001100')
  })
})

describe('route round trips', () => {
  const v4 = fc.record({
    family: fc.constant(AF.INET),
    dst: fc.ipV4(),
    dstLen: fc.nat({ max: 32 }),
    gateway: fc.ipV4(),
    prefsrc: fc.ipV4(),
  })
  const v6 = fc.record({
    family: fc.constant(AF.INET6),
    dst: fc.constantFrom('fd00::', 'fd00:1::', '2001:db8::1', '::'),
    dstLen: fc.nat({ max: 128 }),
    gateway: fc.constantFrom('fe80::1', 'fd00:1::2'),
    prefsrc: fc.constantFrom('fd00::1', '::ffff:198.18.0.1'),
  })

  it('decodeRoute(encodeRoute(request)) gives back every field', () => {
    fc.assert(
      fc.property(
        fc.oneof(v4, v6),
        fc.record({
          tos: fc.nat({ max: 0xff }),
          table: fc.nat({ max: 0xffffffff }),
          protocol: fc.nat({ max: 0xff }),
          scope: fc.nat({ max: 0xff }),
          type: fc.nat({ max: 0xff }),
          flags: fc.nat({ max: 0xffffffff }),
          oif: fc.nat({ max: 0xffffffff }),
          priority: fc.nat({ max: 0xffffffff }),
        }),
        (addrs, rest) => {
          const req = { ...rest, family: addrs.family, gateway: addrs.gateway, prefsrc: addrs.prefsrc }
          const decoded = decodeRoute(encodeRoute({ ...req, dst: `${addrs.dst}/${addrs.dstLen}` }))
          expect(decoded).toMatchObject({ ...req, dst: addrs.dst, dstLen: addrs.dstLen })
        },
      ),
      { numRuns: 300 },
    )
  })

  it('rtmsg round-trips', () => {
    const u8 = fc.nat({ max: 0xff })
    fc.assert(
      fc.property(
        fc.record({
          family: u8,
          dstLen: u8,
          srcLen: u8,
          tos: u8,
          table: u8,
          protocol: u8,
          scope: u8,
          type: u8,
          flags: fc.nat({ max: 0xffffffff }),
        }),
        (header) => {
          expect(decodeRtHeader(encodeRtHeader(header))).toEqual(header)
        },
      ),
    )
  })
})
