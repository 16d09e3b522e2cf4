/**
 * Netlink attributes (`struct nlattr`, identical in layout to rtnetlink's `struct rtattr`).
 *
 * Wire layout (host byte order):
 *
 * ```
 *   0         2          4
 *   | nla_len | nla_type | value ... | padding to 4 |
 * ```
 *
 * `nla_len` counts the 4-byte header and the value but not the padding (`NLA_ALIGN`). The top two
 * bits of `nla_type` are flags: `NLA_F_NESTED` (the value is itself a list of attributes) and
 * `NLA_F_NET_BYTEORDER` (the value is big-endian); decoding masks them off the type. Attributes may
 * repeat (IFLA_ALT_IFNAME, RTA_MULTIPATH entries), so decoding returns a list; when a message is
 * looked up by type the last occurrence wins, as in the kernel's `nla_parse`.
 */
// Imported, not the global: globalThis.Buffer is an accessor in Node 20, a getter call on every use
// in code V8 has not optimised yet (the codec's code, in runs of a few hundred requests).
import { Buffer } from 'node:buffer'
import { NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_TYPE_MASK } from './constants.js'
import { NetlinkDecodeError, NetlinkEncodeError } from './errors.js'
import {
  putHostU16,
  putHostU32,
  readHostS32,
  readHostU16,
  readHostU32,
  readHostU64,
  writeHostU64,
} from './hostorder.js'

/** Size of the attribute header (`NLA_HDRLEN`). */
export const NLA_HDRLEN = 4

/** Largest `nla_len` (a u16). */
export const NLA_MAX_LEN = 0xffff

/** `NLA_ALIGN(len)`: round up to a multiple of 4. */
export function nlaAlign(len: number): number {
  return (len + 3) & ~3
}

/** One decoded attribute. `value` is a view into the decoded input, not a copy. */
export interface Attribute {
  /** Attribute type with the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits masked off. */
  type: number
  /** NLA_F_NESTED was set (many senders, iproute2 included, nest without setting it). */
  nested: boolean
  /** NLA_F_NET_BYTEORDER was set. */
  netByteOrder: boolean
  /** The value bytes (`nla_len - 4` of them, without padding). */
  value: Buffer
  /** Offset of the attribute header in the outermost decoded input, for error messages. */
  offset: number
}

/**
 * Decode a run of attributes filling `buf` entirely (as in a message payload after its fixed
 * header, or the value of a nested attribute). `baseOffset` is the position of `buf[0]` in the
 * original input and only feeds error offsets.
 *
 * Each attribute needs `4 <= nla_len <= bytes remaining`; the next starts at `NLA_ALIGN(nla_len)`
 * (the final padding may be missing). Fewer than 4 trailing bytes is an error. Every step
 * advances at least 4 bytes, so the loop terminates.
 */
export function decodeAttributes(buf: Buffer, baseOffset = 0): Attribute[] {
  const attrs: Attribute[] = []
  let pos = 0
  while (pos < buf.length) {
    const remaining = buf.length - pos
    const at = baseOffset + pos
    if (remaining < NLA_HDRLEN) {
      throw new NetlinkDecodeError(
        at,
        'truncated-attribute',
        `attribute at offset ${at} needs a ${NLA_HDRLEN}-byte header but only ${remaining} bytes remain`,
      )
    }
    const len = readHostU16(buf, pos)
    const rawType = readHostU16(buf, pos + 2)
    if (len < NLA_HDRLEN || len > remaining) {
      const detail =
        len < NLA_HDRLEN
          ? `attribute at offset ${at} claims length ${len}, less than its ${NLA_HDRLEN}-byte header`
          : `attribute at offset ${at} claims length ${len} but only ${remaining} bytes remain`
      throw new NetlinkDecodeError(at, 'bad-attribute-length', detail)
    }
    attrs.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      netByteOrder: (rawType & NLA_F_NET_BYTEORDER) !== 0,
      value: buf.subarray(pos + NLA_HDRLEN, pos + len),
      offset: at,
    })
    pos = Math.min(buf.length, pos + nlaAlign(len))
  }
  return attrs
}

/** Map attributes by type; on repeats the last one wins (kernel `nla_parse` semantics). */
export function indexAttributes(attrs: readonly Attribute[]): Map<number, Attribute> {
  const map = new Map<number, Attribute>()
  for (const attr of attrs) map.set(attr.type, attr)
  return map
}

/** The last attribute of `type`, or `undefined`. */
export function findAttribute(attrs: readonly Attribute[], type: number): Attribute | undefined {
  for (let i = attrs.length - 1; i >= 0; i--) {
    const attr = attrs[i]
    if (attr !== undefined && attr.type === type) return attr
  }
  return undefined
}

/** Every attribute of `type`, in wire order (for repeatable attributes such as IFLA_ALT_IFNAME). */
export function findAllAttributes(attrs: readonly Attribute[], type: number): Attribute[] {
  return attrs.filter((attr) => attr.type === type)
}

function label(attr: Attribute, what: string | undefined): string {
  return what ?? `attribute type ${attr.type}`
}

