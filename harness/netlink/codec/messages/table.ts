/**
 * Messages declared as tables, decoded and encoded by one generic routine (pyroute2's way: a
 * message class is a list of header fields plus an `nla_map` of attribute type -> name and kind).
 *
 * A message family is declared once as
 *
 * - a {@link StructSpec}: the fixed header (`struct ifinfomsg`, ...) as fields with an offset and a
 *   wire type (host order), each with its C name for error messages;
 * - an {@link AttrSpec} list: attribute type -> result key, kind (u32, string, IP address, nested
 *   table, fixed struct, ...) and the name errors quote. The list is in iproute2's order, which is
 *   also the order requests are written in.
 *
 * The tables are compiled once, at module load ({@link defineStruct}, {@link compileAttrs},
 * {@link defineMessage}): each becomes a small decoder function generated from the table (a
 * `switch` on the attribute type, an object literal for the header), the code one would write by
 * hand, so V8 sees fixed property names and fixed shapes and decoding costs what the handwritten
 * decoders did; no lookup by name and no closure per message. Only names and numbers from the
 * tables below go into the generated code, never input bytes. What a table cannot say (a veth
 * peer, RTA_MULTIPATH's records) is a `custom` entry: a function of the attribute, called from the
 * same `switch`.
 *
 * Results are plain objects keyed as the table says; each message module casts them to its typed
 * interface (LinkMessage, RouteMessage, ...), whose field names are the tables' keys.
 */
import { Buffer } from 'node:buffer'
import { bytesToIp } from '../../../util/ip.js'
import {
  type Attribute,
  type AttrWriter,
  decodeAttributes,
  readBe16,
  readNested,
  readS32,
  readString,
  readU16,
  readU32,
  readU64,
  readU8,
} from '../attributes.js'
import { AF } from '../constants.js'
import { NetlinkDecodeError, NetlinkEncodeError } from '../errors.js'
import {
  HOST_IS_LITTLE_ENDIAN,
  peekHostS32,
  peekHostU16,
  peekHostU32,
  putHostU16,
  putHostU32,
  readHostU64,
} from '../hostorder.js'
import {
  checkField,
  ipBytesForFamily,
  isIpFamily,
  linkAddressBytes,
  readIpAttr,
  readMacAttr,
  requireFixedHeader,
} from './common.js'

/** A decoded message or nested table while it is being filled in. */
export type Fields = Record<string, unknown>

// ------------------------------------------------------------------ fixed structs

/**
 * Wire types of fixed-struct fields: host order, except `be16`/`be32` (network order: ports,
 * SPIs); `u64` reads as a bigint and writes a bigint (or an integer number).
 */
export type FieldType = 'u8' | 'u16' | 'u32' | 's32' | 'u64' | 'be16' | 'be32'

/** One field of a fixed struct. */
export interface FieldSpec {
  /** Key in the decoded object and in requests. */
  key: string
  offset: number
  type: FieldType
  /** The C name (`ifi_index`), quoted by encoding errors. */
  cName: string
  /** A smaller upper bound than the wire type's, checked when encoding (a prefix length: 128). */
  max?: number
}

/** A fixed struct: a message's header, or the value of a struct-valued attribute. */
export interface StructSpec {
  /** The C name (`ifinfomsg`), quoted by decoding errors. */
  cName: string
  size: number
  fields: readonly FieldSpec[]
}

/** A struct compiled for use: `read` builds the decoded object (bounds checked by the caller). */
export interface CompiledStruct extends StructSpec {
  read: (buf: Uint8Array, at: number) => Fields
}

const RANGE: Record<Exclude<FieldType, 'u64'>, readonly [number, number]> = {
  u8: [0, 0xff],
  u16: [0, 0xffff],
  u32: [0, 0xffffffff],
  s32: [-0x80000000, 0x7fffffff],
  be16: [0, 0xffff],
  be32: [0, 0xffffffff],
}

const U64_MAX = 0xffffffffffffffffn

/** A u64 field's value for the wire: a bigint or an integer number in 0..2^64-1, else an error naming it. */
function checkU64(value: unknown, cName: string): bigint {
  const v = typeof value === 'number' && Number.isInteger(value) ? BigInt(value) : value
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX)
    throw new NetlinkEncodeError(`${cName} must be an integer in 0..2^64-1, got ${String(value)}`)
  return v
}

