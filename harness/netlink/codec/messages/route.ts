/**
 * Routes: RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE payloads.
 *
 * Payload = `struct rtmsg` (12 bytes) followed by RTA_* attributes:
 *
 * ```
 *   0        1         2         3     4       5          6       7      8       12
 *   | family | dst_len | src_len | tos | table | protocol | scope | type | flags | attributes ...
 * ```
 *
 * `rtm_table` has 8 bits; table ids above 255 travel in RTA_TABLE (which wins when present).
 * RTA_MULTIPATH holds a run of `struct rtnexthop` (len u16, flags u8, hops u8, ifindex s32), each
 * followed by its own RTA_* attributes (RTA_GATEWAY, ...), aligned to 4 bytes.
 */
import { parseCidr } from '../address.js'
import {
  AttrWriter,
  decodeAttributes,
  readNested,
  readString,
  readU32,
  readU8,
  type Attribute,
} from '../attributes.js'
import { AF, RTA, RTAX } from '../constants.js'
import { NetlinkDecodeError } from '../errors.js'
import {
  readHostS32,
  readHostU16,
  readHostU32,
  writeHostS32,
  writeHostU16,
  writeHostU32,
} from '../hostorder.js'
import {
  checkField,
  familyOfFirst,
  ipBytesForFamily,
  isIpFamily,
  readIpAttr,
  requireFixedHeader,
} from './common.js'

/** Size of `struct rtmsg`. */
export const RTMSG_LEN = 12

/** Size of `struct rtnexthop`. */
export const RTNEXTHOP_LEN = 8

/** `struct rtmsg`. */
export interface RtHeader {
  family: number
  dstLen: number
  srcLen: number
  tos: number
  /** RT_TABLE_* or a table id; in a decoded message RTA_TABLE overrides the 8-bit field. */
  table: number
  /** RTPROT_* origin. */
  protocol: number
  /** RT_SCOPE_* value. */
  scope: number
  /** RTN_* type. */
  type: number
  /** RTM_F_* / RTNH_F_* bits. */
  flags: number
}

/** One next hop of a multipath route. */
export interface NextHop {
  ifindex: number
  /** RTNH_F_* bits. */
  flags: number
  /** `rtnh_hops`: the weight minus one. */
  hops: number
  gateway?: string
  attrs: Attribute[]
}

/** A decoded route message. */
export interface RouteMessage extends RtHeader {
  dst?: string
  src?: string
  gateway?: string
  prefsrc?: string
  oif?: number
  iif?: number
  /** RTA_PRIORITY: the metric `ip route` prints. */
  priority?: number
  /** RTA_PREF: IPv6 router preference (ROUTER_PREF value). */
  pref?: number
  /** RTA_METRICS: numeric RTAX_* values by type. */
  metrics?: Record<number, number>
  /** RTAX_CC_ALGO from RTA_METRICS. */
  congestionControl?: string
  multipath?: NextHop[]
  attrs: Attribute[]
}

/** Encode `struct rtmsg`. */
export function encodeRtHeader(header: Partial<RtHeader> = {}): Buffer {
  const buf = Buffer.allocUnsafe(RTMSG_LEN).fill(0) // pooled: this runs per request
  buf[0] = checkField(header.family ?? 0, 0, 0xff, 'rtm_family')
  buf[1] = checkField(header.dstLen ?? 0, 0, 0xff, 'rtm_dst_len')
  buf[2] = checkField(header.srcLen ?? 0, 0, 0xff, 'rtm_src_len')
  buf[3] = checkField(header.tos ?? 0, 0, 0xff, 'rtm_tos')
  buf[4] = checkField(header.table ?? 0, 0, 0xff, 'rtm_table')
  buf[5] = checkField(header.protocol ?? 0, 0, 0xff, 'rtm_protocol')
  buf[6] = checkField(header.scope ?? 0, 0, 0xff, 'rtm_scope')
  buf[7] = checkField(header.type ?? 0, 0, 0xff, 'rtm_type')
  writeHostU32(buf, checkField(header.flags ?? 0, 0, 0xffffffff, 'rtm_flags'), 8)
  return buf
}

/** Decode the rtmsg at the start of `payload`. */
export function decodeRtHeader(payload: Buffer, baseOffset = 0): RtHeader {
  requireFixedHeader(payload, RTMSG_LEN, baseOffset, 'rtmsg')
  return {
    family: payload[0] ?? 0,
    dstLen: payload[1] ?? 0,
    srcLen: payload[2] ?? 0,
    tos: payload[3] ?? 0,
    table: payload[4] ?? 0,
    protocol: payload[5] ?? 0,
    scope: payload[6] ?? 0,
    type: payload[7] ?? 0,
    flags: readHostU32(payload, 8),
  }
}

