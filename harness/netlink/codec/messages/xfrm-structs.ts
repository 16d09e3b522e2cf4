/**
 * The fixed C structures of NETLINK_XFRM (include/uapi/linux/xfrm.h), laid out as the kernel lays
 * them out on x86-64 and arm64 (sizes and offsets checked against the header with gcc:
 * `sizeof(struct xfrm_usersa_info) == 224`, `xfrm_userpolicy_info == 168`, `xfrm_selector == 56`,
 * `xfrm_user_tmpl == 64`). Integers are in host order except SPIs and ports, which are `__be`.
 *
 * ```
 * xfrm_address_t (16)  a union of __be32 a4 / __be32 a6[4]: IPv4 in the first 4 bytes
 * xfrm_selector (56)   daddr 0, saddr 16, dport 32, dport_mask 34, sport 36, sport_mask 38,
 *                      family 40, prefixlen_d 42, prefixlen_s 43, proto 44, pad, ifindex 48, user 52
 * xfrm_id (24)         daddr 0, spi 16, proto 20, pad
 * xfrm_lifetime_cfg    8 x u64 (64); xfrm_lifetime_cur 4 x u64 (32); xfrm_stats 3 x u32 (12)
 * xfrm_user_tmpl (64)  id 0, family 24, saddr 28, reqid 44, mode 48, share 49, optional 50, pad,
 *                      aalgos 52, ealgos 56, calgos 60
 * xfrm_algo (68+key)   alg_name[64], alg_key_len (bits) 64, key
 * xfrm_algo_auth/aead  alg_name[64], alg_key_len 64, alg_trunc_len / alg_icv_len 68, key at 72
 * ```
 */
import { bytesToIp, ipToBytes } from '../../../util/ip.js'
import { AF } from '../constants.js'
import { NetlinkDecodeError, NetlinkEncodeError } from '../errors.js'
import { readHostU32, writeHostU32 } from '../hostorder.js'
import { XFRM_INF } from '../xfrm-constants.js'
import { defineStruct, putStruct } from './table.js'

export const XFRM_ADDRESS_LEN = 16
export const XFRM_SELECTOR_LEN = 56
export const XFRM_ID_LEN = 24
export const XFRM_LIFETIME_CFG_LEN = 64
export const XFRM_LIFETIME_CUR_LEN = 32
export const XFRM_STATS_LEN = 12
export const XFRM_USER_TMPL_LEN = 64
export const XFRM_ALG_NAME_LEN = 64
export const XFRM_ALGO_LEN = 68
export const XFRM_ALGO_AUTH_LEN = 72
export const XFRM_ALGO_AEAD_LEN = 72
export const XFRM_MARK_LEN = 8
export const XFRM_ENCAP_TMPL_LEN = 24

/** IP text of an xfrm_address_t: the family decides; with none, an address that only fills the
 * first 4 bytes is IPv4. */
export function readXfrmAddress(buf: Buffer, offset: number, family: number): string {
  const bytes = buf.subarray(offset, offset + XFRM_ADDRESS_LEN)
  if (family === AF.INET) return bytesToIp(bytes.subarray(0, 4))
  if (family === AF.INET6) return bytesToIp(bytes)
  return bytes.subarray(4).every((b) => b === 0) ? bytesToIp(bytes.subarray(0, 4)) : bytesToIp(bytes)
}

/** Write IP text into a zeroed xfrm_address_t; the text's family must match `family` when given. */
export function writeXfrmAddress(
  buf: Buffer,
  offset: number,
  text: string,
  family: number,
  what: string,
): void {
  const bytes = ipToBytes(text)
  const expected = family === AF.INET ? 4 : family === AF.INET6 ? 16 : bytes.length
  if (bytes.length !== expected)
    throw new NetlinkEncodeError(`${what} ${text} does not match address family ${family}`)
  bytes.copy(buf, offset)
}

