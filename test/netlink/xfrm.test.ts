// XFRM policies and states through NETLINK_XFRM, cross-checked with iproute2
// (`ip xfrm`, which prints text only: iproute2 6.1 has no JSON for xfrm).
import { afterEach, describe, expect, it } from 'vitest'
import { probeFeatures } from '../../harness/lab/probes.js'
import { addNetns } from '../../harness/netns/index.js'
import { ESP_MISSING, NetlinkError, Xfrm, XfrmUnsupportedError } from '../../harness/netlink/index.js'
import { ip, netnsNames } from '../support/names.js'

const name = netnsNames('xfrm')
const open: Xfrm[] = []
afterEach(() => {
  for (const x of open.splice(0)) x.close()
})

function ns(): { name: string; xfrm: Xfrm } {
  const n = name()
  addNetns(n)
  const xfrm = Xfrm.open(n)
  open.push(xfrm)
  return { name: n, xfrm }
}

const tmpl = { src: '198.18.0.1', dst: '198.18.0.2', proto: 'esp', mode: 'tunnel', reqid: 7 } as const
const KEY = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex')

describe('xfrm policies', () => {
  it('added by nslab, seen by ip; added by ip, seen by nslab; deleted both ways', async () => {
    const { name: n, xfrm } = ns()
    await xfrm.addPolicy({
      selector: { src: '198.18.10.0/24', dst: '198.18.20.0/24' },
      dir: 'out',
      priority: 100,
      templates: [tmpl],
    })
    await xfrm.addPolicy({
      selector: { src: 'fd00:10::/64', dst: 'fd00:20::/64', proto: 6, dport: 443 },
      dir: 'in',
      ifId: 9,
      mark: { value: 5, mask: 0xff },
      templates: [{ src: 'fd00::2', dst: 'fd00::1', reqid: 8, spi: 0x1234, optional: true }],
    })
    const text = ip('-n', n, 'xfrm', 'policy', 'show')
    expect(text).toContain('src 198.18.10.0/24 dst 198.18.20.0/24')
    expect(text).toMatch(/dir out priority 100/)
    expect(text).toMatch(/tmpl src 198\.18\.0\.1 dst 198\.18\.0\.2\s+proto esp reqid 7 mode tunnel/)
    expect(text).toContain('src fd00:10::/64 dst fd00:20::/64 proto tcp dport 443')
    expect(text).toMatch(/mark 0x5\/0xff/)
    expect(text).toMatch(/proto esp spi 0x00001234 reqid 8 mode tunnel\s+level use/)
    expect(text).toMatch(/if_id 0x9/)

    ip('-n', n, 'xfrm', 'policy', 'add', 'src', '198.18.30.0/24', 'dst', '198.18.40.0/24', 'dir', 'fwd')
    ip('-n', n, 'xfrm', 'policy', 'add', 'src', '198.18.50.0/24', 'dst', '198.18.60.0/24', 'dir', 'out')
    ip('-n', n, 'xfrm', 'policy', 'add', 'src', '198.18.50.0/24', 'dst', '198.18.60.0/24', 'dir', 'in')
    const ours = await xfrm.listPolicies()
    expect(ours.map((p) => `${p.src} ${p.dst} ${p.dir}`).sort()).toEqual([
      '198.18.10.0/24 198.18.20.0/24 out',
      '198.18.30.0/24 198.18.40.0/24 fwd',
      '198.18.50.0/24 198.18.60.0/24 in',
      '198.18.50.0/24 198.18.60.0/24 out',
      'fd00:10::/64 fd00:20::/64 in',
    ])
    const out = ours.find((p) => p.dir === 'out' && p.src === '198.18.10.0/24')!
    expect(out).toMatchObject({ priority: 100, action: 'allow', templates: [{ ...tmpl, dst: '198.18.0.2' }] })
    expect(ours.find((p) => p.src.startsWith('fd00'))).toMatchObject({ ifId: 9 })

    await xfrm.deletePolicy({ selector: { src: '198.18.30.0/24', dst: '198.18.40.0/24' }, dir: 'fwd' })
    ip('-n', n, 'xfrm', 'policy', 'del', 'src', '198.18.10.0/24', 'dst', '198.18.20.0/24', 'dir', 'out')
    expect(ip('-n', n, 'xfrm', 'policy', 'show')).not.toMatch(/198\.18\.(30|10)\.0/)
    expect((await xfrm.listPolicies()).map((p) => p.src)).not.toContain('198.18.10.0/24')

    await xfrm.flushPolicies()
    expect(ip('-n', n, 'xfrm', 'policy', 'show').trim()).toBe('')
    expect(await xfrm.listPolicies()).toEqual([])
  })

  it('a policy in one namespace is not in another', async () => {
    const a = ns()
    const b = ns()
    await a.xfrm.addPolicy({
      selector: { src: '10.0.0.0/8', dst: '10.0.0.0/8' },
      dir: 'out',
      templates: [tmpl],
    })
    expect(await b.xfrm.listPolicies()).toEqual([])
    expect(ip('-n', b.name, 'xfrm', 'policy', 'show').trim()).toBe('')
  })

  it('errors name the operation, the object, the namespace and the kernel', async () => {
    const { xfrm } = ns()
    const spec = { selector: { src: '198.18.1.0/24', dst: '198.18.2.0/24' }, dir: 'out' as const }
    await xfrm.addPolicy(spec)
    const dup = await xfrm.addPolicy(spec).catch((e: unknown) => e)
    expect(dup).toBeInstanceOf(NetlinkError)
    expect(String(dup)).toMatch(
      /EEXIST: add xfrm policy 198\.18\.1\.0\/24 -> 198\.18\.2\.0\/24 dir out in namespace .*nslab-t.*xfrm/,
    )
    const gone = await xfrm
      .deletePolicy({ selector: { src: '198.18.3.0/24', dst: '198.18.4.0/24' }, dir: 'in' })
      .catch((e: unknown) => e)
    expect(String(gone)).toMatch(/ENOENT: delete xfrm policy 198\.18\.3\.0\/24 -> 198\.18\.4\.0\/24 dir in/)
  })
})

