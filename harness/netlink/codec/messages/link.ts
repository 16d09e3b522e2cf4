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
import { Buffer } from 'node:buffer'
import { bytesToIp } from '../address.js'
import {
  AttrWriter,
  decodeAttributes,
  findAllAttributes,
  readBe16,
  readNested,
  readS32,
  readString,
  readU16,
  readU32,
  readU8,
  type Attribute,
} from '../attributes.js'
import {
  IFLA,
  IFLA_BR,
  IFLA_INFO,
  IFLA_MACVLAN,
  IFLA_VXLAN,
  VETH_INFO_PEER,
  describeConstant,
} from '../constants.js'
import { NetlinkDecodeError } from '../errors.js'
import { putHostU16, putHostU32, readHostS32, readHostU16, readHostU32 } from '../hostorder.js'
import { checkField, ipBytesForFamily, linkAddressBytes, readMacAttr, requireFixedHeader } from './common.js'

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

/** Encode `struct ifinfomsg`; omitted fields are 0. */
export function encodeIfInfoHeader(header: Partial<IfInfoHeader> = {}): Buffer {
  const buf = Buffer.allocUnsafe(IFINFOMSG_LEN) // pooled; every byte is written
  putIfInfoHeader(buf, 0, header)
  return buf
}

/** Write `struct ifinfomsg` (all 16 bytes) at `at` of `buf`; omitted fields are 0. */
function putIfInfoHeader(buf: Buffer, at: number, header: Partial<IfInfoHeader>): void {
  buf[at] = checkField(header.family ?? 0, 0, 0xff, 'ifi_family')
  buf[at + 1] = 0
  // Checked, so unchecked stores (this runs per request).
  putHostU16(buf, checkField(header.type ?? 0, 0, 0xffff, 'ifi_type'), at + 2)
  putHostU32(buf, checkField(header.index ?? 0, -0x80000000, 0x7fffffff, 'ifi_index'), at + 4)
  putHostU32(buf, checkField(header.flags ?? 0, 0, 0xffffffff, 'ifi_flags'), at + 8)
  putHostU32(buf, checkField(header.change ?? 0, 0, 0xffffffff, 'ifi_change'), at + 12)
}

/** Decode the ifinfomsg at the start of `payload`. */
export function decodeIfInfoHeader(payload: Buffer, baseOffset = 0): IfInfoHeader {
  requireFixedHeader(payload, IFINFOMSG_LEN, baseOffset, 'ifinfomsg')
  return {
    family: payload[0] ?? 0,
    type: readHostU16(payload, 2),
    index: readHostS32(payload, 4),
    flags: readHostU32(payload, 8),
    change: readHostU32(payload, 12),
  }
}

/** 'IFLA_MTU (4)', for error messages; memoised, since decoders name every attribute they read. */
const names = new Map<number, string>()
const name = (type: number): string => {
  let n = names.get(type)
  if (n === undefined) names.set(type, (n = describeConstant(IFLA, type, 'IFLA_')))
  return n
}

function decodeVxlan(data: Attribute[]): VxlanInfo {
  const info: VxlanInfo = {}
  for (const attr of data) {
    switch (attr.type) {
      case IFLA_VXLAN.ID:
        info.id = readU32(attr, 'IFLA_VXLAN_ID')
        break
      case IFLA_VXLAN.GROUP:
      case IFLA_VXLAN.GROUP6:
        info.group = readAddress(attr, attr.type === IFLA_VXLAN.GROUP ? 4 : 16, 'IFLA_VXLAN_GROUP')
        break
      case IFLA_VXLAN.LOCAL:
      case IFLA_VXLAN.LOCAL6:
        info.local = readAddress(attr, attr.type === IFLA_VXLAN.LOCAL ? 4 : 16, 'IFLA_VXLAN_LOCAL')
        break
      case IFLA_VXLAN.PORT:
        info.port = readBe16(attr, 'IFLA_VXLAN_PORT')
        break
      case IFLA_VXLAN.LINK:
        info.link = readU32(attr, 'IFLA_VXLAN_LINK')
        break
      case IFLA_VXLAN.TTL:
        info.ttl = readU8(attr, 'IFLA_VXLAN_TTL')
        break
      case IFLA_VXLAN.LEARNING:
        info.learning = readU8(attr, 'IFLA_VXLAN_LEARNING') !== 0
        break
    }
  }
  return info
}

function readAddress(attr: Attribute, size: 4 | 16, what: string): string {
  if (attr.value.length !== size) {
    throw new NetlinkDecodeError(
      attr.offset,
      'bad-address-length',
      `${what} at offset ${attr.offset} has ${attr.value.length} address bytes; expected ${size}`,
    )
  }
  return bytesToIp(attr.value)
}

