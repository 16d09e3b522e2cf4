/**
 * NETLINK_XFRM message payloads: states (security associations) and policies.
 *
 * ```
 * XFRM_MSG_NEWSA / UPDSA (and dump replies)  xfrm_usersa_info (224) + XFRMA_* attributes
 * XFRM_MSG_DELSA / GETSA                      xfrm_usersa_id (24) + XFRMA_SRCADDR, XFRMA_MARK...
 * XFRM_MSG_FLUSHSA                            xfrm_usersa_flush (1: the protocol, 255 = any)
 * XFRM_MSG_NEWPOLICY / UPDPOLICY (and dumps)  xfrm_userpolicy_info (168) + XFRMA_TMPL, MARK, IF_ID...
 * XFRM_MSG_DELPOLICY / GETPOLICY              xfrm_userpolicy_id (64) + XFRMA_MARK, XFRMA_IF_ID...
 * XFRM_MSG_FLUSHPOLICY                        nothing, or XFRMA_POLICY_TYPE
 * ```
 *
 * xfrm_usersa_info: sel 0, id 56, saddr 80, lft 96, curlft 160, stats 192, seq 204, reqid 208,
 * family 212, mode 214, replay_window 215, flags 216, 7 bytes of tail padding.
 * xfrm_userpolicy_info: sel 0, lft 56, curlft 120, priority 152, index 156, dir 160, action 161,
 * flags 162, share 163, 4 bytes of tail padding.
 */
import { AttrWriter, decodeAttributes, readU32, type Attribute } from '../attributes.js'
import { NetlinkDecodeError, NetlinkEncodeError } from '../errors.js'
import { NLMSG_HDRLEN, type NlMsgHeader, parseMessages } from '../header.js'
import { NLMSG, NLM_F } from '../constants.js'
import { type NlmsgerrSummary, decodeNlmsgerr } from '../nlmsgerr.js'
import { readHostU16, readHostU32, writeHostU16, writeHostU32 } from '../hostorder.js'
import { XFRMA, XFRM_MSG, XFRM_POLICY_TYPE } from '../xfrm-constants.js'
import {
  XFRM_ALGO_AEAD_LEN,
  XFRM_ALGO_AUTH_LEN,
  XFRM_ALGO_LEN,
  XFRM_SELECTOR_LEN,
  type XfrmAeadAlgorithm,
  type XfrmAlgorithm,
  type XfrmAuthAlgorithm,
  type XfrmEncap,
  type XfrmId,
  type XfrmLifetimeCfg,
  type XfrmLifetimeCur,
  type XfrmMark,
  type XfrmSelector,
  type XfrmStats,
  type XfrmTemplate,
  anySelector,
  decodeAlgorithm,
  decodeEncap,
  decodeMark,
  decodeTemplates,
  encodeAlgorithm,
  encodeEncap,
  encodeMark,
  encodeTemplates,
  familyOf,
  readId,
  readLifetimeCfg,
  readLifetimeCur,
  readSelector,
  readStats,
  readXfrmAddress,
  requireLength,
  unlimited,
  writeId,
  writeLifetimeCfg,
  writeLifetimeCur,
  writeSelector,
  writeStats,
  writeXfrmAddress,
  zeroLifetimeCur,
} from './xfrm-structs.js'

export const XFRM_USERSA_INFO_LEN = 224
export const XFRM_USERSA_ID_LEN = 24
export const XFRM_USERPOLICY_INFO_LEN = 168
export const XFRM_USERPOLICY_ID_LEN = 64
export const XFRM_USERSA_FLUSH_LEN = 1
export const XFRM_USERPOLICY_TYPE_LEN = 6

function check(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new NetlinkEncodeError(`${what} must be an integer in ${min}..${max}, got ${value}`)
  return value
}

/** Attributes shared by states and policies. */
export interface XfrmCommonAttributes {
  mark?: XfrmMark
  /** XFRMA_IF_ID: ties the state or policy to an xfrm interface with this if_id. */
  ifId?: number
}

