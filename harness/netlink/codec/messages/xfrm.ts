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
import { NetlinkDecodeError } from '../errors.js'
import { NLMSG_HDRLEN, type NlMsgHeader, parseMessages } from '../header.js'
import { AF, NLMSG, NLM_F } from '../constants.js'
import { type NlmsgerrSummary, decodeNlmsgerr } from '../nlmsgerr.js'
import { XFRMA, XFRM_MSG, XFRM_POLICY_TYPE } from '../xfrm-constants.js'
import {
  type AttrSpec,
  type Fields,
  compileAttrs,
  defineStruct,
  encodeStruct,
  putStruct,
  writeAttrs,
} from './table.js'
import {
  XFRM_ADDRESS_LEN,
  XFRM_ALGO_AEAD_LEN,
  XFRM_ALGO_AUTH_LEN,
  XFRM_ALGO_LEN,
  XFRM_LIFETIME_CFG,
  XFRM_LIFETIME_CUR,
  XFRM_MARK,
  XFRM_SELECTOR_LEN,
  XFRM_STATS,
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
  decodeTemplates,
  encodeAlgorithm,
  encodeEncap,
  encodeTemplates,
  familyOf,
  readId,
  readSelector,
  readXfrmAddress,
  requireLength,
  unlimited,
  writeId,
  writeSelector,
  writeXfrmAddress,
  zeroLifetimeCur,
} from './xfrm-structs.js'

export const XFRM_USERSA_INFO_LEN = 224
export const XFRM_USERSA_ID_LEN = 24
export const XFRM_USERPOLICY_INFO_LEN = 168
export const XFRM_USERPOLICY_ID_LEN = 64
export const XFRM_USERSA_FLUSH_LEN = 1
export const XFRM_USERPOLICY_TYPE_LEN = 6

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

// ------------------------------------------------------------------- the tables

/** `xfrm_usersa_info`'s own fields (its selector, id, saddr, lifetimes and stats are structs of their own). */
const USERSA_INFO = defineStruct({
  cName: 'xfrm_usersa_info',
  size: XFRM_USERSA_INFO_LEN,
  fields: [
    { key: 'seq', offset: 204, type: 'u32', cName: 'seq' },
    { key: 'reqid', offset: 208, type: 'u32', cName: 'reqid' },
    { key: 'family', offset: 212, type: 'u16', cName: 'state family' },
    { key: 'mode', offset: 214, type: 'u8', cName: 'mode' },
    { key: 'replayWindow', offset: 215, type: 'u8', cName: 'replay window' },
    { key: 'flags', offset: 216, type: 'u8', cName: 'state flags' },
  ],
})

/** `xfrm_usersa_id` but its address. */
const USERSA_ID = defineStruct({
  cName: 'xfrm_usersa_id',
  size: XFRM_USERSA_ID_LEN,
  fields: [
    { key: 'spi', offset: 16, type: 'be32', cName: 'spi' },
    { key: 'family', offset: 20, type: 'u16', cName: 'state family' },
    { key: 'proto', offset: 22, type: 'u8', cName: 'proto' },
  ],
})

/** `xfrm_userpolicy_info`'s own fields (its selector and lifetimes are structs of their own). */
const USERPOLICY_INFO = defineStruct({
  cName: 'xfrm_userpolicy_info',
  size: XFRM_USERPOLICY_INFO_LEN,
  fields: [
    { key: 'priority', offset: 152, type: 'u32', cName: 'priority' },
    { key: 'index', offset: 156, type: 'u32', cName: 'index' },
    { key: 'dir', offset: 160, type: 'u8', cName: 'dir' },
    { key: 'action', offset: 161, type: 'u8', cName: 'action' },
    { key: 'flags', offset: 162, type: 'u8', cName: 'policy flags' },
    { key: 'share', offset: 163, type: 'u8', cName: 'share' },
  ],
})

/** `xfrm_userpolicy_id`'s own fields (its selector is a struct of its own). */
const USERPOLICY_ID = defineStruct({
  cName: 'xfrm_userpolicy_id',
  size: XFRM_USERPOLICY_ID_LEN,
  fields: [
    { key: 'index', offset: XFRM_SELECTOR_LEN, type: 'u32', cName: 'index' },
    { key: 'dir', offset: 60, type: 'u8', cName: 'dir' },
  ],
})

/** `struct xfrm_userpolicy_type` (XFRMA_POLICY_TYPE's value): the type, then padding. */
const USERPOLICY_TYPE = defineStruct({
  cName: 'xfrm_userpolicy_type',
  size: XFRM_USERPOLICY_TYPE_LEN,
  fields: [{ key: 'type', offset: 0, type: 'u8', cName: 'policy type' }],
})