/** The family of IP text (AF_INET or AF_INET6). */
export function familyOf(text: string): number {
  return ipToBytes(text).length === 4 ? AF.INET : AF.INET6
}

function check(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new NetlinkEncodeError(`${what} must be an integer in ${min}..${max}, got ${value}`)
  return value
}

export function requireLength(buf: Buffer, size: number, baseOffset: number, name: string): void {
  if (buf.length < size)
    throw new NetlinkDecodeError(
      baseOffset,
      'truncated-payload',
      `${name} at offset ${baseOffset} needs ${size} bytes but only ${buf.length} are there`,
    )
}

/** `struct xfrm_selector`: which packets a policy or state applies to. */
export interface XfrmSelector {
  family: number
  daddr: string
  saddr: string
  prefixlenD: number
  prefixlenS: number
  /** Ports in host order (the wire has them big-endian). */
  dport: number
  dportMask: number
  sport: number
  sportMask: number
  /** IP protocol (0 = any). */
  proto: number
  ifindex: number
  user: number
}

/** A selector matching nothing in particular: family-less, all zeros. */
export function anySelector(family: number = AF.UNSPEC): XfrmSelector {
  const zero = family === AF.INET6 ? '::' : '0.0.0.0'
  return {
    family,
    daddr: zero,
    saddr: zero,
    prefixlenD: 0,
    prefixlenS: 0,
    dport: 0,
    dportMask: 0,
    sport: 0,
    sportMask: 0,
    proto: 0,
    ifindex: 0,
    user: 0,
  }
}

/** `struct xfrm_selector` but its two addresses (family-dependent, see readXfrmAddress). */
export const XFRM_SELECTOR = defineStruct({
  cName: 'xfrm_selector',
  size: XFRM_SELECTOR_LEN,
  fields: [
    { key: 'dport', offset: 32, type: 'be16', cName: 'selector dport' },
    { key: 'dportMask', offset: 34, type: 'be16', cName: 'selector dport mask' },
    { key: 'sport', offset: 36, type: 'be16', cName: 'selector sport' },
    { key: 'sportMask', offset: 38, type: 'be16', cName: 'selector sport mask' },
    { key: 'family', offset: 40, type: 'u16', cName: 'selector family' },
    { key: 'prefixlenD', offset: 42, type: 'u8', cName: 'selector prefixlen_d', max: 128 },
    { key: 'prefixlenS', offset: 43, type: 'u8', cName: 'selector prefixlen_s', max: 128 },
    { key: 'proto', offset: 44, type: 'u8', cName: 'selector proto' },
    { key: 'ifindex', offset: 48, type: 's32', cName: 'selector ifindex' },
    { key: 'user', offset: 52, type: 'u32', cName: 'selector user' },
  ],
})

export function writeSelector(buf: Buffer, offset: number, s: XfrmSelector): void {
  putStruct(XFRM_SELECTOR, buf, offset, s)
  writeXfrmAddress(buf, offset, s.daddr, s.family, 'selector daddr')
  writeXfrmAddress(buf, offset + 16, s.saddr, s.family, 'selector saddr')
}

export function readSelector(buf: Buffer, offset: number): XfrmSelector {
  const s = XFRM_SELECTOR.read(buf, offset) as Omit<XfrmSelector, 'daddr' | 'saddr'>
  return {
    ...s,
    daddr: readXfrmAddress(buf, offset, s.family),
    saddr: readXfrmAddress(buf, offset + 16, s.family),
  }
}

/** `struct xfrm_id`: a state's destination, SPI and protocol. */
export interface XfrmId {
  daddr: string
  /** SPI as a number (big-endian on the wire). */
  spi: number
  proto: number
}

/** `struct xfrm_id` but its address (the family is the enclosing struct's). */
const XFRM_ID = defineStruct({
  cName: 'xfrm_id',
  size: XFRM_ID_LEN,
  fields: [
    { key: 'spi', offset: 16, type: 'be32', cName: 'spi' },
    { key: 'proto', offset: 20, type: 'u8', cName: 'proto' },
  ],
})

