import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesToMac } from '../../../harness/netlink/codec/address.js'
import {
  AF,
  ARPHRD,
  IFF,
  IFLA,
  IFLA_INFO,
  IF_OPER,
  MACVLAN_MODE,
  NLM_F,
  RTEXT_FILTER,
  RTM,
} from '../../../harness/netlink/codec/constants.js'
import { NetlinkDecodeError } from '../../../harness/netlink/codec/errors.js'
import { parseMessages } from '../../../harness/netlink/codec/header.js'
import { encodeRequest } from '../../../harness/netlink/codec/message.js'
import {
  bridgeInfo,
  decodeBridgeData,
  decodeIfInfoHeader,
  decodeLink,
  encodeIfInfoHeader,
  encodeLink,
  macvlanInfo,
  vethInfo,
  vxlanInfo,
  type LinkMessage,
  type LinkRequest,
  type VxlanOptions,
} from '../../../harness/netlink/codec/messages/link.js'
import {
  bridgeAdd,
  linkDel,
  linkShowDetails,
  macvlanAdd,
  vethAdd,
  vethAddPeerInNetns,
  vxlanAdd,
} from './fixtures/link.js'
import { payloadOf, receivedBuffer, sentMessage } from './helpers.js'

const CREATE = NLM_F.REQUEST | NLM_F.ACK | NLM_F.EXCL | NLM_F.CREATE

function dumpedLinks(): LinkMessage[] {
  return parseMessages(receivedBuffer(linkShowDetails, 1)).map((m) => decodeLink(m.payload, m.offset + 16))
}

describe('decodeLink on a kernel dump (ip -d link show)', () => {
  const links = dumpedLinks()
  const byName = new Map(links.map((l) => [l.name, l]))

  it('decodes every link with its index, name and kind', () => {
    expect(links.map((l) => [l.index, l.name, l.kind])).toEqual([
      [1, 'lo', undefined],
      [2, 'nslabfx1', 'veth'],
      [3, 'nslabfx0', 'veth'],
      [6, 'nslabfx4', 'veth'],
      [7, 'nslabfx6', 'vxlan'],
      [8, 'nslabfx7', 'macvlan'],
      [9, 'nslabfx8', 'bridge'],
    ])
  })

  it('decodes loopback header fields and attributes', () => {
    expect(byName.get('lo')).toMatchObject({
      family: AF.UNSPEC,
      type: ARPHRD.LOOPBACK,
      flags: IFF.UP | IFF.LOOPBACK | IFF.RUNNING | IFF.LOWER_UP,
      mtu: 65536,
      txqlen: 1000,
      operstate: IF_OPER.UNKNOWN,
      address: '00:00:00:00:00:00',
      altNames: [],
    })
  })

  it('links the two ends of a veth pair through IFLA_LINK', () => {
    expect(byName.get('nslabfx0')).toMatchObject({
      type: ARPHRD.ETHER,
      flags: IFF.UP | IFF.BROADCAST | IFF.RUNNING | IFF.MULTICAST | IFF.LOWER_UP,
      operstate: IF_OPER.UP,
      mtu: 1500,
      linkIndex: 2,
      broadcast: 'ff:ff:ff:ff:ff:ff',
    })
    expect(byName.get('nslabfx0')?.address).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/)
    expect(byName.get('nslabfx1')?.linkIndex).toBe(3)
    expect(byName.get('nslabfx0')?.netnsId).toBeUndefined()
  })

  it('reports IFLA_LINK_NETNSID for a veth whose peer lives in another namespace', () => {
    expect(byName.get('nslabfx4')).toMatchObject({ netnsId: 0, linkIndex: 2, operstate: IF_OPER.DOWN })
  })

  it('decodes vxlan, macvlan and bridge IFLA_INFO_DATA', () => {
    expect(byName.get('nslabfx6')?.linkInfo?.vxlan).toEqual({
      id: 42,
      group: '198.18.1.2',
      local: '198.18.1.1',
      link: 3,
      ttl: 64,
      learning: true,
      port: 4789,
    })
    expect(byName.get('nslabfx6')?.mtu).toBe(1450)
    expect(byName.get('nslabfx7')?.linkInfo?.macvlanMode).toBe(MACVLAN_MODE.BRIDGE)
    expect(byName.get('nslabfx7')?.linkIndex).toBe(3)
    const bridge = decodeBridgeData(byName.get('nslabfx8')?.linkInfo?.data ?? [])
    expect(bridge).toMatchObject({
      forwardDelay: 1500,
      helloTime: 200,
      maxAge: 2000,
      stpState: 0,
      priority: 32768,
    })
  })

  it('keeps every attribute, including ones it does not interpret', () => {
    const lo = byName.get('lo')
    expect(lo?.attrs.length).toBeGreaterThan(20)
    expect(lo?.attrs.some((a) => a.type === IFLA.NETNS_IMMUTABLE)).toBe(true)
  })
})

