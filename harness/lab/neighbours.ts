/**
 * Permanent neighbour entries (ARP for IPv4, NDP for IPv6) between the
 * members of a switch segment.
 *
 * Why: the kernel's neighbour tables are one per machine, not per
 * namespace. Past net.ipv4.neigh.default.gc_thresh3 (1024 by default,
 * settable only in the initial namespace, which a lab must not touch) the
 * kernel refuses new entries ("neighbour table overflow") once it cannot
 * collect old ones, and entries younger than 5 s are never collected. An
 * all-pairs probe of one 50-host segment needs 2,450 entries within a
 * second, so only about 1,024 pairs answered. Entries in NUD_PERMANENT are
 * exempt from that limit (the kernel does not count them toward gc_thresh*).
 *
 * The lab knows every member's address (the plan) and MAC (its own
 * devices), so it can write the table itself, as a static ARP setup or an
 * EVPN control plane would. It does so on demand, for segments big enough
 * to matter, before probing all pairs; see Lab.staticNeighbours(). The
 * kernel drops permanent entries of a device that goes down, so they are
 * written again (NLM_F_REPLACE) every time, not remembered.
 */
import { TopologyError } from './errors.js'
import type { LabModel } from './model.js'
import type { LabNode, Port } from './node.js'

/** One member of a segment: a node and its port there. */
export interface SegmentMember {
  node: LabNode
  port: Port
}

/**
 * Segments with more ordered member pairs than this get permanent entries
 * before an all-pairs probe (a segment of 9 or more members). Small enough
 * that a few labs probing in parallel stay far below gc_thresh3.
 */
export const PIN_ABOVE_PAIRS = 64

/**
 * Give every member a permanent entry for every other member's address of
 * `family`, on its port to the segment. One datagram of requests per member.
 * Returns how many entries were written.
 */
export async function pinNeighbours(members: readonly SegmentMember[], family: 4 | 6): Promise<number> {
  const known = members.filter((m) => (family === 4 ? m.port.v4 : m.port.v6))
  const macs = await Promise.all(known.map((m) => m.node.netlink.getLink(m.port.index)))
  const ends = known.map((m, i) => {
    const mac = macs[i]!.address
    if (!mac) throw new Error(`${m.node} has no MAC address on ${m.port.device}: cannot pin neighbours`)
    return { ...m, address: (family === 4 ? m.port.v4 : m.port.v6)!, mac }
  })
  await Promise.all(
    ends.flatMap((me) =>
      ends
        .filter((other) => other !== me)
        .map((other) =>
          me.node.netlink.addNeighbour({ index: me.port.index, address: other.address, lladdr: other.mac }),
        ),
    ),
  )
  return ends.length * (ends.length - 1)
}

/**
 * Pin switch `sw`'s segment (see Lab.staticNeighbours) when it has more
 * than `above` ordered pairs. Returns how many entries were written.
 */
export async function staticNeighbours(
  model: LabModel,
  sw: LabNode | string,
  options: { family?: 4 | 6; above?: number } = {},
): Promise<number> {
  const node = model.resolve(sw, 'switch')
  if (node.kind !== 'switch') throw new TopologyError(`${node.name} is not a switch`)
  const members = model.segmentMembers(node)
  if (members.length * (members.length - 1) <= (options.above ?? 0)) return 0
  return pinNeighbours(members, options.family ?? 4)
}