export function writeId(buf: Buffer, offset: number, id: XfrmId, family: number): void {
  putStruct(XFRM_ID, buf, offset, id)
  writeXfrmAddress(buf, offset, id.daddr, family, 'daddr')
}

export function readId(buf: Buffer, offset: number, family: number): XfrmId {
  const id = XFRM_ID.read(buf, offset) as Omit<XfrmId, 'daddr'>
  return { daddr: readXfrmAddress(buf, offset, family), ...id }
}

/** `struct xfrm_lifetime_cfg`: limits; XFRM_INF means none. */
export interface XfrmLifetimeCfg {
  softByteLimit: bigint
  hardByteLimit: bigint
  softPacketLimit: bigint
  hardPacketLimit: bigint
  softAddExpiresSeconds: bigint
  hardAddExpiresSeconds: bigint
  softUseExpiresSeconds: bigint
  hardUseExpiresSeconds: bigint
}

/** `struct xfrm_lifetime_cfg`: eight u64 limits. */
export const XFRM_LIFETIME_CFG = defineStruct({
  cName: 'xfrm_lifetime_cfg',
  size: XFRM_LIFETIME_CFG_LEN,
  fields: (
    [
      'softByteLimit',
      'hardByteLimit',
      'softPacketLimit',
      'hardPacketLimit',
      'softAddExpiresSeconds',
      'hardAddExpiresSeconds',
      'softUseExpiresSeconds',
      'hardUseExpiresSeconds',
    ] as const
  ).map((key, i) => ({ key, offset: 8 * i, type: 'u64' as const, cName: `lifetime ${key}` })),
})

/** No limits: what iproute2 sends unless told otherwise (byte and packet limits infinite, no expiry). */
export function unlimited(): XfrmLifetimeCfg {
  return {
    softByteLimit: XFRM_INF,
    hardByteLimit: XFRM_INF,
    softPacketLimit: XFRM_INF,
    hardPacketLimit: XFRM_INF,
    softAddExpiresSeconds: 0n,
    hardAddExpiresSeconds: 0n,
    softUseExpiresSeconds: 0n,
    hardUseExpiresSeconds: 0n,
  }
}

/** `struct xfrm_lifetime_cur`: what a state or policy has used so far. */
export interface XfrmLifetimeCur {
  bytes: bigint
  packets: bigint
  /** Seconds since the epoch. */
  addTime: bigint
  useTime: bigint
}

export function zeroLifetimeCur(): XfrmLifetimeCur {
  return { bytes: 0n, packets: 0n, addTime: 0n, useTime: 0n }
}

/** `struct xfrm_lifetime_cur`. */
export const XFRM_LIFETIME_CUR = defineStruct({
  cName: 'xfrm_lifetime_cur',
  size: XFRM_LIFETIME_CUR_LEN,
  fields: [
    { key: 'bytes', offset: 0, type: 'u64', cName: 'bytes' },
    { key: 'packets', offset: 8, type: 'u64', cName: 'packets' },
    { key: 'addTime', offset: 16, type: 'u64', cName: 'add_time' },
    { key: 'useTime', offset: 24, type: 'u64', cName: 'use_time' },
  ],
})

/** `struct xfrm_stats`. */
export interface XfrmStats {
  replayWindow: number
  replay: number
  integrityFailed: number
}

/** `struct xfrm_stats`. */
export const XFRM_STATS = defineStruct({
  cName: 'xfrm_stats',
  size: XFRM_STATS_LEN,
  fields: [
    { key: 'replayWindow', offset: 0, type: 'u32', cName: 'stats replay_window' },
    { key: 'replay', offset: 4, type: 'u32', cName: 'stats replay' },
    { key: 'integrityFailed', offset: 8, type: 'u32', cName: 'stats integrity_failed' },
  ],
})

