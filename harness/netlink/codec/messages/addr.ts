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
import type { Buffer } from 'node:buffer'
import { AttrWriter, type Attribute } from '../attributes.js'
import { AF, IFA } from '../constants.js'
import { checkField, familyOfFirst } from './common.js'
import {
  compileAttrs,
  defineMessage,
  defineStruct,
  decodePayload,
  decodeStruct,
  encodeStruct,
  writePayload,
} from './table.js'

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

/** `struct ifaddrmsg`: `| family | prefixlen | flags | scope | index |`. */
const IFADDRMSG = defineStruct({
  cName: 'ifaddrmsg',
  size: IFADDRMSG_LEN,
  fields: [
    { key: 'family', offset: 0, type: 'u8', cName: 'ifa_family' },
    { key: 'prefixLen', offset: 1, type: 'u8', cName: 'ifa_prefixlen' },
    { key: 'flags', offset: 2, type: 'u8', cName: 'ifa_flags' },
    { key: 'scope', offset: 3, type: 'u8', cName: 'ifa_scope' },
    { key: 'index', offset: 4, type: 'u32', cName: 'ifa_index' },
  ],
})

/** `struct ifa_cacheinfo`. A request sets the lifetimes; the kernel ignores the two timestamps. */
const IFA_CACHEINFO = defineStruct({
  cName: 'ifa_cacheinfo',
  size: 16,
  fields: [
    { key: 'preferred', offset: 0, type: 'u32', cName: 'preferred lifetime' },
    { key: 'valid', offset: 4, type: 'u32', cName: 'valid lifetime' },
    { key: 'created', offset: 8, type: 'u32', cName: 'ifa_cacheinfo cstamp' },
    { key: 'updated', offset: 12, type: 'u32', cName: 'ifa_cacheinfo tstamp' },
  ],
})

/**
 * IFA_*, in iproute2's order (local, address, broadcast, label, cacheinfo, flags). Addresses are
 * read for AF_INET/AF_INET6 messages only. IFA_FLAGS, the full 32 bits, overrides the header's 8
 * and is sent only when the flags do not fit those.
 */
const ADDR = defineMessage(
  IFADDRMSG,
  compileAttrs([
    { type: IFA.LOCAL, key: 'local', kind: 'ip', name: 'IFA_LOCAL' },
    { type: IFA.ADDRESS, key: 'address', kind: 'ip', name: 'IFA_ADDRESS' },
    { type: IFA.BROADCAST, key: 'broadcast', kind: 'ip', name: 'IFA_BROADCAST' },
    { type: IFA.LABEL, key: 'label', kind: 'string', name: 'IFA_LABEL' },
    {
      type: IFA.CACHEINFO,
      key: 'cacheInfo',
      kind: 'struct',
      struct: IFA_CACHEINFO,
      name: 'IFA_CACHEINFO',
      get: (r) => r.lifetimes,
    },
    {
      type: IFA.FLAGS,
      key: 'flags',
      kind: 'u32',
      name: 'IFA_FLAGS',
      get: (r) => ((r.flags as number) > 0xff ? r.flags : undefined),
    },
    { type: IFA.ANYCAST, key: 'anycast', kind: 'ip', name: 'IFA_ANYCAST', decodeOnly: true },
  ]),
)

/** Encode `struct ifaddrmsg`. Only the low 8 bits of `flags` fit; see {@link encodeAddr}. */
export function encodeIfAddrHeader(header: Partial<IfAddrHeader> = {}): Buffer {
  return encodeStruct(IFADDRMSG, header)
}

/** Decode the ifaddrmsg at the start of `payload`. */
export function decodeIfAddrHeader(payload: Buffer, baseOffset = 0): IfAddrHeader {
  return decodeStruct(IFADDRMSG, payload, baseOffset) as unknown as IfAddrHeader
}

/** Decode an address payload (ifaddrmsg + attributes). */
export function decodeAddr(payload: Buffer, baseOffset = 0): AddrMessage {
  return decodePayload(ADDR, payload, baseOffset) as unknown as AddrMessage
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
  const header = { family, prefixLen: req.prefixLen, flags: flags & 0xff, scope: req.scope, index: req.index }
  const w = new AttrWriter()
  writePayload(w, ADDR, header, req, family)
  req.extra?.(w)
  return w.finish()
}
