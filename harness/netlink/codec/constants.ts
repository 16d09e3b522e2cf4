/**
 * rtnetlink numbers from the kernel uapi headers (linux/netlink.h, linux/rtnetlink.h,
 * linux/if_link.h, linux/if_addr.h, linux/neighbour.h, linux/veth.h, linux/if.h, linux/if_arp.h).
 *
 * Each group is an `as const` object named after the C prefix, so `IFLA.IFNAME` reads like
 * `IFLA_IFNAME`. {@link constantName} and {@link flagNames} turn numbers back into names for
 * readable errors.
 */

/** Netlink protocol number of rtnetlink (`NETLINK_ROUTE`) and the socket option level. */
export const NETLINK_ROUTE = 0
export const SOL_NETLINK = 270

/** Control message types (`NLMSG_*`); types below `NLMSG.MIN_TYPE` are reserved for control. */
export const NLMSG = {
  NOOP: 1,
  ERROR: 2,
  DONE: 3,
  OVERRUN: 4,
  MIN_TYPE: 0x10,
} as const

/**
 * `nlmsg_flags` bits. The high byte means different things per request kind (GET, NEW, DELETE,
 * ACK), so several names share a value; see {@link NLM_F_GET_NAMES} and friends for lookups.
 */
export const NLM_F = {
  REQUEST: 0x01,
  MULTI: 0x02,
  ACK: 0x04,
  ECHO: 0x08,
  DUMP_INTR: 0x10,
  DUMP_FILTERED: 0x20,
  // GET requests
  ROOT: 0x100,
  MATCH: 0x200,
  ATOMIC: 0x400,
  DUMP: 0x300,
  // NEW requests
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  // DELETE requests
  NONREC: 0x100,
  BULK: 0x200,
  // ACK / NLMSG_ERROR replies
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
} as const

/** rtnetlink message types (`RTM_*`). */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
  NEWNEIGH: 28,
  DELNEIGH: 29,
  GETNEIGH: 30,
  NEWRULE: 32,
  DELRULE: 33,
  GETRULE: 34,
  NEWNSID: 88,
  DELNSID: 89,
  GETNSID: 90,
} as const

/** Legacy multicast group bitmask for `sockaddr_nl.nl_groups` (`RTMGRP_*`). */
export const RTMGRP = {
  LINK: 0x1,
  NOTIFY: 0x2,
  NEIGH: 0x4,
  TC: 0x8,
  IPV4_IFADDR: 0x10,
  IPV4_MROUTE: 0x20,
  IPV4_ROUTE: 0x40,
  IPV4_RULE: 0x80,
  IPV6_IFADDR: 0x100,
  IPV6_MROUTE: 0x200,
  IPV6_ROUTE: 0x400,
  IPV6_IFINFO: 0x800,
} as const

/** Multicast group numbers for `NETLINK_ADD_MEMBERSHIP` (`RTNLGRP_*`). */
export const RTNLGRP = {
  NONE: 0,
  LINK: 1,
  NOTIFY: 2,
  NEIGH: 3,
  TC: 4,
  IPV4_IFADDR: 5,
  IPV4_MROUTE: 6,
  IPV4_ROUTE: 7,
  IPV4_RULE: 8,
  IPV6_IFADDR: 9,
  IPV6_MROUTE: 10,
  IPV6_ROUTE: 11,
  IPV6_IFINFO: 12,
  IPV6_PREFIX: 18,
  IPV6_RULE: 19,
  ND_USEROPT: 20,
  IPV4_NETCONF: 24,
  IPV6_NETCONF: 25,
  MDB: 26,
  NSID: 28,
  NEXTHOP: 32,
} as const

/** Socket options at level {@link SOL_NETLINK} (`NETLINK_*`). */
export const NETLINK_OPT = {
  ADD_MEMBERSHIP: 1,
  DROP_MEMBERSHIP: 2,
  PKTINFO: 3,
  BROADCAST_ERROR: 4,
  NO_ENOBUFS: 5,
  LISTEN_ALL_NSID: 8,
  LIST_MEMBERSHIPS: 9,
  CAP_ACK: 10,
  EXT_ACK: 11,
  GET_STRICT_CHK: 12,
} as const

