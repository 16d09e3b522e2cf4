/**
 * Links: RTM_NEWLINK / RTM_DELLINK / RTM_GETLINK payloads.
 *
 * Payload = `struct ifinfomsg` (16 bytes, host order) followed by IFLA_* attributes:
 *
 * ```
 *   0        1     2      4       8       12       16
 *   | family | pad | type | index | flags | change | attributes ...
 * ```
 *
 * IFLA_LINKINFO nests IFLA_INFO_KIND (the driver name, e.g. `veth`) and IFLA_INFO_DATA (driver
 * attributes). A veth's IFLA_INFO_DATA holds VETH_INFO_PEER, whose value is a whole second
 * ifinfomsg plus IFLA_* attributes describing the peer (its name, IFLA_NET_NS_FD to create it
 * directly in another namespace, ...).
 */
import type { Buffer } from 'node:buffer'
import { AttrWriter, readNested, type Attribute } from '../attributes.js'
import {
  IFLA,
  IFLA_BR,
  IFLA_INFO,
  IFLA_MACVLAN,
  IFLA_VXLAN,
  VETH_INFO_PEER,
  describeConstant,
} from '../constants.js'
import { checkField, ipBytesForFamily } from './common.js'
import {
  type AttrSpec,
  type Fields,
  compileAttrs,
  defineMessage,
  defineStruct,
  decodeAttrsInto,
  decodePayload,
  decodeStruct,
  encodeStruct,
  writeAttrs,
  writePayload,
} from './table.js'

/** Size of `struct ifinfomsg`. */
export const IFINFOMSG_LEN = 16

/** `struct ifinfomsg`. */
export interface IfInfoHeader {
  /** `ifi_family`: usually AF_UNSPEC. */
  family: number
  /** `ifi_type`: ARPHRD_* hardware type. */
  type: number
  /** `ifi_index`: interface index (0 in a create request). */
  index: number
  /** `ifi_flags`: IFF_* bits. */
  flags: number
  /** `ifi_change`: which IFF_* bits a request changes. */
  change: number
}

/** Decoded vxlan IFLA_INFO_DATA. */
export interface VxlanInfo {
  id?: number
  group?: string
  local?: string
  port?: number
  link?: number
  ttl?: number
  learning?: boolean
}

/** Decoded IFLA_LINKINFO. */
export interface LinkInfo {
  kind?: string
  slaveKind?: string
  /** IFLA_INFO_DATA attributes, undecoded. */
  data?: Attribute[]
  /** IFLA_INFO_SLAVE_DATA attributes, undecoded. */
  slaveData?: Attribute[]
  /** veth: the peer described by VETH_INFO_PEER (present in requests, not in kernel dumps). */
  peer?: LinkMessage
  /** vxlan: the decoded data. */
  vxlan?: VxlanInfo
  /** macvlan/macvtap: IFLA_MACVLAN_MODE (a MACVLAN_MODE value). */
  macvlanMode?: number
}

/** A decoded link message: the ifinfomsg fields plus the commonly used attributes. */
export interface LinkMessage extends IfInfoHeader {
  name?: string
  mtu?: number
  /** IFLA_ADDRESS as lowercase colon-separated hex. */
  address?: string
  broadcast?: string
  /** IFLA_OPERSTATE (an IF_OPER value). */
  operstate?: number
  /** IFLA_MASTER: index of the bridge/bond this link is enslaved to. */
  master?: number
  txqlen?: number
  /** IFLA_LINK: index of the lower device, or of the veth peer (in the peer's namespace). */
  linkIndex?: number
  /** IFLA_LINK_NETNSID: namespace id (as seen from here) where IFLA_LINK lives. */
  netnsId?: number
  /** IFLA_NET_NS_FD (requests). */
  netnsFd?: number
  /** IFLA_NET_NS_PID (requests). */
  netnsPid?: number
  /** IFLA_INFO_KIND, copied up from {@link LinkMessage.linkInfo} for convenience. */
  kind?: string
  linkInfo?: LinkInfo
  /** IFLA_ALT_IFNAME entries (inside IFLA_PROP_LIST in dumps, top level in some requests). */
  altNames: string[]
  /** Every top-level attribute, in wire order. */
  attrs: Attribute[]
}