/** An algorithm attribute: `head` bytes of struct (68 or 72), then the key; `extra`: the 72-byte form's own field. */
function algorithm(
  type: number,
  key: string,
  name: string,
  head: number,
  extra?: 'icvBits' | 'truncBits',
): AttrSpec {
  return {
    type,
    key,
    kind: 'custom',
    name,
    decode: (a, out) => {
      const { extra: value, ...alg } = decodeAlgorithm(a.value, a.offset + 4, name, head)
      out[key] = extra === undefined ? alg : { ...alg, [extra]: value }
    },
    encode: (w, v) => {
      const alg = v as XfrmAlgorithm & Partial<Record<'icvBits' | 'truncBits', number>>
      w.attr(type, encodeAlgorithm(alg, extra === undefined ? undefined : (alg[extra] ?? 0)))
    },
  }
}

/** XFRMA_MARK and XFRMA_IF_ID, which states and policies share (written last, in this order). */
const COMMON: AttrSpec[] = [
  { type: XFRMA.MARK, key: 'mark', kind: 'struct', name: 'XFRMA_MARK', struct: XFRM_MARK },
  { type: XFRMA.IF_ID, key: 'ifId', kind: 'u32', name: 'XFRMA_IF_ID' },
]

const POLICY_TYPE: AttrSpec = {
  type: XFRMA.POLICY_TYPE,
  key: 'type',
  kind: 'custom',
  name: 'XFRMA_POLICY_TYPE',
  decode: (a, out) => {
    requireLength(a.value, 1, a.offset, 'XFRMA_POLICY_TYPE')
    out.type = a.value[0] ?? XFRM_POLICY_TYPE.MAIN
  },
  encode: (w, v) => void w.attr(XFRMA.POLICY_TYPE, encodeStruct(USERPOLICY_TYPE, { type: v })),
}

/** A state's attributes, in the order iproute2 writes them for `aead` / `enc ... auth ...`. */
const STATE_ATTRS = compileAttrs([
  algorithm(XFRMA.ALG_AEAD, 'aead', 'XFRMA_ALG_AEAD', XFRM_ALGO_AEAD_LEN, 'icvBits'),
  algorithm(XFRMA.ALG_CRYPT, 'crypt', 'XFRMA_ALG_CRYPT', XFRM_ALGO_LEN),
  algorithm(XFRMA.ALG_AUTH_TRUNC, 'authTrunc', 'XFRMA_ALG_AUTH_TRUNC', XFRM_ALGO_AUTH_LEN, 'truncBits'),
  algorithm(XFRMA.ALG_AUTH, 'auth', 'XFRMA_ALG_AUTH', XFRM_ALGO_LEN),
  {
    type: XFRMA.ENCAP,
    key: 'encap',
    kind: 'custom',
    name: 'XFRMA_ENCAP',
    decode: (a, out, family) => (out.encap = decodeEncap(a.value, a.offset + 4, family)),
    encode: (w, v) => void w.attr(XFRMA.ENCAP, encodeEncap(v as XfrmEncap)),
  },
  { type: XFRMA.SA_EXTRA_FLAGS, key: 'extraFlags', kind: 'u32', name: 'XFRMA_SA_EXTRA_FLAGS' },
  // The output mark travels as two u32 attributes; a mask alone is no mark (see decodeState).
  {
    type: XFRMA.SET_MARK,
    key: 'outputMark',
    kind: 'custom',
    name: 'XFRMA_SET_MARK',
    decode: (a, out) => {
      const mask = (out.outputMark as Partial<XfrmMark> | undefined)?.mask ?? 0xffffffff
      out.outputMark = { value: readU32(a, 'XFRMA_SET_MARK'), mask }
    },
    encode: (w, v) => void w.u32(XFRMA.SET_MARK, (v as XfrmMark).value),
  },
  {
    type: XFRMA.SET_MARK_MASK,
    key: 'outputMarkMask',
    kind: 'custom',
    name: 'XFRMA_SET_MARK_MASK',
    get: (r) => (r.outputMark as XfrmMark | undefined)?.mask,
    decode: (a, out) => {
      const mark = (out.outputMark ??= { value: undefined }) as Partial<XfrmMark>
      mark.mask = readU32(a, 'XFRMA_SET_MARK_MASK')
    },
    encode: (w, v) => void w.u32(XFRMA.SET_MARK_MASK, v as number),
  },
  ...COMMON,
])

/** A state id's attributes (after `xfrm_usersa_id`), as iproute2 writes them. */
const STATE_ID_ATTRS = compileAttrs([
  {
    type: XFRMA.SRCADDR,
    key: 'saddr',
    kind: 'custom',
    name: 'XFRMA_SRCADDR',
    decode: (a, out, family) => {
      if (a.value.length !== XFRM_ADDRESS_LEN)
        throw new NetlinkDecodeError(
          a.offset,
          'bad-attribute-value',
          `XFRMA_SRCADDR at offset ${a.offset} must be ${XFRM_ADDRESS_LEN} bytes but is ${a.value.length}`,
        )
      out.saddr = readXfrmAddress(a.value, 0, family)
    },
    encode: (w, v, family) => {
      const a = Buffer.alloc(XFRM_ADDRESS_LEN)
      writeXfrmAddress(a, 0, v as string, family, 'saddr')
      w.attr(XFRMA.SRCADDR, a)
    },
  },
  ...COMMON,
])

