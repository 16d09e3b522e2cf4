/** Routes: add, replace, delete, list (ip/iproute.c's job). Bytes live in codec/messages/route.ts. */
import { AF, NLM_F, RTM, RTN, RTPROT, RT_SCOPE, RT_TABLE, constantName } from './codec/constants.js'
import { type RouteMessage, decodeRoute, encodeRoute } from './codec/messages/route.js'
import { scopeName } from './addr.js'
import type { NetlinkSocket } from './transport/socket.js'

export type RouteType = 'unicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'local'

export interface RouteSpec {
  /** Destination prefix (`198.18.0.0/15`, `fd00::/8`) or `default` (with `family`). */
  dst: string
  family?: 4 | 6
  gateway?: string
  /** Output link index. */
  oif?: number
  /** Routing table id (default main). */
  table?: number
  /** Metric (RTA_PRIORITY). */
  metric?: number
  /** Preferred source address. */
  prefsrc?: string
  type?: RouteType
  /** Path MTU (RTAX_MTU) for this route. */
  mtu?: number
}

export interface Route {
  family: 4 | 6
  /** `prefix/len` or `default`. */
  dst: string
  gateway: string | undefined
  oif: number | undefined
  table: number
  metric: number | undefined
  prefsrc: string | undefined
  type: string
  protocol: string
  scope: string
  message: RouteMessage
}

const TYPE: Record<RouteType, number> = {
  unicast: RTN.UNICAST,
  blackhole: RTN.BLACKHOLE,
  unreachable: RTN.UNREACHABLE,
  prohibit: RTN.PROHIBIT,
  local: RTN.LOCAL,
}

function familyOf(spec: RouteSpec): number {
  if (spec.dst === 'default') {
    const f = spec.family ?? (spec.gateway?.includes(':') ? 6 : 4)
    return f === 6 ? AF.INET6 : AF.INET
  }
  return spec.dst.includes(':') ? AF.INET6 : AF.INET
}

function encodeSpec(spec: RouteSpec, forDelete = false): Buffer {
  const family = familyOf(spec)
  const type = TYPE[spec.type ?? 'unicast']
  const scope =
    type !== RTN.UNICAST
      ? RT_SCOPE.UNIVERSE
      : spec.gateway === undefined && spec.oif !== undefined && family === AF.INET
        ? RT_SCOPE.LINK
        : RT_SCOPE.UNIVERSE
  return encodeRoute({
    family,
    dst: spec.dst === 'default' ? undefined : spec.dst,
    gateway: spec.gateway,
    oif: spec.oif,
    table: spec.table ?? RT_TABLE.MAIN,
    priority: spec.metric,
    prefsrc: spec.prefsrc,
    protocol: forDelete ? 0 : RTPROT.BOOT,
    scope: forDelete ? RT_SCOPE.NOWHERE : scope,
    type,
    metrics: spec.mtu !== undefined ? { 2: spec.mtu } : undefined,
  })
}

function describe(spec: RouteSpec): string {
  const parts = [spec.dst]
  if (spec.gateway) parts.push(`via ${spec.gateway}`)
  if (spec.oif !== undefined) parts.push(`dev #${spec.oif}`)
  if (spec.table !== undefined) parts.push(`table ${spec.table}`)
  return parts.join(' ')
}

export async function addRoute(sock: NetlinkSocket, spec: RouteSpec): Promise<void> {
  await sock.request(RTM.NEWROUTE, NLM_F.CREATE | NLM_F.EXCL, encodeSpec(spec), {
    op: 'add route',
    object: describe(spec),
  })
}

/** Add or replace (`ip route replace`). */
export async function replaceRoute(sock: NetlinkSocket, spec: RouteSpec): Promise<void> {
  await sock.request(RTM.NEWROUTE, NLM_F.CREATE | NLM_F.REPLACE, encodeSpec(spec), {
    op: 'replace route',
    object: describe(spec),
  })
}

export async function deleteRoute(sock: NetlinkSocket, spec: RouteSpec): Promise<void> {
  await sock.request(RTM.DELROUTE, 0, encodeSpec(spec, true), { op: 'delete route', object: describe(spec) })
}

export function toRoute(m: RouteMessage): Route {
  const family = m.family === AF.INET6 ? 6 : 4
  return {
    family,
    dst: m.dst ? `${m.dst}/${m.dstLen}` : m.dstLen === 0 ? 'default' : '',
    gateway: m.gateway,
    oif: m.oif,
    table: m.table,
    metric: m.priority,
    prefsrc: m.prefsrc,
    type: constantName(RTN, m.type)?.toLowerCase() ?? String(m.type),
    protocol: constantName(RTPROT, m.protocol)?.toLowerCase() ?? String(m.protocol),
    scope: scopeName(m.scope),
    message: m,
  }
}

/** Routes of a table (default main; `'all'` for every table), one or both families. */
export async function listRoutes(
  sock: NetlinkSocket,
  filter: { family?: 4 | 6; table?: number | 'all' } = {},
): Promise<Route[]> {
  const family = filter.family === 4 ? AF.INET : filter.family === 6 ? AF.INET6 : AF.UNSPEC
  const table = filter.table ?? RT_TABLE.MAIN
  const parts = await sock.dump(RTM.GETROUTE, encodeRoute({ family }), { op: 'list routes' })
  return parts
    .filter((m) => m.header.type === RTM.NEWROUTE)
    .map((m) => toRoute(decodeRoute(m.payload)))
    .filter((r) => table === 'all' || r.table === table)
}
