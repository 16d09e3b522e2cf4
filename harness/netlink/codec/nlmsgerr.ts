/**
 * NLMSG_ERROR (errors and ACKs) and NLMSG_DONE (end of a dump) payloads.
 *
 * NLMSG_ERROR payload (`struct nlmsgerr`):
 *
 * ```
 *   0       4                    20
 *   | error | original nlmsghdr  | original payload (absent if NLM_F_CAPPED) | ext-ack TLVs
 * ```
 *
 * `error` is a negative errno, or 0 for an ACK. The kernel echoes the request's header, and its
 * payload too unless the reply carries NLM_F_CAPPED (always for ACKs; for errors when the socket
 * set NETLINK_CAP_ACK). With NETLINK_EXT_ACK the reply may carry NLM_F_ACK_TLVS and, after the
 * (padded) echo, NLMSGERR_ATTR_* attributes: a message, the offset of the offending attribute in
 * the request, a missing attribute type...
 *
 * NLMSG_DONE payload: an s32 error code (0 for a complete dump), possibly followed by ext-ack
 * TLVs when NLM_F_ACK_TLVS is set.
 */
import { Buffer } from 'node:buffer'
import {
  AttrWriter,
  decodeAttributes,
  readNested,
  readString,
  readU32,
  type Attribute,
} from './attributes.js'
import { NLMSGERR_ATTR, NLM_F } from './constants.js'
import { NetlinkDecodeError, NetlinkEncodeError } from './errors.js'
import { NLMSG_HDRLEN, decodeHeader, nlmsgAlign, writeHeader, type NlMsgHeader } from './header.js'
import { readHostS32, writeHostS32 } from './hostorder.js'

/** The extended-ack attributes of an error, ACK or DONE message. */
export interface ExtendedAck {
  /** NLMSGERR_ATTR_MSG: the kernel's explanation, e.g. "Unknown device type". */
  message?: string
  /** NLMSGERR_ATTR_OFFS: byte offset, in the request message, of the attribute at fault. */
  offset?: number
  /** NLMSGERR_ATTR_COOKIE: subsystem-specific bytes. */
  cookie?: Buffer
  /** NLMSGERR_ATTR_POLICY: the policy of the rejected attribute (nested). */
  policy?: Attribute[]
  /** NLMSGERR_ATTR_MISS_TYPE: type of a required attribute that was missing. */
  missingType?: number
  /** NLMSGERR_ATTR_MISS_NEST: offset of the nest in which it was missing. */
  missingNest?: number
  /** Every ext-ack attribute, in wire order. */
  attrs: Attribute[]
}

/** A decoded NLMSG_ERROR. */
export interface NetlinkErrorMessage {
  /** The kernel's value: a negative errno, or 0 for an ACK. */
  error: number
  /** `-error`: the positive errno (0 for an ACK). */
  errno: number
  /** True when `error` is 0. */
  isAck: boolean
  /** Header of the request this answers (its `seq` matches the request's). */
  request: NlMsgHeader
  /** Payload of the request, present only when the kernel did not set NLM_F_CAPPED. */
  requestPayload?: Buffer
  /** Present when NLM_F_ACK_TLVS is set. */
  extAck?: ExtendedAck
}

/** A decoded NLMSG_DONE. */
export interface DoneMessage {
  /** 0 when the dump completed; a negative errno when it failed part way. */
  error: number
  extAck?: ExtendedAck
}