/** A state (security association): `xfrm_usersa_info` and its attributes. */
export interface XfrmState extends XfrmCommonAttributes {
  selector: XfrmSelector
  id: XfrmId
  /** Address family of the outer addresses (id.daddr, saddr). */
  family: number
  saddr: string
  lifetime: XfrmLifetimeCfg
  current: XfrmLifetimeCur
  stats: XfrmStats
  seq: number
  reqid: number
  mode: number
  replayWindow: number
  flags: number
  aead?: XfrmAeadAlgorithm
  crypt?: XfrmAlgorithm
  auth?: XfrmAlgorithm
  authTrunc?: XfrmAuthAlgorithm
  encap?: XfrmEncap
  /** XFRMA_SA_EXTRA_FLAGS. */
  extraFlags?: number
  /** XFRMA_SET_MARK / XFRMA_SET_MARK_MASK (the output mark). */
  outputMark?: XfrmMark
}

/** A decoded state message; `attrs` holds every attribute, known or not. */
export interface XfrmStateMessage extends XfrmState {
  attrs: Attribute[]
}

/** What a new-state request needs; the rest defaults as iproute2 sends it. */
export type XfrmStateRequest = Pick<XfrmState, 'id' | 'saddr'> & Partial<Omit<XfrmState, 'id' | 'saddr'>>

/** A state's key for delete/get: `xfrm_usersa_id` (+ XFRMA_SRCADDR as iproute2 sends it). */
export interface XfrmStateId extends XfrmCommonAttributes {
  daddr: string
  spi: number
  family: number
  proto: number
  saddr?: string
}

/** A policy: `xfrm_userpolicy_info` and its attributes. */
export interface XfrmPolicy extends XfrmCommonAttributes {
  selector: XfrmSelector
  lifetime: XfrmLifetimeCfg
  current: XfrmLifetimeCur
  priority: number
  index: number
  dir: number
  action: number
  flags: number
  share: number
  templates: XfrmTemplate[]
  /** XFRMA_POLICY_TYPE (main = 0, sub = 1); sent only when set. */
  type?: number
}

export interface XfrmPolicyMessage extends XfrmPolicy {
  attrs: Attribute[]
}

export type XfrmPolicyRequest = Pick<XfrmPolicy, 'selector' | 'dir'> &
  Partial<Omit<XfrmPolicy, 'selector' | 'dir'>>

/** A policy's key for delete/get: `xfrm_userpolicy_id` (by selector+dir, or by index). */
export interface XfrmPolicyId extends XfrmCommonAttributes {
  selector?: XfrmSelector
  index?: number
  dir: number
  type?: number
}

function writeCommon(w: AttrWriter, a: XfrmCommonAttributes): void {
  if (a.mark !== undefined) w.attr(XFRMA.MARK, encodeMark(a.mark))
  if (a.ifId !== undefined) w.u32(XFRMA.IF_ID, a.ifId)
}

function writePolicyType(w: AttrWriter, type: number | undefined): void {
  if (type === undefined) return
  const b = Buffer.alloc(XFRM_USERPOLICY_TYPE_LEN)
  b[0] = check(type, 0, 0xff, 'policy type')
  w.attr(XFRMA.POLICY_TYPE, b)
}

function readPolicyType(attr: Attribute): number {
  requireLength(attr.value, 1, attr.offset, 'XFRMA_POLICY_TYPE')
  return attr.value[0] ?? XFRM_POLICY_TYPE.MAIN
}

