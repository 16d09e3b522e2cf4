/**
 * NETLINK_XFRM numbers (include/uapi/linux/xfrm.h): message types, attribute types, modes,
 * directions. The IPsec security associations (states) and policies live behind this protocol,
 * beside rtnetlink, with the same nlmsghdr and nlattr framing.
 */

/** Netlink protocol number of the IPsec configuration interface. */
export const NETLINK_XFRM = 6

/** XFRM_MSG_*: message types. */
export const XFRM_MSG = {
  NEWSA: 0x10,
  DELSA: 0x11,
  GETSA: 0x12,
  NEWPOLICY: 0x13,
  DELPOLICY: 0x14,
  GETPOLICY: 0x15,
  ALLOCSPI: 0x16,
  ACQUIRE: 0x17,
  EXPIRE: 0x18,
  UPDPOLICY: 0x19,
  UPDSA: 0x1a,
  POLEXPIRE: 0x1b,
  FLUSHSA: 0x1c,
  FLUSHPOLICY: 0x1d,
  NEWAE: 0x1e,
  GETAE: 0x1f,
  REPORT: 0x20,
  MIGRATE: 0x21,
  NEWSADINFO: 0x22,
  GETSADINFO: 0x23,
  NEWSPDINFO: 0x24,
  GETSPDINFO: 0x25,
  MAPPING: 0x26,
  SETDEFAULT: 0x27,
  GETDEFAULT: 0x28,
} as const

/** XFRMA_*: attribute types. */
export const XFRMA = {
  UNSPEC: 0,
  ALG_AUTH: 1,
  ALG_CRYPT: 2,
  ALG_COMP: 3,
  ENCAP: 4,
  TMPL: 5,
  SA: 6,
  POLICY: 7,
  SEC_CTX: 8,
  LTIME_VAL: 9,
  REPLAY_VAL: 10,
  REPLAY_THRESH: 11,
  ETIMER_THRESH: 12,
  SRCADDR: 13,
  COADDR: 14,
  LASTUSED: 15,
  POLICY_TYPE: 16,
  MIGRATE: 17,
  ALG_AEAD: 18,
  KMADDRESS: 19,
  ALG_AUTH_TRUNC: 20,
  MARK: 21,
  TFCPAD: 22,
  REPLAY_ESN_VAL: 23,
  SA_EXTRA_FLAGS: 24,
  PROTO: 25,
  ADDRESS_FILTER: 26,
  PAD: 27,
  OFFLOAD_DEV: 28,
  SET_MARK: 29,
  SET_MARK_MASK: 30,
  IF_ID: 31,
  MTIMER_THRESH: 32,
} as const

/** XFRM_MODE_*. */
export const XFRM_MODE = { TRANSPORT: 0, TUNNEL: 1, ROUTEOPTIMIZATION: 2, IN_TRIGGER: 3, BEET: 4 } as const

/** XFRM_POLICY_{IN,OUT,FWD}: policy directions. */
export const XFRM_DIR = { IN: 0, OUT: 1, FWD: 2 } as const

/** XFRM_POLICY_ALLOW / BLOCK: policy actions. */
export const XFRM_ACTION = { ALLOW: 0, BLOCK: 1 } as const

/** XFRM_POLICY_TYPE_*. */
export const XFRM_POLICY_TYPE = { MAIN: 0, SUB: 1, ANY: 255 } as const

/** XFRM_SHARE_*. */
export const XFRM_SHARE = { ANY: 0, SESSION: 1, USER: 2, UNIQUE: 3 } as const

/** XFRM_STATE_* flags of xfrm_usersa_info. */
export const XFRM_STATE_FLAG = {
  NOECN: 1,
  DECAP_DSCP: 2,
  NOPMTUDISC: 4,
  WILDRECV: 8,
  ICMP: 16,
  AF_UNSPEC: 32,
  ALIGN4: 64,
  ESN: 128,
} as const

/** XFRMNLGRP_*: multicast groups. */
export const XFRMNLGRP = {
  ACQUIRE: 1,
  EXPIRE: 2,
  SA: 3,
  POLICY: 4,
  AEVENTS: 5,
  REPORT: 6,
  MIGRATE: 7,
  MAPPING: 8,
}

/** IPsec protocols (IPPROTO_*), and IPSEC_PROTO_ANY for flushes. */
export const IPSEC_PROTO = { ESP: 50, AH: 51, COMP: 108, ANY: 255 } as const

/** XFRM_INF: "no limit" in xfrm_lifetime_cfg. */
export const XFRM_INF = 0xffffffffffffffffn
