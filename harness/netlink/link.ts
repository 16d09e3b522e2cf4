/**
 * Links: create (veth, bridge, vxlan, macvlan), change, move, delete, get,
 * list. One object per file, as iproute2's ip/iplink.c; the bytes live in
 * codec/messages/link.ts.
 */
import { IFF, IF_OPER, NLM_F, RTM, constantName } from './codec/constants.js'
import {
  type BridgeOptions,
  type LinkMessage,
  type LinkRequest,
  type VxlanOptions,
  bridgeInfo,
  decodeLink,
  encodeLink,
  macvlanInfo,
  vethInfo,
  vxlanInfo,
} from './codec/messages/link.js'
import type { RequestContext } from './transport/errors.js'
import type { NetlinkSocket } from './transport/socket.js'

/** A link by index or by name. */
export type LinkRef = number | string

/** Where a link is born or moved to: an open namespace fd or a pid living there. */
export type NetnsTarget = { fd: number } | { pid: number }

/**
 * Devices the kernel adds to every new namespace once a tunnel module is
 * loaded (ip_gre, ipip, sit, ip6_tunnel, ip_vti...), unless
 * net.core.fb_tunnels_only_for_init_net says otherwise: not the lab's, not
 * the user's.
 */
export const FALLBACK_TUNNEL_DEVICE =
  /^(gre0|gretap0|erspan0|ip6gre0|ip6erspan0|tunl0|sit0|ip6tnl0|ip_vti0|ip6_vti0)$/

/** A link as nslab reports it. */
export interface Link {
  index: number
  name: string
  /** Driver kind (veth, bridge, vxlan, ...); undefined for lo and physical devices. */
  kind: string | undefined
  mtu: number | undefined
  /** MAC address (lowercase, colon-separated). */
  address: string | undefined
  flags: number
  /** Administratively up (IFF_UP). */
  up: boolean
  /** Carrier present (IFF_LOWER_UP). */
  lowerUp: boolean
  /** RFC 2863 state as `ip` prints it: UP, DOWN, LOWERLAYERDOWN, UNKNOWN... */
  operstate: string
  /** Index of the bridge it is enslaved to. */
  master: number | undefined
  /** IFLA_LINK: lower device, or the veth peer's index in its own namespace. */
  linkIndex: number | undefined
  /** Namespace id (as seen from this namespace) of the peer/lower device. */
  linkNetnsId: number | undefined
  /** The decoded message, with every attribute. */
  message: LinkMessage
}

export function toLink(m: LinkMessage): Link {
  return {
    index: m.index,
    name: m.name ?? `if${m.index}`,
    kind: m.kind,
    mtu: m.mtu,
    address: m.address,
    flags: m.flags,
    up: (m.flags & IFF.UP) !== 0,
    lowerUp: (m.flags & IFF.LOWER_UP) !== 0,
    operstate: constantName(IF_OPER, m.operstate ?? 0) ?? 'UNKNOWN',
    master: m.master || undefined,
    linkIndex: m.linkIndex,
    linkNetnsId: m.netnsId,
    message: m,
  }
}

function ref(link: LinkRef): Pick<LinkRequest, 'index' | 'name'> {
  return typeof link === 'number' ? { index: link } : { name: link }
}

function label(link: LinkRef): string {
  return typeof link === 'number' ? `#${link}` : link
}

const CREATE = NLM_F.CREATE | NLM_F.EXCL

async function create(sock: NetlinkSocket, req: LinkRequest, kind: string): Promise<void> {
  const ctx: RequestContext = { op: `create ${kind} link`, object: req.name }
  await sock.request(RTM.NEWLINK, CREATE, encodeLink(req), ctx)
}

export interface VethOptions {
  /** Name of this end. */
  name: string
  /**
   * The ifindex this end gets in its namespace (default: the kernel picks).
   * The kernel honours a free index and refuses a taken one (EBUSY on older
   * kernels, EEXIST on 6.18). A caller that knows its namespace (a fresh one
   * has only lo, index 1) can then address the link by index without asking
   * which one it got.
   */
  index?: number
  /**
   * This end is born up (IFF_UP in the request, as `ip link add NAME up type
   * veth ...`): no separate request to bring it up. The peer cannot be: the
   * kernel configures it before the two are paired, and opening an unpaired
   * veth fails (ENOTCONN); bring it up with setLink.
   */
  up?: boolean
  /** Namespace this end is born in (default: the socket's). */
  netns?: NetnsTarget
  mtu?: number
  address?: string
  peer: {
    name: string
    /** The peer's ifindex in its namespace (see `index`). */
    index?: number
    /** Namespace the peer end is born in (default: the same as this end). */
    netns?: NetnsTarget
    mtu?: number
    address?: string
  }
}

/**
 * A veth pair, each end born in its own namespace (IFLA_NET_NS_FD on the
 * request and inside VETH_INFO_PEER): nothing touches the socket's namespace
 * when both ends are elsewhere, so parallel labs never collide on names.
 */