/** Encode `xfrm_usersa_info` + attributes, in iproute2's order for `aead` / `enc ... auth ...`. */
export function encodeState(req: XfrmStateRequest): Buffer {
  const family = check(req.family ?? familyOf(req.saddr), 0, 0xffff, 'state family')
  const info = Buffer.alloc(XFRM_USERSA_INFO_LEN)
  writeSelector(info, 0, req.selector ?? anySelector())
  writeId(info, 56, req.id, family)
  writeXfrmAddress(info, 80, req.saddr, family, 'saddr')
  writeLifetimeCfg(info, 96, req.lifetime ?? unlimited())
  writeLifetimeCur(info, 160, req.current ?? zeroLifetimeCur())
  writeStats(info, 192, req.stats ?? { replayWindow: 0, replay: 0, integrityFailed: 0 })
  writeHostU32(info, check(req.seq ?? 0, 0, 0xffffffff, 'seq'), 204)
  writeHostU32(info, check(req.reqid ?? 0, 0, 0xffffffff, 'reqid'), 208)
  writeHostU16(info, family, 212)
  info[214] = check(req.mode ?? 0, 0, 0xff, 'mode')
  info[215] = check(req.replayWindow ?? 0, 0, 0xff, 'replay window')
  info[216] = check(req.flags ?? 0, 0, 0xff, 'state flags')
  const w = new AttrWriter(512)
  w.raw(info)
  if (req.aead) w.attr(XFRMA.ALG_AEAD, encodeAlgorithm(req.aead, req.aead.icvBits))
  if (req.crypt) w.attr(XFRMA.ALG_CRYPT, encodeAlgorithm(req.crypt))
  if (req.authTrunc) w.attr(XFRMA.ALG_AUTH_TRUNC, encodeAlgorithm(req.authTrunc, req.authTrunc.truncBits))
  if (req.auth) w.attr(XFRMA.ALG_AUTH, encodeAlgorithm(req.auth))
  if (req.encap) w.attr(XFRMA.ENCAP, encodeEncap(req.encap))
  if (req.extraFlags !== undefined) w.u32(XFRMA.SA_EXTRA_FLAGS, req.extraFlags)
  if (req.outputMark !== undefined) {
    w.u32(XFRMA.SET_MARK, req.outputMark.value)
    w.u32(XFRMA.SET_MARK_MASK, req.outputMark.mask)
  }
  writeCommon(w, req)
  return w.toBuffer()
}

/** Decode an `xfrm_usersa_info` payload (NEWSA, UPDSA, dump replies). */
export function decodeState(payload: Buffer, baseOffset = 0): XfrmStateMessage {
  requireLength(payload, XFRM_USERSA_INFO_LEN, baseOffset, 'xfrm_usersa_info')
  const family = readHostU16(payload, 212)
  const attrs = decodeAttributes(payload.subarray(XFRM_USERSA_INFO_LEN), baseOffset + XFRM_USERSA_INFO_LEN)
  const s: XfrmStateMessage = {
    selector: readSelector(payload, 0),
    id: readId(payload, 56, family),
    family,
    saddr: readXfrmAddress(payload, 80, family),
    lifetime: readLifetimeCfg(payload, 96),
    current: readLifetimeCur(payload, 160),
    stats: readStats(payload, 192),
    seq: readHostU32(payload, 204),
    reqid: readHostU32(payload, 208),
    mode: payload[214] ?? 0,
    replayWindow: payload[215] ?? 0,
    flags: payload[216] ?? 0,
    attrs,
  }
  let setMark: number | undefined
  let setMarkMask: number | undefined
  for (const a of attrs) {
    const at = a.offset + 4
    switch (a.type) {
      case XFRMA.ALG_AEAD: {
        const { extra, ...alg } = decodeAlgorithm(a.value, at, 'XFRMA_ALG_AEAD', XFRM_ALGO_AEAD_LEN)
        s.aead = { ...alg, icvBits: extra }
        break
      }
      case XFRMA.ALG_AUTH_TRUNC: {
        const { extra, ...alg } = decodeAlgorithm(a.value, at, 'XFRMA_ALG_AUTH_TRUNC', XFRM_ALGO_AUTH_LEN)
        s.authTrunc = { ...alg, truncBits: extra }
        break
      }
      case XFRMA.ALG_AUTH: {
        const { extra: _, ...alg } = decodeAlgorithm(a.value, at, 'XFRMA_ALG_AUTH', XFRM_ALGO_LEN)
        s.auth = alg
        break
      }
      case XFRMA.ALG_CRYPT: {
        const { extra: _, ...alg } = decodeAlgorithm(a.value, at, 'XFRMA_ALG_CRYPT', XFRM_ALGO_LEN)
        s.crypt = alg
        break
      }
      case XFRMA.ENCAP:
        s.encap = decodeEncap(a.value, at, family)
        break
      case XFRMA.MARK:
        s.mark = decodeMark(a.value, at)
        break
      case XFRMA.IF_ID:
        s.ifId = readU32(a, 'XFRMA_IF_ID')
        break
      case XFRMA.SA_EXTRA_FLAGS:
        s.extraFlags = readU32(a, 'XFRMA_SA_EXTRA_FLAGS')
        break
      case XFRMA.SET_MARK:
        setMark = readU32(a, 'XFRMA_SET_MARK')
        break
      case XFRMA.SET_MARK_MASK:
        setMarkMask = readU32(a, 'XFRMA_SET_MARK_MASK')
        break
    }
  }
  if (setMark !== undefined) s.outputMark = { value: setMark, mask: setMarkMask ?? 0xffffffff }
  return s
}

