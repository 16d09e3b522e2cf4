/**
 * Fuzzing the decoder: whatever the bytes, decoding returns a value or throws NetlinkDecodeError,
 * never another error type (a RangeError from a Buffer read, a TypeError). Hangs are excluded by
 * construction (every decoding loop advances by at least 4 bytes); a regression that loops forever
 * would show up here as a test file that never finishes, since a synchronous loop cannot be timed
 * out from inside the same process.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { NLMSG, NLM_F, RTAX, RTM } from '../../../harness/netlink/codec/constants.js'
import { NetlinkDecodeError } from '../../../harness/netlink/codec/errors.js'
import {
  NLMSG_HDRLEN,
  nlmsgAlign,
  parseMessages,
  writeHeader,
} from '../../../harness/netlink/codec/header.js'
import { decodeMessages, encodeRequest } from '../../../harness/netlink/codec/message.js'
import { encodeRoute } from '../../../harness/netlink/codec/messages/route.js'
import { encodeErrorMessage } from '../../../harness/netlink/codec/nlmsgerr.js'
import * as addrFixtures from './fixtures/addr.js'
import { bytes, type Capture } from './fixtures/capture.js'
import * as errorFixtures from './fixtures/errors.js'
import * as linkFixtures from './fixtures/link.js'
import * as neighFixtures from './fixtures/neigh.js'
import * as routeFixtures from './fixtures/route.js'
import { FUZZ_TIMEOUT, fuzzRuns } from '../../support/fuzz.js'
import { firstMessage } from './helpers.js'

const captures: Capture[] = [addrFixtures, errorFixtures, linkFixtures, neighFixtures, routeFixtures].flatMap(
  (module) => Object.values(module),
)

function synthesized(): Buffer[] {
  const route = encodeRequest(
    { type: RTM.NEWROUTE },
    encodeRoute({
      dst: 'fd00:2::/64',
      metrics: { [RTAX.MTU]: 1400 },
      multipath: [
        { ifindex: 3, gateway: 'fd00:1::2' },
        { ifindex: 4, gateway: 'fd00:1::3' },
      ],
    }),
  )
  const { payload, flags } = encodeErrorMessage({
    error: -22,
    request: { length: 36, type: RTM.NEWLINK, flags: 5, seq: 9, pid: 0 },
    requestPayload: Buffer.alloc(20),
    extAck: { message: 'Attribute failed policy validation', offset: 32, missingType: 3, missingNest: 16 },
  })
  const error = encodeRequest({ type: NLMSG.ERROR, flags }, payload)
  return [route, error]
}

/** Messages with nested structures, for targeted mutations. */
const nested: Buffer[] = [
  ...synthesized(),
  firstMessage(bytes(linkFixtures.vethAddPeerInNetns.sent[1] ?? '')),
  firstMessage(bytes(linkFixtures.vxlanAdd.sent[1] ?? '')),
  bytes(errorFixtures.unknownKind.received[1] ?? ''),
]

/** Every single message of every capture, plus the nested ones above, each in its own buffer. */
const messages: Buffer[] = [
  ...captures.flatMap((c) =>
    [...c.sent.map((h) => firstMessage(bytes(h))), ...c.received.map(bytes)].flatMap((buf) =>
      parseMessages(buf).map((m) => buf.subarray(m.offset, m.offset + m.header.length)),
    ),
  ),
  ...nested,
]

/** Whole receive buffers as the kernel sent them (several messages each). */
const buffers: Buffer[] = captures.flatMap((c) => c.received.map(bytes))

function decodesOrThrowsDecodeError(buf: Buffer): void {
  try {
    decodeMessages(buf)
  } catch (err) {
    if (!(err instanceof NetlinkDecodeError)) {
      throw new Error(`decoder threw ${String(err)} for ${buf.toString('hex')}`, { cause: err })
    }
    expect(err.offset).toBeGreaterThanOrEqual(0)
    expect(err.offset).toBeLessThanOrEqual(buf.length)
    expect(err.message.startsWith('netlink: ')).toBe(true)
  }
}