// ------------------------------------------------------------------------ tables

/** `struct ifinfomsg`: `| family | pad | type | index | flags | change |`. */
const IFINFOMSG = defineStruct({
  cName: 'ifinfomsg',
  size: IFINFOMSG_LEN,
  fields: [
    { key: 'family', offset: 0, type: 'u8', cName: 'ifi_family' },
    { key: 'type', offset: 2, type: 'u16', cName: 'ifi_type' },
    { key: 'index', offset: 4, type: 's32', cName: 'ifi_index' },
    { key: 'flags', offset: 8, type: 'u32', cName: 'ifi_flags' },
    { key: 'change', offset: 12, type: 'u32', cName: 'ifi_change' },
  ],
})

/** 'IFLA_MTU (4)': how errors name a link attribute. */
const n = (type: number): string => describeConstant(IFLA, type, 'IFLA_')

/** vxlan IFLA_INFO_DATA, in iproute2's order. LOCAL/GROUP write the v6 type for an IPv6 address. */
const VXLAN = compileAttrs([
  { type: IFLA_VXLAN.LINK, key: 'link', kind: 'u32', name: 'IFLA_VXLAN_LINK' },
  { type: IFLA_VXLAN.TTL, key: 'ttl', kind: 'u8', name: 'IFLA_VXLAN_TTL' },
  { type: IFLA_VXLAN.ID, key: 'id', kind: 'u32', name: 'IFLA_VXLAN_ID' },
  {
    type: IFLA_VXLAN.LOCAL,
    key: 'local',
    kind: 'ip4',
    name: 'IFLA_VXLAN_LOCAL',
    encode: (w, v) => {
      const bytes = ipBytesForFamily(v as string, 0, 'vxlan local')
      w.attr(bytes.length === 4 ? IFLA_VXLAN.LOCAL : IFLA_VXLAN.LOCAL6, bytes)
    },
  },
  { type: IFLA_VXLAN.LOCAL6, key: 'local', kind: 'ip6', name: 'IFLA_VXLAN_LOCAL', decodeOnly: true },
  {
    type: IFLA_VXLAN.GROUP,
    key: 'group',
    kind: 'ip4',
    name: 'IFLA_VXLAN_GROUP',
    encode: (w, v) => {
      const bytes = ipBytesForFamily(v as string, 0, 'vxlan group')
      w.attr(bytes.length === 4 ? IFLA_VXLAN.GROUP : IFLA_VXLAN.GROUP6, bytes)
    },
  },
  { type: IFLA_VXLAN.GROUP6, key: 'group', kind: 'ip6', name: 'IFLA_VXLAN_GROUP', decodeOnly: true },
  { type: IFLA_VXLAN.LEARNING, key: 'learning', kind: 'bool8', name: 'IFLA_VXLAN_LEARNING' },
  { type: IFLA_VXLAN.PORT, key: 'port', kind: 'be16', name: 'IFLA_VXLAN_PORT' },
])

/** Bridge IFLA_INFO_DATA (IFLA_BR_*), in the order bridgeInfo writes them. */
const BRIDGE = compileAttrs([
  { type: IFLA_BR.FORWARD_DELAY, key: 'forwardDelay', kind: 'u32', name: 'IFLA_BR_FORWARD_DELAY' },
  { type: IFLA_BR.HELLO_TIME, key: 'helloTime', kind: 'u32', name: 'IFLA_BR_HELLO_TIME' },
  { type: IFLA_BR.MAX_AGE, key: 'maxAge', kind: 'u32', name: 'IFLA_BR_MAX_AGE' },
  { type: IFLA_BR.AGEING_TIME, key: 'ageingTime', kind: 'u32', name: 'IFLA_BR_AGEING_TIME' },
  { type: IFLA_BR.STP_STATE, key: 'stpState', kind: 'u32', name: 'IFLA_BR_STP_STATE' },
  { type: IFLA_BR.PRIORITY, key: 'priority', kind: 'u16', name: 'IFLA_BR_PRIORITY' },
  { type: IFLA_BR.VLAN_FILTERING, key: 'vlanFiltering', kind: 'bool8', name: 'IFLA_BR_VLAN_FILTERING' },
  { type: IFLA_BR.MCAST_SNOOPING, key: 'mcastSnooping', kind: 'bool8', name: 'IFLA_BR_MCAST_SNOOPING' },
  { type: IFLA_BR.VLAN_DEFAULT_PVID, key: 'vlanDefaultPvid', kind: 'u16', name: 'IFLA_BR_VLAN_DEFAULT_PVID' },
])