/** Encode `xfrm_usersa_id` (+ XFRMA_SRCADDR, mark, if_id) for DELSA / GETSA. */
export function encodeStateId(id: XfrmStateId): Buffer {
  const family = check(id.family, 0, 0xffff, 'state family')
  const buf = Buffer.alloc(XFRM_USERSA_ID_LEN)
  writeXfrmAddress(buf, 0, id.daddr, family, 'daddr')
  buf.writeUInt32BE(check(id.spi, 0, 0xffffffff, 'spi'), 16)
  writeHostU16(buf, family, 20)
  buf[22] = check(id.proto, 0, 0xff, 'proto')
  const w = new AttrWriter(128)
  w.raw(buf)
  if (id.saddr !== undefined) {
    const a = Buffer.alloc(16)
    writeXfrmAddress(a, 0, id.saddr, family, 'saddr')
    w.attr(XFRMA.SRCADDR, a)
  }
  writeCommon(w, id)
  return w.toBuffer()
}

/** Decode `xfrm_usersa_id` and its attributes (DELSA notifications carry it). */
export function decodeStateId(payload: Buffer, baseOffset = 0): XfrmStateId & { attrs: Attribute[] } {
  requireLength(payload, XFRM_USERSA_ID_LEN, baseOffset, 'xfrm_usersa_id')
  const family = readHostU16(payload, 20)
  const attrs = decodeAttributes(payload.subarray(XFRM_USERSA_ID_LEN), baseOffset + XFRM_USERSA_ID_LEN)
  const id: XfrmStateId & { attrs: Attribute[] } = {
    daddr: readXfrmAddress(payload, 0, family),
    spi: payload.readUInt32BE(16),
    family,
    proto: payload[22] ?? 0,
    attrs,
  }
  for (const a of attrs) {
    if (a.type === XFRMA.SRCADDR) {
      if (a.value.length !== 16)
        throw new NetlinkDecodeError(
          a.offset,
          'bad-attribute-value',
          `XFRMA_SRCADDR at offset ${a.offset} must be 16 bytes but is ${a.value.length}`,
        )
      id.saddr = readXfrmAddress(a.value, 0, family)
    } else if (a.type === XFRMA.MARK) id.mark = decodeMark(a.value, a.offset + 4)
    else if (a.type === XFRMA.IF_ID) id.ifId = readU32(a, 'XFRMA_IF_ID')
  }
  return id
}

/** `xfrm_usersa_flush`: flush states of one protocol (0, the default as in iproute2, flushes all). */
export function encodeStateFlush(proto = 0): Buffer {
  return Buffer.of(check(proto, 0, 0xff, 'flush proto'))
}

