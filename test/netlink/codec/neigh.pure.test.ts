import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesToMac } from '../../../harness/netlink/codec/address.js'
import { AF, NDA, NLM_F, NUD, NTF, RTM, RTN } from '../../../harness/netlink/codec/constants.js'
import { parseMessages } from '../../../harness/netlink/codec/header.js'
import { encodeRequest } from '../../../harness/netlink/codec/message.js'
import {
  decodeNdHeader,
  decodeNeigh,
  encodeNdHeader,
  encodeNeigh,
} from '../../../harness/netlink/codec/messages/neigh.js'
import { neighAdd, neighShow } from './fixtures/neigh.js'
import { receivedBuffer, sentMessage } from './helpers.js'

describe('decodeNeigh on a kernel dump (ip neigh show)', () => {
  const neighbours = parseMessages(receivedBuffer(neighShow, 0))
    .filter((m) => m.header.type === RTM.NEWNEIGH)
    .map((m) => decodeNeigh(m.payload, m.offset + 16))

  it('decodes states, addresses and link-layer addresses', () => {
    expect(neighbours.map((n) => [n.family, n.ifindex, n.dst, n.lladdr, n.state, n.type])).toEqual([
      [AF.INET, 3, '198.18.1.2', '02:00:00:00:00:02', NUD.PERMANENT, RTN.UNICAST],
      [AF.INET6, 3, 'fd00:1::2', '02:00:00:00:00:03', NUD.REACHABLE, RTN.UNICAST],
      [AF.INET6, 2, 'ff02::1:ff8a:7d7e', '33:33:ff:8a:7d:7e', NUD.NOARP, RTN.MULTICAST],
      [AF.INET6, 3, 'ff02::16', '33:33:00:00:00:16', NUD.NOARP, RTN.MULTICAST],
      [AF.INET6, 2, 'ff02::16', '33:33:00:00:00:16', NUD.NOARP, RTN.MULTICAST],
    ])
  })

  it('decodes NDA_PROBES and NDA_CACHEINFO', () => {
    expect(neighbours[1]).toMatchObject({
      probes: 0,
      cacheInfo: { confirmed: 4, used: 4, updated: 4, refcnt: 1 },
    })
  })
})

describe('encodeNeigh reproduces the requests ip sent, byte for byte', () => {
  it('ip neigh add 198.18.1.2 lladdr 02:00:00:00:00:02 dev nslabfx0 nud permanent', () => {
    const bytes = encodeRequest(
      { type: RTM.NEWNEIGH, flags: NLM_F.REQUEST | NLM_F.ACK | NLM_F.EXCL | NLM_F.CREATE, seq: 1795404334 },
      encodeNeigh({ ifindex: 3, state: NUD.PERMANENT, dst: '198.18.1.2', lladdr: '02:00:00:00:00:02' }),
    )
    expect(bytes).toEqual(sentMessage(neighAdd, 0))
  })

  it('the dump request of ip neigh show', () => {
    const bytes = encodeRequest(
      { type: RTM.GETNEIGH, flags: NLM_F.REQUEST | NLM_F.DUMP, seq: 1795404334 },
      encodeNeigh({}),
    )
    expect(bytes).toEqual(sentMessage(neighShow, 0))
  })
})

describe('neighbour round trips', () => {
  it('decodeNeigh(encodeNeigh(request)) gives back every field', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ family: fc.constant(AF.INET), dst: fc.ipV4() }),
          fc.record({
            family: fc.constant(AF.INET6),
            dst: fc.constantFrom('fd00:1::2', 'fe80::1', 'ff02::1:ff00:1'),
          }),
          fc.record({ family: fc.constant(AF.BRIDGE), dst: fc.oneof(fc.ipV4(), fc.constant('fd00::9')) }),
        ),
        fc.record({
          ifindex: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
          state: fc.nat({ max: 0xffff }),
          flags: fc.constantFrom(0, NTF.PROXY, NTF.ROUTER, NTF.SELF | NTF.MASTER),
          type: fc.nat({ max: 0xff }),
          lladdr: fc.uint8Array({ minLength: 6, maxLength: 6 }).map(bytesToMac),
        }),
        (addr, rest) => {
          const req = { ...addr, ...rest }
          const decoded = decodeNeigh(encodeNeigh(req))
          expect(decoded).toMatchObject(req)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('ndmsg round-trips', () => {
    fc.assert(
      fc.property(
        fc.record({
          family: fc.nat({ max: 0xff }),
          ifindex: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
          state: fc.nat({ max: 0xffff }),
          flags: fc.nat({ max: 0xff }),
          type: fc.nat({ max: 0xff }),
        }),
        (header) => {
          expect(decodeNdHeader(encodeNdHeader(header))).toEqual(header)
        },
      ),
    )
  })

  it('rejects an NDA_CACHEINFO of the wrong size', () => {
    const payload = encodeNeigh({ extra: (w) => w.attr(NDA.CACHEINFO, Buffer.alloc(12)) })
    expect(() => decodeNeigh(payload)).toThrow('NDA_CACHEINFO at offset 12 must be 16 bytes but is 12')
  })
})