function expectLength(attr: Attribute, size: number, what: string | undefined): void {
  if (attr.value.length !== size) {
    throw new NetlinkDecodeError(
      attr.offset,
      'bad-attribute-value',
      `${label(attr, what)} at offset ${attr.offset} must be ${size} bytes but is ${attr.value.length}`,
    )
  }
}

/** Read a u8 value; the value must be exactly 1 byte. `what` names the attribute in errors. */
export function readU8(attr: Attribute, what?: string): number {
  expectLength(attr, 1, what)
  return attr.value[0] ?? 0
}

/** Read a host-order u16 value (exactly 2 bytes). */
export function readU16(attr: Attribute, what?: string): number {
  expectLength(attr, 2, what)
  return readHostU16(attr.value, 0)
}

/** Read a host-order u32 value (exactly 4 bytes). */
export function readU32(attr: Attribute, what?: string): number {
  expectLength(attr, 4, what)
  return readHostU32(attr.value, 0)
}

/** Read a host-order s32 value (exactly 4 bytes). */
export function readS32(attr: Attribute, what?: string): number {
  expectLength(attr, 4, what)
  return readHostS32(attr.value, 0)
}

/** Read a host-order u64 value (exactly 8 bytes) as a bigint. */
export function readU64(attr: Attribute, what?: string): bigint {
  expectLength(attr, 8, what)
  return readHostU64(attr.value, 0)
}

/** Read a network-order (big-endian) u16, e.g. a UDP port (exactly 2 bytes). */
export function readBe16(attr: Attribute, what?: string): number {
  expectLength(attr, 2, what)
  return attr.value.readUInt16BE(0)
}

/** Read a network-order (big-endian) u32 (exactly 4 bytes). */
export function readBe32(attr: Attribute, what?: string): number {
  expectLength(attr, 4, what)
  return attr.value.readUInt32BE(0)
}

/**
 * Read a string value: UTF-8 up to the first NUL. A missing terminator is accepted (the kernel's
 * NLA_STRING policy allows it, and iproute2 sends IFLA_INFO_KIND without one).
 */
export function readString(attr: Attribute): string {
  const nul = attr.value.indexOf(0)
  return attr.value.toString('utf8', 0, nul === -1 ? attr.value.length : nul)
}

/** Decode the value of a nested attribute as a list of attributes. */
export function readNested(attr: Attribute): Attribute[] {
  return decodeAttributes(attr.value, attr.offset + NLA_HDRLEN)
}

/** `what` and `type` make the message only when it is thrown (this runs for every attribute written). */
function checkInt(value: number, min: number, max: number, what: string, type?: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const subject = type === undefined ? what : `${what} ${type}`
    throw new NetlinkEncodeError(`${subject} must be an integer in ${min}..${max}, got ${value}`)
  }
}

/**
 * Builds a netlink payload: raw fixed headers ({@link AttrWriter.raw}) followed by attributes,
 * each padded to 4 bytes with zeros. Integer values are written in host order unless the method
 * name says `be`. Types are written as given, so OR in {@link NLA_F_NESTED} yourself where a
 * kernel policy demands it (iproute2 and the rtnetlink policies do without it).
 *
 * ```ts
 * const w = new AttrWriter()
 * w.raw(encodeIfInfoHeader({}))
 * w.string(IFLA.IFNAME, 'veth0')
 * w.nested(IFLA.LINKINFO, (info) => info.stringNoNul(IFLA_INFO.KIND, 'veth'))
 * const payload = w.toBuffer()
 * ```
 */
/** TypedArray's fill, a builtin (Buffer's own fill checks its arguments in JavaScript first). */
const fillBytes = Uint8Array.prototype.fill

export class AttrWriter {
  private buf: Buffer
  private len = 0

  constructor(initialCapacity = 256) {
    // Unzeroed (from Node's pool when small): every byte below `len` is written, padding included.
    this.buf = Buffer.allocUnsafe(Math.max(16, initialCapacity))
  }

  /** Bytes written so far (always a multiple of 4). */
  get length(): number {
    return this.len
  }

  private reserve(extra: number): void {
    const need = this.len + extra
    if (need <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.len)
    this.buf = next
  }

  /**
   * The buffer written so far, for filling in what {@link AttrWriter.zeros} reserved. Valid until
   * the next write, which may move the bytes to a bigger buffer.
   */
  get buffer(): Buffer {
    return this.buf
  }

  /**
   * Append `size` zero bytes (padded to 4) and return their offset in {@link AttrWriter.buffer}:
   * room for a fixed header written in place, instead of encoded apart and copied by `raw`.
   */
  zeros(size: number): number {
    const padded = nlaAlign(size)
    this.reserve(padded)
    const at = this.len
    fillBytes.call(this.buf, 0, at, at + padded)
    this.len += padded
    return at
  }

  /** Append bytes as they are (a fixed header such as ifinfomsg), then zero-pad to 4. */
  raw(bytes: Uint8Array): this {
    const padded = nlaAlign(bytes.length)
    this.reserve(padded)
    this.buf.set(bytes, this.len)
    fillBytes.call(this.buf, 0, this.len + bytes.length, this.len + padded)
    this.len += padded
    return this
  }