/** What generated code calls: the unchecked readers, the attribute readers, the error paths. */
const R = {
  peekHostU16,
  peekHostU32,
  peekHostS32,
  peekHostU64: (buf: Uint8Array, at: number): bigint =>
    readHostU64(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), at),
  peekBe16: (buf: Uint8Array, at: number): number => (buf[at]! << 8) | buf[at + 1]!,
  peekBe32: (buf: Uint8Array, at: number): number =>
    ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0,
  requireFixedHeader,
  decodeAttributes,
  readU8,
  readU16,
  readU32,
  readS32,
  readU64,
  readBe16,
  readString,
  readNested,
  readMacAttr,
  readIpAttr,
  isIpFamily,
  ip: (a: Attribute, size: 4 | 16, what: string): string =>
    a.value.length === size ? bytesToIp(a.value) : wrongAddressLength(a, what, size),
  struct: (a: Attribute, spec: CompiledStruct, what: string): Fields => {
    if (a.value.length !== spec.size) {
      throw new NetlinkDecodeError(
        a.offset,
        'bad-attribute-value',
        `${what} at offset ${a.offset} must be ${spec.size} bytes but is ${a.value.length}`,
      )
    }
    return spec.read(a.value, 0)
  },
  nested: (a: Attribute, table: CompiledAttrs, family: number): Fields => {
    const inner: Fields = {}
    table.decodeInto(readNested(a), inner, family)
    return inner
  },
}

/** A property name or string for generated code (a quoted literal, so any key is safe). */
const lit = (text: string): string => JSON.stringify(text)

/** Generate a function from `body` with `R` and `E` (the table's entries) in scope. */
function generate<F>(params: string, body: string, entries: readonly unknown[] = []): F {
  // The body is made from the tables' names and numbers only (see the module comment).
  return new Function('R', 'E', `"use strict"; return function (${params}) {\n${body}\n}`)(R, entries) as F
}

/** The expression reading field `f` of a struct that starts at `at` of `buf`. */
function fieldExpr(f: FieldSpec): string {
  const at = `at + ${f.offset}`
  switch (f.type) {
    case 'u8':
      return `buf[${at}]`
    case 'u16':
      return `R.peekHostU16(buf, ${at})`
    case 'u32':
      return `R.peekHostU32(buf, ${at})`
    case 's32':
      return `R.peekHostS32(buf, ${at})`
    case 'u64':
      return `R.peekHostU64(buf, ${at})`
    case 'be16':
      return `R.peekBe16(buf, ${at})`
    case 'be32':
      return `R.peekBe32(buf, ${at})`
  }
}

/** The object literal of a struct's fields (plus `extra` properties), for generated code. */
function structLiteral(spec: StructSpec, extra = ''): string {
  return `{ ${spec.fields.map((f) => `${lit(f.key)}: ${fieldExpr(f)}`).join(', ')}${extra} }`
}

/** Compile a struct (once, at module load). */
export function defineStruct(spec: StructSpec): CompiledStruct {
  for (const f of spec.fields) {
    if (!Number.isInteger(f.offset) || f.offset < 0 || f.offset + FIELD_SIZE[f.type] > spec.size)
      throw new Error(`netlink table: ${spec.cName}.${f.cName} lies outside the struct`)
  }
  return { ...spec, read: generate('buf, at', `return ${structLiteral(spec)}`) }
}

const FIELD_SIZE: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, s32: 4, u64: 8, be16: 2, be32: 4 }

/** Decode the fixed struct at the start of `payload`, which must hold it (else `truncated-payload`). */
export function decodeStruct(spec: CompiledStruct, payload: Buffer, baseOffset: number): Fields {
  requireFixedHeader(payload, spec.size, baseOffset, spec.cName)
  return spec.read(payload, 0)
}

/**
 * Write `spec` at `at` of `buf`: every byte of the struct, padding zeroed, omitted fields 0, each
 * value checked against its wire type (`ifi_type must be an integer in 0..65535, got -1`).
 */
