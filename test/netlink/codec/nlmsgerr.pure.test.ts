import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { NLMSG, NLMSGERR_ATTR, NLM_F, RTM } from '../../../harness/netlink/codec/constants.js'
import { NetlinkDecodeError } from '../../../harness/netlink/codec/errors.js'
import { decodeHeader, parseMessages } from '../../../harness/netlink/codec/header.js'
import { decodeLink } from '../../../harness/netlink/codec/messages/link.js'
import {
  decodeDoneMessage,
  decodeErrorMessage,
  decodeNlmsgerr,
  encodeDoneMessage,
  encodeErrorMessage,
  type NetlinkErrorMessage,
} from '../../../harness/netlink/codec/nlmsgerr.js'
import { linkExists, unknownKind } from './fixtures/errors.js'
import { addrShow4 } from './fixtures/addr.js'
import { vethAdd } from './fixtures/link.js'
import { receivedBuffer, sentMessage } from './helpers.js'

const EEXIST = 17
const ENODEV = 19
const EOPNOTSUPP = 95

function errorOf(buf: Buffer): NetlinkErrorMessage {
  const [message] = parseMessages(buf)
  if (message === undefined || message.header.type !== NLMSG.ERROR) throw new Error('not an NLMSG_ERROR')
  return decodeErrorMessage(message.payload, message.header.flags, 16)
}

describe('NLMSG_ERROR from the kernel', () => {
  it('an error with an extended-ack message: "Unknown device type"', () => {
    const reply = receivedBuffer(unknownKind, 1)
    expect(decodeHeader(reply).flags).toBe(NLM_F.ACK_TLVS)
    const err = errorOf(reply)
    expect(err).toMatchObject({ error: -EOPNOTSUPP, errno: EOPNOTSUPP, isAck: false })
    expect(err.extAck?.message).toBe('Unknown device type')
    // not capped: the whole request is echoed, and it is the request ip sent
    const request = sentMessage(unknownKind, 1)
    expect(err.request).toEqual(decodeHeader(request))
    expect(err.requestPayload).toEqual(request.subarray(16))
    expect(decodeLink(err.requestPayload as Buffer).kind).toBe('nosuchkind')
  })

  it('an error without a message: EEXIST', () => {
    const err = errorOf(receivedBuffer(linkExists, 1))
    expect(err).toMatchObject({ error: -EEXIST, errno: EEXIST, isAck: false })
    expect(err.extAck).toBeUndefined()
    expect(err.request.seq).toBe(1795404334)
    expect(err.requestPayload?.length).toBe(60 - 16)
  })

  it('the ENODEV answer to the empty RTM_NEWLINK probe ip sends first', () => {
    const err = errorOf(receivedBuffer(unknownKind, 0))
    expect(err).toMatchObject({ error: -ENODEV, request: { type: RTM.NEWLINK, length: 32, seq: 0 } })
  })

  it('an ACK: error 0, echo capped to the header', () => {
    const reply = receivedBuffer(vethAdd, 1)
    expect(decodeHeader(reply).flags).toBe(NLM_F.CAPPED)
    const ack = errorOf(reply)
    expect(ack).toMatchObject({ error: 0, errno: 0, isAck: true })
    expect(ack.requestPayload).toBeUndefined()
    expect(ack.extAck).toBeUndefined()
    expect(ack.request).toEqual(decodeHeader(sentMessage(vethAdd, 1)))
  })

  it('decodeNlmsgerr gives the flat summary a transport needs', () => {
    const [message] = parseMessages(receivedBuffer(unknownKind, 1))
    expect(decodeNlmsgerr(message?.payload as Buffer, message?.header.flags ?? 0)).toEqual({
      error: -EOPNOTSUPP,
      message: 'Unknown device type',
    })
  })
})