/** macvlan/macvtap IFLA_INFO_DATA: the mode, stored on the LinkInfo itself. */
const MACVLAN = compileAttrs([
  { type: IFLA_MACVLAN.MODE, key: 'macvlanMode', kind: 'u32', name: 'IFLA_MACVLAN_MODE' },
])

/** IFLA_LINKINFO (decoding; requests write it from a {@link LinkInfoRequest}). */
const LINKINFO = compileAttrs([
  { type: IFLA_INFO.KIND, key: 'kind', kind: 'string', name: 'IFLA_INFO_KIND' },
  { type: IFLA_INFO.SLAVE_KIND, key: 'slaveKind', kind: 'string', name: 'IFLA_INFO_SLAVE_KIND' },
  { type: IFLA_INFO.DATA, key: 'data', kind: 'attrs', name: 'IFLA_INFO_DATA' },
  { type: IFLA_INFO.SLAVE_DATA, key: 'slaveData', kind: 'attrs', name: 'IFLA_INFO_SLAVE_DATA' },
])

/** What IFLA_INFO_DATA means, by IFLA_INFO_KIND. */
const INFO_DATA: Record<string, (data: Attribute[], info: Fields, decodePeer: boolean) => void> = {
  veth: (data, info, decodePeer) => {
    // A peer's own peer means nothing; stopping here also bounds the recursion on hostile input.
    if (!decodePeer) return
    const peer = data.find((a) => a.type === VETH_INFO_PEER)
    if (peer !== undefined) info.peer = decodePayload(PEER, peer.value, peer.offset + 4)
  },
  vxlan: (data, info) => {
    const vxlan: Fields = {}
    decodeAttrsInto(VXLAN, data, vxlan, 0)
    info.vxlan = vxlan
  },
  macvlan: (data, info) => decodeAttrsInto(MACVLAN, data, info, 0),
  macvtap: (data, info) => decodeAttrsInto(MACVLAN, data, info, 0),
}

function decodeLinkInfo(attr: Attribute, out: Fields, decodePeer: boolean): void {
  const info: Fields = {}
  decodeAttrsInto(LINKINFO, readNested(attr), info, 0)
  const kind = info.kind as string | undefined
  const data = info.data as Attribute[] | undefined
  if (data !== undefined && kind !== undefined && Object.hasOwn(INFO_DATA, kind)) {
    INFO_DATA[kind]!(data, info, decodePeer)
  }
  out.linkInfo = info
  if (kind !== undefined) out.kind = kind
}

/** IFLA_LINKINFO written from a request's `info`: the kind, then IFLA_INFO_DATA if it has a writer. */
function writeLinkInfo(w: AttrWriter, value: unknown): void {
  const info = value as LinkInfoRequest
  w.nested(IFLA.LINKINFO, (inner) => {
    inner.stringNoNul(IFLA_INFO.KIND, info.kind)
    if (info.data !== undefined) inner.nested(IFLA_INFO.DATA, info.data)
  })
}

/**
 * IFLA_*, in iproute2's order (address, broadcast, mtu, txqlen, operstate, master, netns, link,
 * ifname, linkinfo), then what only dumps carry. `decodePeer` tells IFLA_LINKINFO whether a veth
 * peer is decoded (a peer's is not).
 */
