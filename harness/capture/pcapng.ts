/**
 * A pure pcapng writer: bytes out, nothing else (no sockets, no files).
 *
 * The format is the IETF draft "PCAP Next Generation (pcapng) Capture File
 * Format" (draft-ietf-opsawg-pcapng): a file is a sequence of blocks, each
 *
 *   block type (u32) | block total length (u32) | body | block total length (u32)
 *
 * with the body padded to 32 bits and options as (code u16, length u16,
 * value padded to 32 bits), ended by opt_endofopt. The section header's
 * byte-order magic (0x1A2B3C4D) tells readers the byte order of the whole
 * section: we write little-endian.
 *
 * Every function returns one whole block, so a writer that stops half-way
 * (a full disk) can cut the file back to the last whole block and leave a
 * file readers accept.
 */
import { Buffer } from 'node:buffer'
import { isIPv4, isIPv6 } from 'node:net'
import { ipv4ToBytes, ipv6ToBytes } from '../util/ip.js'

export const BLOCK = {
  SECTION_HEADER: 0x0a0d0d0a,
  INTERFACE_DESCRIPTION: 0x00000001,
  NAME_RESOLUTION: 0x00000004,
  INTERFACE_STATISTICS: 0x00000005,
  ENHANCED_PACKET: 0x00000006,
  DECRYPTION_SECRETS: 0x0000000a,
} as const

export const BYTE_ORDER_MAGIC = 0x1a2b3c4d

/** Option codes (pcapng draft, section "Options" of each block). */
export const OPT = {
  END: 0,
  COMMENT: 1,
  SHB_HARDWARE: 2,
  SHB_OS: 3,
  SHB_USERAPPL: 4,
  IF_NAME: 2,
  IF_DESCRIPTION: 3,
  IF_TSRESOL: 9,
  IF_OS: 12,
  EPB_FLAGS: 2,
  EPB_DROPCOUNT: 4,
  ISB_STARTTIME: 2,
  ISB_ENDTIME: 3,
  ISB_IFRECV: 4,
  ISB_IFDROP: 5,
  ISB_OSDROP: 7,
  ISB_USRDELIV: 8,
} as const

/** Name resolution record types. */
export const NRB_RECORD = { END: 0, IPV4: 1, IPV6: 2 } as const

/** LINKTYPE_ETHERNET: what veth, bridges and most lab devices carry. */
export const LINKTYPE_ETHERNET = 1
/** LINKTYPE_RAW: bare IPv4/IPv6 (tun devices, WireGuard). */
export const LINKTYPE_RAW = 101
/** LINKTYPE_NETLINK: Linux netlink messages (an nlmon device). */
export const LINKTYPE_NETLINK = 253

/**
 * The pcapng link type of a device from its ARPHRD_* type: Ethernet for
 * Ethernet-like devices (veth, bridge, tap, loopback), raw IP for devices
 * without a link-layer header (tun, WireGuard: ARPHRD_NONE; IP tunnels),
 * whose frames a packet socket hands over starting at the IP header.
 */
export function linkTypeOf(hatype: number | undefined): number {
  if (hatype === undefined || hatype === ARPHRD_ETHER || hatype === ARPHRD_LOOPBACK) return LINKTYPE_ETHERNET
  if (hatype === ARPHRD_NETLINK) return LINKTYPE_NETLINK
  return LINKTYPE_RAW
}

/**
 * The bytes a pcapng packet block carries for a frame of `linkType`: the
 * frame itself, except for netlink (LINKTYPE_NETLINK), whose packets start
 * with the 16-byte Linux cooked header libpcap writes (packet type,
 * ARPHRD_NETLINK, no address, the netlink family as protocol), which
 * Wireshark reads to pick the family's dissector.
 */
export function packetBytes(
  linkType: number,
  frame: { data: Uint8Array; type: number; protocol?: number },
): Uint8Array {
  if (linkType !== LINKTYPE_NETLINK) return frame.data
  const out = Buffer.alloc(16 + frame.data.length)
  out.writeUInt16BE(frame.type, 0)
  out.writeUInt16BE(ARPHRD_NETLINK, 2)
  out.writeUInt16BE(frame.protocol ?? 0, 14)
  out.set(frame.data, 16)
  return out
}