/** `struct xfrm_user_tmpl`: one transform a policy requires (XFRMA_TMPL holds a list of them). */
export interface XfrmTemplate {
  id: XfrmId
  family: number
  saddr: string
  reqid: number
  mode: number
  share: number
  /** 1 = `level use` (optional), 0 = `level required`. */
  optional: number
  aalgos: number
  ealgos: number
  calgos: number
}

/** `struct xfrm_user_tmpl` but its addresses (id.daddr and saddr, of the template's family). */
const XFRM_USER_TMPL = defineStruct({
  cName: 'xfrm_user_tmpl',
  size: XFRM_USER_TMPL_LEN,
  fields: [
    { key: 'family', offset: 24, type: 'u16', cName: 'template family' },
    { key: 'reqid', offset: 44, type: 'u32', cName: 'template reqid' },
    { key: 'mode', offset: 48, type: 'u8', cName: 'template mode' },
    { key: 'share', offset: 49, type: 'u8', cName: 'template share' },
    { key: 'optional', offset: 50, type: 'u8', cName: 'template optional' },
    { key: 'aalgos', offset: 52, type: 'u32', cName: 'template aalgos' },
    { key: 'ealgos', offset: 56, type: 'u32', cName: 'template ealgos' },
    { key: 'calgos', offset: 60, type: 'u32', cName: 'template calgos' },
  ],
})

export function encodeTemplates(tmpls: readonly XfrmTemplate[]): Buffer {
  const buf = Buffer.alloc(XFRM_USER_TMPL_LEN * tmpls.length)
  tmpls.forEach((t, i) => {
    const o = i * XFRM_USER_TMPL_LEN
    putStruct(XFRM_USER_TMPL, buf, o, t)
    writeId(buf, o, t.id, t.family)
    writeXfrmAddress(buf, o + 28, t.saddr, t.family, 'template saddr')
  })
  return buf
}

export function decodeTemplates(value: Buffer, baseOffset: number): XfrmTemplate[] {
  if (value.length % XFRM_USER_TMPL_LEN !== 0)
    throw new NetlinkDecodeError(
      baseOffset,
      'bad-attribute-value',
      `XFRMA_TMPL at offset ${baseOffset} is ${value.length} bytes, not a multiple of ${XFRM_USER_TMPL_LEN}`,
    )
  const out: XfrmTemplate[] = []
  for (let o = 0; o < value.length; o += XFRM_USER_TMPL_LEN) {
    const t = XFRM_USER_TMPL.read(value, o) as Omit<XfrmTemplate, 'id' | 'saddr'>
    out.push({
      id: readId(value, o, t.family),
      saddr: readXfrmAddress(value, o + 28, t.family),
      ...t,
    })
  }
  return out
}

/** An algorithm with its key: `struct xfrm_algo` (crypt), `xfrm_algo_auth` (auth with truncation
 * length) or `xfrm_algo_aead` (AEAD with ICV length). */
export interface XfrmAlgorithm {
  /** The kernel's crypto name, e.g. `rfc4106(gcm(aes))`, `cbc(aes)`, `hmac(sha256)`. */
  name: string
  key: Buffer
  /** Key length in bits (defaults to 8 x key bytes when encoding). */
  keyBits?: number
}
export interface XfrmAuthAlgorithm extends XfrmAlgorithm {
  truncBits: number
}
export interface XfrmAeadAlgorithm extends XfrmAlgorithm {
  icvBits: number
}

