/**
 * The netlink message header (`struct nlmsghdr`) and the framing of a receive buffer.
 *
 * Wire layout (host byte order), 16 bytes:
 *
 * ```
 *   0      4      6       8      12     16
 *   | len  | type | flags | seq  | pid  | payload ... | padding to 4 |
 * ```
 *
 * `len` counts the header and the payload but not the trailing padding. One `recvmsg` can carry
 * several messages, each starting at the previous one's offset plus `NLMSG_ALIGN(len)`.
 */
import { Buffer } from 'node:buffer'
import { NetlinkDecodeError, NetlinkEncodeError } from './errors.js'
import { putHostU16, putHostU32, readHostU16, readHostU32, writeHostU16, writeHostU32 } from './hostorder.js'

/** Netlink messages and attributes are aligned to 4 bytes (`NLMSG_ALIGNTO`). */
export const NLMSG_ALIGNTO = 4

/** Size of `struct nlmsghdr` (`NLMSG_HDRLEN`). */
export const NLMSG_HDRLEN = 16

/** `NLMSG_ALIGN(len)`: round `len` up to the next multiple of 4. */
export function nlmsgAlign(len: number): number {
  return (len + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1)
}

/** A decoded `struct nlmsghdr`. */
export interface NlMsgHeader {
  /** `nlmsg_len`: header plus payload, without trailing padding. */
  length: number
  /** `nlmsg_type`: an `NLMSG_*` control type or an `RTM_*` type. */
  type: number
  /** `nlmsg_flags`: `NLM_F_*` bits. */
  flags: number
  /** `nlmsg_seq`: sequence number chosen by the requester, echoed in replies. */
  seq: number
  /** `nlmsg_pid`: port id of the sender (0 for the kernel). */
  pid: number
}

/** One framed message: its header, its payload (a view into the input, not a copy), its offset. */
export interface RawMessage {
  header: NlMsgHeader
  payload: Buffer
  /** Offset of the message's header in the buffer given to {@link parseMessages}. */
  offset: number
}

function checkUint(value: number, bits: 16 | 32, what: string): void {
  const max = bits === 16 ? 0xffff : 0xffffffff
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new NetlinkEncodeError(`${what} must be an integer in 0..${max}, got ${value}`)
  }
}

/** Write `header` at `offset` of `buf` (which must have 16 bytes there). */
export function writeHeader(buf: Buffer, header: NlMsgHeader, offset = 0): void {
  checkUint(header.length, 32, 'nlmsg_len')
  checkUint(header.type, 16, 'nlmsg_type')
  checkUint(header.flags, 16, 'nlmsg_flags')
  checkUint(header.seq, 32, 'nlmsg_seq')
  checkUint(header.pid, 32, 'nlmsg_pid')
  writeHostU32(buf, header.length, offset)
  writeHostU16(buf, header.type, offset + 4)
  writeHostU16(buf, header.flags, offset + 6)
  writeHostU32(buf, header.seq, offset + 8)
  writeHostU32(buf, header.pid, offset + 12)
}

/**
 * Check the fields a requester chooses (type, flags) and the length of a message with a
 * `payloadLength`-byte payload, with {@link writeHeader}'s errors, for writers that check when a
 * request is made and write it later with {@link writeHeaderFields}.
 */
export function checkHeaderFields(payloadLength: number, type: number, flags: number): void {
  // The usual case in a few operators (this runs per request); anything else gets the checks' words.
  if (
    (type & 0xffff) === type &&
    (flags & 0xffff) === flags &&
    payloadLength >>> 0 === payloadLength &&
    payloadLength <= 0xffffffff - NLMSG_HDRLEN
  )
    return
  checkUint(NLMSG_HDRLEN + payloadLength, 32, 'nlmsg_len')
  checkUint(type, 16, 'nlmsg_type')
  checkUint(flags, 16, 'nlmsg_flags')
}

/**
 * Write a header at `offset` of `buf` without checks or a header object (the transport writes one
 * per request): the caller checked type and flags with {@link checkHeaderFields}, and seq and pid
 * are u32 values it made itself.
 */
export function writeHeaderFields(
  buf: Buffer,
  offset: number,
  length: number,
  type: number,
  flags: number,
  seq: number,
  pid: number,
): void {
  putHostU32(buf, length, offset)
  putHostU16(buf, type, offset + 4)
  putHostU16(buf, flags, offset + 6)
  putHostU32(buf, seq, offset + 8)
  putHostU32(buf, pid, offset + 12)
}

/** Encode a header into a new 16-byte buffer. */
export function encodeHeader(header: NlMsgHeader): Buffer {
  const buf = Buffer.alloc(NLMSG_HDRLEN)
  writeHeader(buf, header)
  return buf
}

/**
 * Decode the header at `offset` of `buf`. Only checks that 16 bytes are present; use
 * {@link parseMessages} to also validate `nlmsg_len` against the buffer.
 */
export function decodeHeader(buf: Buffer, offset = 0): NlMsgHeader {
  if (offset < 0 || buf.length - offset < NLMSG_HDRLEN) {
    throw new NetlinkDecodeError(
      offset,
      'truncated-header',
      `message header at offset ${offset} needs ${NLMSG_HDRLEN} bytes but only ${Math.max(0, buf.length - offset)} remain`,
    )
  }
  return {
    length: readHostU32(buf, offset),
    type: readHostU16(buf, offset + 4),
    flags: readHostU16(buf, offset + 6),
    seq: readHostU32(buf, offset + 8),
    pid: readHostU32(buf, offset + 12),
  }
}

/**
 * Split a receive buffer into messages, like the kernel's `NLMSG_OK`/`NLMSG_NEXT` loop but strict:
 * each message needs a full 16-byte header and `16 <= nlmsg_len <= bytes remaining`; the next
 * message starts at `NLMSG_ALIGN(nlmsg_len)` (the padding of the last message may be absent).
 * Any violation throws {@link NetlinkDecodeError}. Each step advances at least 16 bytes, so the loop
 * always terminates.
 */
export function parseMessages(buf: Buffer): RawMessage[] {
  const messages: RawMessage[] = []
  let offset = 0
  while (offset < buf.length) {
    const header = decodeHeader(buf, offset)
    const remaining = buf.length - offset
    if (header.length < NLMSG_HDRLEN) {
      throw new NetlinkDecodeError(
        offset,
        'bad-length',
        `message at offset ${offset} claims length ${header.length}, less than the ${NLMSG_HDRLEN}-byte header`,
      )
    }
    if (header.length > remaining) {
      throw new NetlinkDecodeError(
        offset,
        'bad-length',
        `message at offset ${offset} claims length ${header.length} but only ${remaining} bytes remain`,
      )
    }
    messages.push({ header, payload: buf.subarray(offset + NLMSG_HDRLEN, offset + header.length), offset })
    offset = Math.min(buf.length, offset + nlmsgAlign(header.length))
  }
  return messages
}
