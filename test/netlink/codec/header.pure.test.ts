import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { NLMSG, NLM_F, RTM } from '../../../harness/netlink/codec/constants.js'
import { NetlinkDecodeError } from '../../../harness/netlink/codec/errors.js'
import {
  NLMSG_HDRLEN,
  checkHeaderFields,
  decodeHeader,
  encodeHeader,
  nlmsgAlign,
  parseMessages,
  type NlMsgHeader,
  writeHeader,
  writeHeaderFields,
} from '../../../harness/netlink/codec/header.js'
import {
  peekHostS32,
  peekHostU16,
  peekHostU32,
  putHostU16,
  putHostU32,
  readHostS32,
  readHostU16,
  readHostU32,
  writeHostS32,
  writeHostU16,
  writeHostU32,
} from '../../../harness/netlink/codec/hostorder.js'
import { linkShowDetails } from './fixtures/link.js'
import { receivedBuffer, sentMessage } from './helpers.js'

function decodeError(fn: () => unknown): NetlinkDecodeError {
  try {
    fn()
  } catch (err) {
    if (err instanceof NetlinkDecodeError) return err
    throw err
  }
  throw new Error('expected a NetlinkDecodeError')
}

const headerArb: fc.Arbitrary<NlMsgHeader> = fc.record({
  length: fc.nat({ max: 0xffffffff }),
  type: fc.nat({ max: 0xffff }),
  flags: fc.nat({ max: 0xffff }),
  seq: fc.nat({ max: 0xffffffff }),
  pid: fc.nat({ max: 0xffffffff }),
})

describe('nlmsghdr', () => {
  it('aligns lengths to 4 bytes (NLMSG_ALIGN)', () => {
    expect([0, 1, 2, 3, 4, 5, 16, 17, 20].map(nlmsgAlign)).toEqual([0, 4, 4, 4, 4, 8, 16, 20, 20])
  })

  it('decodes the header of a request sent by ip', () => {
    // `ip -d link show`: RTM_GETLINK with NLM_F_REQUEST | NLM_F_DUMP
    const header = decodeHeader(sentMessage(linkShowDetails, 1))
    expect(header).toEqual({
      length: 40,
      type: RTM.GETLINK,
      flags: NLM_F.REQUEST | NLM_F.DUMP,
      seq: 1795404334,
      pid: 0,
    })
  })

  it('encodes host-order little-endian fields', () => {
    const buf = encodeHeader({ length: 0x11223344, type: 0x5566, flags: 0x0305, seq: 1, pid: 0xaabbccdd })
    expect(buf.toString('hex')).toBe('443322116655050301000000ddccbbaa')
  })

  it('round-trips any header', () => {
    fc.assert(
      fc.property(headerArb, (header) => {
        expect(decodeHeader(encodeHeader(header))).toEqual(header)
      }),
    )
  })

  it('writeHeaderFields (unchecked) writes what writeHeader does, where asked', () => {
    fc.assert(
      fc.property(headerArb, fc.integer({ min: 0, max: 8 }), (header, at) => {
        const a = Buffer.alloc(32, 0xee)
        const b = Buffer.alloc(32, 0xee)
        writeHeader(a, header, at)
        writeHeaderFields(b, at, header.length, header.type, header.flags, header.seq, header.pid)
        expect(b).toEqual(a)
      }),
    )
  })

  it('the unchecked host-order reads and writes agree with the checked ones', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 4 }),
        (bytes, at) => {
          const buf = Buffer.from(bytes)
          expect(peekHostU16(buf, at)).toBe(readHostU16(buf, at))
          expect(peekHostU32(buf, at)).toBe(readHostU32(buf, at))
          expect(peekHostS32(buf, at)).toBe(readHostS32(buf, at))
          const a = Buffer.alloc(8)
          const b = Buffer.alloc(8)
          putHostU32(a, readHostU32(buf, at), at)
          writeHostU32(b, readHostU32(buf, at), at)
          putHostU16(a, readHostU16(buf, 0), 0)
          writeHostU16(b, readHostU16(buf, 0), 0)
          expect(a).toEqual(b)
          putHostU32(a, readHostS32(buf, at), at) // an s32 is the same four bytes
          writeHostS32(b, readHostS32(buf, at), at)
          expect(a).toEqual(b)
        },
      ),
    )
  })

  it('checkHeaderFields refuses what writeHeader refuses, with the same words', () => {
    expect(() => checkHeaderFields(0, 0x10000, 0)).toThrow(
      'nlmsg_type must be an integer in 0..65535, got 65536',
    )
    expect(() => checkHeaderFields(0, 0, 1.5)).toThrow('nlmsg_flags must be an integer in 0..65535, got 1.5')
    expect(() => checkHeaderFields(2 ** 32, 0, 0)).toThrow(/nlmsg_len must be an integer/)
    expect(() => checkHeaderFields(20, RTM.NEWLINK, NLM_F.REQUEST | NLM_F.ACK)).not.toThrow()
  })

  it('rejects out-of-range fields when encoding', () => {
    expect(() => encodeHeader({ length: 16, type: 0x10000, flags: 0, seq: 0, pid: 0 })).toThrow(/nlmsg_type/)
    expect(() => encodeHeader({ length: -1, type: 0, flags: 0, seq: 0, pid: 0 })).toThrow(/nlmsg_len/)
  })
})