export function putStruct(spec: StructSpec, buf: Uint8Array, at: number, values: object): void {
  buf.fill(0, at, at + spec.size)
  const fields = spec.fields
  const v = values as Fields
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!
    const p = at + f.offset
    if (f.type === 'u64') {
      const big = checkU64(v[f.key] ?? 0n, f.cName)
      putHostU32(buf, Number(HOST_IS_LITTLE_ENDIAN ? big & 0xffffffffn : big >> 32n), p)
      putHostU32(buf, Number(HOST_IS_LITTLE_ENDIAN ? big >> 32n : big & 0xffffffffn), p + 4)
      continue
    }
    const [min, max] = RANGE[f.type]
    const value = checkField((v[f.key] as number | undefined) ?? 0, min, f.max ?? max, f.cName)
    if (f.type === 'u8') buf[p] = value
    else if (f.type === 'u16') putHostU16(buf, value, p)
    else if (f.type === 'be16') {
      buf[p] = value >>> 8
      buf[p + 1] = value & 0xff
    } else if (f.type === 'be32') {
      buf[p] = value >>> 24
      buf[p + 1] = (value >>> 16) & 0xff
      buf[p + 2] = (value >>> 8) & 0xff
      buf[p + 3] = value & 0xff
    } else putHostU32(buf, value, p)
  }
}

/** Encode `spec` into a buffer of its own (pooled; every byte is written). */
export function encodeStruct(spec: StructSpec, values: object): Buffer {
  const buf = Buffer.allocUnsafe(spec.size)
  putStruct(spec, buf, 0, values)
  return buf
}

// -------------------------------------------------------------------- attributes

/** How an attribute's value is read and written. */
export type AttrKind =
  | 'u8'
  | 'u16'
  | 'u32'
  | 's32'
  | 'u64'
  | 'be16'
  /** A u8 read as `value !== 0`, written as 1 or 0. */
  | 'bool8'
  /** NUL-terminated string (NLA_STRING accepts a missing NUL when decoding). */
  | 'string'
  /** A string sent without its NUL, as iproute2 sends IFLA_INFO_KIND. */
  | 'string-nonul'
  /** Link-layer address: MAC text, or raw bytes passed through when encoding. */
  | 'mac'
  /** IP address of the message's family; decoded for AF_INET/AF_INET6 messages only. */
  | 'ip'
  /** IP address of the message's family, decoded whatever the family (4 or 16 bytes for others). */
  | 'ip-any'
  /** An IPv4 address (exactly 4 bytes), whatever the message's family. */
  | 'ip4'
  /** An IPv6 address (exactly 16 bytes). */
  | 'ip6'
  /** A fixed struct ({@link AttrSpec.struct}) of exactly its size. */
  | 'struct'
  /** The nested attributes, undecoded (a list of Attribute). */
  | 'attrs'
  /** Nested attributes decoded by another table ({@link AttrSpec.nested}) into an object. */
  | 'nested'
  /** Read by {@link AttrSpec.decode} / written by {@link AttrSpec.encode}. */
  | 'custom'

/** One attribute of a table. */
export interface AttrSpec {
  type: number
  /** Key in the decoded object (and, unless {@link AttrSpec.get} says otherwise, in requests). */
  key: string
  kind: AttrKind
  /** Quoted by errors (`IFLA_MTU (4)`, `RTA_OIF`). */
  name: string
  /** Repeatable: each occurrence is pushed onto the list at `key` (which the message starts empty). */
  list?: boolean
  struct?: CompiledStruct
  nested?: CompiledAttrs
  /** `custom` decoding: store whatever the attribute means into `out`. */
  decode?: (attr: Attribute, out: Fields, family: number) => void
  /** `custom` encoding (or any kind's, overriding the kind's writer). */
  encode?: (w: AttrWriter, value: unknown, family: number) => void
  /** The value a request sends, when it is not `request[key]` (`undefined`: the attribute is not sent). */
  get?: (request: Fields) => unknown
  /** Decoded only: never written by the table's encoder. */
  decodeOnly?: boolean
}

type Encoder = (w: AttrWriter, e: AttrSpec, value: unknown, family: number) => void

/** A table compiled for use: its decoder, and the encoding order. */
export interface CompiledAttrs {
  /** Decode the attributes the table knows into `out` (the others stay in the message's `attrs`). */
  decodeInto: (attrs: readonly Attribute[], out: Fields, family: number) => void
  /** Entries the encoder writes, in table order. */
  writes: readonly CompiledEntry[]
  /** Keys of repeatable entries: lists a decoded message starts with, empty. */
  lists: readonly string[]
}

interface CompiledEntry extends AttrSpec {
  write: Encoder
}

function wrongAddressLength(attr: Attribute, what: string, expected: number): never {
  throw new NetlinkDecodeError(
    attr.offset,
    'bad-address-length',
    `${what} at offset ${attr.offset} has ${attr.value.length} address bytes; expected ${expected}`,
  )
}

