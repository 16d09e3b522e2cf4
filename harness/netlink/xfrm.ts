/**
 * IPsec states (security associations) and policies through NETLINK_XFRM
 * (ip/xfrm_state.c and ip/xfrm_policy.c's job): a handle opened inside a
 * namespace, like Netlink for rtnetlink, on a socket of its own protocol.
 */
import type { NetnsRef } from '../netns/index.js'
import { parseCidr } from '../util/ip.js'
import { AF, NLM_F } from './codec/constants.js'
import {
  IPSEC_PROTO,
  NETLINK_XFRM,
  XFRM_ACTION,
  XFRM_DIR,
  XFRM_MODE,
  XFRM_MSG,
} from './codec/xfrm-constants.js'
import {
  type XfrmPolicyMessage,
  type XfrmStateMessage,
  decodePolicy,
  decodeState,
  encodePolicy,
  encodePolicyFlush,
  encodePolicyId,
  encodeState,
  encodeStateFlush,
  encodeStateId,
} from './codec/messages/xfrm.js'
import {
  type XfrmAeadAlgorithm,
  type XfrmAlgorithm,
  type XfrmAuthAlgorithm,
  type XfrmMark,
  type XfrmSelector,
  type XfrmTemplate,
  anySelector,
  familyOf,
} from './codec/messages/xfrm-structs.js'
import { NetlinkError, type RequestContext } from './transport/errors.js'
import { NetlinkSocket } from './transport/socket.js'

export type XfrmProto = 'esp' | 'ah' | 'comp'
export type XfrmMode = 'transport' | 'tunnel' | 'beet'
export type XfrmDir = 'in' | 'out' | 'fwd'

const PROTO: Record<XfrmProto, number> = { esp: IPSEC_PROTO.ESP, ah: IPSEC_PROTO.AH, comp: IPSEC_PROTO.COMP }
const MODE: Record<XfrmMode, number> = {
  transport: XFRM_MODE.TRANSPORT,
  tunnel: XFRM_MODE.TUNNEL,
  beet: XFRM_MODE.BEET,
}
const DIR: Record<XfrmDir, number> = { in: XFRM_DIR.IN, out: XFRM_DIR.OUT, fwd: XFRM_DIR.FWD }

/** The sentence for a kernel without ESP (this project's host kernel is one). */
export const ESP_MISSING =
  'IPsec ESP needs the esp4/esp6 kernel modules, which this kernel lacks; run it in the VM runner (nslab vm run / npm run test:vm)'

/** The kernel cannot do what an IPsec state asks (no ESP/AH type): exit code 3 territory. */
export class XfrmUnsupportedError extends Error {
  override readonly name = 'XfrmUnsupportedError'
  constructor(
    readonly op: string,
    readonly netns: string,
    /** The kernel's own words. */
    readonly kernelMessage: string,
    options?: ErrorOptions,
  ) {
    super(`${op} in namespace ${netns}: ${ESP_MISSING} (the kernel said: ${kernelMessage})`, options)
  }
}

/** Which packets: CIDR text for each side (default: everything of the family), protocol, ports. */
export interface XfrmSelectorSpec {
  src?: string
  dst?: string
  /** IP protocol number (6 tcp, 17 udp; default any). */
  proto?: number
  sport?: number
  dport?: number
  ifindex?: number
}

export interface XfrmStateSpec {
  /** Outer source and destination addresses. */
  src: string
  dst: string
  spi: number
  proto?: XfrmProto
  mode?: XfrmMode
  reqid?: number
  replayWindow?: number
  aead?: XfrmAeadAlgorithm
  crypt?: XfrmAlgorithm
  auth?: XfrmAlgorithm
  authTrunc?: XfrmAuthAlgorithm
  selector?: XfrmSelectorSpec
  mark?: XfrmMark
  /** Bind to the xfrm interface with this if_id. */
  ifId?: number
}

export interface XfrmStateKey {
  src: string
  dst: string
  spi: number
  proto?: XfrmProto
  mark?: XfrmMark
  ifId?: number
}