describe('parseMessages', () => {
  it('splits a multipart dump from the kernel into its messages', () => {
    const messages = parseMessages(receivedBuffer(linkShowDetails, 1))
    expect(messages.map((m) => m.header.type)).toEqual(new Array(7).fill(RTM.NEWLINK))
    expect(messages.every((m) => (m.header.flags & NLM_F.MULTI) !== 0)).toBe(true)
    expect(messages[0]?.offset).toBe(0)
    expect(messages[1]?.offset).toBe(messages[0]?.header.length)
    const done = parseMessages(receivedBuffer(linkShowDetails, 2))
    expect(done.map((m) => m.header.type)).toEqual([NLMSG.DONE])
  })

  it('returns payload views that exclude the header', () => {
    const [message] = parseMessages(sentMessage(linkShowDetails, 1))
    expect(message?.payload.length).toBe(40 - NLMSG_HDRLEN)
  })

  it('honours alignment between messages and accepts a missing final pad', () => {
    const a = encodeHeader({ length: 18, type: 99, flags: 0, seq: 1, pid: 0 })
    const b = encodeHeader({ length: 17, type: 98, flags: 0, seq: 2, pid: 0 })
    const buf = Buffer.concat([a, Buffer.from([1, 2, 0, 0]), b, Buffer.from([3])])
    const messages = parseMessages(buf)
    expect(messages.map((m) => [m.offset, m.header.seq, m.payload.toString('hex')])).toEqual([
      [0, 1, '0102'],
      [20, 2, '03'],
    ])
  })

  it('returns nothing for an empty buffer', () => {
    expect(parseMessages(Buffer.alloc(0))).toEqual([])
  })

  it('rejects a truncated header', () => {
    const err = decodeError(() => parseMessages(Buffer.alloc(10)))
    expect(err.reason).toBe('truncated-header')
    expect(err.offset).toBe(0)
    expect(err.message).toBe('netlink: message header at offset 0 needs 16 bytes but only 10 remain')
  })

  it('rejects nlmsg_len below the header size', () => {
    const buf = Buffer.concat([
      encodeHeader({ length: 16, type: 1, flags: 0, seq: 0, pid: 0 }),
      Buffer.alloc(16),
    ])
    const err = decodeError(() => parseMessages(buf))
    expect(err.reason).toBe('bad-length')
    expect(err.offset).toBe(16)
    expect(err.message).toMatch(/message at offset 16 claims length 0, less than the 16-byte header/)
  })

  it('rejects nlmsg_len beyond the buffer', () => {
    const buf = Buffer.concat([
      encodeHeader({ length: 120, type: 1, flags: 0, seq: 0, pid: 0 }),
      Buffer.alloc(4),
    ])
    const err = decodeError(() => parseMessages(buf))
    expect(err).toMatchObject({ reason: 'bad-length', offset: 0 })
    expect(err.message).toBe('netlink: message at offset 0 claims length 120 but only 20 bytes remain')
  })

  it('splits any sequence of well-formed messages back into the same headers and payloads', () => {
    const messageArb = fc.record({
      type: fc.nat({ max: 0xffff }),
      flags: fc.nat({ max: 0xffff }),
      seq: fc.nat({ max: 0xffffffff }),
      payload: fc.uint8Array({ maxLength: 64 }),
    })
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 8 }), (messages) => {
        const parts = messages.map((m) => {
          const length = NLMSG_HDRLEN + m.payload.length
          const buf = Buffer.alloc(nlmsgAlign(length))
          encodeHeader({ length, type: m.type, flags: m.flags, seq: m.seq, pid: 0 }).copy(buf)
          buf.set(m.payload, NLMSG_HDRLEN)
          return buf
        })
        const parsed = parseMessages(Buffer.concat(parts))
        expect(
          parsed.map((p) => [p.header.type, p.header.flags, p.header.seq, Buffer.from(p.payload)]),
        ).toEqual(messages.map((m) => [m.type, m.flags, m.seq, Buffer.from(m.payload)]))
      }),
    )
  })
})
