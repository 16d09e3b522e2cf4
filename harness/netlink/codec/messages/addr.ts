/**
 * Addresses: RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR payloads.
 *
 * Payload = `struct ifaddrmsg` (8 bytes) followed by IFA_* attributes:
 *
 * ```
 *   0        1           2       3       4       8
 *   | family | prefixlen | flags | scope | index | attributes ...
 * ```
 *
 * `ifa_flags` has only 8 bits; the full 32-bit flag set travels in IFA_FLAGS, which wins when
 * present. For IPv4, IFA_LOCAL is the interface's own address and IFA_ADDRESS the peer (equal to
 * IFA_LOCAL except on point-to-point links); IPv6 sends IFA_ADDRESS only.
 */
import { Buffer } from 'node:buffer'
import { AttrWriter, decodeAttributes, readString, readU32, type Attribute } from '../attributes.js'
import { AF, IFA } from '../constants.js'
import { NetlinkDecodeError } from '../errors.js'
import { putHostU32, readHostU32, writeHostU32 } from '../hostorder.js'
import {
  checkField,
  familyOfFirst,
  ipBytesForFamily,
  isIpFamily,
  readIpAttr,
  requireFixedHeader,
} from './common.js'

/** Size of `struct ifaddrmsg`. */
export const IFADDRMSG_LEN = 8

/** `struct ifaddrmsg`. */
export interface IfAddrHeader {
  family: number
  prefixLen: number
  /** IFA_F_* bits; in a decoded message the full value from IFA_FLAGS when present. */
  flags: number
  /** RT_SCOPE_* value. */
  scope: number
  index: number
}

/** `struct ifa_cacheinfo` (IFA_CACHEINFO): lifetimes in seconds, timestamps in 1/100 s. */
export interface AddrCacheInfo {
  /** Preferred lifetime in seconds (0xffffffff = forever). */
  preferred: number
  /** Valid lifetime in seconds (0xffffffff = forever). */
  valid: number
  /** Creation time, hundredths of a second since boot. */
  created: number
  /** Last update time, hundredths of a second since boot. */
  updated: number
}

/** A decoded address message. */
export interface AddrMessage extends IfAddrHeader {
  address?: string
  local?: string
  label?: string
  broadcast?: string
  anycast?: string
  cacheInfo?: AddrCacheInfo
  attrs: Attribute[]
}

/** Encode `struct ifaddrmsg`. Only the low 8 bits of `flags` fit; see {@link encodeAddr}. */
export function encodeIfAddrHeader(header: Partial<IfAddrHeader> = {}): Buffer {
  const buf = Buffer.allocUnsafe(IFADDRMSG_LEN) // pooled; every byte is written
  putIfAddrHeader(buf, 0, header, header.family ?? 0, header.flags ?? 0)
  return buf
}

/** Write `struct ifaddrmsg` at `at` of `buf`, with `family` and `flags` given apart from the rest. */
function putIfAddrHeader(
  buf: Buffer,
  at: number,
  header: Partial<IfAddrHeader>,
  family: number,
  flags: number,
): void {
  buf[at] = checkField(family, 0, 0xff, 'ifa_family')
  buf[at + 1] = checkField(header.prefixLen ?? 0, 0, 0xff, 'ifa_prefixlen')
  buf[at + 2] = checkField(flags, 0, 0xff, 'ifa_flags')
  buf[at + 3] = checkField(header.scope ?? 0, 0, 0xff, 'ifa_scope')
  putHostU32(buf, checkField(header.index ?? 0, 0, 0xffffffff, 'ifa_index'), at + 4)
}

/** Decode the ifaddrmsg at the start of `payload`. */
export function decodeIfAddrHeader(payload: Buffer, baseOffset = 0): IfAddrHeader {
  requireFixedHeader(payload, IFADDRMSG_LEN, baseOffset, 'ifaddrmsg')
  return {
    family: payload[0] ?? 0,
    prefixLen: payload[1] ?? 0,
    flags: payload[2] ?? 0,
    scope: payload[3] ?? 0,
    index: readHostU32(payload, 4),
  }
}

function decodeCacheInfo(attr: Attribute): AddrCacheInfo {
  if (attr.value.length !== 16) {
    throw new NetlinkDecodeError(
      attr.offset,
      'bad-attribute-value',
      `IFA_CACHEINFO at offset ${attr.offset} must be 16 bytes but is ${attr.value.length}`,
    )
  }
  return {
    preferred: readHostU32(attr.value, 0),
    valid: readHostU32(attr.value, 4),
    created: readHostU32(attr.value, 8),
    updated: readHostU32(attr.value, 12),
  }
}