describe('xfrm states', () => {
  it('ESP states work where the probe finds ESP; elsewhere one sentence says to use the VM runner', async () => {
    const { name: n, xfrm } = ns()
    const { 'xfrm-state': probe } = await probeFeatures(['xfrm-state'])
    const spec = {
      src: '198.18.0.1',
      dst: '198.18.0.2',
      spi: 0x100,
      reqid: 7,
      aead: { name: 'rfc4106(gcm(aes))', key: KEY, icvBits: 128 },
    }
    if (!probe?.present) {
      const err = await xfrm.addState(spec).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(XfrmUnsupportedError)
      expect((err as Error).message).toContain(ESP_MISSING)
      expect((err as Error).message).toMatch(
        /^add xfrm state esp spi 0x100 198\.18\.0\.1 -> 198\.18\.0\.2 in namespace/,
      )
      expect(ip('-n', n, 'xfrm', 'state', 'show').trim()).toBe('')
      return
    }
    await xfrm.addState(spec)
    // A mistyped algorithm on a kernel with ESP stays the kernel's own error, not the no-ESP sentence.
    const typo = { ...spec, spi: 0x300, aead: { ...spec.aead, name: 'rfc4106(gcm(nosuch))' } }
    const bad = await xfrm.addState(typo).catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(NetlinkError)
    expect(String(bad)).toMatch(/ENOSYS: add xfrm state esp spi 0x300 .*algorithm not found/)
    await xfrm.addState({
      src: 'fd00::1',
      dst: 'fd00::2',
      spi: 0x101,
      reqid: 8,
      ifId: 9,
      crypt: { name: 'cbc(aes)', key: KEY.subarray(0, 16) },
      authTrunc: { name: 'hmac(sha256)', key: Buffer.alloc(32, 7), truncBits: 128 },
    })
    const text = ip('-n', n, 'xfrm', 'state', 'show')
    expect(text).toMatch(/src 198\.18\.0\.1 dst 198\.18\.0\.2\s+proto esp spi 0x00000100 reqid 7 mode tunnel/)
    expect(text).toContain(`aead rfc4106(gcm(aes)) 0x${KEY.toString('hex')} 128`)
    expect(text).toMatch(/src fd00::1 dst fd00::2\s+proto esp spi 0x00000101 reqid 8 mode tunnel/)
    expect(text).toMatch(/auth-trunc hmac\(sha256\) 0x(07){32} 128/)
    expect(text).toMatch(/if_id 0x9/)

    const aead = ['aead', 'rfc4106(gcm(aes))', `0x${KEY.toString('hex')}`, '128']
    ip(
      '-n',
      n,
      'xfrm',
      'state',
      'add',
      'src',
      '198.18.0.2',
      'dst',
      '198.18.0.1',
      'proto',
      'esp',
      'spi',
      '0x200',
      'mode',
      'transport',
      ...aead,
    )
    const listed = await xfrm.listStates()
    expect(listed.map((s) => `${s.src} ${s.dst} ${s.spi} ${s.mode}`).sort()).toEqual([
      '198.18.0.1 198.18.0.2 256 tunnel',
      '198.18.0.2 198.18.0.1 512 transport',
      'fd00::1 fd00::2 257 tunnel',
    ])
    expect(listed.find((s) => s.spi === 0x100)).toMatchObject({ algorithms: ['rfc4106(gcm(aes))'], reqid: 7 })
    expect(await xfrm.getState({ src: 'fd00::1', dst: 'fd00::2', spi: 0x101 })).toMatchObject({ ifId: 9 })

    await xfrm.deleteState({ src: '198.18.0.1', dst: '198.18.0.2', spi: 0x100 })
    expect(ip('-n', n, 'xfrm', 'state', 'show')).not.toContain('spi 0x00000100')
    await xfrm.flushStates()
    expect(ip('-n', n, 'xfrm', 'state', 'show').trim()).toBe('')
    expect(probe.present).toBe(true)
  })
})