/** A state as the kernel reports it. */
export interface XfrmStateInfo {
  src: string
  dst: string
  spi: number
  proto: XfrmProto | number
  mode: XfrmMode | number
  reqid: number
  ifId: number | undefined
  /** Algorithm names (aead, enc, auth). */
  algorithms: string[]
  /** Traffic through it so far. */
  bytes: bigint
  packets: bigint
  message: XfrmStateMessage
}

export interface XfrmTemplateSpec {
  src: string
  dst: string
  proto?: XfrmProto
  mode?: XfrmMode
  reqid?: number
  /** 0 (the default) matches any SPI. */
  spi?: number
  /** `level use` instead of `level required`. */
  optional?: boolean
}

export interface XfrmPolicySpec {
  selector: XfrmSelectorSpec
  dir: XfrmDir
  action?: 'allow' | 'block'
  priority?: number
  templates?: XfrmTemplateSpec[]
  mark?: XfrmMark
  ifId?: number
}

export interface XfrmPolicyKey {
  selector: XfrmSelectorSpec
  dir: XfrmDir
  mark?: XfrmMark
  ifId?: number
}

export interface XfrmPolicyInfo {
  src: string
  dst: string
  dir: XfrmDir | number
  action: 'allow' | 'block'
  priority: number
  index: number
  ifId: number | undefined
  templates: { src: string; dst: string; proto: XfrmProto | number; mode: XfrmMode | number; reqid: number }[]
  message: XfrmPolicyMessage
}

function nameOf<K extends string>(table: Record<K, number>, value: number): K | number {
  for (const [k, v] of Object.entries(table) as [K, number][]) if (v === value) return k
  return value
}

/** A selector from CIDR text; the family comes from whichever side is given (IPv4 with neither). */
export function selectorOf(spec: XfrmSelectorSpec, fallbackFamily: number = AF.INET): XfrmSelector {
  const src = spec.src === undefined ? undefined : parseCidr(spec.src)
  const dst = spec.dst === undefined ? undefined : parseCidr(spec.dst)
  const family = src?.family ?? dst?.family ?? fallbackFamily
  if (src && dst && src.family !== dst.family)
    throw new TypeError(`selector ${spec.src} -> ${spec.dst} mixes IPv4 and IPv6`)
  const s = anySelector(family)
  if (src) Object.assign(s, { saddr: src.address, prefixlenS: src.prefixLen })
  if (dst) Object.assign(s, { daddr: dst.address, prefixlenD: dst.prefixLen })
  if (spec.proto !== undefined) s.proto = spec.proto
  if (spec.sport !== undefined) Object.assign(s, { sport: spec.sport, sportMask: 0xffff })
  if (spec.dport !== undefined) Object.assign(s, { dport: spec.dport, dportMask: 0xffff })
  if (spec.ifindex !== undefined) s.ifindex = spec.ifindex
  return s
}

function cidrText(addr: string, len: number): string {
  return `${addr}/${len}`
}

function stateLabel(s: { src: string; dst: string; spi: number; proto?: XfrmProto }): string {
  return `${s.proto ?? 'esp'} spi 0x${s.spi.toString(16)} ${s.src} -> ${s.dst}`
}

function policyLabel(p: { selector: XfrmSelectorSpec; dir: XfrmDir }): string {
  return `${p.selector.src ?? 'any'} -> ${p.selector.dst ?? 'any'} dir ${p.dir}`
}

export function toStateInfo(m: XfrmStateMessage): XfrmStateInfo {
  return {
    src: m.saddr,
    dst: m.id.daddr,
    spi: m.id.spi,
    proto: nameOf(PROTO, m.id.proto),
    mode: nameOf(MODE, m.mode),
    reqid: m.reqid,
    ifId: m.ifId,
    algorithms: [m.aead, m.crypt, m.auth, m.authTrunc].flatMap((a) => (a ? [a.name] : [])),
    bytes: m.current.bytes,
    packets: m.current.packets,
    message: m,
  }
}

