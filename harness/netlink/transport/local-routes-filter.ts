/**
 * A socket filter that drops the kernel's announcements of local-table
 * routes (RT_TABLE_LOCAL: one `local` route per address, a `broadcast` one
 * per IPv4 subnet, IPv6's `ff00::/8` multicast): consequences of address and
 * link changes the recorder already shows, a third of what a lab announces,
 * each costing a wake-up and a read. Dump replies (NLM_F_MULTI) pass, so a
 * route dump on the same socket still lists the local table. The answer to a
 * single-route RTM_GETROUTE of a local address would not (it looks like an
 * announcement): the Netlink client asks none, and the recorder's socket
 * runs the filter only while it records.
 *
 * The kernel sends each announcement as a datagram of one message, so the
 * filter reads the first: nlmsg_type at 4, nlmsg_flags at 6, rtm_table at
 * 16 + 4. BPF loads are big-endian; netlink's fields are in host order.
 */
import { HOST_IS_LITTLE_ENDIAN } from '../codec/hostorder.js'
import { NLM_F, RTM, RT_TABLE } from '../codec/constants.js'
import { BPF, type SocketFilter, socketFilter } from '../../sys/index.js'

/** A host-order u16 as BPF's big-endian half-word load sees it. */
const asLoaded = (v: number): number => (HOST_IS_LITTLE_ENDIAN ? ((v & 0xff) << 8) | (v >> 8) : v)

/** The lowest byte of nlmsg_flags (where NLM_F_MULTI is) is at 6 on a little-endian host. */
const FLAGS_LOW_BYTE = HOST_IS_LITTLE_ENDIAN ? 6 : 7

export const DROP_LOCAL_TABLE_ROUTES: SocketFilter = socketFilter([
  /* 0 */ [BPF.LD_H_ABS, 0, 0, 4],
  /* 1 */ [BPF.JEQ_K, 1, 0, asLoaded(RTM.NEWROUTE)], // -> 3
  /* 2 */ [BPF.JEQ_K, 0, 4, asLoaded(RTM.DELROUTE)], // -> 3, else keep
  /* 3 */ [BPF.LD_B_ABS, 0, 0, FLAGS_LOW_BYTE],
  /* 4 */ [BPF.JSET_K, 2, 0, NLM_F.MULTI], // a dump's part: keep
  /* 5 */ [BPF.LD_B_ABS, 0, 0, 20],
  /* 6 */ [BPF.JEQ_K, 1, 0, RT_TABLE.LOCAL], // -> drop
  /* 7 */ [BPF.RET_K, 0, 0, 0xffffffff],
  /* 8 */ [BPF.RET_K, 0, 0, 0],
])
