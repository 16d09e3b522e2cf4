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
import { parseCidr } from '../../../util/ip.js'
import {
  AttrWriter,
  decodeAttributes,
  readNested,
  readString,
  readU32,
  type Attribute,
} from '../attributes.js'
import { AF, RTA, RTAX } from '../constants.js'
import { NetlinkDecodeError } from '../errors.js'
import { readHostS32, readHostU16, writeHostS32, writeHostU16 } from '../hostorder.js'
import { checkField, familyOfFirst, ipBytesForFamily, isIpFamily, readIpAttr } from './common.js'
import {
  type Fields,
  compileAttrs,
  defineMessage,
  defineStruct,
  decodePayload,
  decodeStruct,
  encodeStruct,
  writePayload,
} from './table.js'

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

/** `struct rtmsg`: `| family | dst_len | src_len | tos | table | protocol | scope | type | flags |`. */
const RTMSG = defineStruct({
  cName: 'rtmsg',
  size: RTMSG_LEN,
  fields: [
    { key: 'family', offset: 0, type: 'u8', cName: 'rtm_family' },
    { key: 'dstLen', offset: 1, type: 'u8', cName: 'rtm_dst_len' },
    { key: 'srcLen', offset: 2, type: 'u8', cName: 'rtm_src_len' },
    { key: 'tos', offset: 3, type: 'u8', cName: 'rtm_tos' },
    { key: 'table', offset: 4, type: 'u8', cName: 'rtm_table' },
    { key: 'protocol', offset: 5, type: 'u8', cName: 'rtm_protocol' },
    { key: 'scope', offset: 6, type: 'u8', cName: 'rtm_scope' },
    { key: 'type', offset: 7, type: 'u8', cName: 'rtm_type' },
    { key: 'flags', offset: 8, type: 'u32', cName: 'rtm_flags' },
  ],
})

/** Encode `struct rtmsg`. */
export function encodeRtHeader(header: Partial<RtHeader> = {}): Buffer {
  return encodeStruct(RTMSG, header)
}

/** Decode the rtmsg at the start of `payload`. */
export function decodeRtHeader(payload: Buffer, baseOffset = 0): RtHeader {
  return decodeStruct(RTMSG, payload, baseOffset) as unknown as RtHeader
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

/** RTA_METRICS: numeric RTAX_* values by type, and RTAX_CC_ALGO's name apart. */
function decodeMetrics(attr: Attribute, route: Fields): void {
  const metrics: Record<number, number> = {}
  for (const metric of readNested(attr)) {
    if (metric.type === RTAX.CC_ALGO) route.congestionControl = readString(metric)
    else metrics[metric.type] = readU32(metric, `RTAX metric ${metric.type}`)
  }
  route.metrics = metrics
}

function writeMetrics(w: AttrWriter, value: unknown): void {
  const metrics = value as Record<number, number>
  w.nested(RTA.METRICS, (m) => {
    for (const [type, v] of Object.entries(metrics)) m.u32(Number(type), v)
  })
}

/**
 * RTA_*, in iproute2's order (dst, src, gateway, prefsrc, priority, table, pref, metrics,
 * multipath, oif, iif). Addresses are read for AF_INET/AF_INET6 routes only (MPLS and others keep
 * them in `attrs`). RTA_TABLE overrides the header's 8-bit table.
 */
const ROUTE = defineMessage(
  RTMSG,
  compileAttrs([
    { type: RTA.DST, key: 'dst', kind: 'ip', name: 'RTA_DST' },
    { type: RTA.SRC, key: 'src', kind: 'ip', name: 'RTA_SRC' },
    { type: RTA.GATEWAY, key: 'gateway', kind: 'ip', name: 'RTA_GATEWAY' },
    { type: RTA.PREFSRC, key: 'prefsrc', kind: 'ip', name: 'RTA_PREFSRC' },
    { type: RTA.PRIORITY, key: 'priority', kind: 'u32', name: 'RTA_PRIORITY' },
    { type: RTA.TABLE, key: 'table', kind: 'u32', name: 'RTA_TABLE' },
    { type: RTA.PREF, key: 'pref', kind: 'u8', name: 'RTA_PREF' },
    {
      type: RTA.METRICS,
      key: 'metrics',
      kind: 'custom',
      name: 'RTA_METRICS',
      decode: decodeMetrics,
      encode: writeMetrics,
    },
    {
      type: RTA.MULTIPATH,
      key: 'multipath',
      kind: 'custom',
      name: 'RTA_MULTIPATH',
      decode: (attr, out, family) => (out.multipath = decodeMultipath(attr, family)),
      encode: (w, v, family) => w.attr(RTA.MULTIPATH, encodeNextHops(v as NextHopRequest[], family)),
    },
    { type: RTA.OIF, key: 'oif', kind: 'u32', name: 'RTA_OIF' },
    { type: RTA.IIF, key: 'iif', kind: 'u32', name: 'RTA_IIF' },
  ]),
)

/**
 * Decode a route payload (rtmsg + attributes). Address attributes are turned into text for
 * AF_INET/AF_INET6 routes only (MPLS and others keep them in `attrs`).
 */
export function decodeRoute(payload: Buffer, baseOffset = 0): RouteMessage {
  return decodePayload(ROUTE, payload, baseOffset) as unknown as RouteMessage
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
  const header: Partial<RtHeader> = {
    family,
    dstLen: req.dstLen ?? dst?.prefixLen ?? 0,
    srcLen: req.srcLen ?? src?.prefixLen ?? 0,
    tos: req.tos,
    table: table > 0xff ? 0 : table,
    protocol: req.protocol,
    scope: req.scope,
    type: req.type,
    flags: req.flags,
  }
  // What the table writes: the prefixes' addresses, and RTA_TABLE only for ids above 255.
  const values = {
    dst: dst?.address,
    src: src?.address,
    gateway: req.gateway,
    prefsrc: req.prefsrc,
    priority: req.priority,
    table: table > 0xff ? table : undefined,
    pref: req.pref,
    metrics: req.metrics,
    multipath: req.multipath,
    oif: req.oif,
    iif: req.iif,
  }
  const w = new AttrWriter()
  writePayload(w, ROUTE, header, values, family)
  req.extra?.(w)
  return w.toBuffer()
}