/** Encode an algorithm struct. `extra` is the trunc/icv length, present in the 72-byte forms. */
export function encodeAlgorithm(alg: XfrmAlgorithm, extra?: number): Buffer {
  const name = Buffer.from(alg.name, 'utf8')
  if (name.length >= XFRM_ALG_NAME_LEN)
    throw new NetlinkEncodeError(`algorithm name ${JSON.stringify(alg.name)} is longer than 63 bytes`)
  const keyBits = check(alg.keyBits ?? alg.key.length * 8, 0, 0xffffffff, 'algorithm key length')
  if (Math.ceil(keyBits / 8) !== alg.key.length)
    throw new NetlinkEncodeError(
      `algorithm ${alg.name}: ${keyBits} key bits do not fit ${alg.key.length} key bytes`,
    )
  const head = extra === undefined ? XFRM_ALGO_LEN : XFRM_ALGO_AEAD_LEN
  const buf = Buffer.alloc(head + alg.key.length)
  name.copy(buf, 0)
  writeHostU32(buf, keyBits, 64)
  if (extra !== undefined) writeHostU32(buf, check(extra, 0, 0xffffffff, 'algorithm trunc/icv length'), 68)
  alg.key.copy(buf, head)
  return buf
}

/** Decode an algorithm struct of `head` bytes (68 or 72) followed by its key. */
export function decodeAlgorithm(
  value: Buffer,
  baseOffset: number,
  what: string,
  head: number,
): XfrmAlgorithm & { extra: number } {
  requireLength(value, head, baseOffset, what)
  const keyBits = readHostU32(value, 64)
  const keyBytes = Math.ceil(keyBits / 8)
  if (value.length < head + keyBytes)
    throw new NetlinkDecodeError(
      baseOffset,
      'bad-attribute-value',
      `${what} at offset ${baseOffset} claims a ${keyBits}-bit key but carries only ${value.length - head} key bytes`,
    )
  const nameBytes = value.subarray(0, XFRM_ALG_NAME_LEN)
  const nul = nameBytes.indexOf(0)
  return {
    name: nameBytes.toString('utf8', 0, nul === -1 ? XFRM_ALG_NAME_LEN : nul),
    keyBits,
    key: Buffer.from(value.subarray(head, head + keyBytes)),
    extra: head > XFRM_ALGO_LEN ? readHostU32(value, 68) : 0,
  }
}

/** `struct xfrm_mark`. */
export interface XfrmMark {
  value: number
  mask: number
}

/** `struct xfrm_mark` (XFRMA_MARK's value). */
export const XFRM_MARK = defineStruct({
  cName: 'xfrm_mark',
  size: XFRM_MARK_LEN,
  fields: [
    { key: 'value', offset: 0, type: 'u32', cName: 'mark' },
    { key: 'mask', offset: 4, type: 'u32', cName: 'mark mask' },
  ],
})

/** `struct xfrm_encap_tmpl`: UDP encapsulation (NAT traversal). */
export interface XfrmEncap {
  /** UDP_ENCAP_ESPINUDP = 2. */
  type: number
  sport: number
  dport: number
  /** Original address (for NAT-T checksum fixups); '0.0.0.0' when unused. */
  oa: string
}

/** `struct xfrm_encap_tmpl` but its original address. */
const XFRM_ENCAP_TMPL = defineStruct({
  cName: 'xfrm_encap_tmpl',
  size: XFRM_ENCAP_TMPL_LEN,
  fields: [
    { key: 'type', offset: 0, type: 'u16', cName: 'encap type' },
    { key: 'sport', offset: 2, type: 'be16', cName: 'encap sport' },
    { key: 'dport', offset: 4, type: 'be16', cName: 'encap dport' },
  ],
})

export function encodeEncap(e: XfrmEncap): Buffer {
  const buf = Buffer.alloc(XFRM_ENCAP_TMPL_LEN)
  putStruct(XFRM_ENCAP_TMPL, buf, 0, e)
  writeXfrmAddress(buf, 8, e.oa, AF.UNSPEC, 'encap oa')
  return buf
}

export function decodeEncap(value: Buffer, baseOffset: number, family: number): XfrmEncap {
  requireLength(value, XFRM_ENCAP_TMPL_LEN, baseOffset, 'XFRMA_ENCAP')
  return {
    ...(XFRM_ENCAP_TMPL.read(value, 0) as Omit<XfrmEncap, 'oa'>),
    oa: readXfrmAddress(value, 8, family),
  }
}