/** Extended-ack attributes in NLMSG_ERROR / NLMSG_DONE (`NLMSGERR_ATTR_*`). */
export const NLMSGERR_ATTR = {
  UNUSED: 0,
  MSG: 1,
  OFFS: 2,
  COOKIE: 3,
  POLICY: 4,
  MISS_TYPE: 5,
  MISS_NEST: 6,
} as const

/** Attribute header flags carried in the top bits of `nla_type`. */
export const NLA_F_NESTED = 0x8000
export const NLA_F_NET_BYTEORDER = 0x4000
export const NLA_TYPE_MASK = 0x3fff

/** Link attributes (`IFLA_*`, enum in linux/if_link.h). */
export const IFLA = {
  UNSPEC: 0,
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  QDISC: 6,
  STATS: 7,
  COST: 8,
  PRIORITY: 9,
  MASTER: 10,
  WIRELESS: 11,
  PROTINFO: 12,
  TXQLEN: 13,
  MAP: 14,
  WEIGHT: 15,
  OPERSTATE: 16,
  LINKMODE: 17,
  LINKINFO: 18,
  NET_NS_PID: 19,
  IFALIAS: 20,
  NUM_VF: 21,
  VFINFO_LIST: 22,
  STATS64: 23,
  VF_PORTS: 24,
  PORT_SELF: 25,
  AF_SPEC: 26,
  GROUP: 27,
  NET_NS_FD: 28,
  EXT_MASK: 29,
  PROMISCUITY: 30,
  NUM_TX_QUEUES: 31,
  NUM_RX_QUEUES: 32,
  CARRIER: 33,
  PHYS_PORT_ID: 34,
  CARRIER_CHANGES: 35,
  PHYS_SWITCH_ID: 36,
  LINK_NETNSID: 37,
  PHYS_PORT_NAME: 38,
  PROTO_DOWN: 39,
  GSO_MAX_SEGS: 40,
  GSO_MAX_SIZE: 41,
  PAD: 42,
  XDP: 43,
  EVENT: 44,
  NEW_NETNSID: 45,
  TARGET_NETNSID: 46,
  CARRIER_UP_COUNT: 47,
  CARRIER_DOWN_COUNT: 48,
  NEW_IFINDEX: 49,
  MIN_MTU: 50,
  MAX_MTU: 51,
  PROP_LIST: 52,
  ALT_IFNAME: 53,
  PERM_ADDRESS: 54,
  PROTO_DOWN_REASON: 55,
  PARENT_DEV_NAME: 56,
  PARENT_DEV_BUS_NAME: 57,
  GRO_MAX_SIZE: 58,
  TSO_MAX_SIZE: 59,
  TSO_MAX_SEGS: 60,
  ALLMULTI: 61,
  DEVLINK_PORT: 62,
  GSO_IPV4_MAX_SIZE: 63,
  GRO_IPV4_MAX_SIZE: 64,
  DPLL_PIN: 65,
  MAX_PACING_OFFLOAD_HORIZON: 66,
  NETNS_IMMUTABLE: 67,
} as const

/** Attributes nested in IFLA_LINKINFO (`IFLA_INFO_*`). */
export const IFLA_INFO = {
  UNSPEC: 0,
  KIND: 1,
  DATA: 2,
  XSTATS: 3,
  SLAVE_KIND: 4,
  SLAVE_DATA: 5,
} as const

/** `RTEXT_FILTER_*` bits for IFLA_EXT_MASK in GETLINK requests. */
export const RTEXT_FILTER = {
  VF: 1 << 0,
  BRVLAN: 1 << 1,
  BRVLAN_COMPRESSED: 1 << 2,
  SKIP_STATS: 1 << 3,
} as const

/** veth IFLA_INFO_DATA: the peer is an ifinfomsg followed by IFLA_* attributes (linux/veth.h). */
export const VETH_INFO_PEER = 1

/** vxlan IFLA_INFO_DATA attributes (`IFLA_VXLAN_*`). */
export const IFLA_VXLAN = {
  UNSPEC: 0,
  ID: 1,
  GROUP: 2,
  LINK: 3,
  LOCAL: 4,
  TTL: 5,
  TOS: 6,
  LEARNING: 7,
  AGEING: 8,
  LIMIT: 9,
  PORT_RANGE: 10,
  PROXY: 11,
  RSC: 12,
  L2MISS: 13,
  L3MISS: 14,
  /** UDP destination port, network byte order (be16). */
  PORT: 15,
  GROUP6: 16,
  LOCAL6: 17,
  UDP_CSUM: 18,
  UDP_ZERO_CSUM6_TX: 19,
  UDP_ZERO_CSUM6_RX: 20,
  REMCSUM_TX: 21,
  REMCSUM_RX: 22,
  GBP: 23,
  REMCSUM_NOPARTIAL: 24,
  COLLECT_METADATA: 25,
  LABEL: 26,
  GPE: 27,
  TTL_INHERIT: 28,
  DF: 29,
} as const