export function toPolicyInfo(m: XfrmPolicyMessage): XfrmPolicyInfo {
  return {
    src: cidrText(m.selector.saddr, m.selector.prefixlenS),
    dst: cidrText(m.selector.daddr, m.selector.prefixlenD),
    dir: nameOf(DIR, m.dir),
    action: m.action === XFRM_ACTION.BLOCK ? 'block' : 'allow',
    priority: m.priority,
    index: m.index,
    ifId: m.ifId,
    templates: m.templates.map((t) => ({
      src: t.saddr,
      dst: t.id.daddr,
      proto: nameOf(PROTO, t.id.proto),
      mode: nameOf(MODE, t.mode),
      reqid: t.reqid,
    })),
    message: m,
  }
}

function template(t: XfrmTemplateSpec): XfrmTemplate {
  const family = familyOf(t.src)
  return {
    id: { daddr: t.dst, spi: t.spi ?? 0, proto: PROTO[t.proto ?? 'esp'] },
    family,
    saddr: t.src,
    reqid: t.reqid ?? 0,
    mode: MODE[t.mode ?? 'tunnel'],
    share: 0,
    optional: t.optional ? 1 : 0,
    // Any algorithm, as iproute2 sends unless told otherwise.
    aalgos: 0xffffffff,
    ealgos: 0xffffffff,
    calgos: 0xffffffff,
  }
}

/** A NETLINK_XFRM handle bound to one namespace. */
export class Xfrm {
  readonly socket: NetlinkSocket

  private constructor(socket: NetlinkSocket) {
    this.socket = socket
  }

  /** Open a handle in a namespace (default: the calling thread's). */
  static open(netns?: NetnsRef): Xfrm {
    return new Xfrm(NetlinkSocket.open({ netns, protocol: NETLINK_XFRM }))
  }

  get netns(): string {
    return this.socket.netns
  }

  /** Add a state (`ip xfrm state add`); on a kernel without ESP: XfrmUnsupportedError. */
  async addState(spec: XfrmStateSpec): Promise<void> {
    const ctx: RequestContext = { op: 'add xfrm state', object: stateLabel(spec) }
    try {
      await this.sendState(spec, ctx)
    } catch (err) {
      throw await this.explain(err, spec, ctx)
    }
  }

  private async sendState(spec: XfrmStateSpec, ctx: RequestContext): Promise<void> {
    const family = familyOf(spec.src)
    const payload = encodeState({
      id: { daddr: spec.dst, spi: spec.spi, proto: PROTO[spec.proto ?? 'esp'] },
      saddr: spec.src,
      family,
      reqid: spec.reqid ?? 0,
      mode: MODE[spec.mode ?? 'tunnel'],
      replayWindow: spec.replayWindow ?? 0,
      selector: spec.selector ? selectorOf(spec.selector, family) : anySelector(),
      aead: spec.aead,
      crypt: spec.crypt,
      auth: spec.auth,
      authTrunc: spec.authTrunc,
      mark: spec.mark,
      ifId: spec.ifId,
    })
    await this.socket.request(XFRM_MSG.NEWSA, NLM_F.CREATE | NLM_F.EXCL, payload, ctx)
  }