const ARPHRD_ETHER = 1
const ARPHRD_LOOPBACK = 772
/** An nlmon device: every netlink message of its namespace, as a frame. */
const ARPHRD_NETLINK = 824

/** Secrets types of the decryption secrets block (Wireshark's wiretap/secrets-types.h). */
export const SECRETS_TYPE = {
  /** NSS key log (`SSLKEYLOGFILE`): 'TLSK'. */
  TLS_KEY_LOG: 0x544c534b,
  /** Wireshark's WireGuard key log (`LOCAL_STATIC_PRIVATE_KEY = ...`): 'WGKL'. */
  WIREGUARD_KEY_LOG: 0x57474b4c,
  /** SSH key log: 'SSHK'. */
  SSH_KEY_LOG: 0x5353484b,
} as const

/** if_tsresol 9: timestamps count nanoseconds. */
export const TS_RESOLUTION_NS = 9
export const DEFAULT_SNAPLEN = 262144

export interface SectionOptions {
  /** shb_userappl, e.g. "nslab 0.1.0". */
  application?: string
  hardware?: string
  os?: string
  /** opt_comment: e.g. which lab and test the file is from. */
  comment?: string
}

export interface InterfaceOptions {
  /** if_name: what Wireshark shows as the interface, e.g. `a/0d2c-b`. */
  name: string
  /** if_description: e.g. the link's two ends. */
  description?: string
  /** LINKTYPE_* (default Ethernet). */
  linkType?: number
  /** Longest packet kept (default 262144). */
  snapLength?: number
  os?: string
  comment?: string
}

export type Direction = 'in' | 'out'

/** Reception type of epb_flags bits 2-4. */
export type Reception = 'unicast' | 'multicast' | 'broadcast' | 'promiscuous'

export interface PacketOptions {
  /** Index of the interface block (0 for the first interface of the section). */
  interfaceId: number
  /** Nanoseconds since the Unix epoch. */
  timestamp: bigint
  /** The captured bytes (the link-layer frame). */
  data: Uint8Array
  /** The packet's length on the wire (default: data.length). */
  originalLength?: number
  direction?: Direction
  reception?: Reception
  comment?: string
}

/** One address and the names it resolves to (nrb_record_ipv4 / nrb_record_ipv6). */
export interface NameRecord {
  address: string
  names: readonly string[]
}

export interface SecretsOptions {
  /** SECRETS_TYPE.* */
  type: number
  /** The key log, as text (UTF-8) or bytes. */
  data: string | Uint8Array
  comment?: string
}

export interface StatisticsOptions {
  interfaceId: number
  /** When these counters were read (ns since the epoch). */
  timestamp: bigint
  start?: bigint
  end?: bigint
  /** isb_ifrecv: packets the capture saw. */
  received?: bigint | number
  /** isb_ifdrop: packets the interface dropped. */
  interfaceDropped?: bigint | number
  /** isb_osdrop: packets the kernel dropped before the capture read them. */
  osDropped?: bigint | number
  /** isb_usrdeliv: packets delivered to the user (written in this file). */
  delivered?: bigint | number
  comment?: string
}

/** A malformed block request: says which block and what is wrong. */
export class PcapngError extends Error {
  override readonly name = 'PcapngError'
}

const MAX_OPTION = 0xffff

/** Bytes of padding after `n` bytes, to the next multiple of 4. */
export function pad4(n: number): number {
  return (4 - (n & 3)) & 3
}

interface Option {
  code: number
  value: Uint8Array
}

function text(code: number, value: string | undefined, what: string): Option[] {
  if (value === undefined) return []
  const bytes = Buffer.from(value, 'utf8')
  if (bytes.length > MAX_OPTION)
    throw new PcapngError(`${what} is ${bytes.length} bytes; a pcapng option holds at most ${MAX_OPTION}`)
  return [{ code, value: bytes }]
}

function u32(code: number, value: number): Option {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(value >>> 0, 0)
  return { code, value: b }
}

function u64(code: number, value: bigint | number | undefined, what: string): Option[] {
  if (value === undefined) return []
  const v = BigInt(value)
  if (v < 0n || v >= 1n << 64n) throw new PcapngError(`${what} ${v} does not fit 64 bits`)
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(v, 0)
  return [{ code, value: b }]
}