/** macvlan IFLA_INFO_DATA attributes (`IFLA_MACVLAN_*`). */
export const IFLA_MACVLAN = {
  UNSPEC: 0,
  MODE: 1,
  FLAGS: 2,
  MACADDR_MODE: 3,
  MACADDR: 4,
  MACADDR_DATA: 5,
  MACADDR_COUNT: 6,
} as const

/** Values of IFLA_MACVLAN_MODE (`MACVLAN_MODE_*`). */
export const MACVLAN_MODE = {
  PRIVATE: 1,
  VEPA: 2,
  BRIDGE: 4,
  PASSTHRU: 8,
  SOURCE: 16,
} as const

/** bridge IFLA_INFO_DATA attributes (`IFLA_BR_*`), the commonly used ones. */
export const IFLA_BR = {
  UNSPEC: 0,
  FORWARD_DELAY: 1,
  HELLO_TIME: 2,
  MAX_AGE: 3,
  AGEING_TIME: 4,
  STP_STATE: 5,
  PRIORITY: 6,
  VLAN_FILTERING: 7,
  VLAN_PROTOCOL: 8,
  GROUP_FWD_MASK: 9,
  ROOT_ID: 10,
  BRIDGE_ID: 11,
  ROOT_PORT: 12,
  ROOT_PATH_COST: 13,
  MCAST_SNOOPING: 23,
  VLAN_DEFAULT_PVID: 39,
} as const

/** Interface flags (`IFF_*`, linux/if.h) in `ifi_flags`. */
export const IFF = {
  UP: 0x1,
  BROADCAST: 0x2,
  DEBUG: 0x4,
  LOOPBACK: 0x8,
  POINTOPOINT: 0x10,
  NOTRAILERS: 0x20,
  RUNNING: 0x40,
  NOARP: 0x80,
  PROMISC: 0x100,
  ALLMULTI: 0x200,
  MASTER: 0x400,
  SLAVE: 0x800,
  MULTICAST: 0x1000,
  PORTSEL: 0x2000,
  AUTOMEDIA: 0x4000,
  DYNAMIC: 0x8000,
  LOWER_UP: 0x10000,
  DORMANT: 0x20000,
  ECHO: 0x40000,
} as const

/** RFC 2863 operational states (`IF_OPER_*`) carried in IFLA_OPERSTATE. */
export const IF_OPER = {
  UNKNOWN: 0,
  NOTPRESENT: 1,
  DOWN: 2,
  LOWERLAYERDOWN: 3,
  TESTING: 4,
  DORMANT: 5,
  UP: 6,
} as const

/** Address attributes (`IFA_*`, linux/if_addr.h). */
export const IFA = {
  UNSPEC: 0,
  ADDRESS: 1,
  LOCAL: 2,
  LABEL: 3,
  BROADCAST: 4,
  ANYCAST: 5,
  CACHEINFO: 6,
  MULTICAST: 7,
  FLAGS: 8,
  RT_PRIORITY: 9,
  TARGET_NETNSID: 10,
  PROTO: 11,
} as const

/** Address flags (`IFA_F_*`); the low 8 bits fit `ifa_flags`, the rest need the IFA_FLAGS attribute. */
export const IFA_F = {
  SECONDARY: 0x01,
  TEMPORARY: 0x01,
  NODAD: 0x02,
  OPTIMISTIC: 0x04,
  DADFAILED: 0x08,
  HOMEADDRESS: 0x10,
  DEPRECATED: 0x20,
  TENTATIVE: 0x40,
  PERMANENT: 0x80,
  MANAGETEMPADDR: 0x100,
  NOPREFIXROUTE: 0x200,
  MCAUTOJOIN: 0x400,
  STABLE_PRIVACY: 0x800,
} as const