/** A message with its payload cut to `keep` bytes and nlmsg_len fixed up, so framing still holds. */
function withPayload(message: Buffer, keep: number): Buffer {
  const out = Buffer.alloc(nlmsgAlign(NLMSG_HDRLEN + keep))
  message.copy(out, 0, 0, NLMSG_HDRLEN + keep)
  out.writeUInt32LE(NLMSG_HDRLEN + keep, 0)
  return out
}

describe('decoder fuzzing', { timeout: FUZZ_TIMEOUT }, () => {
  it('has a corpus of real messages', () => {
    expect(messages.length).toBeGreaterThan(60)
    for (const m of messages) expect(() => decodeMessages(m)).not.toThrow()
  })

  it('survives random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => decodesOrThrowsDecodeError(Buffer.from(raw))),
      fuzzRuns(1000),
    )
  })

  it('survives well-framed messages of every type with random payloads', () => {
    const typeArb = fc.constantFrom(
      NLMSG.NOOP,
      NLMSG.ERROR,
      NLMSG.DONE,
      NLMSG.OVERRUN,
      16,
      17,
      18,
      20,
      22,
      24,
      26,
      28,
      30,
    )
    const flagsArb = fc.constantFrom(
      0,
      NLM_F.MULTI,
      NLM_F.CAPPED,
      NLM_F.ACK_TLVS,
      NLM_F.CAPPED | NLM_F.ACK_TLVS,
    )
    fc.assert(
      fc.property(typeArb, flagsArb, fc.uint8Array({ maxLength: 200 }), (type, flags, payload) => {
        const buf = Buffer.alloc(nlmsgAlign(NLMSG_HDRLEN + payload.length))
        writeHeader(buf, { length: NLMSG_HDRLEN + payload.length, type, flags, seq: 0, pid: 0 })
        buf.set(payload, NLMSG_HDRLEN)
        decodesOrThrowsDecodeError(buf)
      }),
      fuzzRuns(2000),
    )
  })

  it('survives every truncation of every captured receive buffer', () => {
    for (const buf of buffers)
      for (let len = 0; len < buf.length; len++) decodesOrThrowsDecodeError(buf.subarray(0, len))
  })

  it('survives every truncation of every message payload (length fixed up)', () => {
    for (const message of messages) {
      for (let keep = 0; keep < message.length - NLMSG_HDRLEN; keep++)
        decodesOrThrowsDecodeError(withPayload(message, keep))
    }
  })

  it('survives random byte mutations of real messages', () => {
    const mutation = fc.record({ at: fc.nat(), value: fc.nat({ max: 0xff }) })
    fc.assert(
      fc.property(
        fc.constantFrom(...messages),
        fc.array(mutation, { minLength: 1, maxLength: 8 }),
        (message, edits) => {
          const buf = Buffer.from(message)
          for (const { at, value } of edits) buf[at % buf.length] = value
          decodesOrThrowsDecodeError(buf)
        },
      ),
      fuzzRuns(3000),
    )
  })

  const edge = fc.constantFrom(0, 1, 3, 4, 5, 8, 12, 16, 0x4000, 0x8000, 0xfffc, 0xffff)
  const edgeMutation = fc.record({ at: fc.nat(), value: edge })

  /** Overwrite 16-bit fields (nla_len, nla_type, rtnh_len: even offsets after the header). */
  function withEdgeValues(message: Buffer, edits: { at: number; value: number }[]): Buffer {
    const buf = Buffer.from(message)
    for (const { at, value } of edits) {
      const pos = NLMSG_HDRLEN + ((at % Math.max(1, (buf.length - NLMSG_HDRLEN) >> 1)) << 1)
      if (pos + 2 <= buf.length) buf.writeUInt16LE(value, pos)
    }
    return buf
  }

  it('survives length and type fields set to edge values', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...messages),
        fc.array(edgeMutation, { minLength: 1, maxLength: 4 }),
        (message, edits) => decodesOrThrowsDecodeError(withEdgeValues(message, edits)),
      ),
      fuzzRuns(3000),
    )
  })

  it('survives edge values inside nested structures (veth peer, vxlan data, multipath, ext-ack)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...nested),
        fc.array(edgeMutation, { minLength: 1, maxLength: 2 }),
        (message, edits) => decodesOrThrowsDecodeError(withEdgeValues(message, edits)),
      ),
      fuzzRuns(2000),
    )
  })
})