/** A policy's attributes, in iproute2's order: templates, type, mark, if_id. */
const POLICY_ATTRS = compileAttrs([
  {
    type: XFRMA.TMPL,
    key: 'templates',
    kind: 'custom',
    name: 'XFRMA_TMPL',
    get: (r) => ((r.templates as XfrmTemplate[] | undefined)?.length ? r.templates : undefined),
    decode: (a, out) => (out.templates = decodeTemplates(a.value, a.offset + 4)),
    encode: (w, v) => void w.attr(XFRMA.TMPL, encodeTemplates(v as XfrmTemplate[])),
  },
  POLICY_TYPE,
  ...COMMON,
])

/** A policy id's (and a policy flush's) attributes. */
const POLICY_ID_ATTRS = compileAttrs([POLICY_TYPE, ...COMMON])

// ----------------------------------------------------------------- the messages

/** Encode `xfrm_usersa_info` + attributes, in iproute2's order for `aead` / `enc ... auth ...`. */
export function encodeState(req: XfrmStateRequest): Buffer {
  const family = req.family ?? familyOf(req.saddr)
  const info = Buffer.alloc(XFRM_USERSA_INFO_LEN)
  putStruct(USERSA_INFO, info, 0, { ...req, family })
  writeSelector(info, 0, req.selector ?? anySelector())
  writeId(info, 56, req.id, family)
  writeXfrmAddress(info, 80, req.saddr, family, 'saddr')
  putStruct(XFRM_LIFETIME_CFG, info, 96, req.lifetime ?? unlimited())
  putStruct(XFRM_LIFETIME_CUR, info, 160, req.current ?? zeroLifetimeCur())
  putStruct(XFRM_STATS, info, 192, req.stats ?? { replayWindow: 0, replay: 0, integrityFailed: 0 })
  const w = new AttrWriter(512)
  w.raw(info)
  writeAttrs(w, STATE_ATTRS, req, family)
  return w.toBuffer()
}

/** Decode an `xfrm_usersa_info` payload (NEWSA, UPDSA, dump replies). */
export function decodeState(payload: Buffer, baseOffset = 0): XfrmStateMessage {
  requireLength(payload, XFRM_USERSA_INFO_LEN, baseOffset, 'xfrm_usersa_info')
  const head = USERSA_INFO.read(payload, 0) as Pick<
    XfrmState,
    'seq' | 'reqid' | 'family' | 'mode' | 'replayWindow' | 'flags'
  >
  const family = head.family
  const attrs = decodeAttributes(payload.subarray(XFRM_USERSA_INFO_LEN), baseOffset + XFRM_USERSA_INFO_LEN)
  const s = {
    selector: readSelector(payload, 0),
    id: readId(payload, 56, family),
    saddr: readXfrmAddress(payload, 80, family),
    lifetime: XFRM_LIFETIME_CFG.read(payload, 96) as unknown as XfrmLifetimeCfg,
    current: XFRM_LIFETIME_CUR.read(payload, 160) as unknown as XfrmLifetimeCur,
    stats: XFRM_STATS.read(payload, 192) as unknown as XfrmStats,
    ...head,
    attrs,
  } as XfrmStateMessage
  STATE_ATTRS.decodeInto(attrs, s as unknown as Fields, family)
  if (s.outputMark && s.outputMark.value === undefined) delete s.outputMark
  return s
}

/** Encode `xfrm_usersa_id` (+ XFRMA_SRCADDR, mark, if_id) for DELSA / GETSA. */
export function encodeStateId(id: XfrmStateId): Buffer {
  const buf = Buffer.alloc(XFRM_USERSA_ID_LEN)
  putStruct(USERSA_ID, buf, 0, id)
  writeXfrmAddress(buf, 0, id.daddr, id.family, 'daddr')
  const w = new AttrWriter(128)
  w.raw(buf)
  writeAttrs(w, STATE_ID_ATTRS, id, id.family)
  return w.toBuffer()
}

