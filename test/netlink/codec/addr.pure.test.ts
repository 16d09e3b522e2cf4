import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalIp } from '../../../harness/util/ip.js'
import { AF, IFA, IFA_F, NLM_F, RTM, RT_SCOPE } from '../../../harness/netlink/codec/constants.js'
import { NetlinkDecodeError } from '../../../harness/netlink/codec/errors.js'
import { parseMessages } from '../../../harness/netlink/codec/header.js'
import { encodeRequest } from '../../../harness/netlink/codec/message.js'
import {
  decodeAddr,
  decodeIfAddrHeader,
  encodeAddr,
  encodeIfAddrHeader,
  type AddrMessage,
} from '../../../harness/netlink/codec/messages/addr.js'
import { addrAdd4, addrAdd6, addrShow4, addrShow6 } from './fixtures/addr.js'
import { payloadOf, receivedBuffer, sentMessage } from './helpers.js'

const CREATE = NLM_F.REQUEST | NLM_F.ACK | NLM_F.EXCL | NLM_F.CREATE
const FOREVER = 0xffffffff

function dumped(buf: Buffer): AddrMessage[] {
  return parseMessages(buf)
    .filter((m) => m.header.type === RTM.NEWADDR)
    .map((m) => decodeAddr(m.payload, m.offset + 16))
}

describe('decodeAddr on kernel dumps', () => {
  it('ip -4 addr show dev lo', () => {
    const buf = receivedBuffer(addrShow4, 1)
    expect(parseMessages(buf).every((m) => m.header.flags === (NLM_F.MULTI | NLM_F.DUMP_FILTERED))).toBe(true)
    expect(dumped(buf)).toMatchObject([
      {
        family: AF.INET,
        prefixLen: 8,
        flags: IFA_F.PERMANENT,
        scope: RT_SCOPE.HOST,
        index: 1,
        address: '127.0.0.1',
        local: '127.0.0.1',
        label: 'lo',
        cacheInfo: { preferred: FOREVER, valid: FOREVER },
      },
      {
        family: AF.INET,
        prefixLen: 30,
        flags: IFA_F.PERMANENT,
        scope: RT_SCOPE.UNIVERSE,
        index: 1,
        address: '198.18.0.1',
        local: '198.18.0.1',
        label: 'lo',
      },
    ])
  })

  it('ip -6 addr show: IPv6 text as ip prints it, flags from IFA_FLAGS', () => {
    const addrs = dumped(receivedBuffer(addrShow6, 1))
    expect(addrs.map((a) => [a.index, `${a.address}/${a.prefixLen}`, a.scope, a.flags])).toEqual([
      [1, 'fd00::1/64', RT_SCOPE.UNIVERSE, IFA_F.NODAD | IFA_F.PERMANENT],
      [1, '::1/128', RT_SCOPE.HOST, IFA_F.PERMANENT],
      [2, 'fe80::105e:62ff:fe8a:7d7e/64', RT_SCOPE.LINK, IFA_F.PERMANENT | IFA_F.TENTATIVE],
      [3, 'fd00:1::1/64', RT_SCOPE.UNIVERSE, IFA_F.NODAD | IFA_F.PERMANENT],
      [3, 'fe80::4ce9:91ff:fe54:98a9/64', RT_SCOPE.LINK, IFA_F.PERMANENT | IFA_F.TENTATIVE],
    ])
    expect(addrs.every((a) => a.local === undefined && a.label === undefined)).toBe(true)
  })

  it('takes the 32-bit IFA_FLAGS over the 8-bit ifa_flags', () => {
    const payload = encodeAddr({ index: 1, address: 'fd00::1', flags: IFA_F.NOPREFIXROUTE | IFA_F.NODAD })
    expect(payload[2]).toBe(IFA_F.NODAD)
    expect(decodeAddr(payload).flags).toBe(IFA_F.NOPREFIXROUTE | IFA_F.NODAD)
  })
})

