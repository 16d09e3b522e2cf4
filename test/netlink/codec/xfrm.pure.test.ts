import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AF, NLM_F } from '../../../harness/netlink/codec/constants.js'
import { NetlinkDecodeError, NetlinkEncodeError } from '../../../harness/netlink/codec/errors.js'
import { NLMSG_HDRLEN, decodeHeader, nlmsgAlign, writeHeader } from '../../../harness/netlink/codec/header.js'
import { encodeRequest } from '../../../harness/netlink/codec/message.js'
import {
  IPSEC_PROTO,
  XFRMA,
  XFRM_DIR,
  XFRM_INF,
  XFRM_MODE,
  XFRM_MSG,
  XFRM_POLICY_TYPE,
} from '../../../harness/netlink/codec/xfrm-constants.js'
import {
  XFRM_USERPOLICY_ID_LEN,
  XFRM_USERPOLICY_INFO_LEN,
  XFRM_USERSA_ID_LEN,
  XFRM_USERSA_INFO_LEN,
  type XfrmPolicyRequest,
  type XfrmStateRequest,
  decodePolicy,
  decodeState,
  decodeXfrmMessages,
  decodeXfrmPayload,
  encodePolicy,
  encodePolicyFlush,
  encodePolicyId,
  encodeState,
  encodeStateFlush,
  encodeStateId,
} from '../../../harness/netlink/codec/messages/xfrm.js'
import {
  type XfrmSelector,
  anySelector,
  unlimited,
} from '../../../harness/netlink/codec/messages/xfrm-structs.js'
import { bytes, type Capture } from './fixtures/capture.js'
import * as fx from './fixtures/xfrm.js'
import { receivedBuffer, sentMessage } from './helpers.js'

const KEY = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex')
const KEY16 = KEY.subarray(0, 16)
const KEY32 = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex')

/** The request `ip` sent, re-encoded from our payload with ip's own type, flags and sequence number. */
function asIpSent(capture: Capture, payload: Buffer): Buffer {
  const h = decodeHeader(sentMessage(capture, 0))
  return encodeRequest({ type: h.type, flags: h.flags, seq: h.seq }, payload).subarray(0, h.length)
}

function cidrSelector(family: number, src: string, plenS: number, dst: string, plenD: number): XfrmSelector {
  return { ...anySelector(family), saddr: src, prefixlenS: plenS, daddr: dst, prefixlenD: plenD }
}

const policyOut: XfrmPolicyRequest = {
  selector: cidrSelector(AF.INET, '198.18.10.0', 24, '198.18.20.0', 24),
  dir: XFRM_DIR.OUT,
  priority: 100,
  templates: [
    {
      id: { daddr: '198.18.0.2', spi: 0, proto: IPSEC_PROTO.ESP },
      family: AF.INET,
      saddr: '198.18.0.1',
      reqid: 7,
      mode: XFRM_MODE.TUNNEL,
      share: 0,
      optional: 0,
      aalgos: 0xffffffff,
      ealgos: 0xffffffff,
      calgos: 0xffffffff,
    },
  ],
}

const policyIn6: XfrmPolicyRequest = {
  selector: {
    ...cidrSelector(AF.INET6, 'fd00:10::', 64, 'fd00:20::', 64),
    proto: 6,
    dport: 443,
    dportMask: 0xffff,
  },
  dir: XFRM_DIR.IN,
  mark: { value: 5, mask: 0xff },
  ifId: 9,
  templates: [
    {
      id: { daddr: 'fd00::1', spi: 0x1234, proto: IPSEC_PROTO.ESP },
      family: AF.INET6,
      saddr: 'fd00::2',
      reqid: 8,
      mode: XFRM_MODE.TUNNEL,
      share: 0,
      optional: 1,
      aalgos: 0xffffffff,
      ealgos: 0xffffffff,
      calgos: 0xffffffff,
    },
  ],
}

const stateAead: XfrmStateRequest = {
  id: { daddr: '198.18.0.2', spi: 0x100, proto: IPSEC_PROTO.ESP },
  saddr: '198.18.0.1',
  reqid: 7,
  mode: XFRM_MODE.TUNNEL,
  aead: { name: 'rfc4106(gcm(aes))', key: KEY, icvBits: 128 },
}