/** Decode NLMSGERR_ATTR_* attributes. */
export function decodeExtendedAck(buf: Buffer, baseOffset = 0): ExtendedAck {
  const attrs = decodeAttributes(buf, baseOffset)
  const ack: ExtendedAck = { attrs }
  for (const attr of attrs) {
    switch (attr.type) {
      case NLMSGERR_ATTR.MSG:
        ack.message = readString(attr)
        break
      case NLMSGERR_ATTR.OFFS:
        ack.offset = readU32(attr, 'NLMSGERR_ATTR_OFFS')
        break
      case NLMSGERR_ATTR.COOKIE:
        ack.cookie = attr.value
        break
      case NLMSGERR_ATTR.POLICY:
        ack.policy = readNested(attr)
        break
      case NLMSGERR_ATTR.MISS_TYPE:
        ack.missingType = readU32(attr, 'NLMSGERR_ATTR_MISS_TYPE')
        break
      case NLMSGERR_ATTR.MISS_NEST:
        ack.missingNest = readU32(attr, 'NLMSGERR_ATTR_MISS_NEST')
        break
    }
  }
  return ack
}

/**
 * Decode an NLMSG_ERROR payload. `flags` are the reply's `nlmsg_flags` (they say whether the echo
 * is capped and whether ext-ack TLVs follow); `baseOffset` positions the payload for errors.
 */
export function decodeErrorMessage(payload: Buffer, flags: number, baseOffset = 0): NetlinkErrorMessage {
  const fixed = 4 + NLMSG_HDRLEN
  if (payload.length < fixed) {
    throw new NetlinkDecodeError(
      baseOffset,
      'truncated-payload',
      `NLMSG_ERROR payload at offset ${baseOffset} needs ${fixed} bytes but has ${payload.length}`,
    )
  }
  const error = readHostS32(payload, 0)
  const request = decodeHeader(payload, 4)
  const result: NetlinkErrorMessage = { error, errno: error === 0 ? 0 : -error, isAck: error === 0, request }
  let tlvStart = fixed
  if ((flags & NLM_F.CAPPED) === 0) {
    if (request.length < NLMSG_HDRLEN || 4 + request.length > payload.length) {
      throw new NetlinkDecodeError(
        baseOffset + 4,
        'bad-error-message',
        `NLMSG_ERROR at offset ${baseOffset} echoes a request of length ${request.length}, ` +
          `but only ${payload.length - 4} bytes of echo are present`,
      )
    }
    result.requestPayload = payload.subarray(fixed, 4 + request.length)
    tlvStart = Math.min(payload.length, 4 + nlmsgAlign(request.length))
  }
  if ((flags & NLM_F.ACK_TLVS) !== 0) {
    result.extAck = decodeExtendedAck(payload.subarray(tlvStart), baseOffset + tlvStart)
  }
  return result
}

/**
 * Decode an NLMSG_DONE payload: an s32 error code, then ext-ack TLVs when NLM_F_ACK_TLVS is set.
 * An empty payload (some non-rtnetlink families) reads as error 0.
 */
export function decodeDoneMessage(payload: Buffer, flags: number, baseOffset = 0): DoneMessage {
  if (payload.length === 0) return { error: 0 }
  if (payload.length < 4) {
    throw new NetlinkDecodeError(
      baseOffset,
      'truncated-payload',
      `NLMSG_DONE payload at offset ${baseOffset} has ${payload.length} bytes; expected a 4-byte error code`,
    )
  }
  const done: DoneMessage = { error: readHostS32(payload, 0) }
  if ((flags & NLM_F.ACK_TLVS) !== 0) done.extAck = decodeExtendedAck(payload.subarray(4), baseOffset + 4)
  return done
}

/** What {@link encodeErrorMessage} needs (used to fake kernel replies in tests). */
export interface ErrorMessageFields {
  /** 0 for an ACK, else a negative errno. */
  error: number
  /** Header of the request being answered. */
  request: NlMsgHeader
  /** Echo this request payload (the reply is then not capped); omit for a capped reply. */
  requestPayload?: Buffer
  extAck?: { message?: string; offset?: number; missingType?: number; missingNest?: number; cookie?: Buffer }
}