/**
 * Decode the value of RTA_MULTIPATH: `struct rtnexthop` records, each `rtnh_len` long (header
 * included) and aligned to 4. Every record is at least 8 bytes, so the loop terminates.
 */
export function decodeMultipath(attr: Attribute, family: number): NextHop[] {
  const buf = attr.value
  const base = attr.offset + 4
  const hops: NextHop[] = []
  let pos = 0
  while (pos < buf.length) {
    const at = base + pos
    const remaining = buf.length - pos
    if (remaining < RTNEXTHOP_LEN) {
      throw new NetlinkDecodeError(
        at,
        'truncated-attribute',
        `rtnexthop at offset ${at} needs ${RTNEXTHOP_LEN} bytes but only ${remaining} remain`,
      )
    }
    const len = readHostU16(buf, pos)
    if (len < RTNEXTHOP_LEN || len > remaining) {
      throw new NetlinkDecodeError(
        at,
        'bad-attribute-length',
        `rtnexthop at offset ${at} claims length ${len} but must be ${RTNEXTHOP_LEN}..${remaining}`,
      )
    }
    const attrs = decodeAttributes(buf.subarray(pos + RTNEXTHOP_LEN, pos + len), at + RTNEXTHOP_LEN)
    const hop: NextHop = {
      flags: buf[pos + 2] ?? 0,
      hops: buf[pos + 3] ?? 0,
      ifindex: readHostS32(buf, pos + 4),
      attrs,
    }
    const gateway = attrs.findLast((a) => a.type === RTA.GATEWAY)
    if (gateway !== undefined && isIpFamily(family)) hop.gateway = readIpAttr(gateway, family, 'RTA_GATEWAY')
    hops.push(hop)
    pos = Math.min(buf.length, pos + ((len + 3) & ~3))
  }
  return hops
}

function decodeMetrics(attr: Attribute, route: RouteMessage): void {
  const metrics: Record<number, number> = {}
  for (const metric of readNested(attr)) {
    if (metric.type === RTAX.CC_ALGO) route.congestionControl = readString(metric)
    else metrics[metric.type] = readU32(metric, `RTAX metric ${metric.type}`)
  }
  route.metrics = metrics
}

/**
 * Decode a route payload (rtmsg + attributes). Address attributes are turned into text for
 * AF_INET/AF_INET6 routes only (MPLS and others keep them in `attrs`).
 */
export function decodeRoute(payload: Buffer, baseOffset = 0): RouteMessage {
  const header = decodeRtHeader(payload, baseOffset)
  const attrs = decodeAttributes(payload.subarray(RTMSG_LEN), baseOffset + RTMSG_LEN)
  // Fields copied one by one: an object spread here made decoding several times slower (V8 cloned
  // the header's shape, then every added attribute field changed it again).
  const route: RouteMessage = {
    family: header.family,
    dstLen: header.dstLen,
    srcLen: header.srcLen,
    tos: header.tos,
    table: header.table,
    protocol: header.protocol,
    scope: header.scope,
    type: header.type,
    flags: header.flags,
    attrs,
  }
  const ip = isIpFamily(header.family)
  for (const attr of attrs) {
    switch (attr.type) {
      case RTA.DST:
        if (ip) route.dst = readIpAttr(attr, header.family, 'RTA_DST')
        break
      case RTA.SRC:
        if (ip) route.src = readIpAttr(attr, header.family, 'RTA_SRC')
        break
      case RTA.GATEWAY:
        if (ip) route.gateway = readIpAttr(attr, header.family, 'RTA_GATEWAY')
        break
      case RTA.PREFSRC:
        if (ip) route.prefsrc = readIpAttr(attr, header.family, 'RTA_PREFSRC')
        break
      case RTA.OIF:
        route.oif = readU32(attr, 'RTA_OIF')
        break
      case RTA.IIF:
        route.iif = readU32(attr, 'RTA_IIF')
        break
      case RTA.PRIORITY:
        route.priority = readU32(attr, 'RTA_PRIORITY')
        break
      case RTA.TABLE:
        route.table = readU32(attr, 'RTA_TABLE')
        break
      case RTA.PREF:
        route.pref = readU8(attr, 'RTA_PREF')
        break
      case RTA.METRICS:
        decodeMetrics(attr, route)
        break
      case RTA.MULTIPATH:
        route.multipath = decodeMultipath(attr, header.family)
        break
    }
  }
  return route
}

