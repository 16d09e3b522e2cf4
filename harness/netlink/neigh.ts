/** Neighbours (ARP/NDP entries): list, add, delete (ip/ipneigh.c's job). */
import { AF, NLM_F, NUD, RTM, flagNames } from './codec/constants.js'
import { type NeighMessage, decodeNeigh, encodeNeigh } from './codec/messages/neigh.js'
import type { NetlinkSocket } from './transport/socket.js'

export interface Neighbour {
  family: 4 | 6
  address: string
  lladdr: string | undefined
  index: number
  /** NUD state names, lowercase: reachable, stale, permanent, failed... */
  state: string[]
  message: NeighMessage
}

export function toNeighbour(m: NeighMessage): Neighbour {
  return {
    family: m.family === AF.INET6 ? 6 : 4,
    address: m.dst ?? '',
    lladdr: m.lladdr,
    index: m.ifindex,
    state: flagNames(NUD, m.state).map((s) => s.toLowerCase()),
    message: m,
  }
}

/** A permanent neighbour entry (`ip neigh replace ADDR lladdr MAC dev DEV nud permanent`). */
export async function addNeighbour(
  sock: NetlinkSocket,
  entry: { index: number; address: string; lladdr: string; state?: number },
): Promise<void> {
  const payload = encodeNeigh({
    ifindex: entry.index,
    dst: entry.address,
    lladdr: entry.lladdr,
    state: entry.state ?? NUD.PERMANENT,
  })
  await sock.request(RTM.NEWNEIGH, NLM_F.CREATE | NLM_F.REPLACE, payload, {
    op: 'add neighbour',
    object: `${entry.address} lladdr ${entry.lladdr} on link #${entry.index}`,
  })
}

export async function deleteNeighbour(
  sock: NetlinkSocket,
  entry: { index: number; address: string },
): Promise<void> {
  await sock.request(RTM.DELNEIGH, 0, encodeNeigh({ ifindex: entry.index, dst: entry.address }), {
    op: 'delete neighbour',
    object: `${entry.address} on link #${entry.index}`,
  })
}

export async function listNeighbours(
  sock: NetlinkSocket,
  filter: { family?: 4 | 6 } = {},
): Promise<Neighbour[]> {
  const family = filter.family === 4 ? AF.INET : filter.family === 6 ? AF.INET6 : AF.UNSPEC
  const parts = await sock.dump(RTM.GETNEIGH, encodeNeigh({ family }), { op: 'list neighbours' })
  return parts.filter((m) => m.header.type === RTM.NEWNEIGH).map((m) => toNeighbour(decodeNeigh(m.payload)))
}