describe('decodeLink on requests sent by ip', () => {
  it('decodes a veth create request with its peer', () => {
    const link = decodeLink(payloadOf(sentMessage(vethAdd, 1)))
    expect(link).toMatchObject({ name: 'nslabfx0', kind: 'veth', index: 0 })
    expect(link.linkInfo?.peer).toMatchObject({ name: 'nslabfx1', index: 0, family: AF.UNSPEC })
  })

  it('decodes IFLA_NET_NS_FD inside VETH_INFO_PEER', () => {
    const link = decodeLink(payloadOf(sentMessage(vethAddPeerInNetns, 1)))
    expect(link.linkInfo?.peer).toMatchObject({ name: 'nslabfx5', netnsFd: 4 })
    expect(link.netnsFd).toBeUndefined()
  })
})

describe('encodeLink reproduces the requests ip sent, byte for byte', () => {
  it.each([
    ['veth', vethAdd, 1795404333, { name: 'nslabfx0', info: vethInfo({ name: 'nslabfx1' }) }],
    [
      'veth with the peer in another namespace',
      vethAddPeerInNetns,
      1795404334,
      { name: 'nslabfx4', info: vethInfo({ name: 'nslabfx5', netns: { fd: 4 } }) },
    ],
    [
      'vxlan',
      vxlanAdd,
      1795404334,
      {
        name: 'nslabfx6',
        info: vxlanInfo({
          id: 42,
          link: 3,
          ttl: 64,
          local: '198.18.1.1',
          group: '198.18.1.2',
          learning: true,
          port: 4789,
        }),
      },
    ],
    [
      'macvlan',
      macvlanAdd,
      1795404334,
      { name: 'nslabfx7', linkIndex: 3, info: macvlanInfo(MACVLAN_MODE.BRIDGE) },
    ],
    ['bridge', bridgeAdd, 1795404334, { name: 'nslabfx8', info: bridgeInfo() }],
  ] as const)('%s', (_what, capture, seq, request: LinkRequest) => {
    const bytes = encodeRequest({ type: RTM.NEWLINK, flags: CREATE, seq }, encodeLink(request))
    expect(bytes.toString('hex')).toBe(sentMessage(capture, 1).toString('hex'))
  })

  it('delete by index', () => {
    const bytes = encodeRequest(
      { type: RTM.DELLINK, flags: NLM_F.REQUEST | NLM_F.ACK, seq: 1795404334 },
      encodeLink({ index: 5 }),
    )
    expect(bytes).toEqual(sentMessage(linkDel, 1))
  })

  it('the dump request of ip -d link show', () => {
    const bytes = encodeRequest(
      { type: RTM.GETLINK, flags: NLM_F.REQUEST | NLM_F.DUMP, seq: 1795404334 },
      encodeLink({ family: AF.PACKET, extra: (w) => w.u32(IFLA.EXT_MASK, RTEXT_FILTER.VF) }),
    )
    expect(bytes).toEqual(sentMessage(linkShowDetails, 1))
  })
})

describe('ifinfomsg', () => {
  it('round-trips any header', () => {
    fc.assert(
      fc.property(
        fc.record({
          family: fc.nat({ max: 0xff }),
          type: fc.nat({ max: 0xffff }),
          index: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
          flags: fc.nat({ max: 0xffffffff }),
          change: fc.nat({ max: 0xffffffff }),
        }),
        (header) => {
          expect(decodeIfInfoHeader(encodeIfInfoHeader(header))).toEqual(header)
        },
      ),
    )
  })

  it('rejects a payload shorter than ifinfomsg', () => {
    expect(() => decodeLink(Buffer.alloc(15), 16)).toThrow(NetlinkDecodeError)
    expect(() => decodeLink(Buffer.alloc(15), 16)).toThrow(
      'ifinfomsg at offset 16 needs 16 bytes but the payload has only 15',
    )
  })

  it('rejects a known attribute of the wrong size', () => {
    const payload = encodeLink({ extra: (w) => w.u16(IFLA.MTU, 1500) })
    expect(() => decodeLink(payload)).toThrow('IFLA_MTU (4) at offset 16 must be 4 bytes but is 2')
  })
})

const nameArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}$/)
const macArb = fc.uint8Array({ minLength: 6, maxLength: 6 }).map(bytesToMac)
const u32 = fc.nat({ max: 0xffffffff })
const vxlanArb: fc.Arbitrary<VxlanOptions> = fc.record(
  {
    id: fc.nat({ max: 0xffffff }),
    link: u32,
    ttl: fc.nat({ max: 255 }),
    local: fc.oneof(fc.ipV4(), fc.constantFrom('fd00::1', '2001:db8::a:b')),
    group: fc.oneof(fc.ipV4(), fc.constantFrom('ff02::1', 'fd00:1::2')),
    learning: fc.boolean(),
    port: fc.nat({ max: 0xffff }),
  },
  { requiredKeys: ['id'] },
)
const baseLinkArb = fc.record(
  {
    family: fc.nat({ max: 0xff }),
    index: fc.nat({ max: 0x7fffffff }),
    flags: u32,
    change: u32,
    name: nameArb,
    address: macArb,
    mtu: u32,
    txqlen: u32,
    operstate: fc.nat({ max: 6 }),
    master: u32,
    linkIndex: u32,
    netns: fc.oneof(fc.record({ fd: u32 }), fc.record({ pid: u32 })),
  },
  { requiredKeys: [] },
)
const infoArb = fc.oneof(
  fc.constant(undefined),
  baseLinkArb.map((peer) => ({ spec: { kind: 'veth' as const, peer }, info: vethInfo(peer) })),
  vxlanArb.map((opts) => ({ spec: { kind: 'vxlan' as const, opts }, info: vxlanInfo(opts) })),
  fc
    .constantFrom(1, 2, 4, 8, 16)
    .map((mode) => ({ spec: { kind: 'macvlan' as const, mode }, info: macvlanInfo(mode) })),
  fc
    .record({ stpState: fc.nat({ max: 1 }), priority: fc.nat({ max: 0xffff }), vlanFiltering: fc.boolean() })
    .map((opts) => ({ spec: { kind: 'bridge' as const, opts }, info: bridgeInfo(opts) })),
)

function expectLinkFields(decoded: LinkMessage, req: LinkRequest): void {
  const expected: Record<string, unknown> = {
    family: req.family ?? 0,
    index: req.index ?? 0,
    flags: req.flags ?? 0,
    change: req.change ?? 0,
  }
  for (const key of ['name', 'address', 'mtu', 'txqlen', 'operstate', 'master', 'linkIndex'] as const) {
    if (req[key] !== undefined) expected[key] = req[key]
  }
  if (req.netns !== undefined) {
    if ('fd' in req.netns) expected.netnsFd = req.netns.fd
    else expected.netnsPid = req.netns.pid
  }
  expect(decoded).toMatchObject(expected)
}

describe('link round trips', () => {
  it('decodeLink(encodeLink(request)) gives back every field, for each link kind', () => {
    fc.assert(
      fc.property(baseLinkArb, infoArb, (base, extra) => {
        const req: LinkRequest = extra === undefined ? base : { ...base, info: extra.info }
        const decoded = decodeLink(encodeLink(req))
        expectLinkFields(decoded, req)
        if (extra === undefined) return
        expect(decoded.kind).toBe(extra.spec.kind)
        const spec = extra.spec
        if (spec.kind === 'veth') expectLinkFields(decoded.linkInfo?.peer as LinkMessage, spec.peer)
        // fc.ipV4() and the IPv6 constants above are already canonical text
        if (spec.kind === 'vxlan') expect(decoded.linkInfo?.vxlan).toEqual(spec.opts)
        if (spec.kind === 'macvlan') expect(decoded.linkInfo?.macvlanMode).toBe(spec.mode)
        if (spec.kind === 'bridge') expect(decodeBridgeData(decoded.linkInfo?.data ?? [])).toEqual(spec.opts)
      }),
      { numRuns: 300 },
    )
  })

  it('sends IFLA_INFO_KIND without NUL and no IFLA_INFO_DATA when a kind has no options', () => {
    const link = decodeLink(encodeLink({ info: { kind: 'dummy' } }))
    const info = link.attrs.find((a) => a.type === IFLA.LINKINFO)
    expect(info?.value.toString('hex')).toBe(
      '0900' + '0100' + Buffer.from('dummy').toString('hex') + '000000',
    )
    expect(link.linkInfo).toEqual({ kind: 'dummy' })
    expect(IFLA_INFO.KIND).toBe(1)
  })
})