/** The expression reading entry `E[i]` from attribute `a` (`family`: the message's), by kind. */
function valueExpr(e: AttrSpec, i: number): string {
  const name = lit(e.name)
  switch (e.kind) {
    case 'u8':
      return `R.readU8(a, ${name})`
    case 'u16':
      return `R.readU16(a, ${name})`
    case 'u32':
      return `R.readU32(a, ${name})`
    case 's32':
      return `R.readS32(a, ${name})`
    case 'u64':
      return `R.readU64(a, ${name})`
    case 'be16':
      return `R.readBe16(a, ${name})`
    case 'bool8':
      return `R.readU8(a, ${name}) !== 0`
    case 'string':
    case 'string-nonul':
      return 'R.readString(a)'
    case 'mac':
      return 'R.readMacAttr(a)'
    case 'ip':
    case 'ip-any':
      return `R.readIpAttr(a, family, ${name})`
    case 'ip4':
      return `R.ip(a, 4, ${name})`
    case 'ip6':
      return `R.ip(a, 16, ${name})`
    case 'struct':
      return `R.struct(a, E[${i}].struct, ${name})`
    case 'attrs':
      return 'R.readNested(a)'
    case 'nested':
      return `R.nested(a, E[${i}].nested, family)`
    case 'custom':
      throw new Error('unreachable: custom entries are called, not read')
  }
}

/** The statement decoding entry `E[i]` into `out`. */
function decodeStatement(e: AttrSpec, i: number): string {
  if (e.kind === 'custom') {
    if (e.decode === undefined) throw new Error(`netlink table: ${e.name} is custom but has no decode`)
    return `E[${i}].decode(a, out, family)`
  }
  if ((e.kind === 'struct' && e.struct === undefined) || (e.kind === 'nested' && e.nested === undefined))
    throw new Error(`netlink table: ${e.name} (${e.kind}) lacks its ${e.kind} table`)
  const key = lit(e.key)
  const store = e.list === true ? `out[${key}].push(${valueExpr(e, i)})` : `out[${key}] = ${valueExpr(e, i)}`
  // IP addresses of other families (MPLS, ...) stay in `attrs` only.
  return e.kind === 'ip' ? `if (R.isIpFamily(family)) ${store}` : store
}

function noWriter(_w: AttrWriter, e: AttrSpec): void {
  throw new Error(`netlink table: ${e.name} (${e.kind}) has no encoder`)
}

/** Per kind: write a request's value. */
const ENCODERS: Record<AttrKind, Encoder> = {
  u8: (w, e, v) => void w.u8(e.type, v as number),
  u16: (w, e, v) => void w.u16(e.type, v as number),
  u32: (w, e, v) => void w.u32(e.type, v as number),
  s32: (w, e, v) => void w.s32(e.type, v as number),
  u64: (w, e, v) => void w.u64(e.type, v as bigint | number),
  be16: (w, e, v) => void w.be16(e.type, v as number),
  bool8: (w, e, v) => void w.u8(e.type, v === true ? 1 : 0),
  string: (w, e, v) => void w.string(e.type, v as string),
  'string-nonul': (w, e, v) => void w.stringNoNul(e.type, v as string),
  mac: (w, e, v) => void w.attr(e.type, linkAddressBytes(v as string | Uint8Array)),
  ip: (w, e, v, family) => void w.attr(e.type, ipBytesForFamily(v as string | Uint8Array, family, e.name)),
  'ip-any': (w, e, v, family) =>
    void w.attr(e.type, ipBytesForFamily(v as string | Uint8Array, family, e.name)),
  ip4: (w, e, v) => void w.attr(e.type, ipBytesForFamily(v as string | Uint8Array, AF.INET, e.name)),
  ip6: (w, e, v) => void w.attr(e.type, ipBytesForFamily(v as string | Uint8Array, AF.INET6, e.name)),
  struct: (w, e, v) => void w.attr(e.type, encodeStruct(e.struct!, v as object)),
  attrs: noWriter,
  nested: (w, e, v, family) =>
    void w.nested(e.type, (inner) => writeAttrs(inner, e.nested!, v as Fields, family)),
  custom: noWriter,
}