/** A timestamp option: upper 32 bits, then lower 32 bits (as in the packet block). */
function timestampOption(code: number, value: bigint | undefined, what: string): Option[] {
  if (value === undefined) return []
  const b = Buffer.alloc(8)
  writeTimestamp(b, 0, value, what)
  return [{ code, value: b }]
}

function writeTimestamp(b: Buffer, at: number, ns: bigint, what: string): void {
  if (ns < 0n || ns >= 1n << 64n) throw new PcapngError(`${what}: timestamp ${ns} ns does not fit 64 bits`)
  b.writeUInt32LE(Number(ns >> 32n), at)
  b.writeUInt32LE(Number(ns & 0xffffffffn), at + 4)
}

function optionsLength(options: readonly Option[]): number {
  if (options.length === 0) return 0
  let n = 4 // opt_endofopt
  for (const o of options) n += 4 + o.value.length + pad4(o.value.length)
  return n
}

function writeOptions(b: Buffer, at: number, options: readonly Option[]): number {
  if (options.length === 0) return at
  for (const o of options) {
    b.writeUInt16LE(o.code, at)
    b.writeUInt16LE(o.value.length, at + 2)
    b.set(o.value, at + 4)
    at += 4 + o.value.length + pad4(o.value.length) // padding stays zero (Buffer.alloc)
  }
  return at + 4 // opt_endofopt: code 0, length 0
}

/**
 * A whole block: type, total length, the fixed body (already padded), the
 * options, total length again.
 */
function block(type: number, body: Uint8Array, options: readonly Option[]): Buffer {
  if (body.length % 4 !== 0) throw new Error(`internal: block body of ${body.length} bytes is not padded`)
  const total = 12 + body.length + optionsLength(options)
  if (total > 0xffffffff) throw new PcapngError(`a ${total}-byte block does not fit pcapng's 32-bit length`)
  const b = Buffer.alloc(total)
  b.writeUInt32LE(type, 0)
  b.writeUInt32LE(total, 4)
  b.set(body, 8)
  writeOptions(b, 8 + body.length, options)
  b.writeUInt32LE(total, total - 4)
  return b
}

/** Section header block: starts a file (and a section); interface ids count from 0 after it. */
export function sectionHeaderBlock(options: SectionOptions = {}): Buffer {
  const body = Buffer.alloc(16)
  body.writeUInt32LE(BYTE_ORDER_MAGIC, 0)
  body.writeUInt16LE(1, 4) // major
  body.writeUInt16LE(0, 6) // minor
  body.writeBigInt64LE(-1n, 8) // section length: not given (written as it streams)
  return block(BLOCK.SECTION_HEADER, body, [
    ...text(OPT.COMMENT, options.comment, 'the section comment'),
    ...text(OPT.SHB_HARDWARE, options.hardware, 'shb_hardware'),
    ...text(OPT.SHB_OS, options.os, 'shb_os'),
    ...text(OPT.SHB_USERAPPL, options.application, 'shb_userappl'),
  ])
}

/** Interface description block, with nanosecond timestamps (if_tsresol 9). */
export function interfaceBlock(options: InterfaceOptions): Buffer {
  const linkType = options.linkType ?? LINKTYPE_ETHERNET
  const snapLength = options.snapLength ?? DEFAULT_SNAPLEN
  if (!Number.isInteger(linkType) || linkType < 0 || linkType > 0xffff)
    throw new PcapngError(`interface ${options.name}: link type ${linkType} is not a 16-bit number`)
  if (!Number.isInteger(snapLength) || snapLength < 0 || snapLength > 0xffffffff)
    throw new PcapngError(`interface ${options.name}: snap length ${snapLength} is not a 32-bit number`)
  const body = Buffer.alloc(8)
  body.writeUInt16LE(linkType, 0)
  body.writeUInt32LE(snapLength, 4)
  return block(BLOCK.INTERFACE_DESCRIPTION, body, [
    ...text(OPT.COMMENT, options.comment, `interface ${options.name}: the comment`),
    ...text(OPT.IF_NAME, options.name, 'if_name'),
    ...text(OPT.IF_DESCRIPTION, options.description, `interface ${options.name}: if_description`),
    { code: OPT.IF_TSRESOL, value: Uint8Array.of(TS_RESOLUTION_NS) },
    ...text(OPT.IF_OS, options.os, `interface ${options.name}: if_os`),
  ])
}

