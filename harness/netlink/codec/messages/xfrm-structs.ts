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
import {
  readHostS32,
  readHostU16,
  readHostU32,
  readHostU64,
  writeHostS32,
  writeHostU16,
  writeHostU32,
  writeHostU64,
} from '../hostorder.js'
import { XFRM_INF } from '../xfrm-constants.js'

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

export function writeSelector(buf: Buffer, offset: number, s: XfrmSelector): void {
  const family = check(s.family, 0, 0xffff, 'selector family')
  writeXfrmAddress(buf, offset, s.daddr, family, 'selector daddr')
  writeXfrmAddress(buf, offset + 16, s.saddr, family, 'selector saddr')
  buf.writeUInt16BE(check(s.dport, 0, 0xffff, 'selector dport'), offset + 32)
  buf.writeUInt16BE(check(s.dportMask, 0, 0xffff, 'selector dport mask'), offset + 34)
  buf.writeUInt16BE(check(s.sport, 0, 0xffff, 'selector sport'), offset + 36)
  buf.writeUInt16BE(check(s.sportMask, 0, 0xffff, 'selector sport mask'), offset + 38)
  writeHostU16(buf, family, offset + 40)
  buf[offset + 42] = check(s.prefixlenD, 0, 128, 'selector prefixlen_d')
  buf[offset + 43] = check(s.prefixlenS, 0, 128, 'selector prefixlen_s')
  buf[offset + 44] = check(s.proto, 0, 0xff, 'selector proto')
  writeHostS32(buf, check(s.ifindex, -0x80000000, 0x7fffffff, 'selector ifindex'), offset + 48)
  writeHostU32(buf, check(s.user, 0, 0xffffffff, 'selector user'), offset + 52)
}

export function readSelector(buf: Buffer, offset: number): XfrmSelector {
  const family = readHostU16(buf, offset + 40)
  return {
    family,
    daddr: readXfrmAddress(buf, offset, family),
    saddr: readXfrmAddress(buf, offset + 16, family),
    dport: buf.readUInt16BE(offset + 32),
    dportMask: buf.readUInt16BE(offset + 34),
    sport: buf.readUInt16BE(offset + 36),
    sportMask: buf.readUInt16BE(offset + 38),
    prefixlenD: buf[offset + 42] ?? 0,
    prefixlenS: buf[offset + 43] ?? 0,
    proto: buf[offset + 44] ?? 0,
    ifindex: readHostS32(buf, offset + 48),
    user: readHostU32(buf, offset + 52),
  }
}

/** `struct xfrm_id`: a state's destination, SPI and protocol. */
export interface XfrmId {
  daddr: string
  /** SPI as a number (big-endian on the wire). */
  spi: number
  proto: number
}

export function writeId(buf: Buffer, offset: number, id: XfrmId, family: number): void {
  writeXfrmAddress(buf, offset, id.daddr, family, 'daddr')
  buf.writeUInt32BE(check(id.spi, 0, 0xffffffff, 'spi'), offset + 16)
  buf[offset + 20] = check(id.proto, 0, 0xff, 'proto')
}