  /**
   * Turn "no such xfrm type" into one sentence. EPROTONOSUPPORT ("Requested
   * type not found") means the protocol's module is missing. ENOSYS ("Requested
   * AEAD algorithm not found") comes first when the crypto is missing too: a
   * second request with common algorithms (added and removed at once) tells a
   * kernel without ESP from a mistyped algorithm name.
   */
  private async explain(err: unknown, spec: XfrmStateSpec, ctx: RequestContext): Promise<unknown> {
    if (!(err instanceof NetlinkError)) return err
    const label = `${ctx.op} ${ctx.object ?? ''}`.trim()
    if (err.code === 'EPROTONOSUPPORT')
      return new XfrmUnsupportedError(label, this.netns, err.kernelMessage ?? err.code, { cause: err })
    if (err.code !== 'ENOSYS' || (spec.proto ?? 'esp') !== 'esp') return err
    const probe: XfrmStateSpec = {
      src: spec.src,
      dst: spec.dst,
      spi: 0xfffffffe,
      mode: 'transport',
      crypt: { name: 'cbc(aes)', key: Buffer.alloc(16) },
      auth: { name: 'hmac(sha1)', key: Buffer.alloc(20) },
    }
    try {
      await this.sendState(probe, { op: 'probe ESP with cbc(aes)' })
      await this.deleteState(probe).catch(() => {})
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'EPROTONOSUPPORT')
        return new XfrmUnsupportedError(label, this.netns, err.kernelMessage ?? err.code, { cause: err })
    }
    return err
  }

  /** Delete a state by (dst, spi, proto), with src as iproute2 sends it. */
  async deleteState(key: XfrmStateKey): Promise<void> {
    await this.socket.request(XFRM_MSG.DELSA, 0, encodeStateId(stateId(key)), {
      op: 'delete xfrm state',
      object: stateLabel(key),
    })
  }

  async getState(key: XfrmStateKey): Promise<XfrmStateInfo> {
    const replies = await this.socket.request(XFRM_MSG.GETSA, 0, encodeStateId(stateId(key)), {
      op: 'get xfrm state',
      object: stateLabel(key),
    })
    const m = replies.find((r) => r.header.type === XFRM_MSG.NEWSA)
    if (!m) throw new Error(`get xfrm state ${stateLabel(key)} in ${this.netns}: the kernel sent no state`)
    return toStateInfo(decodeState(m.payload))
  }

  async listStates(): Promise<XfrmStateInfo[]> {
    const parts = await this.socket.dump(XFRM_MSG.GETSA, Buffer.alloc(0), { op: 'list xfrm states' })
    return parts
      .filter((m) => m.header.type === XFRM_MSG.NEWSA)
      .map((m) => toStateInfo(decodeState(m.payload)))
  }

  /** Remove every state (`ip xfrm state flush`). */
  async flushStates(): Promise<void> {
    await this.socket.request(XFRM_MSG.FLUSHSA, 0, encodeStateFlush(), { op: 'flush xfrm states' })
  }

  /** Add a policy (`ip xfrm policy add`). */
  async addPolicy(spec: XfrmPolicySpec): Promise<void> {
    const payload = encodePolicy({
      selector: selectorOf(spec.selector, spec.templates?.[0] ? familyOf(spec.templates[0].src) : AF.INET),
      dir: DIR[spec.dir],
      action: spec.action === 'block' ? XFRM_ACTION.BLOCK : XFRM_ACTION.ALLOW,
      priority: spec.priority ?? 0,
      templates: (spec.templates ?? []).map(template),
      mark: spec.mark,
      ifId: spec.ifId,
    })
    await this.socket.request(XFRM_MSG.NEWPOLICY, NLM_F.CREATE | NLM_F.EXCL, payload, {
      op: 'add xfrm policy',
      object: policyLabel(spec),
    })
  }

  /** Delete a policy by selector and direction (`ip xfrm policy del`). */
  async deletePolicy(key: XfrmPolicyKey): Promise<void> {
    const payload = encodePolicyId({
      selector: selectorOf(key.selector),
      dir: DIR[key.dir],
      mark: key.mark,
      ifId: key.ifId,
    })
    await this.socket.request(XFRM_MSG.DELPOLICY, 0, payload, {
      op: 'delete xfrm policy',
      object: policyLabel(key),
    })
  }

  async listPolicies(): Promise<XfrmPolicyInfo[]> {
    const parts = await this.socket.dump(XFRM_MSG.GETPOLICY, Buffer.alloc(0), { op: 'list xfrm policies' })
    return parts
      .filter((m) => m.header.type === XFRM_MSG.NEWPOLICY)
      .map((m) => toPolicyInfo(decodePolicy(m.payload)))
  }

  /** Remove every policy (`ip xfrm policy flush`). */
  async flushPolicies(): Promise<void> {
    await this.socket.request(XFRM_MSG.FLUSHPOLICY, 0, encodePolicyFlush(), { op: 'flush xfrm policies' })
  }

  close(): void {
    this.socket.close()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}

function stateId(key: XfrmStateKey) {
  return {
    daddr: key.dst,
    saddr: key.src,
    spi: key.spi,
    family: familyOf(key.dst),
    proto: PROTO[key.proto ?? 'esp'],
    mark: key.mark,
    ifId: key.ifId,
  }
}