/** Encode an NLMSG_ERROR payload the way the kernel lays it out; returns it with the reply flags. */
export function encodeErrorMessage(fields: ErrorMessageFields): { payload: Buffer; flags: number } {
  if (!Number.isInteger(fields.error) || fields.error > 0 || fields.error < -0x80000000) {
    throw new NetlinkEncodeError(`error must be 0 or a negative errno, got ${fields.error}`)
  }
  const w = new AttrWriter()
  const head = Buffer.alloc(4 + NLMSG_HDRLEN)
  writeHostS32(head, fields.error, 0)
  const echoed = fields.requestPayload
  // A capped echo keeps the request's original nlmsg_len, as the kernel does.
  const length = echoed === undefined ? fields.request.length : NLMSG_HDRLEN + echoed.length
  writeHeader(head, { ...fields.request, length }, 4)
  w.raw(head)
  let flags = 0
  if (echoed !== undefined) w.raw(echoed)
  else flags |= NLM_F.CAPPED
  const ext = fields.extAck
  if (ext !== undefined) {
    flags |= NLM_F.ACK_TLVS
    writeExtendedAck(w, ext)
  }
  return { payload: w.toBuffer(), flags }
}

function writeExtendedAck(w: AttrWriter, ext: NonNullable<ErrorMessageFields['extAck']>): void {
  if (ext.message !== undefined) w.string(NLMSGERR_ATTR.MSG, ext.message)
  if (ext.offset !== undefined) w.u32(NLMSGERR_ATTR.OFFS, ext.offset)
  if (ext.cookie !== undefined) w.attr(NLMSGERR_ATTR.COOKIE, ext.cookie)
  if (ext.missingType !== undefined) w.u32(NLMSGERR_ATTR.MISS_TYPE, ext.missingType)
  if (ext.missingNest !== undefined) w.u32(NLMSGERR_ATTR.MISS_NEST, ext.missingNest)
}

/** Encode an NLMSG_DONE payload; returns it with the reply flags (NLM_F_MULTI, maybe ACK_TLVS). */
export function encodeDoneMessage(
  error = 0,
  extAck?: ErrorMessageFields['extAck'],
): { payload: Buffer; flags: number } {
  const w = new AttrWriter()
  const head = Buffer.alloc(4)
  writeHostS32(head, error, 0)
  w.raw(head)
  let flags: number = NLM_F.MULTI
  if (extAck !== undefined) {
    flags |= NLM_F.ACK_TLVS
    writeExtendedAck(w, extAck)
  }
  return { payload: w.toBuffer(), flags }
}

/** Flat summary of an NLMSG_ERROR or NLMSG_DONE: what a transport needs to settle a request. */
export interface NlmsgerrSummary {
  /** A negative errno, or 0 (ACK / complete dump). */
  error: number
  /** NLMSGERR_ATTR_MSG, when the kernel explained itself. */
  message?: string
  /** NLMSGERR_ATTR_OFFS: byte offset in the request of the attribute at fault. */
  offset?: number
  /** NLMSGERR_ATTR_MISS_TYPE. */
  missingType?: number
  /** NLMSGERR_ATTR_MISS_NEST. */
  missingNest?: number
}

/**
 * Decode an NLMSG_ERROR payload (or, with `done: true`, an NLMSG_DONE payload) into a flat
 * {@link NlmsgerrSummary}. `flags` are the reply's `nlmsg_flags`.
 */
export function decodeNlmsgerr(
  payload: Buffer,
  flags: number,
  options: { done?: boolean; baseOffset?: number } = {},
): NlmsgerrSummary {
  const base = options.baseOffset ?? 0
  const decoded =
    options.done === true ? decodeDoneMessage(payload, flags, base) : decodeErrorMessage(payload, flags, base)
  const summary: NlmsgerrSummary = { error: decoded.error }
  const ext = decoded.extAck
  if (ext?.message !== undefined) summary.message = ext.message
  if (ext?.offset !== undefined) summary.offset = ext.offset
  if (ext?.missingType !== undefined) summary.missingType = ext.missingType
  if (ext?.missingNest !== undefined) summary.missingNest = ext.missingNest
  return summary
}