function decodeLinkInfo(attr: Attribute, decodePeer: boolean): LinkInfo {
  const info: LinkInfo = {}
  let dataAttr: Attribute | undefined
  for (const inner of readNested(attr)) {
    switch (inner.type) {
      case IFLA_INFO.KIND:
        info.kind = readString(inner)
        break
      case IFLA_INFO.SLAVE_KIND:
        info.slaveKind = readString(inner)
        break
      case IFLA_INFO.DATA:
        dataAttr = inner
        break
      case IFLA_INFO.SLAVE_DATA:
        info.slaveData = readNested(inner)
        break
    }
  }
  if (dataAttr !== undefined) {
    const data = readNested(dataAttr)
    info.data = data
    if (info.kind === 'veth') {
      const peer = data.find((a) => a.type === VETH_INFO_PEER)
      // A peer's own peer means nothing; stopping here also bounds the recursion on hostile input.
      if (peer !== undefined && decodePeer) info.peer = decodeLinkPayload(peer.value, peer.offset + 4, false)
    } else if (info.kind === 'vxlan') {
      info.vxlan = decodeVxlan(data)
    } else if (info.kind === 'macvlan' || info.kind === 'macvtap') {
      const mode = data.find((a) => a.type === IFLA_MACVLAN.MODE)
      if (mode !== undefined) info.macvlanMode = readU32(mode, 'IFLA_MACVLAN_MODE')
    }
  }
  return info
}

/**
 * Decode a link payload (ifinfomsg + attributes). `baseOffset` is the payload's position in the
 * original input, used in error offsets. Throws NetlinkDecodeError on malformed input, including
 * a known attribute whose value has the wrong size.
 */
export function decodeLink(payload: Buffer, baseOffset = 0): LinkMessage {
  return decodeLinkPayload(payload, baseOffset, true)
}

function decodeLinkPayload(payload: Buffer, baseOffset: number, decodePeer: boolean): LinkMessage {
  const header = decodeIfInfoHeader(payload, baseOffset)
  const attrs = decodeAttributes(payload.subarray(IFINFOMSG_LEN), baseOffset + IFINFOMSG_LEN)
  // Fields copied one by one: an object spread here made decoding several times slower (V8 cloned
  // the header's shape, then every added attribute field changed it again).
  const link: LinkMessage = {
    family: header.family,
    type: header.type,
    index: header.index,
    flags: header.flags,
    change: header.change,
    altNames: [],
    attrs,
  }
  for (const attr of attrs) {
    switch (attr.type) {
      case IFLA.IFNAME:
        link.name = readString(attr)
        break
      case IFLA.MTU:
        link.mtu = readU32(attr, name(attr.type))
        break
      case IFLA.ADDRESS:
        link.address = readMacAttr(attr)
        break
      case IFLA.BROADCAST:
        link.broadcast = readMacAttr(attr)
        break
      case IFLA.OPERSTATE:
        link.operstate = readU8(attr, name(attr.type))
        break
      case IFLA.MASTER:
        link.master = readU32(attr, name(attr.type))
        break
      case IFLA.TXQLEN:
        link.txqlen = readU32(attr, name(attr.type))
        break
      case IFLA.LINK:
        link.linkIndex = readU32(attr, name(attr.type))
        break
      case IFLA.LINK_NETNSID:
        link.netnsId = readS32(attr, name(attr.type))
        break
      case IFLA.NET_NS_FD:
        link.netnsFd = readU32(attr, name(attr.type))
        break
      case IFLA.NET_NS_PID:
        link.netnsPid = readU32(attr, name(attr.type))
        break
      case IFLA.ALT_IFNAME:
        link.altNames.push(readString(attr))
        break
      case IFLA.PROP_LIST:
        for (const prop of findAllAttributes(readNested(attr), IFLA.ALT_IFNAME))
          link.altNames.push(readString(prop))
        break
      case IFLA.LINKINFO:
        link.linkInfo = decodeLinkInfo(attr, decodePeer)
        if (link.linkInfo.kind !== undefined) link.kind = link.linkInfo.kind
        break
    }
  }
  return link
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
  // In place: the header is not encoded apart and copied (this runs per request). zeros() may
  // move the bytes: the buffer is read after it.
  const at = writer.zeros(IFINFOMSG_LEN)
  putIfInfoHeader(writer.buffer, at, req)
  if (req.address !== undefined) writer.attr(IFLA.ADDRESS, linkAddressBytes(req.address))
  if (req.broadcast !== undefined) writer.attr(IFLA.BROADCAST, linkAddressBytes(req.broadcast))
  if (req.mtu !== undefined) writer.u32(IFLA.MTU, req.mtu)
  if (req.txqlen !== undefined) writer.u32(IFLA.TXQLEN, req.txqlen)
  if (req.operstate !== undefined) writer.u8(IFLA.OPERSTATE, req.operstate)
  if (req.master !== undefined) writer.u32(IFLA.MASTER, req.master)
  if (req.netns !== undefined) {
    if ('fd' in req.netns) writer.u32(IFLA.NET_NS_FD, req.netns.fd)
    else writer.u32(IFLA.NET_NS_PID, req.netns.pid)
  }
  if (req.linkIndex !== undefined) writer.u32(IFLA.LINK, req.linkIndex)
  if (req.name !== undefined) writer.string(IFLA.IFNAME, req.name)
  const info = req.info
  if (info !== undefined) {
    writer.nested(IFLA.LINKINFO, (w) => {
      w.stringNoNul(IFLA_INFO.KIND, info.kind)
      if (info.data !== undefined) w.nested(IFLA_INFO.DATA, info.data)
    })
  }
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
  return {
    kind: 'vxlan',
    data: (w) => {
      if (opts.link !== undefined) w.u32(IFLA_VXLAN.LINK, opts.link)
      if (opts.ttl !== undefined) w.u8(IFLA_VXLAN.TTL, opts.ttl)
      w.u32(IFLA_VXLAN.ID, opts.id)
      if (opts.local !== undefined) {
        const bytes = ipBytesForFamily(opts.local, 0, 'vxlan local')
        w.attr(bytes.length === 4 ? IFLA_VXLAN.LOCAL : IFLA_VXLAN.LOCAL6, bytes)
      }
      if (opts.group !== undefined) {
        const bytes = ipBytesForFamily(opts.group, 0, 'vxlan group')
        w.attr(bytes.length === 4 ? IFLA_VXLAN.GROUP : IFLA_VXLAN.GROUP6, bytes)
      }
      if (opts.learning !== undefined) w.u8(IFLA_VXLAN.LEARNING, opts.learning ? 1 : 0)
      if (opts.port !== undefined) w.be16(IFLA_VXLAN.PORT, opts.port)
    },
  }
}