/** Route attributes (`RTA_*`, linux/rtnetlink.h). */
export const RTA = {
  UNSPEC: 0,
  DST: 1,
  SRC: 2,
  IIF: 3,
  OIF: 4,
  GATEWAY: 5,
  PRIORITY: 6,
  PREFSRC: 7,
  METRICS: 8,
  MULTIPATH: 9,
  PROTOINFO: 10,
  FLOW: 11,
  CACHEINFO: 12,
  SESSION: 13,
  MP_ALGO: 14,
  TABLE: 15,
  MARK: 16,
  MFC_STATS: 17,
  VIA: 18,
  NEWDST: 19,
  PREF: 20,
  ENCAP_TYPE: 21,
  ENCAP: 22,
  EXPIRES: 23,
  PAD: 24,
  UID: 25,
  TTL_PROPAGATE: 26,
  IP_PROTO: 27,
  SPORT: 28,
  DPORT: 29,
  NH_ID: 30,
} as const

/** Route metrics nested in RTA_METRICS (`RTAX_*`). */
export const RTAX = {
  UNSPEC: 0,
  LOCK: 1,
  MTU: 2,
  WINDOW: 3,
  RTT: 4,
  RTTVAR: 5,
  SSTHRESH: 6,
  CWND: 7,
  ADVMSS: 8,
  REORDERING: 9,
  HOPLIMIT: 10,
  INITCWND: 11,
  FEATURES: 12,
  RTO_MIN: 13,
  INITRWND: 14,
  QUICKACK: 15,
  CC_ALGO: 16,
  FASTOPEN_NO_COOKIE: 17,
} as const

/** Route types (`RTN_*`) in `rtm_type`; also used as `ndm_type`. */
export const RTN = {
  UNSPEC: 0,
  UNICAST: 1,
  LOCAL: 2,
  BROADCAST: 3,
  ANYCAST: 4,
  MULTICAST: 5,
  BLACKHOLE: 6,
  UNREACHABLE: 7,
  PROHIBIT: 8,
  THROW: 9,
  NAT: 10,
  XRESOLVE: 11,
} as const

/** Route origin (`RTPROT_*`) in `rtm_protocol`. */
export const RTPROT = {
  UNSPEC: 0,
  REDIRECT: 1,
  KERNEL: 2,
  BOOT: 3,
  STATIC: 4,
  GATED: 8,
  RA: 9,
  MRT: 10,
  ZEBRA: 11,
  BIRD: 12,
  DHCP: 16,
  KEEPALIVED: 18,
  BABEL: 42,
  BGP: 186,
  ISIS: 187,
  OSPF: 188,
  RIP: 189,
} as const

/** Route/address scopes (`RT_SCOPE_*`). */
export const RT_SCOPE = {
  UNIVERSE: 0,
  SITE: 200,
  LINK: 253,
  HOST: 254,
  NOWHERE: 255,
} as const

/** Reserved routing table ids (`RT_TABLE_*`). Ids above 255 only fit the RTA_TABLE attribute. */
export const RT_TABLE = {
  UNSPEC: 0,
  COMPAT: 252,
  DEFAULT: 253,
  MAIN: 254,
  LOCAL: 255,
} as const

/** `rtm_flags` bits (`RTM_F_*`). */
export const RTM_F = {
  NOTIFY: 0x100,
  CLONED: 0x200,
  EQUALIZE: 0x400,
  PREFIX: 0x800,
  LOOKUP_TABLE: 0x1000,
  FIB_MATCH: 0x2000,
  OFFLOAD: 0x4000,
  TRAP: 0x8000,
} as const

/** Next-hop flags (`RTNH_F_*`) in `rtm_flags` and `rtnh_flags`. */
export const RTNH_F = {
  DEAD: 1,
  PERVASIVE: 2,
  ONLINK: 4,
  OFFLOAD: 8,
  LINKDOWN: 16,
  UNRESOLVED: 32,
  TRAP: 64,
} as const

/** IPv6 router preference values of RTA_PREF (`ICMPV6_ROUTER_PREF_*`). */
export const ROUTER_PREF = {
  MEDIUM: 0,
  HIGH: 1,
  INVALID: 2,
  LOW: 3,
} as const