/** Compile a table (once, at module load): entries indexed by type, readers and writers chosen. */
export function compileAttrs(specs: readonly AttrSpec[]): CompiledAttrs {
  const seen = new Set<number>()
  const writes: CompiledEntry[] = []
  const lists: string[] = []
  const cases: string[] = []
  const entries: CompiledEntry[] = specs.map((s, i) => {
    if (!Number.isInteger(s.type) || s.type < 0 || s.type > 0x3fff || seen.has(s.type))
      throw new Error(`netlink table: attribute type ${s.type} (${s.name}) is invalid or declared twice`)
    seen.add(s.type)
    cases.push(`case ${s.type}: ${decodeStatement(s, i)}; break`)
    const entry: CompiledEntry = {
      ...s,
      write: s.encode === undefined ? ENCODERS[s.kind] : (w, _e, v, family) => s.encode!(w, v, family),
    }
    if (s.decodeOnly !== true) writes.push(entry)
    if (s.list === true && !lists.includes(s.key)) lists.push(s.key)
    return entry
  })
  const body = [
    'for (let i = 0; i < attrs.length; i++) {',
    '  const a = attrs[i]',
    '  switch (a.type) {',
    ...cases.map((c) => `    ${c}`),
    '  }',
    '}',
  ].join('\n')
  return { decodeInto: generate('attrs, out, family', body, entries), writes, lists }
}

/**
 * Decode `attrs` by `table` into `out`: each attribute the table knows is read by its kind (and
 * its length checked: a wrong size is a NetlinkDecodeError naming it); the others are skipped,
 * left in the message's `attrs`. On repeats the last one wins, except for list entries.
 */
export function decodeAttrsInto(
  table: CompiledAttrs,
  attrs: readonly Attribute[],
  out: Fields,
  family: number,
): void {
  table.decodeInto(attrs, out, family)
}

/**
 * Write the attributes of `values` that `table` declares, in table order; an entry is written when
 * its value (`values[key]`, or what its `get` returns) is not undefined.
 */
export function writeAttrs(w: AttrWriter, table: CompiledAttrs, values: object, family: number): void {
  const writes = table.writes
  const v = values as Fields
  for (let i = 0; i < writes.length; i++) {
    const e = writes[i]!
    const value = e.get === undefined ? v[e.key] : e.get(v)
    if (value !== undefined) e.write(w, e, value, family)
  }
}

// ---------------------------------------------------------------------- messages

/** A message family: its fixed header and its attribute table, compiled into one decoder. */
export interface MessageSpec {
  header: CompiledStruct
  attrs: CompiledAttrs
  /** Decode a payload; see {@link decodePayload}. */
  decode: (payload: Buffer, baseOffset: number) => Fields
}

/**
 * Compile a message family (once, at module load). Its decoder builds the message as one object
 * literal (the header's fields, the table's lists empty, `attrs`), so every message of a family
 * has the same shape from the start, then lets the table read the attributes.
 */
export function defineMessage(header: CompiledStruct, attrs: CompiledAttrs): MessageSpec {
  const size = header.size
  const extra = `${attrs.lists.map((l) => `, ${lit(l)}: []`).join('')}, "attrs": attrs`
  const body = [
    `R.requireFixedHeader(payload, ${size}, baseOffset, ${lit(header.cName)})`,
    `const attrs = R.decodeAttributes(payload.subarray(${size}), baseOffset + ${size})`,
    'const buf = payload, at = 0',
    `const out = ${structLiteral(header, extra)}`,
    'T.decodeInto(attrs, out, payload[0])',
    'return out',
  ].join('\n')
  // T (the table) is bound as E[0]'s alias below: one entry, read once per call.
  const decode = generate<MessageSpec['decode']>('payload, baseOffset', `const T = E[0]\n${body}`, [attrs])
  return { header, attrs, decode }
}

/**
 * Decode a payload (fixed header + attributes) by `spec`: the header's fields, the table's lists
 * (empty), `attrs` (every attribute, in wire order), then what the table reads. The message's
 * family (the first byte of every rtnetlink header) decides how IP addresses read.
 * `baseOffset` is the payload's position in the original input, for error offsets.
 */
export function decodePayload(spec: MessageSpec, payload: Buffer, baseOffset: number): Fields {
  return spec.decode(payload, baseOffset)
}

/**
 * Write a payload by `spec` into `w`: the header from `header` (in place, no copy), then the
 * attributes of `values` the table writes, in table order.
 */
export function writePayload(
  w: AttrWriter,
  spec: MessageSpec,
  header: object,
  values: object,
  family: number,
): void {
  // zeros() may move the bytes to a bigger buffer: the buffer is read after it.
  const at = w.zeros(spec.header.size)
  putStruct(spec.header, w.buffer, at, header)
  writeAttrs(w, spec.attrs, values, family)
}