describe('NLMSG_DONE', () => {
  it('ends a dump with error 0', () => {
    const [done] = parseMessages(receivedBuffer(addrShow4, 2))
    expect(done?.header.type).toBe(NLMSG.DONE)
    expect(decodeDoneMessage(done?.payload as Buffer, done?.header.flags ?? 0)).toEqual({ error: 0 })
    expect(decodeNlmsgerr(done?.payload as Buffer, done?.header.flags ?? 0, { done: true })).toEqual({
      error: 0,
    })
  })

  it('may carry an error and ext-ack TLVs', () => {
    const { payload, flags } = encodeDoneMessage(-22, {
      message: 'Invalid header for dump request',
      offset: 20,
    })
    expect(flags).toBe(NLM_F.MULTI | NLM_F.ACK_TLVS)
    expect(decodeDoneMessage(payload, flags)).toMatchObject({
      error: -22,
      extAck: { message: 'Invalid header for dump request', offset: 20 },
    })
  })

  it('treats an empty payload as success and rejects 1 to 3 bytes', () => {
    expect(decodeDoneMessage(Buffer.alloc(0), 0)).toEqual({ error: 0 })
    expect(() => decodeDoneMessage(Buffer.alloc(3), 0, 16)).toThrow(
      'NLMSG_DONE payload at offset 16 has 3 bytes; expected a 4-byte error code',
    )
  })
})

describe('malformed NLMSG_ERROR', () => {
  it('rejects a payload too short for error + header', () => {
    expect(() => decodeErrorMessage(Buffer.alloc(19), 0, 16)).toThrow(NetlinkDecodeError)
    expect(() => decodeErrorMessage(Buffer.alloc(19), 0, 16)).toThrow('needs 20 bytes but has 19')
  })

  it('rejects an uncapped echo that is cut short', () => {
    const [message] = parseMessages(receivedBuffer(linkExists, 1))
    const cut = (message?.payload as Buffer).subarray(0, 40)
    let error: unknown
    try {
      decodeErrorMessage(cut, 0, 16)
    } catch (err) {
      error = err
    }
    expect(error).toMatchObject({ reason: 'bad-error-message', offset: 20 })
    expect((error as Error).message).toMatch(
      /echoes a request of length 60, but only 36 bytes of echo are present/,
    )
  })

  it('rejects an ext-ack attribute with a bad length', () => {
    const { payload, flags } = encodeErrorMessage({
      error: -22,
      request: { length: 32, type: RTM.NEWLINK, flags: 5, seq: 1, pid: 0 },
      extAck: { offset: 24 },
    })
    payload.writeUInt16LE(6, 20) // NLMSGERR_ATTR_OFFS now claims 2 value bytes
    expect(() => decodeErrorMessage(payload, flags, 16)).toThrow(NetlinkDecodeError)
  })
})

describe('NLMSG_ERROR round trips', () => {
  it('decode(encode(fields)) for capped and uncapped errors with any ext-ack', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -4095, max: 0 }),
        fc.record({
          type: fc.nat({ max: 0xffff }),
          flags: fc.nat({ max: 0xffff }),
          seq: fc.nat({ max: 0xffffffff }),
          pid: fc.nat({ max: 0xffffffff }),
        }),
        fc.option(fc.uint8Array({ maxLength: 60 }), { nil: undefined }),
        fc.option(
          fc.record(
            {
              message: fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).filter((s) => !s.includes('\0')),
              offset: fc.nat({ max: 0xffffffff }),
              missingType: fc.nat({ max: 0xffff }),
              missingNest: fc.nat({ max: 0xffffffff }),
              cookie: fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)),
            },
            { requiredKeys: [] },
          ),
          { nil: undefined },
        ),
        (error, header, echoed, extAck) => {
          const request = { ...header, length: 16 + (echoed?.length ?? 40) }
          const requestPayload = echoed === undefined ? undefined : Buffer.from(echoed)
          const { payload, flags } = encodeErrorMessage({ error, request, requestPayload, extAck })
          expect((flags & NLM_F.CAPPED) !== 0).toBe(echoed === undefined)
          const decoded = decodeErrorMessage(payload, flags)
          expect(decoded.error).toBe(error)
          expect(decoded.isAck).toBe(error === 0)
          expect(decoded.request).toEqual(request)
          expect(decoded.requestPayload).toEqual(requestPayload)
          if (extAck === undefined) expect(decoded.extAck).toBeUndefined()
          else {
            const { attrs: _attrs, ...rest } = decoded.extAck ?? { attrs: [] }
            expect(rest).toEqual(extAck)
          }
          expect(NLMSGERR_ATTR.MSG).toBe(1)
        },
      ),
      { numRuns: 300 },
    )
  })
})