const stateCbc6: XfrmStateRequest = {
  id: { daddr: 'fd00::2', spi: 0x101, proto: IPSEC_PROTO.ESP },
  saddr: 'fd00::1',
  reqid: 8,
  mode: XFRM_MODE.TUNNEL,
  ifId: 9,
  crypt: { name: 'cbc(aes)', key: KEY16 },
  authTrunc: { name: 'hmac(sha256)', key: KEY32, truncBits: 128 },
}

describe('xfrm struct sizes match the kernel header (gcc, x86-64)', () => {
  it('xfrm_usersa_info 224, xfrm_userpolicy_info 168, xfrm_usersa_id 24, xfrm_userpolicy_id 64', () => {
    expect(XFRM_USERSA_INFO_LEN).toBe(224)
    expect(XFRM_USERPOLICY_INFO_LEN).toBe(168)
    expect(XFRM_USERSA_ID_LEN).toBe(24)
    expect(XFRM_USERPOLICY_ID_LEN).toBe(64)
    expect(encodeState({ id: { daddr: '198.18.0.2', spi: 1, proto: 50 }, saddr: '198.18.0.1' })).toHaveLength(
      224,
    )
    expect(encodePolicy({ selector: anySelector(), dir: 0 })).toHaveLength(168)
    expect(encodeStateId({ daddr: '198.18.0.2', spi: 1, proto: 50, family: AF.INET })).toHaveLength(24)
    expect(encodePolicyId({ dir: 0 })).toHaveLength(64)
  })
})

describe('encoders reproduce the requests ip xfrm sent, byte for byte', () => {
  it('ip xfrm policy add ... dir out priority 100 tmpl ... mode tunnel', () => {
    expect(asIpSent(fx.policyAdd, encodePolicy(policyOut))).toEqual(sentMessage(fx.policyAdd, 0))
  })

  it('ip xfrm policy add (IPv6, port selector, if_id, mark, level use)', () => {
    expect(asIpSent(fx.policyAdd6, encodePolicy(policyIn6))).toEqual(sentMessage(fx.policyAdd6, 0))
  })

  it('ip xfrm policy del', () => {
    const payload = encodePolicyId({ selector: policyOut.selector, dir: XFRM_DIR.OUT })
    expect(asIpSent(fx.policyDel, payload)).toEqual(sentMessage(fx.policyDel, 0))
  })

  it('ip xfrm policy flush and the dump request of ip xfrm policy show', () => {
    expect(asIpSent(fx.policyFlush, encodePolicyFlush())).toEqual(sentMessage(fx.policyFlush, 0))
    expect(asIpSent(fx.policyShow, Buffer.alloc(0))).toEqual(sentMessage(fx.policyShow, 0))
    expect(decodeHeader(sentMessage(fx.policyShow, 0)).flags & NLM_F.DUMP).toBe(NLM_F.DUMP)
  })

  it('ip xfrm state add ... aead rfc4106(gcm(aes)) (VM kernel, and the host kernel that refused it)', () => {
    expect(asIpSent(fx.stateAddAead, encodeState(stateAead))).toEqual(sentMessage(fx.stateAddAead, 0))
    expect(asIpSent(fx.stateAddAeadNoEsp, encodeState(stateAead))).toEqual(
      sentMessage(fx.stateAddAeadNoEsp, 0),
    )
  })

  it('ip xfrm state add (IPv6, if_id, enc cbc(aes), auth-trunc hmac(sha256) 128)', () => {
    expect(asIpSent(fx.stateAddCbc6, encodeState(stateCbc6))).toEqual(sentMessage(fx.stateAddCbc6, 0))
  })

  it('ip xfrm state add (enc + auth, no mode) on the host', () => {
    const req: XfrmStateRequest = {
      id: { daddr: '198.18.0.2', spi: 0x101, proto: IPSEC_PROTO.ESP },
      saddr: '198.18.0.1',
      crypt: { name: 'cbc(aes)', key: KEY16 },
      auth: { name: 'hmac(sha256)', key: KEY32 },
    }
    expect(asIpSent(fx.stateAddCbcNoEsp, encodeState(req))).toEqual(sentMessage(fx.stateAddCbcNoEsp, 0))
  })

  it('ip xfrm state del and flush', () => {
    const id = {
      daddr: '198.18.0.2',
      spi: 0x100,
      family: AF.INET,
      proto: IPSEC_PROTO.ESP,
      saddr: '198.18.0.1',
    }
    expect(asIpSent(fx.stateDel, encodeStateId(id))).toEqual(sentMessage(fx.stateDel, 0))
    expect(asIpSent(fx.stateFlush, encodeStateFlush())).toEqual(sentMessage(fx.stateFlush, 0))
  })
})