/** Encode `xfrm_userpolicy_info` + XFRMA_TMPL and the other attributes, in iproute2's order. */
export function encodePolicy(req: XfrmPolicyRequest): Buffer {
  const info = Buffer.alloc(XFRM_USERPOLICY_INFO_LEN)
  writeSelector(info, 0, req.selector)
  writeLifetimeCfg(info, 56, req.lifetime ?? unlimited())
  writeLifetimeCur(info, 120, req.current ?? zeroLifetimeCur())
  writeHostU32(info, check(req.priority ?? 0, 0, 0xffffffff, 'priority'), 152)
  writeHostU32(info, check(req.index ?? 0, 0, 0xffffffff, 'index'), 156)
  info[160] = check(req.dir, 0, 0xff, 'dir')
  info[161] = check(req.action ?? 0, 0, 0xff, 'action')
  info[162] = check(req.flags ?? 0, 0, 0xff, 'policy flags')
  info[163] = check(req.share ?? 0, 0, 0xff, 'share')
  const w = new AttrWriter(512)
  w.raw(info)
  if (req.templates?.length) w.attr(XFRMA.TMPL, encodeTemplates(req.templates))
  writePolicyType(w, req.type)
  writeCommon(w, req)
  return w.toBuffer()
}

/** Decode an `xfrm_userpolicy_info` payload (NEWPOLICY, UPDPOLICY, dump replies). */
export function decodePolicy(payload: Buffer, baseOffset = 0): XfrmPolicyMessage {
  requireLength(payload, XFRM_USERPOLICY_INFO_LEN, baseOffset, 'xfrm_userpolicy_info')
  const attrs = decodeAttributes(
    payload.subarray(XFRM_USERPOLICY_INFO_LEN),
    baseOffset + XFRM_USERPOLICY_INFO_LEN,
  )
  const p: XfrmPolicyMessage = {
    selector: readSelector(payload, 0),
    lifetime: readLifetimeCfg(payload, 56),
    current: readLifetimeCur(payload, 120),
    priority: readHostU32(payload, 152),
    index: readHostU32(payload, 156),
    dir: payload[160] ?? 0,
    action: payload[161] ?? 0,
    flags: payload[162] ?? 0,
    share: payload[163] ?? 0,
    templates: [],
    attrs,
  }
  for (const a of attrs) {
    switch (a.type) {
      case XFRMA.TMPL:
        p.templates = decodeTemplates(a.value, a.offset + 4)
        break
      case XFRMA.POLICY_TYPE:
        p.type = readPolicyType(a)
        break
      case XFRMA.MARK:
        p.mark = decodeMark(a.value, a.offset + 4)
        break
      case XFRMA.IF_ID:
        p.ifId = readU32(a, 'XFRMA_IF_ID')
        break
    }
  }
  return p
}

/** Encode `xfrm_userpolicy_id` (+ policy type, mark, if_id) for DELPOLICY / GETPOLICY. */
export function encodePolicyId(id: XfrmPolicyId): Buffer {
  const buf = Buffer.alloc(XFRM_USERPOLICY_ID_LEN)
  writeSelector(buf, 0, id.selector ?? anySelector())
  writeHostU32(buf, check(id.index ?? 0, 0, 0xffffffff, 'index'), XFRM_SELECTOR_LEN)
  buf[60] = check(id.dir, 0, 0xff, 'dir')
  const w = new AttrWriter(128)
  w.raw(buf)
  writePolicyType(w, id.type)
  writeCommon(w, id)
  return w.toBuffer()
}