/** Neighbour attributes (`NDA_*`, linux/neighbour.h). */
export const NDA = {
  UNSPEC: 0,
  DST: 1,
  LLADDR: 2,
  CACHEINFO: 3,
  PROBES: 4,
  VLAN: 5,
  PORT: 6,
  VNI: 7,
  IFINDEX: 8,
  MASTER: 9,
  LINK_NETNSID: 10,
  SRC_VNI: 11,
  PROTOCOL: 12,
  NH_ID: 13,
  FDB_EXT_ATTRS: 14,
  FLAGS_EXT: 15,
} as const

/** Neighbour cache states (`NUD_*`) in `ndm_state`. */
export const NUD = {
  NONE: 0x00,
  INCOMPLETE: 0x01,
  REACHABLE: 0x02,
  STALE: 0x04,
  DELAY: 0x08,
  PROBE: 0x10,
  FAILED: 0x20,
  NOARP: 0x40,
  PERMANENT: 0x80,
} as const

/** Neighbour flags (`NTF_*`) in `ndm_flags`. */
export const NTF = {
  USE: 0x01,
  SELF: 0x02,
  MASTER: 0x04,
  PROXY: 0x08,
  EXT_LEARNED: 0x10,
  OFFLOADED: 0x20,
  STICKY: 0x40,
  ROUTER: 0x80,
} as const

/** Address families (`AF_*`). */
export const AF = {
  UNSPEC: 0,
  INET: 2,
  BRIDGE: 7,
  INET6: 10,
  NETLINK: 16,
  PACKET: 17,
  MPLS: 28,
} as const

/** Hardware types (`ARPHRD_*`, linux/if_arp.h) in `ifi_type`. */
export const ARPHRD = {
  NETROM: 0,
  ETHER: 1,
  PPP: 512,
  TUNNEL: 768,
  TUNNEL6: 769,
  LOOPBACK: 772,
  SIT: 776,
  IPGRE: 778,
  IEEE80211: 801,
  IP6GRE: 823,
  NONE: 0xfffe,
  VOID: 0xffff,
} as const

/** A constant table such as {@link IFLA} or {@link RTM}. */
export type ConstantTable = Readonly<Record<string, number>>

/**
 * The name of `value` in `table` (the first one declared, when several share a value), or
 * `undefined`. With `prefix` the result is the C spelling: `constantName(IFLA, 3, 'IFLA_')` is
 * `'IFLA_IFNAME'`.
 */
export function constantName(table: ConstantTable, value: number, prefix = ''): string | undefined {
  const name = reverse(table).get(value)
  return name === undefined ? undefined : prefix + name
}

/** value -> first name, built once per table (decoders name attributes on every read). */
const reversed = new WeakMap<ConstantTable, Map<number, string>>()

function reverse(table: ConstantTable): Map<number, string> {
  let map = reversed.get(table)
  if (!map) {
    map = new Map()
    for (const [name, v] of Object.entries(table)) if (!map.has(v)) map.set(v, name)
    reversed.set(table, map)
  }
  return map
}

/**
 * Name `value` for an error message: `'IFLA_IFNAME (3)'`, or `'IFLA_? (99)'` when unknown.
 */
export function describeConstant(table: ConstantTable, value: number, prefix: string): string {
  return `${constantName(table, value, prefix) ?? `${prefix}?`} (${value})`
}

/**
 * The names of the single-bit flags set in `value`, in table order, plus a hex remainder for
 * unknown bits: `flagNames(IFF, 0x11043)` is `['UP', 'BROADCAST', 'RUNNING', 'MULTICAST', 'LOWER_UP']`.
 * Multi-bit entries (such as `NLM_F.DUMP`) are skipped; for bits with several names the first wins.
 */
export function flagNames(table: ConstantTable, value: number): string[] {
  const names: string[] = []
  let rest = value >>> 0
  for (const [name, bit] of Object.entries(table)) {
    if (bit === 0 || (bit & (bit - 1)) !== 0) continue
    if ((rest & bit) !== 0) {
      names.push(name)
      rest = (rest & ~bit) >>> 0
    }
  }
  if (rest !== 0) names.push(`0x${rest.toString(16)}`)
  return names
}

/** Name of a netlink message type: `'NLMSG_ERROR'`, `'RTM_NEWLINK'`, or `'type 99'`. */
export function messageTypeName(type: number): string {
  if (type < NLMSG.MIN_TYPE) return constantName(NLMSG, type, 'NLMSG_') ?? `type ${type}`
  return constantName(RTM, type, 'RTM_') ?? `type ${type}`
}