/** Decode an address payload (ifaddrmsg + attributes). */
export function decodeAddr(payload: Buffer, baseOffset = 0): AddrMessage {
  const header = decodeIfAddrHeader(payload, baseOffset)
  const attrs = decodeAttributes(payload.subarray(IFADDRMSG_LEN), baseOffset + IFADDRMSG_LEN)
  // Fields copied one by one: an object spread here made decoding several times slower (V8 cloned
  // the header's shape, then every added attribute field changed it again).
  const addr: AddrMessage = {
    family: header.family,
    prefixLen: header.prefixLen,
    flags: header.flags,
    scope: header.scope,
    index: header.index,
    attrs,
  }
  const ip = isIpFamily(header.family)
  for (const attr of attrs) {
    switch (attr.type) {
      case IFA.ADDRESS:
        if (ip) addr.address = readIpAttr(attr, header.family, 'IFA_ADDRESS')
        break
      case IFA.LOCAL:
        if (ip) addr.local = readIpAttr(attr, header.family, 'IFA_LOCAL')
        break
      case IFA.BROADCAST:
        if (ip) addr.broadcast = readIpAttr(attr, header.family, 'IFA_BROADCAST')
        break
      case IFA.ANYCAST:
        if (ip) addr.anycast = readIpAttr(attr, header.family, 'IFA_ANYCAST')
        break
      case IFA.LABEL:
        addr.label = readString(attr)
        break
      case IFA.FLAGS:
        addr.flags = readU32(attr, 'IFA_FLAGS')
        break
      case IFA.CACHEINFO:
        addr.cacheInfo = decodeCacheInfo(attr)
        break
    }
  }
  return addr
}

/** What an address request can set. */
export interface AddrRequest extends Partial<IfAddrHeader> {
  /** IFA_LOCAL (IPv4: the address itself). Addresses are text, or 4 or 16 bytes already parsed. */
  local?: string | Uint8Array
  /** IFA_ADDRESS (IPv4: the peer, normally equal to `local`; IPv6: the address). */
  address?: string | Uint8Array
  broadcast?: string | Uint8Array
  label?: string
  /** IFA_CACHEINFO lifetimes in seconds (created/updated are ignored by the kernel). */
  lifetimes?: { preferred: number; valid: number }
  /** Extra attributes appended after everything else. */
  extra?: (writer: AttrWriter) => void
}

/**
 * Encode an address payload. The family defaults to that of `local`/`address` (AF_UNSPEC for a
 * dump request without addresses). Flags above 0xff are sent in IFA_FLAGS, as iproute2 does.
 * Attribute order follows iproute2: local, address, broadcast, label, cacheinfo, flags.
 */
export function encodeAddr(req: AddrRequest): Buffer {
  const family = req.family ?? familyOfFirst([req.local, req.address, req.broadcast], AF.UNSPEC)
  const flags = checkField(req.flags ?? 0, 0, 0xffffffff, 'address flags')
  const w = new AttrWriter()
  // In place (this runs per request); zeros() may move the bytes, so the buffer is read after it.
  const at = w.zeros(IFADDRMSG_LEN)
  putIfAddrHeader(w.buffer, at, req, family, flags & 0xff)
  if (req.local !== undefined) w.attr(IFA.LOCAL, ipBytesForFamily(req.local, family, 'IFA_LOCAL'))
  if (req.address !== undefined) w.attr(IFA.ADDRESS, ipBytesForFamily(req.address, family, 'IFA_ADDRESS'))
  if (req.broadcast !== undefined)
    w.attr(IFA.BROADCAST, ipBytesForFamily(req.broadcast, family, 'IFA_BROADCAST'))
  if (req.label !== undefined) w.string(IFA.LABEL, req.label)
  if (req.lifetimes !== undefined) {
    const info = Buffer.alloc(16)
    writeHostU32(info, checkField(req.lifetimes.preferred, 0, 0xffffffff, 'preferred lifetime'), 0)
    writeHostU32(info, checkField(req.lifetimes.valid, 0, 0xffffffff, 'valid lifetime'), 4)
    w.attr(IFA.CACHEINFO, info)
  }
  if (flags > 0xff) w.u32(IFA.FLAGS, flags)
  req.extra?.(w)
  return w.finish()
}