const RECEPTION_BITS: Record<Reception, number> = {
  unicast: 1,
  multicast: 2,
  broadcast: 3,
  promiscuous: 4,
}

/** epb_flags: direction in bits 0-1 (1 inbound, 2 outbound), reception type in bits 2-4. */
export function packetFlags(direction?: Direction, reception?: Reception): number {
  const dir = direction === 'in' ? 1 : direction === 'out' ? 2 : 0
  return dir | ((reception ? RECEPTION_BITS[reception] : 0) << 2)
}

/** Enhanced packet block. `data` is cut to `snapLength` by the caller's choice, not here. */
export function packetBlock(p: PacketOptions): Buffer {
  if (!Number.isInteger(p.interfaceId) || p.interfaceId < 0 || p.interfaceId > 0xffffffff)
    throw new PcapngError(`packet: interface id ${p.interfaceId} is not a 32-bit number`)
  const originalLength = p.originalLength ?? p.data.length
  if (!Number.isInteger(originalLength) || originalLength < p.data.length || originalLength > 0xffffffff)
    throw new PcapngError(
      `packet: original length ${originalLength} is less than the ${p.data.length} bytes captured`,
    )
  const flags = packetFlags(p.direction, p.reception)
  const options: Option[] = [
    ...(flags !== 0 ? [u32(OPT.EPB_FLAGS, flags)] : []),
    ...text(OPT.COMMENT, p.comment, 'the packet comment'),
  ]
  // Written in place rather than through block(): one allocation per packet.
  const dataLength = p.data.length
  const bodyLength = 20 + dataLength + pad4(dataLength)
  const total = 12 + bodyLength + optionsLength(options)
  const b = Buffer.alloc(total)
  b.writeUInt32LE(BLOCK.ENHANCED_PACKET, 0)
  b.writeUInt32LE(total, 4)
  b.writeUInt32LE(p.interfaceId, 8)
  writeTimestamp(b, 12, p.timestamp, 'packet')
  b.writeUInt32LE(dataLength, 20)
  b.writeUInt32LE(originalLength, 24)
  b.set(p.data, 28)
  writeOptions(b, 8 + bodyLength, options)
  b.writeUInt32LE(total, total - 4)
  return b
}

function nameRecord(r: NameRecord): { type: number; value: Buffer } {
  let address: Buffer
  let type: number
  if (isIPv4(r.address)) {
    address = ipv4ToBytes(r.address)
    type = NRB_RECORD.IPV4
  } else if (isIPv6(r.address)) {
    address = ipv6ToBytes(r.address)
    type = NRB_RECORD.IPV6
  } else {
    throw new PcapngError(`name resolution: ${JSON.stringify(r.address)} is not an IPv4 or IPv6 address`)
  }
  if (r.names.length === 0) throw new PcapngError(`name resolution: ${r.address} has no name`)
  const parts: Buffer[] = [address]
  for (const name of r.names) {
    if (name.length === 0 || name.includes('\0'))
      throw new PcapngError(`name resolution: ${JSON.stringify(name)} for ${r.address} is empty or holds NUL`)
    parts.push(Buffer.from(`${name}\0`, 'utf8'))
  }
  const value = Buffer.concat(parts)
  if (value.length > MAX_OPTION)
    throw new PcapngError(`name resolution: the names of ${r.address} take more than ${MAX_OPTION} bytes`)
  return { type, value }
}

/** Name resolution block: addresses and their names, so Wireshark shows `a → b`. */
export function nameResolutionBlock(records: readonly NameRecord[]): Buffer {
  const encoded = records.map(nameRecord)
  let length = 4 // nrb_record_end
  for (const r of encoded) length += 4 + r.value.length + pad4(r.value.length)
  const body = Buffer.alloc(length)
  let at = 0
  for (const r of encoded) {
    body.writeUInt16LE(r.type, at)
    body.writeUInt16LE(r.value.length, at + 2)
    body.set(r.value, at + 4)
    at += 4 + r.value.length + pad4(r.value.length)
  }
  // nrb_record_end: type 0, length 0 (already zero).
  return block(BLOCK.NAME_RESOLUTION, body, [])
}

