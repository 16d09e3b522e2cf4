/**
 * Neighbours (ARP / NDP / bridge fdb): RTM_NEWNEIGH / RTM_DELNEIGH / RTM_GETNEIGH payloads.
 *
 * Payload = `struct ndmsg` (12 bytes) followed by NDA_* attributes:
 *
 * ```
 *   0        1      2      4         8       10      11     12
 *   | family | pad1 | pad2 | ifindex | state | flags | type | attributes ...
 * ```
 */
import { AttrWriter, decodeAttributes, readU32, type Attribute } from '../attributes.js'
import { AF, NDA } from '../constants.js'
import { NetlinkDecodeError } from '../errors.js'
import { readHostS32, readHostU16, readHostU32, writeHostS32, writeHostU16 } from '../hostorder.js'
import {
  checkField,
  familyOfFirst,
  ipBytesForFamily,
  linkAddressBytes,
  readIpAttr,
  readMacAttr,
  requireFixedHeader,
} from './common.js'

/** Size of `struct ndmsg`. */
export const NDMSG_LEN = 12

/** `struct ndmsg`. */
export interface NdHeader {
  family: number
  ifindex: number
  /** NUD_* state bits. */
  state: number
  /** NTF_* flags. */
  flags: number
  /** RTN_* type. */
  type: number
}

/** `struct nda_cacheinfo`: ages in clock ticks (USER_HZ), and the reference count. */
export interface NeighCacheInfo {
  confirmed: number
  used: number
  updated: number
  refcnt: number
}

/** A decoded neighbour message. */
export interface NeighMessage extends NdHeader {
  /** NDA_DST: the neighbour's IP address. */
  dst?: string
  /** NDA_LLADDR: its link-layer address, lowercase colon-separated hex. */
  lladdr?: string
  probes?: number
  cacheInfo?: NeighCacheInfo
  /** NDA_MASTER (bridge fdb). */
  master?: number
  attrs: Attribute[]
}

/** Encode `struct ndmsg`. */
export function encodeNdHeader(header: Partial<NdHeader> = {}): Buffer {
  const buf = Buffer.allocUnsafe(NDMSG_LEN).fill(0) // pooled: this runs per request
  buf[0] = checkField(header.family ?? 0, 0, 0xff, 'ndm_family')
  writeHostS32(buf, checkField(header.ifindex ?? 0, -0x80000000, 0x7fffffff, 'ndm_ifindex'), 4)
  writeHostU16(buf, checkField(header.state ?? 0, 0, 0xffff, 'ndm_state'), 8)
  buf[10] = checkField(header.flags ?? 0, 0, 0xff, 'ndm_flags')
  buf[11] = checkField(header.type ?? 0, 0, 0xff, 'ndm_type')
  return buf
}

/** Decode the ndmsg at the start of `payload`. */
export function decodeNdHeader(payload: Buffer, baseOffset = 0): NdHeader {
  requireFixedHeader(payload, NDMSG_LEN, baseOffset, 'ndmsg')
  return {
    family: payload[0] ?? 0,
    ifindex: readHostS32(payload, 4),
    state: readHostU16(payload, 8),
    flags: payload[10] ?? 0,
    type: payload[11] ?? 0,
  }
}

function decodeCacheInfo(attr: Attribute): NeighCacheInfo {
  if (attr.value.length !== 16) {
    throw new NetlinkDecodeError(
      attr.offset,
      'bad-attribute-value',
      `NDA_CACHEINFO at offset ${attr.offset} must be 16 bytes but is ${attr.value.length}`,
    )
  }
  return {
    confirmed: readHostU32(attr.value, 0),
    used: readHostU32(attr.value, 4),
    updated: readHostU32(attr.value, 8),
    refcnt: readHostU32(attr.value, 12),
  }
}

/** Decode a neighbour payload (ndmsg + attributes). */
export function decodeNeigh(payload: Buffer, baseOffset = 0): NeighMessage {
  const header = decodeNdHeader(payload, baseOffset)
  const attrs = decodeAttributes(payload.subarray(NDMSG_LEN), baseOffset + NDMSG_LEN)
  // Fields copied one by one: an object spread here made decoding several times slower (V8 cloned
  // the header's shape, then every added attribute field changed it again).
  const neigh: NeighMessage = {
    family: header.family,
    ifindex: header.ifindex,
    state: header.state,
    flags: header.flags,
    type: header.type,
    attrs,
  }
  for (const attr of attrs) {
    switch (attr.type) {
      case NDA.DST:
        neigh.dst = readIpAttr(attr, header.family, 'NDA_DST')
        break
      case NDA.LLADDR:
        neigh.lladdr = readMacAttr(attr)
        break
      case NDA.PROBES:
        neigh.probes = readU32(attr, 'NDA_PROBES')
        break
      case NDA.MASTER:
        neigh.master = readU32(attr, 'NDA_MASTER')
        break
      case NDA.CACHEINFO:
        neigh.cacheInfo = decodeCacheInfo(attr)
        break
    }
  }
  return neigh
}

/** What a neighbour request can set. */
export interface NeighRequest extends Partial<NdHeader> {
  dst?: string
  /** MAC text or raw link-layer bytes. */
  lladdr?: string | Uint8Array
  /** Extra attributes appended after everything else. */
  extra?: (writer: AttrWriter) => void
}

/**
 * Encode a neighbour payload. The family defaults to that of `dst` (AF_UNSPEC without one).
 * Attribute order follows iproute2: dst, lladdr.
 */
export function encodeNeigh(req: NeighRequest): Buffer {
  const family = req.family ?? familyOfFirst([req.dst], AF.UNSPEC)
  const w = new AttrWriter()
  w.raw(encodeNdHeader({ ...req, family }))
  if (req.dst !== undefined) w.attr(NDA.DST, ipBytesForFamily(req.dst, family, 'NDA_DST'))
  if (req.lladdr !== undefined) w.attr(NDA.LLADDR, linkAddressBytes(req.lladdr))
  req.extra?.(w)
  return w.toBuffer()
}