describe('encodeAddr reproduces the requests ip sent, byte for byte', () => {
  it('ip addr add 198.18.1.1/24 dev nslabfx0', () => {
    const bytes = encodeRequest(
      { type: RTM.NEWADDR, flags: CREATE, seq: 1795404333 },
      encodeAddr({ prefixLen: 24, index: 3, local: '198.18.1.1', address: '198.18.1.1' }),
    )
    expect(bytes).toEqual(sentMessage(addrAdd4, 0))
  })

  it('ip addr add fd00:1::1/64 dev nslabfx0 nodad', () => {
    const bytes = encodeRequest(
      { type: RTM.NEWADDR, flags: CREATE, seq: 1795404333 },
      encodeAddr({ prefixLen: 64, index: 3, flags: IFA_F.NODAD, local: 'fd00:1::1', address: 'fd00:1::1' }),
    )
    expect(bytes).toEqual(sentMessage(addrAdd6, 0))
  })

  it('takes addresses already parsed into bytes, with the same result', () => {
    const v4 = Buffer.from([198, 18, 1, 1])
    expect(encodeAddr({ prefixLen: 24, index: 3, local: v4, address: v4 })).toEqual(
      encodeAddr({ prefixLen: 24, index: 3, local: '198.18.1.1', address: '198.18.1.1' }),
    )
    const v6 = Buffer.from('fd000001000000000000000000000001', 'hex')
    expect(encodeAddr({ prefixLen: 64, index: 3, flags: IFA_F.NODAD, local: v6, address: v6 })).toEqual(
      encodeAddr({ prefixLen: 64, index: 3, flags: IFA_F.NODAD, local: 'fd00:1::1', address: 'fd00:1::1' }),
    )
  })

  it('the dump request of ip -4 addr show dev lo', () => {
    const bytes = encodeRequest(
      { type: RTM.GETADDR, flags: NLM_F.REQUEST | NLM_F.DUMP, seq: 1795404334 },
      encodeAddr({ family: AF.INET, index: 1 }),
    )
    expect(bytes).toEqual(sentMessage(addrShow4, 1))
  })

  it('decodes those requests back', () => {
    expect(decodeAddr(payloadOf(sentMessage(addrAdd6, 0)))).toMatchObject({
      family: AF.INET6,
      prefixLen: 64,
      flags: IFA_F.NODAD,
      index: 3,
      local: 'fd00:1::1',
      address: 'fd00:1::1',
    })
  })
})

describe('address message errors', () => {
  it('rejects an address of the wrong length for the family', () => {
    const payload = encodeAddr({
      family: AF.INET6,
      index: 1,
      extra: (w) => w.attr(IFA.ADDRESS, Buffer.alloc(4)),
    })
    let error: unknown
    try {
      decodeAddr(payload, 16)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(NetlinkDecodeError)
    expect(error).toMatchObject({ reason: 'bad-address-length', offset: 24 })
    expect((error as Error).message).toBe(
      'netlink: IFA_ADDRESS at offset 24 has 4 address bytes; expected 16',
    )
  })

  it('refuses to encode an address of another family', () => {
    expect(() => encodeAddr({ family: AF.INET, index: 1, local: 'fd00::1' })).toThrow(
      /does not match address family 2/,
    )
    expect(() => encodeAddr({ family: AF.INET6, index: 1, local: Buffer.alloc(4) })).toThrow(
      'IFA_LOCAL of 4 bytes does not match address family 10',
    )
    expect(() => encodeAddr({ index: 1, local: Buffer.alloc(5) })).toThrow(
      'IFA_LOCAL of 5 bytes does not match address family 10',
    )
  })

  it('rejects a truncated ifaddrmsg', () => {
    expect(() => decodeAddr(Buffer.alloc(7))).toThrow(/ifaddrmsg at offset 0 needs 8 bytes/)
  })
})

describe('address round trips', () => {
  const v4 = fc.record({ family: fc.constant(AF.INET), addr: fc.ipV4(), prefixLen: fc.nat({ max: 32 }) })
  const v6 = fc.record({
    family: fc.constant(AF.INET6),
    addr: fc.ipV6().map(canonicalIp),
    prefixLen: fc.nat({ max: 128 }),
  })

  it('decodeAddr(encodeAddr(request)) gives back every field', () => {
    fc.assert(
      fc.property(
        fc.oneof(v4, v6),
        fc.nat({ max: 0xffffffff }),
        fc.nat({ max: 0xff }),
        fc.nat({ max: 0xffffffff }),
        fc.option(fc.stringMatching(/^[a-z][a-z0-9:]{0,14}$/), { nil: undefined }),
        ({ family, addr, prefixLen }, flags, scope, index, label) => {
          const req = { family, prefixLen, flags, scope, index, local: addr, address: addr, label }
          const decoded = decodeAddr(encodeAddr(req))
          expect(decoded).toMatchObject({
            family,
            prefixLen,
            flags,
            scope,
            index,
            local: addr,
            address: addr,
          })
          expect(decoded.label).toBe(label)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('ifaddrmsg round-trips', () => {
    fc.assert(
      fc.property(
        fc.record({
          family: fc.nat({ max: 0xff }),
          prefixLen: fc.nat({ max: 0xff }),
          flags: fc.nat({ max: 0xff }),
          scope: fc.nat({ max: 0xff }),
          index: fc.nat({ max: 0xffffffff }),
        }),
        (header) => {
          expect(decodeIfAddrHeader(encodeIfAddrHeader(header))).toEqual(header)
        },
      ),
    )
  })
})