describe('decoders on kernel replies', () => {
  it('decodes the policy dump (ip xfrm policy show)', () => {
    const decoded = decodeXfrmMessages(receivedBuffer(fx.policyShow, 0))
    const policies = decoded.flatMap((m) => ('body' in m && m.body.kind === 'policy' ? [m.body.policy] : []))
    expect(policies).toHaveLength(2)
    expect(policies[0]).toMatchObject({ ...policyIn6, type: XFRM_POLICY_TYPE.MAIN, lifetime: unlimited() })
    expect(policies[1]).toMatchObject({ ...policyOut, type: XFRM_POLICY_TYPE.MAIN })
    expect(policies.map((p) => p.index % 8)).toEqual([policies[0]!.index % 8, policies[1]!.index % 8])
    expect(policies[0]!.current.addTime).toBeGreaterThan(1_700_000_000n)
  })

  it('decodes the state dump (ip xfrm state show, VM kernel)', () => {
    const decoded = decodeXfrmMessages(receivedBuffer(fx.stateShow, 0))
    const states = decoded.flatMap((m) => ('body' in m && m.body.kind === 'state' ? [m.body.state] : []))
    expect(states).toHaveLength(2)
    const [v6, v4] = states
    expect(v6).toMatchObject({ ...stateCbc6, family: AF.INET6, selector: { family: AF.INET6 } })
    expect(v6!.crypt).toEqual({ name: 'cbc(aes)', key: KEY16, keyBits: 128 })
    expect(v4).toMatchObject({ ...stateAead, family: AF.INET, lifetime: unlimited() })
    expect(v4!.aead).toEqual({ name: 'rfc4106(gcm(aes))', key: KEY, keyBits: 160, icvBits: 128 })
    expect(v4!.current).toMatchObject({ bytes: 0n, packets: 0n })
  })

  it("the host kernel's refusals: EPROTONOSUPPORT 'Requested type not found' (no ESP), ENOSYS for the AEAD", () => {
    const [cbc] = decodeXfrmMessages(receivedBuffer(fx.stateAddCbcNoEsp, 0))
    expect(cbc).toMatchObject({ error: { error: -93, message: 'Requested type not found' } })
    const [aead] = decodeXfrmMessages(receivedBuffer(fx.stateAddAeadNoEsp, 0))
    expect(aead).toMatchObject({ error: { error: -38, message: 'Requested AEAD algorithm not found' } })
  })

  it('ACKs of add, delete and flush decode as error 0', () => {
    for (const c of [fx.policyAdd, fx.policyDel, fx.policyFlush, fx.stateAddAead, fx.stateDel, fx.stateFlush])
      expect(decodeXfrmMessages(receivedBuffer(c, c.received.length - 1)).at(-1)).toMatchObject({
        error: { error: 0 },
      })
  })

  it('decodes the delete requests as ids', () => {
    const del = decodeXfrmPayload(XFRM_MSG.DELSA, sentMessage(fx.stateDel, 0).subarray(16))
    expect(del).toMatchObject({
      kind: 'state-id',
      id: { daddr: '198.18.0.2', spi: 0x100, saddr: '198.18.0.1' },
    })
    const pdel = decodeXfrmPayload(XFRM_MSG.DELPOLICY, sentMessage(fx.policyDel, 0).subarray(16))
    expect(pdel).toMatchObject({ kind: 'policy-id', id: { dir: XFRM_DIR.OUT, selector: policyOut.selector } })
  })
})