function linkAttrs(decodePeer: boolean): AttrSpec[] {
  return [
    { type: IFLA.ADDRESS, key: 'address', kind: 'mac', name: n(IFLA.ADDRESS) },
    { type: IFLA.BROADCAST, key: 'broadcast', kind: 'mac', name: n(IFLA.BROADCAST) },
    { type: IFLA.MTU, key: 'mtu', kind: 'u32', name: n(IFLA.MTU) },
    { type: IFLA.TXQLEN, key: 'txqlen', kind: 'u32', name: n(IFLA.TXQLEN) },
    { type: IFLA.OPERSTATE, key: 'operstate', kind: 'u8', name: n(IFLA.OPERSTATE) },
    { type: IFLA.MASTER, key: 'master', kind: 'u32', name: n(IFLA.MASTER) },
    {
      type: IFLA.NET_NS_FD,
      key: 'netnsFd',
      kind: 'u32',
      name: n(IFLA.NET_NS_FD),
      get: (r) => (r.netns as { fd?: number } | undefined)?.fd,
    },
    {
      type: IFLA.NET_NS_PID,
      key: 'netnsPid',
      kind: 'u32',
      name: n(IFLA.NET_NS_PID),
      get: (r) => (r.netns as { pid?: number } | undefined)?.pid,
    },
    { type: IFLA.LINK, key: 'linkIndex', kind: 'u32', name: n(IFLA.LINK) },
    { type: IFLA.IFNAME, key: 'name', kind: 'string', name: n(IFLA.IFNAME) },
    {
      type: IFLA.LINKINFO,
      key: 'linkInfo',
      kind: 'custom',
      name: n(IFLA.LINKINFO),
      decode: (attr, out) => decodeLinkInfo(attr, out, decodePeer),
      encode: writeLinkInfo,
      get: (r) => r.info,
    },
    { type: IFLA.LINK_NETNSID, key: 'netnsId', kind: 's32', name: n(IFLA.LINK_NETNSID), decodeOnly: true },
    {
      type: IFLA.ALT_IFNAME,
      key: 'altNames',
      kind: 'string',
      name: n(IFLA.ALT_IFNAME),
      list: true,
      decodeOnly: true,
    },
    {
      type: IFLA.PROP_LIST,
      key: 'altNames',
      kind: 'custom',
      name: n(IFLA.PROP_LIST),
      decodeOnly: true,
      decode: (attr, out) => decodeAttrsInto(PROP_LIST, readNested(attr), out, 0),
    },
  ]
}

/** IFLA_PROP_LIST: its IFLA_ALT_IFNAME entries join the message's altNames. */
const PROP_LIST = compileAttrs([
  { type: IFLA.ALT_IFNAME, key: 'altNames', kind: 'string', name: n(IFLA.ALT_IFNAME), list: true },
])

const LINK = defineMessage(IFINFOMSG, compileAttrs(linkAttrs(true)))
/** A veth peer (VETH_INFO_PEER): a link whose own peer, if any, is not decoded. */
const PEER = defineMessage(IFINFOMSG, compileAttrs(linkAttrs(false)))

// ----------------------------------------------------------------- the functions

/** Encode `struct ifinfomsg`; omitted fields are 0. */
export function encodeIfInfoHeader(header: Partial<IfInfoHeader> = {}): Buffer {
  return encodeStruct(IFINFOMSG, header)
}

/** Decode the ifinfomsg at the start of `payload`. */
export function decodeIfInfoHeader(payload: Buffer, baseOffset = 0): IfInfoHeader {
  return decodeStruct(IFINFOMSG, payload, baseOffset) as unknown as IfInfoHeader
}

/**
 * Decode a link payload (ifinfomsg + attributes). `baseOffset` is the payload's position in the
 * original input, used in error offsets. Throws NetlinkDecodeError on malformed input, including
 * a known attribute whose value has the wrong size.
 */
export function decodeLink(payload: Buffer, baseOffset = 0): LinkMessage {
  return decodePayload(LINK, payload, baseOffset) as unknown as LinkMessage
}

/** IFLA_LINKINFO for a request: the driver kind and a writer for its IFLA_INFO_DATA. */
export interface LinkInfoRequest {
  kind: string
  /** Writes the IFLA_INFO_DATA attributes; omitted means no IFLA_INFO_DATA at all. */
  data?: (writer: AttrWriter) => void
}

