/** Addresses: add, delete, list (ip/ipaddress.c's job). Bytes live in codec/messages/addr.ts. */
import { parseCidr } from '../util/ip.js'
import { AF, IFA_F, NLM_F, RTM, RT_SCOPE, constantName } from './codec/constants.js'
import { type AddrMessage, decodeAddr, encodeAddr } from './codec/messages/addr.js'
import type { NetlinkSocket } from './transport/socket.js'

export interface Address {
  family: 4 | 6
  /** The address (IFA_LOCAL for IPv4, IFA_ADDRESS for IPv6). */
  address: string
  prefixLen: number
  /** `address/prefixLen`. */
  cidr: string
  index: number
  /** RT_SCOPE name: global, link, host. */
  scope: string
  flags: number
  /** Still doing duplicate address detection (IPv6). */
  tentative: boolean
  label: string | undefined
  message: AddrMessage
}

export function toAddress(m: AddrMessage): Address {
  const address = (m.family === AF.INET ? (m.local ?? m.address) : (m.address ?? m.local)) ?? ''
  const scope = scopeName(m.scope)
  return {
    family: m.family === AF.INET6 ? 6 : 4,
    address,
    prefixLen: m.prefixLen,
    cidr: `${address}/${m.prefixLen}`,
    index: m.index,
    scope,
    flags: m.flags,
    tentative: (m.flags & IFA_F.TENTATIVE) !== 0,
    label: m.label,
    message: m,
  }
}

export interface AddAddressOptions {
  /** Skip duplicate address detection (default true: lab addresses are usable at once). */
  nodad?: boolean
  /** Don't add the prefix route the kernel adds by default. */
  noPrefixRoute?: boolean
  /** Replace an existing address instead of failing with EEXIST. */
  replace?: boolean
}

/**
 * Add `cidr` (198.18.0.1/30, fd00::1/64) to the link with `index`. IPv6
 * addresses get IFA_F_NODAD by default, so they are not tentative.
 */
export async function addAddress(
  sock: NetlinkSocket,
  index: number,
  cidr: string,
  options: AddAddressOptions = {},
): Promise<void> {
  const c = parseCidr(cidr)
  let flags = 0
  if (c.family === AF.INET6 && options.nodad !== false) flags |= IFA_F.NODAD
  if (options.noPrefixRoute) flags |= IFA_F.NOPREFIXROUTE
  const payload = encodeAddr({
    family: c.family,
    prefixLen: c.prefixLen,
    index,
    flags,
    // The bytes parseCidr made: the text would be parsed again, twice.
    local: c.bytes,
    address: c.bytes,
  })
  const how = options.replace ? NLM_F.CREATE | NLM_F.REPLACE : NLM_F.CREATE | NLM_F.EXCL
  await sock.request(RTM.NEWADDR, how, payload, { op: 'add address', object: `${cidr} on link #${index}` })
}

export async function deleteAddress(sock: NetlinkSocket, index: number, cidr: string): Promise<void> {
  const c = parseCidr(cidr)
  const payload = encodeAddr({ family: c.family, prefixLen: c.prefixLen, index, local: c.bytes })
  await sock.request(RTM.DELADDR, 0, payload, { op: 'delete address', object: `${cidr} on link #${index}` })
}

/** Addresses in the socket's namespace, optionally of one family and one link. */
export async function listAddresses(
  sock: NetlinkSocket,
  filter: { family?: 4 | 6; index?: number } = {},
): Promise<Address[]> {
  const family = filter.family === 4 ? AF.INET : filter.family === 6 ? AF.INET6 : AF.UNSPEC
  // With NETLINK_GET_STRICT_CHK the kernel filters by ifa_index itself.
  const parts = await sock.dump(RTM.GETADDR, encodeAddr({ family, index: filter.index ?? 0 }), {
    op: 'list addresses',
  })
  return parts
    .filter((m) => m.header.type === RTM.NEWADDR)
    .map((m) => toAddress(decodeAddr(m.payload)))
    .filter((a) => filter.index === undefined || a.index === filter.index)
}

/** RT_SCOPE_* as `ip` prints it (universe is "global"). */
export function scopeName(scope: number): string {
  if (scope === RT_SCOPE.UNIVERSE) return 'global'
  return constantName(RT_SCOPE, scope)?.toLowerCase() ?? String(scope)
}