/** Decode `xfrm_userpolicy_id` and its attributes (DELPOLICY notifications carry it). */
export function decodePolicyId(payload: Buffer, baseOffset = 0): XfrmPolicyId & { attrs: Attribute[] } {
  requireLength(payload, XFRM_USERPOLICY_ID_LEN, baseOffset, 'xfrm_userpolicy_id')
  const attrs = decodeAttributes(
    payload.subarray(XFRM_USERPOLICY_ID_LEN),
    baseOffset + XFRM_USERPOLICY_ID_LEN,
  )
  const id: XfrmPolicyId & { attrs: Attribute[] } = {
    selector: readSelector(payload, 0),
    index: readHostU32(payload, 56),
    dir: payload[60] ?? 0,
    attrs,
  }
  for (const a of attrs) {
    if (a.type === XFRMA.POLICY_TYPE) id.type = readPolicyType(a)
    else if (a.type === XFRMA.MARK) id.mark = decodeMark(a.value, a.offset + 4)
    else if (a.type === XFRMA.IF_ID) id.ifId = readU32(a, 'XFRMA_IF_ID')
  }
  return id
}

/** XFRM_MSG_FLUSHPOLICY's payload: empty (what iproute2 sends), or one XFRMA_POLICY_TYPE. */
export function encodePolicyFlush(type?: number): Buffer {
  const w = new AttrWriter(16)
  writePolicyType(w, type)
  return w.toBuffer()
}

/** A decoded NETLINK_XFRM message body, by message type (what dumps and events carry). */
export type XfrmMessageBody =
  | { kind: 'state'; state: XfrmStateMessage }
  | { kind: 'state-id'; id: ReturnType<typeof decodeStateId> }
  | { kind: 'policy'; policy: XfrmPolicyMessage }
  | { kind: 'policy-id'; id: ReturnType<typeof decodePolicyId> }
  | { kind: 'dump'; type: number; attrs: Attribute[] }
  | { kind: 'other'; type: number; payload: Buffer }

/** Decode the payload of one XFRM_MSG_* message (`flags`: its nlmsg_flags, which tell a dump request
 * from a get); types this codec does not model come back raw. */
export function decodeXfrmPayload(type: number, payload: Buffer, baseOffset = 0, flags = 0): XfrmMessageBody {
  switch (type) {
    case XFRM_MSG.NEWSA:
    case XFRM_MSG.UPDSA:
      return { kind: 'state', state: decodeState(payload, baseOffset) }
    case XFRM_MSG.GETSA:
    case XFRM_MSG.GETPOLICY:
      // A dump request carries no id, only attributes (XFRMA_ADDRESS_FILTER from iproute2).
      if (flags & NLM_F.DUMP) return { kind: 'dump', type, attrs: decodeAttributes(payload, baseOffset) }
      return type === XFRM_MSG.GETSA
        ? { kind: 'state-id', id: decodeStateId(payload, baseOffset) }
        : { kind: 'policy-id', id: decodePolicyId(payload, baseOffset) }
    case XFRM_MSG.DELSA:
      return { kind: 'state-id', id: decodeStateId(payload, baseOffset) }
    case XFRM_MSG.NEWPOLICY:
    case XFRM_MSG.UPDPOLICY:
      return { kind: 'policy', policy: decodePolicy(payload, baseOffset) }
    case XFRM_MSG.DELPOLICY:
      return { kind: 'policy-id', id: decodePolicyId(payload, baseOffset) }
    default:
      return { kind: 'other', type, payload }
  }
}

/** One received NETLINK_XFRM message: an xfrm body, or the ACK / error / end of dump. */
export type XfrmDecoded =
  { header: NlMsgHeader; body: XfrmMessageBody } | { header: NlMsgHeader; error: NlmsgerrSummary }

/** Split a NETLINK_XFRM receive buffer into messages and decode each. Throws NetlinkDecodeError only. */
export function decodeXfrmMessages(buf: Buffer): XfrmDecoded[] {
  return parseMessages(buf).map((m) => {
    const base = m.offset + NLMSG_HDRLEN
    if (m.header.type === NLMSG.ERROR || m.header.type === NLMSG.DONE)
      return {
        header: m.header,
        error: decodeNlmsgerr(m.payload, m.header.flags, {
          done: m.header.type === NLMSG.DONE,
          baseOffset: base,
        }),
      }
    return { header: m.header, body: decodeXfrmPayload(m.header.type, m.payload, base, m.header.flags) }
  })
}
