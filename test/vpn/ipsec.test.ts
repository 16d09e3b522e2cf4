// An ESP tunnel between two lab hosts, made by the kernel through NETLINK_XFRM.
// The full test needs ESP (esp4): it runs in the VM runner (npm run test:vm);
// on a kernel without it (this project's host) the same test checks the one
// sentence that says so, and that the probe agrees.
import { existsSync, readFileSync } from 'node:fs'
import { release } from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import { Lab } from '../../harness/index.js'
import { kernelFeatures } from '../../harness/lab/features.js'
import { ESP_MISSING, Xfrm, XfrmUnsupportedError } from '../../harness/netlink/index.js'
import { ip } from '../support/names.js'

const labs: Lab[] = []
afterEach(async () => {
  for (const lab of labs.splice(0)) await lab.destroy()
})
async function newLab(): Promise<Lab> {
  const lab = await Lab.create()
  labs.push(lab)
  return lab
}

/** Whether this kernel ships esp4 (judged from modules.dep), or undefined when it cannot tell. */
function shipsEsp(): boolean | undefined {
  const dep = `/lib/modules/${release()}/modules.dep`
  if (!existsSync(dep)) return undefined
  return /(^|\/)esp4\.ko[^:]*:/m.test(readFileSync(dep, 'utf8'))
}

async function espCounters(netns: string): Promise<{ bytes: bigint; packets: bigint }> {
  using x = Xfrm.open(netns)
  const states = await x.listStates()
  return {
    bytes: states.reduce((n, s) => n + s.bytes, 0n),
    packets: states.reduce((n, s) => n + s.packets, 0n),
  }
}

/** TCP from `from` to `to`'s inner address: a line sent, echoed back. */
async function tcpThrough(
  from: Awaited<ReturnType<Lab['addHosts']>>[number],
  to: Awaited<ReturnType<Lab['addHosts']>>[number],
  address: string,
): Promise<string> {
  const srv = await to.listen({ port: 0, host: address }, (s) => s.pipe(s))
  const port = (srv.address() as { port: number }).port
  try {
    const sock = await from.connect({ port, host: address, timeout: 3000 })
    try {
      return await new Promise<string>((resolve, reject) => {
        sock.once('data', (d: Buffer) => resolve(d.toString()))
        sock.once('error', reject)
        sock.write('through esp\n')
      })
    } finally {
      sock.destroy()
    }
  } finally {
    srv.close()
  }
}

describe('ipsec tunnel', () => {
  it(
    'ESP in tunnel mode between two hosts: ping and TCP pass, ESP counters grow, down cuts, up restores',
    { timeout: 120_000 },
    async () => {
      const lab = await newLab()
      const [a, b] = await lab.addHosts('a', 'b')
      await lab.connect(a, b)
      const features = await kernelFeatures()
      // A kernel that ships ESP (Debian's, in the VM runner) must take the real branch below.
      const ships = shipsEsp()
      if (ships !== undefined) expect(features['xfrm-state']).toBe(ships)
      if (!features['xfrm-state']) {
        const err = await lab.tunnel(a, b, { type: 'ipsec' }).catch((e: unknown) => e)
        expect(err).toBeInstanceOf(XfrmUnsupportedError)
        expect((err as Error).message).toContain(ESP_MISSING)
        // Nothing half-built is left: no states, no policies, no xfrm interface.
        for (const n of [a, b]) {
          expect(ip('-n', n.netns, 'xfrm', 'policy', 'show').trim()).toBe('')
          expect(ip('-n', n.netns, 'link', 'show')).not.toMatch(/ipsec\d/)
        }
        return
      }
      // Inner ranges that overlap the other tunnel's: each pair has its own namespaces and if_id.
      const [c, d] = await lab.addHosts('c', 'd')
      await lab.connect(c, d)
      const t = await lab.tunnel(a, b, { type: 'ipsec', subnet: '10.9.0.0/30' })
      const t2 = await lab.tunnel(c, d, { type: 'ipsec', subnet: '10.9.0.0/30' })
      expect(t).toMatchObject({ type: 'ipsec', addresses: { a: '10.9.0.1', b: '10.9.0.2' } })
      expect(t.implementation).toMatch(/kernel xfrm/)
      expect(ip('-n', a.netns, '-d', 'link', 'show', t.devices.a)).toMatch(/xfrm if_id 0x[0-9a-f]+/)
      expect(ip('-n', a.netns, 'xfrm', 'state', 'show')).toMatch(
        /aead rfc4106\(gcm\(aes\)\) 0x[0-9a-f]{40} 128/,
      )

      const before = await espCounters(a.netns)
      const r = await a.ping(t.addresses.b, { count: 3 })
      expect(r.received).toBe(3)
      expect(await tcpThrough(a, b, t.addresses.b)).toBe('through esp\n')
      const after = await espCounters(a.netns)
      expect(after.packets - before.packets).toBeGreaterThanOrEqual(6n)
      expect(after.bytes).toBeGreaterThan(before.bytes)
      // ip sees the same counters move.
      expect(ip('-n', b.netns, '-s', 'xfrm', 'state', 'show')).toMatch(
        /[1-9]\d*\(bytes\), [1-9]\d*\(packets\)/,
      )
      // The underlay is untouched: plain ping between the outer addresses still works.
      expect((await a.ping(b, { count: 1 })).received).toBe(1)
      // The other tunnel, same inner range, works on its own.
      expect((await c.ping(t2.addresses.b, { count: 1 })).received).toBe(1)

      await t.setUp(false)
      expect(ip('-n', a.netns, 'xfrm', 'state', 'show').trim()).toBe('')
      expect((await a.ping(t.addresses.b, { count: 1, timeout: 500 })).received).toBe(0)
      await t.setUp(true)
      expect((await a.ping(t.addresses.b, { count: 2 })).received).toBe(2)

      await t.destroy()
      expect(ip('-n', a.netns, 'xfrm', 'policy', 'show').trim()).toBe('')
      expect(ip('-n', a.netns, 'link', 'show')).not.toContain(t.devices.a)
    },
  )
})