describe('round trips', () => {
  const v4 = fc.ipV4()
  const v6 = fc.constantFrom('fd00::1', 'fd00:10::', 'fe80::1', '2001:db8::42', '::')
  const u32 = fc.nat({ max: 0xffffffff })
  const u64 = fc.bigInt({ min: 0n, max: XFRM_INF })
  const fam = fc.oneof(
    fc.record({ family: fc.constant(AF.INET), a: v4, b: v4, max: fc.constant(32) }),
    fc.record({ family: fc.constant(AF.INET6), a: v6, b: v6, max: fc.constant(128) }),
  )
  const selector = fam.chain(({ family, a, b, max }) =>
    fc.record({
      family: fc.constant(family),
      daddr: fc.constant(a),
      saddr: fc.constant(b),
      prefixlenD: fc.nat({ max }),
      prefixlenS: fc.nat({ max }),
      dport: fc.nat({ max: 0xffff }),
      dportMask: fc.nat({ max: 0xffff }),
      sport: fc.nat({ max: 0xffff }),
      sportMask: fc.nat({ max: 0xffff }),
      proto: fc.nat({ max: 0xff }),
      ifindex: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
      user: u32,
    }),
  )
  const lifetime = fc.record({
    softByteLimit: u64,
    hardByteLimit: u64,
    softPacketLimit: u64,
    hardPacketLimit: u64,
    softAddExpiresSeconds: u64,
    hardAddExpiresSeconds: u64,
    softUseExpiresSeconds: u64,
    hardUseExpiresSeconds: u64,
  })
  const key = fc.uint8Array({ minLength: 0, maxLength: 64 }).map((k) => Buffer.from(k))
  const algName = fc.constantFrom('rfc4106(gcm(aes))', 'cbc(aes)', 'hmac(sha256)', 'x'.repeat(63))
  const mark = fc.record({ value: u32, mask: u32 })

  it('decodeState(encodeState(s)) gives back every field', () => {
    const outer = fam.chain(({ family, a, b }) =>
      fc.record({
        family: fc.constant(family),
        saddr: fc.constant(a),
        id: fc.record({ daddr: fc.constant(b), spi: u32, proto: fc.constantFrom(50, 51, 108) }),
      }),
    )
    fc.assert(
      fc.property(
        outer,
        fc.record({
          selector,
          lifetime,
          current: fc.record({ bytes: u64, packets: u64, addTime: u64, useTime: u64 }),
          stats: fc.record({ replayWindow: u32, replay: u32, integrityFailed: u32 }),
          seq: u32,
          reqid: u32,
          mode: fc.nat({ max: 4 }),
          replayWindow: fc.nat({ max: 0xff }),
          flags: fc.nat({ max: 0xff }),
        }),
        fc.record(
          {
            aead: fc.record({ name: algName, key, icvBits: fc.constantFrom(64, 96, 128) }),
            crypt: fc.record({ name: algName, key }),
            auth: fc.record({ name: algName, key }),
            authTrunc: fc.record({ name: algName, key, truncBits: fc.constantFrom(96, 128, 256) }),
            encap: fc.record({
              type: fc.constant(2),
              sport: fc.nat({ max: 0xffff }),
              dport: fc.nat({ max: 0xffff }),
              oa: v4,
            }),
            mark,
            ifId: u32,
            extraFlags: u32,
            outputMark: mark,
          },
          { requiredKeys: [] },
        ),
        (o, info, extra) => {
          const req = { ...o, ...info, ...extra }
          // The encapsulation's original address takes the state's family.
          if (req.encap) req.encap = { ...req.encap, oa: o.saddr }
          const { attrs, ...decoded } = decodeState(encodeState(req))
          const withBits = (a: { key: Buffer } | undefined) =>
            a === undefined ? {} : { keyBits: a.key.length * 8 }
          expect(decoded).toEqual({
            ...req,
            ...(req.aead && { aead: { ...req.aead, ...withBits(req.aead) } }),
            ...(req.crypt && { crypt: { ...req.crypt, ...withBits(req.crypt) } }),
            ...(req.auth && { auth: { ...req.auth, ...withBits(req.auth) } }),
            ...(req.authTrunc && { authTrunc: { ...req.authTrunc, ...withBits(req.authTrunc) } }),
          })
          expect(attrs.every((a) => a.type <= XFRMA.MTIMER_THRESH)).toBe(true)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('decodePolicy(encodePolicy(p)) gives back every field', () => {
    const tmpl = fam.chain(({ family, a, b }) =>
      fc.record({
        id: fc.record({ daddr: fc.constant(a), spi: u32, proto: fc.constantFrom(50, 51) }),
        family: fc.constant(family),
        saddr: fc.constant(b),
        reqid: u32,
        mode: fc.nat({ max: 4 }),
        share: fc.nat({ max: 3 }),
        optional: fc.nat({ max: 1 }),
        aalgos: u32,
        ealgos: u32,
        calgos: u32,
      }),
    )
    fc.assert(
      fc.property(
        fc.record({
          selector,
          lifetime,
          current: fc.record({ bytes: u64, packets: u64, addTime: u64, useTime: u64 }),
          priority: u32,
          index: u32,
          dir: fc.nat({ max: 2 }),
          action: fc.nat({ max: 1 }),
          flags: fc.nat({ max: 3 }),
          share: fc.nat({ max: 3 }),
          templates: fc.array(tmpl, { maxLength: 4 }),
        }),
        fc.record({ mark, ifId: u32, type: fc.nat({ max: 1 }) }, { requiredKeys: [] }),
        (info, extra) => {
          const req = { ...info, ...extra }
          const { attrs: _, ...decoded } = decodePolicy(encodePolicy(req))
          expect(decoded).toEqual(req)
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('encoding refuses what does not fit', () => {
  it('mismatched families, long algorithm names, out-of-range fields', () => {
    expect(() => encodeState({ ...stateAead, saddr: 'fd00::1' })).toThrow(NetlinkEncodeError)
    expect(() =>
      encodeState({ ...stateAead, aead: { name: 'x'.repeat(64), key: KEY, icvBits: 128 } }),
    ).toThrow(/longer than 63 bytes/)
    expect(() =>
      encodeState({ ...stateAead, aead: { name: 'a', key: KEY, keyBits: 8, icvBits: 1 } }),
    ).toThrow(/key bits/)
    expect(() => encodePolicy({ ...policyOut, dir: 256 })).toThrow(/dir must be/)
    expect(() =>
      encodePolicy({ ...policyOut, selector: { ...policyOut.selector, prefixlenD: 129 } }),
    ).toThrow(/selector prefixlen_d must be an integer in 0\.\.128, got 129/)
    expect(() => encodeState({ ...stateAead, lifetime: { ...unlimited(), softByteLimit: -1n } })).toThrow(
      /lifetime softByteLimit must be an integer in 0\.\.2\^64-1, got -1/,
    )
    expect(() =>
      encodeState({ ...stateAead, lifetime: { ...unlimited(), hardByteLimit: XFRM_INF + 1n } }),
    ).toThrow(/lifetime hardByteLimit must be an integer in 0\.\.2\^64-1/)
    expect(() => encodeState({ ...stateAead, id: { ...stateAead.id, spi: 2 ** 32 } })).toThrow(
      /spi must be an integer in 0\.\.4294967295/,
    )
    expect(() => encodePolicy({ ...policyOut, selector: { ...policyOut.selector, dport: 65536 } })).toThrow(
      /selector dport must be an integer in 0\.\.65535/,
    )
  })
})

describe('the output mark (XFRMA_SET_MARK + XFRMA_SET_MARK_MASK)', () => {
  /** A state payload with these u32 attributes appended after what encodeState wrote. */
  function withAttrs(...attrs: [number, number][]): Buffer {
    const parts = attrs.map(([type, value]) => {
      const a = Buffer.alloc(8)
      a.writeUInt16LE(8, 0)
      a.writeUInt16LE(type, 2)
      a.writeUInt32LE(value, 4)
      return a
    })
    return Buffer.concat([encodeState(stateAead), ...parts])
  }

  it('is the mark with its mask in either order, the mask all ones when absent, and none without a mark', () => {
    expect(decodeState(withAttrs([XFRMA.SET_MARK, 7], [XFRMA.SET_MARK_MASK, 0xff])).outputMark).toEqual({
      value: 7,
      mask: 0xff,
    })
    expect(decodeState(withAttrs([XFRMA.SET_MARK_MASK, 0xf0], [XFRMA.SET_MARK, 9])).outputMark).toEqual({
      value: 9,
      mask: 0xf0,
    })
    expect(decodeState(withAttrs([XFRMA.SET_MARK, 3])).outputMark).toEqual({ value: 3, mask: 0xffffffff })
    expect(decodeState(withAttrs([XFRMA.SET_MARK_MASK, 0xff]))).not.toHaveProperty('outputMark')
  })
})

const corpus: Buffer[] = Object.values(fx).flatMap((c: Capture) => [
  ...c.sent.map((h) => sentMessage({ ...c, sent: [h] }, 0)),
  ...c.received.map(bytes),
])

function decodesOrThrowsDecodeError(buf: Buffer, type?: number): void {
  try {
    if (type === undefined) decodeXfrmMessages(buf)
    else decodeXfrmPayload(type, buf)
  } catch (err) {
    if (!(err instanceof NetlinkDecodeError))
      throw new Error(`decoder threw ${String(err)} for ${buf.toString('hex')}`, { cause: err })
  }
}

describe('xfrm decoder fuzzing: malformed input gives NetlinkDecodeError, never a crash', () => {
  const types = fc.constantFrom(
    XFRM_MSG.NEWSA,
    XFRM_MSG.DELSA,
    XFRM_MSG.NEWPOLICY,
    XFRM_MSG.DELPOLICY,
    XFRM_MSG.UPDSA,
    XFRM_MSG.FLUSHSA,
  )

  it('has a corpus that decodes cleanly', () => {
    expect(corpus.length).toBeGreaterThan(20)
    for (const buf of corpus) expect(() => decodeXfrmMessages(buf)).not.toThrow()
  })

  it('random payloads of every xfrm message type', () => {
    fc.assert(
      fc.property(types, fc.uint8Array({ maxLength: 400 }), (type, raw) =>
        decodesOrThrowsDecodeError(Buffer.from(raw), type),
      ),
      { numRuns: 2000 },
    )
  })

  it('every truncation and random mutations of real messages', () => {
    for (const buf of corpus)
      for (let n = 0; n < buf.length; n += 3) decodesOrThrowsDecodeError(buf.subarray(0, n))
    const edit = fc.record({ at: fc.nat(), value: fc.constantFrom(0, 1, 4, 8, 0x44, 0x60, 0x80, 0xff) })
    fc.assert(
      fc.property(
        fc.constantFrom(...corpus),
        fc.array(edit, { minLength: 1, maxLength: 8 }),
        (msg, edits) => {
          const buf = Buffer.from(msg)
          for (const { at, value } of edits)
            buf[NLMSG_HDRLEN + (at % Math.max(1, buf.length - NLMSG_HDRLEN))] = value
          decodesOrThrowsDecodeError(buf)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('algorithm attributes claiming more key bits than they carry', () => {
    const payload = encodeState(stateAead)
    const keyLenAt = XFRM_USERSA_INFO_LEN + 4 + 64
    payload.writeUInt32LE(0xffffffff, keyLenAt)
    const buf = Buffer.alloc(nlmsgAlign(NLMSG_HDRLEN + payload.length))
    writeHeader(buf, {
      length: NLMSG_HDRLEN + payload.length,
      type: XFRM_MSG.NEWSA,
      flags: 0,
      seq: 0,
      pid: 0,
    })
    payload.copy(buf, NLMSG_HDRLEN)
    expect(() => decodeXfrmMessages(buf)).toThrow(/claims a 4294967295-bit key/)
  })
})