/** macvlan link info with IFLA_MACVLAN_MODE (a MACVLAN_MODE value). */
export function macvlanInfo(mode?: number, kind: 'macvlan' | 'macvtap' = 'macvlan'): LinkInfoRequest {
  if (mode === undefined) return { kind }
  return { kind, data: (w) => w.u32(IFLA_MACVLAN.MODE, mode) }
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
  return {
    kind: 'bridge',
    data: (w) => {
      if (opts.forwardDelay !== undefined) w.u32(IFLA_BR.FORWARD_DELAY, opts.forwardDelay)
      if (opts.helloTime !== undefined) w.u32(IFLA_BR.HELLO_TIME, opts.helloTime)
      if (opts.maxAge !== undefined) w.u32(IFLA_BR.MAX_AGE, opts.maxAge)
      if (opts.ageingTime !== undefined) w.u32(IFLA_BR.AGEING_TIME, opts.ageingTime)
      if (opts.stpState !== undefined) w.u32(IFLA_BR.STP_STATE, opts.stpState)
      if (opts.priority !== undefined) w.u16(IFLA_BR.PRIORITY, opts.priority)
      if (opts.vlanFiltering !== undefined) w.u8(IFLA_BR.VLAN_FILTERING, opts.vlanFiltering ? 1 : 0)
      if (opts.mcastSnooping !== undefined) w.u8(IFLA_BR.MCAST_SNOOPING, opts.mcastSnooping ? 1 : 0)
      if (opts.vlanDefaultPvid !== undefined) w.u16(IFLA_BR.VLAN_DEFAULT_PVID, opts.vlanDefaultPvid)
    },
  }
}

/** Read IFLA_BR_* values the kernel reports for a bridge (from {@link LinkInfo.data}). */
export function decodeBridgeData(data: readonly Attribute[]): BridgeOptions {
  const out: BridgeOptions = {}
  for (const attr of data) {
    switch (attr.type) {
      case IFLA_BR.FORWARD_DELAY:
        out.forwardDelay = readU32(attr, 'IFLA_BR_FORWARD_DELAY')
        break
      case IFLA_BR.HELLO_TIME:
        out.helloTime = readU32(attr, 'IFLA_BR_HELLO_TIME')
        break
      case IFLA_BR.MAX_AGE:
        out.maxAge = readU32(attr, 'IFLA_BR_MAX_AGE')
        break
      case IFLA_BR.AGEING_TIME:
        out.ageingTime = readU32(attr, 'IFLA_BR_AGEING_TIME')
        break
      case IFLA_BR.STP_STATE:
        out.stpState = readU32(attr, 'IFLA_BR_STP_STATE')
        break
      case IFLA_BR.PRIORITY:
        out.priority = readU16(attr, 'IFLA_BR_PRIORITY')
        break
      case IFLA_BR.VLAN_FILTERING:
        out.vlanFiltering = readU8(attr, 'IFLA_BR_VLAN_FILTERING') !== 0
        break
      case IFLA_BR.MCAST_SNOOPING:
        out.mcastSnooping = readU8(attr, 'IFLA_BR_MCAST_SNOOPING') !== 0
        break
      case IFLA_BR.VLAN_DEFAULT_PVID:
        out.vlanDefaultPvid = readU16(attr, 'IFLA_BR_VLAN_DEFAULT_PVID')
        break
    }
  }
  return out
}