export async function createVeth(sock: NetlinkSocket, o: VethOptions): Promise<void> {
  await create(
    sock,
    {
      index: o.index,
      // Born up: IFF_UP in flags and change (0 when not asked: nothing changes).
      flags: o.up ? IFF.UP : undefined,
      change: o.up ? IFF.UP : undefined,
      name: o.name,
      mtu: o.mtu,
      address: o.address,
      netns: o.netns,
      info: vethInfo({
        index: o.peer.index,
        name: o.peer.name,
        netns: o.peer.netns,
        mtu: o.peer.mtu,
        address: o.peer.address,
      }),
    },
    'veth',
  )
}

export async function createBridge(
  sock: NetlinkSocket,
  name: string,
  options: BridgeOptions & { mtu?: number; netns?: NetnsTarget; index?: number } = {},
): Promise<void> {
  const { mtu, netns, index, ...br } = options
  await create(sock, { index, name, mtu, netns, info: bridgeInfo(br) }, 'bridge')
}

export async function createVxlan(
  sock: NetlinkSocket,
  name: string,
  options: VxlanOptions & { mtu?: number },
): Promise<void> {
  const { mtu, ...vx } = options
  await create(sock, { name, mtu, info: vxlanInfo(vx) }, 'vxlan')
}

/** A macvlan on top of `lower` (by index). `mode` is a MACVLAN_MODE value (default bridge = 4). */
export async function createMacvlan(
  sock: NetlinkSocket,
  name: string,
  options: { lower: number; mode?: number; mtu?: number },
): Promise<void> {
  await create(
    sock,
    { name, linkIndex: options.lower, mtu: options.mtu, info: macvlanInfo(options.mode ?? 4) },
    'macvlan',
  )
}

/** Any other kind, with no kind-specific data (dummy, ifb, ... where the kernel has them). */
export async function createLink(
  sock: NetlinkSocket,
  name: string,
  kind: string,
  mtu?: number,
): Promise<void> {
  await create(sock, { name, mtu, info: { kind } }, kind)
}

export interface LinkChange {
  up?: boolean
  mtu?: number
  address?: string
  /** Enslave to a bridge (index), or 0 to release. */
  master?: number
  /** Rename. */
  name?: string
}

/** Change a link's state (up/down, MTU, MAC, master, name) in one request. */
export async function setLink(sock: NetlinkSocket, link: LinkRef, change: LinkChange): Promise<void> {
  if (change.name !== undefined && typeof link === 'string')
    throw new TypeError('rename a link by index (the name field is the new name)')
  const req: LinkRequest = typeof link === 'number' ? { index: link } : { name: link }
  if (change.up !== undefined) {
    req.flags = change.up ? IFF.UP : 0
    req.change = IFF.UP
  }
  if (change.mtu !== undefined) req.mtu = change.mtu
  if (change.address !== undefined) req.address = change.address
  if (change.master !== undefined) req.master = change.master
  if (change.name !== undefined) req.name = change.name
  await sock.request(RTM.NEWLINK, 0, encodeLink(req), new SetLinkContext({ ...change }, link))
}

/**
 * What setLink asked, in words ("set up true on link", "#2"), made only when
 * an error message needs them, from a copy of the change taken at the call.
 */
class SetLinkContext implements RequestContext {
  constructor(
    private readonly asked: LinkChange,
    private readonly link: LinkRef,
  ) {}

  get op(): string {
    const what = Object.entries(this.asked)
      .map(([k, v]) => `${k} ${String(v)}`)
      .join(', ')
    return `set ${what} on link`
  }

  get object(): string {
    return label(this.link)
  }
}

/** Move a link to another namespace (by fd or pid), optionally renaming it on the way. */
export async function moveLink(
  sock: NetlinkSocket,
  link: LinkRef,
  target: NetnsTarget,
  newName?: string,
): Promise<void> {
  const req: LinkRequest = { ...ref(link), netns: target }
  if (newName !== undefined) {
    if (typeof link === 'string') throw new TypeError('rename while moving needs the link index')
    req.name = newName
  }
  const where = 'fd' in target ? `namespace fd ${target.fd}` : `the namespace of pid ${target.pid}`
  await sock.request(RTM.NEWLINK, 0, encodeLink(req), {
    op: `move link`,
    object: `${label(link)} to ${where}`,
  })
}

export async function deleteLink(sock: NetlinkSocket, link: LinkRef): Promise<void> {
  await sock.request(RTM.DELLINK, 0, encodeLink(ref(link)), { op: 'delete link', object: label(link) })
}

export async function getLink(sock: NetlinkSocket, link: LinkRef): Promise<Link> {
  const replies = await sock.request(RTM.GETLINK, 0, encodeLink(ref(link)), {
    op: 'get link',
    object: label(link),
  })
  const first = replies[0]
  if (!first) throw new Error(`get link ${label(link)} in namespace ${sock.netns}: the kernel sent no link`)
  return toLink(decodeLink(first.payload))
}

export async function listLinks(sock: NetlinkSocket): Promise<Link[]> {
  const parts = await sock.dump(RTM.GETLINK, encodeLink({}), { op: 'list links' })
  return parts.filter((m) => m.header.type === RTM.NEWLINK).map((m) => toLink(decodeLink(m.payload)))
}