/** Decode `xfrm_usersa_id` and its attributes (DELSA notifications carry it). */
export function decodeStateId(payload: Buffer, baseOffset = 0): XfrmStateId & { attrs: Attribute[] } {
  requireLength(payload, XFRM_USERSA_ID_LEN, baseOffset, 'xfrm_usersa_id')
  const head = USERSA_ID.read(payload, 0) as Pick<XfrmStateId, 'spi' | 'family' | 'proto'>
  const attrs = decodeAttributes(payload.subarray(XFRM_USERSA_ID_LEN), baseOffset + XFRM_USERSA_ID_LEN)
  const id = { daddr: readXfrmAddress(payload, 0, head.family), ...head, attrs }
  STATE_ID_ATTRS.decodeInto(attrs, id as Fields, head.family)
  return id
}

/** `xfrm_usersa_flush`: flush states of one protocol (0, the default as in iproute2, flushes all). */
export function encodeStateFlush(proto = 0): Buffer {
  return encodeStruct(USERSA_FLUSH, { proto })
}

/** `struct xfrm_usersa_flush`. */
const USERSA_FLUSH = defineStruct({
  cName: 'xfrm_usersa_flush',
  size: XFRM_USERSA_FLUSH_LEN,
  fields: [{ key: 'proto', offset: 0, type: 'u8', cName: 'flush proto' }],
})

/** Encode `xfrm_userpolicy_info` + XFRMA_TMPL and the other attributes, in iproute2's order. */
export function encodePolicy(req: XfrmPolicyRequest): Buffer {
  const info = Buffer.alloc(XFRM_USERPOLICY_INFO_LEN)
  putStruct(USERPOLICY_INFO, info, 0, req)
  writeSelector(info, 0, req.selector)
  putStruct(XFRM_LIFETIME_CFG, info, 56, req.lifetime ?? unlimited())
  putStruct(XFRM_LIFETIME_CUR, info, 120, req.current ?? zeroLifetimeCur())
  const w = new AttrWriter(512)
  w.raw(info)
  writeAttrs(w, POLICY_ATTRS, req, req.selector.family)
  return w.toBuffer()
}

/** Decode an `xfrm_userpolicy_info` payload (NEWPOLICY, UPDPOLICY, dump replies). */
export function decodePolicy(payload: Buffer, baseOffset = 0): XfrmPolicyMessage {
  requireLength(payload, XFRM_USERPOLICY_INFO_LEN, baseOffset, 'xfrm_userpolicy_info')
  const attrs = decodeAttributes(
    payload.subarray(XFRM_USERPOLICY_INFO_LEN),
    baseOffset + XFRM_USERPOLICY_INFO_LEN,
  )
  const selector = readSelector(payload, 0)
  const p = {
    selector,
    lifetime: XFRM_LIFETIME_CFG.read(payload, 56) as unknown as XfrmLifetimeCfg,
    current: XFRM_LIFETIME_CUR.read(payload, 120) as unknown as XfrmLifetimeCur,
    ...(USERPOLICY_INFO.read(payload, 0) as Pick<
      XfrmPolicy,
      'priority' | 'index' | 'dir' | 'action' | 'flags' | 'share'
    >),
    templates: [] as XfrmTemplate[],
    attrs,
  }
  POLICY_ATTRS.decodeInto(attrs, p as unknown as Fields, selector.family)
  return p
}

/** Encode `xfrm_userpolicy_id` (+ policy type, mark, if_id) for DELPOLICY / GETPOLICY. */
export function encodePolicyId(id: XfrmPolicyId): Buffer {
  const buf = Buffer.alloc(XFRM_USERPOLICY_ID_LEN)
  putStruct(USERPOLICY_ID, buf, 0, id)
  const selector = id.selector ?? anySelector()
  writeSelector(buf, 0, selector)
  const w = new AttrWriter(128)
  w.raw(buf)
  writeAttrs(w, POLICY_ID_ATTRS, id, selector.family)
  return w.toBuffer()
}

/** Decode `xfrm_userpolicy_id` and its attributes (DELPOLICY notifications carry it). */
export function decodePolicyId(payload: Buffer, baseOffset = 0): XfrmPolicyId & { attrs: Attribute[] } {
  requireLength(payload, XFRM_USERPOLICY_ID_LEN, baseOffset, 'xfrm_userpolicy_id')
  const attrs = decodeAttributes(
    payload.subarray(XFRM_USERPOLICY_ID_LEN),
    baseOffset + XFRM_USERPOLICY_ID_LEN,
  )
  const selector = readSelector(payload, 0)
  const id = {
    selector,
    ...(USERPOLICY_ID.read(payload, 0) as Pick<XfrmPolicyId, 'index' | 'dir'>),
    attrs,
  }
  POLICY_ID_ATTRS.decodeInto(attrs, id as Fields, selector.family)
  return id
}

/** XFRM_MSG_FLUSHPOLICY's payload: empty (what iproute2 sends), or one XFRMA_POLICY_TYPE. */
export function encodePolicyFlush(type?: number): Buffer {
  const w = new AttrWriter(16)
  writeAttrs(w, POLICY_ID_ATTRS, { type }, AF.UNSPEC)
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
