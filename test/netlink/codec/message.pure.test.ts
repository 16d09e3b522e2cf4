import { describe, expect, it } from 'vitest'
import {
  NLMSG,
  NLM_F,
  RTM,
  messageTypeName,
  flagNames,
  IFF,
  constantName,
  IFLA,
} from '../../../harness/netlink/codec/constants.js'
import { encodeHeader, parseMessages } from '../../../harness/netlink/codec/header.js'
import {
  decodeMessage,
  decodeMessages,
  encodeRequest,
  messageKind,
} from '../../../harness/netlink/codec/message.js'
import { encodeLink } from '../../../harness/netlink/codec/messages/link.js'
import { addrShow6 } from './fixtures/addr.js'
import { unknownKind } from './fixtures/errors.js'
import { linkShowDetails } from './fixtures/link.js'
import { neighShow } from './fixtures/neigh.js'
import { routeShowMain } from './fixtures/route.js'
import { receivedBuffer } from './helpers.js'

describe('decodeMessages', () => {
  it('turns every kernel reply of the captures into typed messages', () => {
    const kinds = (buf: Buffer): string[] => decodeMessages(buf).map((m) => m.kind)
    expect(kinds(receivedBuffer(linkShowDetails, 1))).toEqual(new Array(7).fill('link'))
    expect(kinds(receivedBuffer(linkShowDetails, 2))).toEqual(['done'])
    expect(kinds(receivedBuffer(addrShow6, 0))).toEqual(['link', 'link', 'link', 'done'])
    expect(kinds(receivedBuffer(addrShow6, 1))).toEqual(['addr', 'addr', 'addr', 'addr', 'addr', 'done'])
    expect(kinds(receivedBuffer(routeShowMain, 0))).toEqual(['route', 'route'])
    expect(kinds(receivedBuffer(neighShow, 0))).toEqual(['neigh', 'neigh', 'neigh', 'neigh', 'neigh', 'done'])
    expect(kinds(receivedBuffer(unknownKind, 1))).toEqual(['error'])
  })

  it('narrows on kind', () => {
    const [message] = decodeMessages(receivedBuffer(unknownKind, 1))
    if (message?.kind !== 'error') throw new Error('expected an error')
    expect(message.error.extAck?.message).toBe('Unknown device type')
    const [link] = decodeMessages(receivedBuffer(linkShowDetails, 1))
    if (link?.kind !== 'link') throw new Error('expected a link')
    expect(link.link.name).toBe('lo')
  })

  it('reports error offsets relative to the whole receive buffer', () => {
    const buf = Buffer.from(receivedBuffer(routeShowMain, 0))
    const second = parseMessages(buf)[1]
    if (second === undefined) throw new Error('two routes expected')
    // corrupt the first attribute of the second route: rtmsg is 12 bytes after the 16-byte header
    const attrAt = second.offset + 16 + 12
    buf.writeUInt16LE(200, attrAt)
    expect(() => decodeMessages(buf)).toThrow(`attribute at offset ${attrAt} claims length 200`)
  })

  it('decodes NLMSG_NOOP and leaves unknown types raw', () => {
    const noop = encodeHeader({ length: 16, type: NLMSG.NOOP, flags: 0, seq: 0, pid: 0 })
    const other = encodeRequest({ type: 0x55, flags: 0 }, Buffer.from([1, 2, 3, 4]))
    const decoded = decodeMessages(Buffer.concat([noop, other]))
    expect(decoded.map((m) => m.kind)).toEqual(['noop', 'unknown'])
    expect(decoded[1]?.kind === 'unknown' && decoded[1].payload.toString('hex')).toBe('01020304')
  })

  it('classifies rtnetlink types', () => {
    expect([RTM.NEWLINK, RTM.GETADDR, RTM.DELROUTE, RTM.NEWNEIGH, RTM.NEWRULE].map(messageKind)).toEqual([
      'link',
      'addr',
      'route',
      'neigh',
      undefined,
    ])
  })
})

describe('encodeRequest', () => {
  it('computes nlmsg_len, defaults to REQUEST|ACK and pads to 4 bytes', () => {
    const buf = encodeRequest({ type: RTM.NEWLINK, seq: 7 }, Buffer.from([9]))
    expect(buf.length).toBe(20)
    const [message] = parseMessages(buf)
    expect(message?.header).toEqual({
      length: 17,
      type: RTM.NEWLINK,
      flags: NLM_F.REQUEST | NLM_F.ACK,
      seq: 7,
      pid: 0,
    })
  })

  it('concatenated requests form a batch that splits back', () => {
    const batch = Buffer.concat([
      encodeRequest({ type: RTM.NEWLINK, seq: 1 }, encodeLink({ name: 'a' })),
      encodeRequest({ type: RTM.DELLINK, seq: 2 }, encodeLink({ index: 9 })),
    ])
    const decoded = parseMessages(batch).map(decodeMessage)
    expect(
      decoded.map((m) => (m.kind === 'link' ? [m.header.seq, m.link.name, m.link.index] : m.kind)),
    ).toEqual([
      [1, 'a', 0],
      [2, undefined, 9],
    ])
  })
})

describe('constant names', () => {
  it('names message types, flags and attributes for readable errors', () => {
    expect(messageTypeName(2)).toBe('NLMSG_ERROR')
    expect(messageTypeName(16)).toBe('RTM_NEWLINK')
    expect(messageTypeName(999)).toBe('type 999')
    expect(flagNames(IFF, 0x11043)).toEqual(['UP', 'BROADCAST', 'RUNNING', 'MULTICAST', 'LOWER_UP'])
    expect(flagNames(IFF, 0x80000001)).toEqual(['UP', '0x80000000'])
    expect(constantName(IFLA, 3, 'IFLA_')).toBe('IFLA_IFNAME')
    expect(constantName(IFLA, 999)).toBeUndefined()
  })
})