/** A next hop in a multipath request. */
export interface NextHopRequest {
  ifindex: number
  flags?: number
  /** Weight 1..256 (sent as `rtnh_hops = weight - 1`); default 1. */
  weight?: number
  gateway?: string
}

/** What a route request can set. Omitted header fields are 0 (RTN_UNSPEC, RTPROT_UNSPEC, ...). */
export interface RouteRequest extends Partial<RtHeader> {
  /** Destination `address/len` (sets `dstLen` too) or a bare address (full length). */
  dst?: string
  /** Source prefix `address/len` (policy routing; sets `srcLen`). */
  src?: string
  gateway?: string
  prefsrc?: string
  oif?: number
  iif?: number
  priority?: number
  pref?: number
  /** RTAX_* values, e.g. `{ [RTAX.MTU]: 1400 }`. */
  metrics?: Record<number, number>
  multipath?: NextHopRequest[]
  /** Extra attributes appended after everything else. */
  extra?: (writer: AttrWriter) => void
}

function encodeNextHops(hops: readonly NextHopRequest[], family: number): Buffer {
  const parts = hops.map((hop) => {
    const inner = new AttrWriter()
    if (hop.gateway !== undefined)
      inner.attr(RTA.GATEWAY, ipBytesForFamily(hop.gateway, family, 'RTA_GATEWAY'))
    const attrs = inner.toBuffer()
    const head = Buffer.alloc(RTNEXTHOP_LEN)
    writeHostU16(head, checkField(RTNEXTHOP_LEN + attrs.length, 0, 0xffff, 'rtnh_len'), 0)
    head[2] = checkField(hop.flags ?? 0, 0, 0xff, 'rtnh_flags')
    head[3] = checkField((hop.weight ?? 1) - 1, 0, 0xff, 'rtnh_hops (weight - 1)')
    writeHostS32(head, checkField(hop.ifindex, -0x80000000, 0x7fffffff, 'rtnh_ifindex'), 4)
    return Buffer.concat([head, attrs])
  })
  return Buffer.concat(parts)
}

/**
 * Encode a route payload. The family defaults to that of `dst`/`src`/`gateway`/`prefsrc`. A table
 * id up to 255 goes in `rtm_table`; larger ids set `rtm_table = RT_TABLE_UNSPEC` and RTA_TABLE,
 * as iproute2 does. Attribute order follows iproute2: dst, src, gateway, prefsrc, priority,
 * table, pref, metrics, multipath, oif, iif.
 */
export function encodeRoute(req: RouteRequest): Buffer {
  const dst = req.dst === undefined ? undefined : parseCidr(req.dst)
  const src = req.src === undefined ? undefined : parseCidr(req.src)
  const family =
    req.family ?? dst?.family ?? src?.family ?? familyOfFirst([req.gateway, req.prefsrc], AF.UNSPEC)
  const table = checkField(req.table ?? 0, 0, 0xffffffff, 'route table')
  const w = new AttrWriter()
  w.raw(
    encodeRtHeader({
      ...req,
      family,
      dstLen: req.dstLen ?? dst?.prefixLen ?? 0,
      srcLen: req.srcLen ?? src?.prefixLen ?? 0,
      table: table > 0xff ? 0 : table,
    }),
  )
  if (dst !== undefined) w.attr(RTA.DST, ipBytesForFamily(dst.address, family, 'RTA_DST'))
  if (src !== undefined) w.attr(RTA.SRC, ipBytesForFamily(src.address, family, 'RTA_SRC'))
  if (req.gateway !== undefined) w.attr(RTA.GATEWAY, ipBytesForFamily(req.gateway, family, 'RTA_GATEWAY'))
  if (req.prefsrc !== undefined) w.attr(RTA.PREFSRC, ipBytesForFamily(req.prefsrc, family, 'RTA_PREFSRC'))
  if (req.priority !== undefined) w.u32(RTA.PRIORITY, req.priority)
  if (table > 0xff) w.u32(RTA.TABLE, table)
  if (req.pref !== undefined) w.u8(RTA.PREF, req.pref)
  const metrics = req.metrics
  if (metrics !== undefined) {
    w.nested(RTA.METRICS, (m) => {
      for (const [type, value] of Object.entries(metrics)) m.u32(Number(type), value)
    })
  }
  if (req.multipath !== undefined) w.attr(RTA.MULTIPATH, encodeNextHops(req.multipath, family))
  if (req.oif !== undefined) w.u32(RTA.OIF, req.oif)
  if (req.iif !== undefined) w.u32(RTA.IIF, req.iif)
  req.extra?.(w)
  return w.toBuffer()
}
