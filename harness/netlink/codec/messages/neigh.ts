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
import type { Buffer } from 'node:buffer'
import { AttrWriter, type Attribute } from '../attributes.js'
import { AF, NDA } from '../constants.js'
import { familyOfFirst } from './common.js'
import {
  compileAttrs,
  defineMessage,
  defineStruct,
  decodePayload,
  decodeStruct,
  encodeStruct,
  writePayload,
} from './table.js'

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

/** `struct ndmsg`: `| family | pad1 | pad2 | ifindex | state | flags | type |`. */
const NDMSG = defineStruct({
  cName: 'ndmsg',
  size: NDMSG_LEN,
  fields: [
    { key: 'family', offset: 0, type: 'u8', cName: 'ndm_family' },
    { key: 'ifindex', offset: 4, type: 's32', cName: 'ndm_ifindex' },
    { key: 'state', offset: 8, type: 'u16', cName: 'ndm_state' },
    { key: 'flags', offset: 10, type: 'u8', cName: 'ndm_flags' },
    { key: 'type', offset: 11, type: 'u8', cName: 'ndm_type' },
  ],
})

/** `struct nda_cacheinfo`. */
const NDA_CACHEINFO = defineStruct({
  cName: 'nda_cacheinfo',
  size: 16,
  fields: [
    { key: 'confirmed', offset: 0, type: 'u32', cName: 'ndm_confirmed' },
    { key: 'used', offset: 4, type: 'u32', cName: 'ndm_used' },
    { key: 'updated', offset: 8, type: 'u32', cName: 'ndm_updated' },
    { key: 'refcnt', offset: 12, type: 'u32', cName: 'ndm_refcnt' },
  ],
})

/**
 * NDA_*, in iproute2's order (dst, lladdr), then what only the kernel sends. NDA_DST is read
 * whatever the family (a bridge fdb entry's is 4 or 16 bytes).
 */
const NEIGH = defineMessage(
  NDMSG,
  compileAttrs([
    { type: NDA.DST, key: 'dst', kind: 'ip-any', name: 'NDA_DST' },
    { type: NDA.LLADDR, key: 'lladdr', kind: 'mac', name: 'NDA_LLADDR' },
    { type: NDA.PROBES, key: 'probes', kind: 'u32', name: 'NDA_PROBES', decodeOnly: true },
    { type: NDA.MASTER, key: 'master', kind: 'u32', name: 'NDA_MASTER', decodeOnly: true },
    {
      type: NDA.CACHEINFO,
      key: 'cacheInfo',
      kind: 'struct',
      struct: NDA_CACHEINFO,
      name: 'NDA_CACHEINFO',
      decodeOnly: true,
    },
  ]),
)

/** Encode `struct ndmsg`. */
export function encodeNdHeader(header: Partial<NdHeader> = {}): Buffer {
  return encodeStruct(NDMSG, header)
}

/** Decode the ndmsg at the start of `payload`. */
export function decodeNdHeader(payload: Buffer, baseOffset = 0): NdHeader {
  return decodeStruct(NDMSG, payload, baseOffset) as unknown as NdHeader
}

/** Decode a neighbour payload (ndmsg + attributes). */
export function decodeNeigh(payload: Buffer, baseOffset = 0): NeighMessage {
  return decodePayload(NEIGH, payload, baseOffset) as unknown as NeighMessage
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
  const header = { family, ifindex: req.ifindex, state: req.state, flags: req.flags, type: req.type }
  const w = new AttrWriter()
  writePayload(w, NEIGH, header, req, family)
  req.extra?.(w)
  return w.toBuffer()
}