/** Decryption secrets block: a key log Wireshark applies to the packets after it. */
export function secretsBlock(s: SecretsOptions): Buffer {
  if (!Number.isInteger(s.type) || s.type < 0 || s.type > 0xffffffff)
    throw new PcapngError(`decryption secrets: type ${s.type} is not a 32-bit number`)
  const data = typeof s.data === 'string' ? Buffer.from(s.data, 'utf8') : s.data
  const body = Buffer.alloc(8 + data.length + pad4(data.length))
  body.writeUInt32LE(s.type, 0)
  body.writeUInt32LE(data.length, 4)
  body.set(data, 8)
  return block(BLOCK.DECRYPTION_SECRETS, body, text(OPT.COMMENT, s.comment, 'the secrets comment'))
}

/** Interface statistics block: what the capture saw and lost on one interface. */
export function statisticsBlock(s: StatisticsOptions): Buffer {
  const body = Buffer.alloc(12)
  body.writeUInt32LE(s.interfaceId >>> 0, 0)
  writeTimestamp(body, 4, s.timestamp, 'interface statistics')
  return block(BLOCK.INTERFACE_STATISTICS, body, [
    ...text(OPT.COMMENT, s.comment, 'the statistics comment'),
    ...timestampOption(OPT.ISB_STARTTIME, s.start, 'isb_starttime'),
    ...timestampOption(OPT.ISB_ENDTIME, s.end, 'isb_endtime'),
    ...u64(OPT.ISB_IFRECV, s.received, 'isb_ifrecv'),
    ...u64(OPT.ISB_IFDROP, s.interfaceDropped, 'isb_ifdrop'),
    ...u64(OPT.ISB_OSDROP, s.osDropped, 'isb_osdrop'),
    ...u64(OPT.ISB_USRDELIV, s.delivered, 'isb_usrdeliv'),
  ])
}

/** Everything one pcapng file holds, for buildPcapng and pcapngBlocks. */
export interface PcapngContent {
  section?: SectionOptions
  interfaces: readonly InterfaceOptions[]
  /** Address → names; a string is one name. */
  names?: readonly NameRecord[] | ReadonlyMap<string, string | readonly string[]>
  secrets?: readonly SecretsOptions[]
  packets: Iterable<PacketOptions>
  statistics?: readonly StatisticsOptions[]
}

function nameRecords(names: PcapngContent['names']): NameRecord[] {
  if (names === undefined) return []
  if (Array.isArray(names)) return names as NameRecord[]
  const out: NameRecord[] = []
  for (const [address, n] of names as ReadonlyMap<string, string | readonly string[]>)
    out.push({ address, names: typeof n === 'string' ? [n] : n })
  return out
}

/**
 * The blocks of one file, in the order readers want them: the section
 * header, the secrets (before the packets they decrypt), the interfaces, the
 * names, the packets, the statistics. Packets are checked against the
 * interfaces as they come.
 */
export function* pcapngBlocks(content: PcapngContent): Generator<Buffer, void, undefined> {
  yield sectionHeaderBlock(content.section)
  for (const s of content.secrets ?? []) yield secretsBlock(s)
  for (const i of content.interfaces) yield interfaceBlock(i)
  const records = nameRecords(content.names)
  if (records.length > 0) yield nameResolutionBlock(records)
  const count = content.interfaces.length
  for (const p of content.packets) {
    if (p.interfaceId >= count)
      throw new PcapngError(
        `packet: interface id ${p.interfaceId} is not one of the ${count} interfaces of this file`,
      )
    yield packetBlock(p)
  }
  for (const s of content.statistics ?? []) {
    if (s.interfaceId >= count)
      throw new PcapngError(
        `interface statistics: interface id ${s.interfaceId} is not one of the ${count} interfaces of this file`,
      )
    yield statisticsBlock(s)
  }
}

/** A whole pcapng file in memory. */
export function buildPcapng(content: PcapngContent): Buffer {
  return Buffer.concat([...pcapngBlocks(content)])
}