  /**
   * Start an attribute whose value is `size` bytes: header written, room
   * reserved and the padding zeroed; returns the value's offset. It may
   * replace `this.buf`: callers read `this.buf` only after calling it.
   */
  private begin(type: number, size: number): number {
    checkInt(type, 0, 0xffff, 'attribute type')
    const len = NLA_HDRLEN + size
    if (len > NLA_MAX_LEN) {
      throw new NetlinkEncodeError(
        `attribute type ${type} is ${len} bytes long; nla_len allows at most ${NLA_MAX_LEN}`,
      )
    }
    const padded = nlaAlign(len)
    this.reserve(padded)
    const at = this.len
    // Both checked above: unchecked stores (this runs per attribute).
    putHostU16(this.buf, len, at)
    putHostU16(this.buf, type, at + 2)
    for (let i = at + len; i < at + padded; i++) this.buf[i] = 0
    this.len += padded
    return at + NLA_HDRLEN
  }

  /** Append an attribute with the given value bytes. */
  attr(type: number, value: Uint8Array): this {
    const at = this.begin(type, value.length)
    this.buf.set(value, at)
    return this
  }

  /** A zero-length attribute (a flag such as IFLA_VXLAN_COLLECT_METADATA). */
  flag(type: number): this {
    this.begin(type, 0)
    return this
  }

  u8(type: number, value: number): this {
    checkInt(value, 0, 0xff, 'u8 attribute', type)
    const at = this.begin(type, 1)
    this.buf[at] = value
    return this
  }

  u16(type: number, value: number): this {
    checkInt(value, 0, 0xffff, 'u16 attribute', type)
    const at = this.begin(type, 2)
    putHostU16(this.buf, value, at)
    return this
  }

  u32(type: number, value: number): this {
    checkInt(value, 0, 0xffffffff, 'u32 attribute', type)
    const at = this.begin(type, 4)
    putHostU32(this.buf, value, at)
    return this
  }

  s32(type: number, value: number): this {
    checkInt(value, -0x80000000, 0x7fffffff, 's32 attribute', type)
    const at = this.begin(type, 4)
    putHostU32(this.buf, value, at)
    return this
  }

  u64(type: number, value: bigint | number): this {
    const big = typeof value === 'bigint' ? value : Number.isInteger(value) ? BigInt(value) : -1n
    if (big < 0n || big > 0xffffffffffffffffn) {
      throw new NetlinkEncodeError(`u64 attribute ${type} must be an integer in 0..2^64-1, got ${value}`)
    }
    const at = this.begin(type, 8)
    writeHostU64(this.buf, big, at)
    return this
  }

  /** A network-order u16 (ports, e.g. IFLA_VXLAN_PORT). */
  be16(type: number, value: number): this {
    checkInt(value, 0, 0xffff, 'be16 attribute', type)
    const at = this.begin(type, 2)
    this.buf.writeUInt16BE(value, at)
    return this
  }

  /** A network-order u32. */
  be32(type: number, value: number): this {
    checkInt(value, 0, 0xffffffff, 'be32 attribute', type)
    const at = this.begin(type, 4)
    this.buf.writeUInt32BE(value, at)
    return this
  }

  /** A NUL-terminated UTF-8 string (NLA_NUL_STRING and NLA_STRING both accept it). */
  string(type: number, value: string): this {
    const size = Buffer.byteLength(value, 'utf8')
    const at = this.begin(type, size + 1)
    this.buf.write(value, at, 'utf8')
    this.buf[at + size] = 0
    return this
  }

  /** A string without a NUL terminator, as iproute2 and vishvananda send IFLA_INFO_KIND. */
  stringNoNul(type: number, value: string): this {
    const at = this.begin(type, Buffer.byteLength(value, 'utf8'))
    this.buf.write(value, at, 'utf8')
    return this
  }

  /**
   * A nested attribute: `build` appends the inner attributes (and raw headers) to this same
   * writer; the outer `nla_len` then covers them including their padding, as the kernel's
   * `nla_nest_end` does.
   */
  nested(type: number, build: (writer: this) => void): this {
    checkInt(type, 0, 0xffff, 'attribute type')
    const start = this.len
    this.reserve(NLA_HDRLEN)
    this.len += NLA_HDRLEN
    build(this)
    const len = this.len - start
    if (len > NLA_MAX_LEN) {
      throw new NetlinkEncodeError(
        `nested attribute type ${type} is ${len} bytes long; nla_len allows at most ${NLA_MAX_LEN}`,
      )
    }
    putHostU16(this.buf, len, start)
    putHostU16(this.buf, type, start + 2)
    return this
  }

  /** A copy of the bytes written so far. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len))
  }

  /**
   * The bytes written, as a view of the writer's buffer (no copy), for an encoder that is done
   * with the writer: writing after this may change the view's bytes.
   */
  finish(): Buffer {
    return this.buf.subarray(0, this.len)
  }
}