export function readId(buf: Buffer, offset: number, family: number): XfrmId {
  return {
    daddr: readXfrmAddress(buf, offset, family),
    spi: buf.readUInt32BE(offset + 16),
    proto: buf[offset + 20] ?? 0,
  }
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

const CFG_FIELDS = [
  'softByteLimit',
  'hardByteLimit',
  'softPacketLimit',
  'hardPacketLimit',
  'softAddExpiresSeconds',
  'hardAddExpiresSeconds',
  'softUseExpiresSeconds',
  'hardUseExpiresSeconds',
] as const

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

function checkU64(value: bigint, what: string): bigint {
  if (value < 0n || value > XFRM_INF)
    throw new NetlinkEncodeError(`${what} must be in 0..2^64-1, got ${value}`)
  return value
}

export function writeLifetimeCfg(buf: Buffer, offset: number, l: XfrmLifetimeCfg): void {
  CFG_FIELDS.forEach((f, i) => writeHostU64(buf, checkU64(l[f], `lifetime ${f}`), offset + 8 * i))
}

export function readLifetimeCfg(buf: Buffer, offset: number): XfrmLifetimeCfg {
  const out = unlimited()
  CFG_FIELDS.forEach((f, i) => (out[f] = readHostU64(buf, offset + 8 * i)))
  return out
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

export function writeLifetimeCur(buf: Buffer, offset: number, c: XfrmLifetimeCur): void {
  writeHostU64(buf, checkU64(c.bytes, 'bytes'), offset)
  writeHostU64(buf, checkU64(c.packets, 'packets'), offset + 8)
  writeHostU64(buf, checkU64(c.addTime, 'add_time'), offset + 16)
  writeHostU64(buf, checkU64(c.useTime, 'use_time'), offset + 24)
}

export function readLifetimeCur(buf: Buffer, offset: number): XfrmLifetimeCur {
  return {
    bytes: readHostU64(buf, offset),
    packets: readHostU64(buf, offset + 8),
    addTime: readHostU64(buf, offset + 16),
    useTime: readHostU64(buf, offset + 24),
  }
}

/** `struct xfrm_stats`. */
export interface XfrmStats {
  replayWindow: number
  replay: number
  integrityFailed: number
}

export function writeStats(buf: Buffer, offset: number, s: XfrmStats): void {
  writeHostU32(buf, check(s.replayWindow, 0, 0xffffffff, 'stats replay_window'), offset)
  writeHostU32(buf, check(s.replay, 0, 0xffffffff, 'stats replay'), offset + 4)
  writeHostU32(buf, check(s.integrityFailed, 0, 0xffffffff, 'stats integrity_failed'), offset + 8)
}

export function readStats(buf: Buffer, offset: number): XfrmStats {
  return {
    replayWindow: readHostU32(buf, offset),
    replay: readHostU32(buf, offset + 4),
    integrityFailed: readHostU32(buf, offset + 8),
  }
}

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

export function encodeTemplates(tmpls: readonly XfrmTemplate[]): Buffer {
  const buf = Buffer.alloc(XFRM_USER_TMPL_LEN * tmpls.length)
  tmpls.forEach((t, i) => {
    const o = i * XFRM_USER_TMPL_LEN
    const family = check(t.family, 0, 0xffff, 'template family')
    writeId(buf, o, t.id, family)
    writeHostU16(buf, family, o + 24)
    writeXfrmAddress(buf, o + 28, t.saddr, family, 'template saddr')
    writeHostU32(buf, check(t.reqid, 0, 0xffffffff, 'template reqid'), o + 44)
    buf[o + 48] = check(t.mode, 0, 0xff, 'template mode')
    buf[o + 49] = check(t.share, 0, 0xff, 'template share')
    buf[o + 50] = check(t.optional, 0, 0xff, 'template optional')
    writeHostU32(buf, check(t.aalgos, 0, 0xffffffff, 'template aalgos'), o + 52)
    writeHostU32(buf, check(t.ealgos, 0, 0xffffffff, 'template ealgos'), o + 56)
    writeHostU32(buf, check(t.calgos, 0, 0xffffffff, 'template calgos'), o + 60)
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
    const family = readHostU16(value, o + 24)
    out.push({
      id: readId(value, o, family),
      family,
      saddr: readXfrmAddress(value, o + 28, family),
      reqid: readHostU32(value, o + 44),
      mode: value[o + 48] ?? 0,
      share: value[o + 49] ?? 0,
      optional: value[o + 50] ?? 0,
      aalgos: readHostU32(value, o + 52),
      ealgos: readHostU32(value, o + 56),
      calgos: readHostU32(value, o + 60),
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

export function encodeMark(m: XfrmMark): Buffer {
  const buf = Buffer.alloc(XFRM_MARK_LEN)
  writeHostU32(buf, check(m.value, 0, 0xffffffff, 'mark'), 0)
  writeHostU32(buf, check(m.mask, 0, 0xffffffff, 'mark mask'), 4)
  return buf
}

export function decodeMark(value: Buffer, baseOffset: number): XfrmMark {
  requireLength(value, XFRM_MARK_LEN, baseOffset, 'XFRMA_MARK')
  return { value: readHostU32(value, 0), mask: readHostU32(value, 4) }
}

/** `struct xfrm_encap_tmpl`: UDP encapsulation (NAT traversal). */
export interface XfrmEncap {
  /** UDP_ENCAP_ESPINUDP = 2. */
  type: number
  sport: number
  dport: number
  /** Original address (for NAT-T checksum fixups); '0.0.0.0' when unused. */
  oa: string
}

export function encodeEncap(e: XfrmEncap): Buffer {
  const buf = Buffer.alloc(XFRM_ENCAP_TMPL_LEN)
  writeHostU16(buf, check(e.type, 0, 0xffff, 'encap type'), 0)
  buf.writeUInt16BE(check(e.sport, 0, 0xffff, 'encap sport'), 2)
  buf.writeUInt16BE(check(e.dport, 0, 0xffff, 'encap dport'), 4)
  writeXfrmAddress(buf, 8, e.oa, AF.UNSPEC, 'encap oa')
  return buf
}

export function decodeEncap(value: Buffer, baseOffset: number, family: number): XfrmEncap {
  requireLength(value, XFRM_ENCAP_TMPL_LEN, baseOffset, 'XFRMA_ENCAP')
  return {
    type: readHostU16(value, 0),
    sport: value.readUInt16BE(2),
    dport: value.readUInt16BE(4),
    oa: readXfrmAddress(value, 8, family),
  }
}