/** What a link request can set. Every field is optional; omitted attributes are not sent. */
export interface LinkRequest extends Partial<IfInfoHeader> {
  name?: string
  /** MAC text or raw link-layer bytes. */
  address?: string | Uint8Array
  broadcast?: string | Uint8Array
  mtu?: number
  txqlen?: number
  operstate?: number
  /** IFLA_MASTER: enslave to this index (0 to release). */
  master?: number
  /** Create or move the link into a namespace: an open namespace fd, or a pid living there. */
  netns?: { fd: number } | { pid: number }
  /** IFLA_LINK: the lower device (macvlan, vlan, ...). */
  linkIndex?: number
  info?: LinkInfoRequest
  /** Extra attributes appended after everything else. */
  extra?: (writer: AttrWriter) => void
}

/**
 * Write a link payload (ifinfomsg + attributes) into `writer`. Attribute order follows iproute2:
 * address, broadcast, mtu, txqlen, operstate, master, netns, link, ifname, linkinfo.
 */
export function writeLink(writer: AttrWriter, req: LinkRequest): void {
  writePayload(writer, LINK, req, req, 0)
  req.extra?.(writer)
}

/** Encode a link payload (ifinfomsg + attributes); see {@link writeLink}. */
export function encodeLink(req: LinkRequest): Buffer {
  const writer = new AttrWriter()
  writeLink(writer, req)
  return writer.finish()
}

/**
 * veth link info. `peer` becomes VETH_INFO_PEER: a full ifinfomsg plus attributes, so the peer
 * can get its own name, and `netns` to be born in another namespace.
 */
export function vethInfo(peer?: LinkRequest): LinkInfoRequest {
  if (peer === undefined) return { kind: 'veth' }
  return { kind: 'veth', data: peerWriter(peer) }
}

/**
 * VETH_INFO_PEER's writer. Returned from here, not written as `data: (w) => ...`: tsx (esbuild
 * keepNames) names a closure assigned to a property with a defineProperty call, per veth.
 */
function peerWriter(peer: LinkRequest): (w: AttrWriter) => void {
  return (w) => w.nested(VETH_INFO_PEER, (p) => writeLink(p, peer))
}

/** vxlan options (IFLA_VXLAN_*). Addresses may be IPv4 or IPv6 (GROUP6/LOCAL6 are chosen). */
export interface VxlanOptions {
  /** VNI, 0..2^24-1. */
  id: number
  /** Lower device index for the underlay. */
  link?: number
  ttl?: number
  local?: string
  /** Remote (unicast) or multicast group. */
  group?: string
  learning?: boolean
  /** UDP destination port (4789 is the IANA port; the kernel default is 8472). */
  port?: number
}

/** vxlan link info, attributes in iproute2's order. */
export function vxlanInfo(opts: VxlanOptions): LinkInfoRequest {
  checkField(opts.id, 0, 0xffffff, 'vxlan id')
  return { kind: 'vxlan', data: (w) => writeAttrs(w, VXLAN, opts, 0) }
}

/** macvlan link info with IFLA_MACVLAN_MODE (a MACVLAN_MODE value). */
export function macvlanInfo(mode?: number, kind: 'macvlan' | 'macvtap' = 'macvlan'): LinkInfoRequest {
  if (mode === undefined) return { kind }
  return { kind, data: (w) => writeAttrs(w, MACVLAN, { macvlanMode: mode }, 0) }
}

/** Bridge options (IFLA_BR_*). Times are in centiseconds (USER_HZ), as the kernel expects. */
export interface BridgeOptions {
  forwardDelay?: number
  helloTime?: number
  maxAge?: number
  ageingTime?: number
  stpState?: number
  priority?: number
  vlanFiltering?: boolean
  vlanDefaultPvid?: number
  mcastSnooping?: boolean
}

/** Bridge link info; without options no IFLA_INFO_DATA is sent (as `ip link add type bridge`). */
export function bridgeInfo(opts: BridgeOptions = {}): LinkInfoRequest {
  const entries = Object.values(opts).filter((v) => v !== undefined)
  if (entries.length === 0) return { kind: 'bridge' }
  return { kind: 'bridge', data: (w) => writeAttrs(w, BRIDGE, opts, 0) }
}

/** Read IFLA_BR_* values the kernel reports for a bridge (from {@link LinkInfo.data}). */
export function decodeBridgeData(data: readonly Attribute[]): BridgeOptions {
  const out: Fields = {}
  decodeAttrsInto(BRIDGE, data, out, 0)
  return out as BridgeOptions
}
