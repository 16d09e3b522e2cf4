import { afterEach, describe, expect, it } from 'vitest'
import { Lab, type LabNode } from '../../harness/index.js'
import {
  formatMatrix,
  httpCheck,
  matrixDiff,
  pathMtu,
  tcpEcho,
  tcpThroughput,
  udpEcho,
} from '../../harness/checks/index.js'
import { FeatureMissingError, kernelFeatures } from '../../harness/lab/features.js'
import { TopologyError } from '../../harness/lab/errors.js'
import { listNetns } from '../../harness/netns/index.js'
import { ipJson } from '../support/names.js'

const labs: Lab[] = []
afterEach(async () => {
  for (const lab of labs.splice(0)) await lab.destroy()
})
async function newLab(): Promise<Lab> {
  const lab = await Lab.create()
  labs.push(lab)
  return lab
}

async function triangle(): Promise<{ lab: Lab; a: LabNode; b: LabNode; c: LabNode; r: LabNode }> {
  const lab = await newLab()
  const [a, b, c] = await lab.addHosts('a', 'b', 'c')
  const r = await lab.addRouter('r')
  await lab.connect(a, r)
  await lab.connect(b, r)
  await lab.connect(c, r)
  return { lab, a, b, c, r }
}

describe('runtime changes', () => {
  it('link down cuts traffic, link up restores it; ip sees the state', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    await lab.linkDown(a, b)
    expect(
      ipJson<{ flags: string[] }[]>('-n', a.netns, 'link', 'show', a.ports[0]!.device)[0]!.flags,
    ).not.toContain('UP')
    expect((await a.ping(b, { count: 1, timeout: 200 })).received).toBe(0)
    await lab.linkUp(a, b)
    expect((await a.ping(b, { count: 1 })).received).toBe(1)
  })

  it('a TCP connection survives a link flap', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const server = await a.listen({ port: 7300 }, (s) => s.pipe(s))
    const sock = await b.connect({ port: 7300, host: a.address(b) })
    const echo = (text: string): Promise<string> =>
      new Promise((resolve) => {
        sock.once('data', (d) => resolve(d.toString()))
        sock.write(text)
      })
    expect(await echo('before')).toBe('before')
    await lab.flap(a, b, { downMs: 100, times: 2 })
    expect(await echo('after')).toBe('after')
    sock.destroy()
    server.close()
  })

  it('a flapped link comes back with its IPv6 addresses and the routes the kernel dropped with it', async () => {
    const { lab, a, b, r } = await triangle()
    const routesOf = (n: LabNode): string[] =>
      ipJson<{ dst: string; gateway?: string }[]>('-n', n.netns, 'route', 'show')
        .filter((x) => x.gateway)
        .map((x) => `${x.dst} via ${x.gateway}`)
        .sort()
    const before = routesOf(a)
    expect(before.length).toBeGreaterThan(0)
    await lab.flap(a, r, { downMs: 50 })
    expect(routesOf(a)).toEqual(before)
    expect(ipJson<unknown[]>('-n', a.netns, '-6', 'addr', 'show', 'scope', 'global')).not.toEqual([])
    expect((await a.ping(b, { count: 1 })).received).toBe(1)
    expect((await a.ping(b, { count: 1, family: 6 })).received).toBe(1)
  })

  it('runs functions compiled with esbuild keepNames (tsx) on a host worker', async () => {
    const lab = await newLab()
    const [a] = await lab.addHosts('a')
    // What tsx emits for a named arrow function: a call to the __name helper.
    const fn = new Function(
      'return () => { const f = __name(() => 7, "seven"); return f.name + f() }',
    )() as () => string
    expect(await a.run(fn)).toBe('seven7')
  })

  it('changes the MTU of both ends', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    await lab.setMtu(a, b, 1280)
    expect(ipJson<{ mtu: number }[]>('-n', a.netns, 'link', 'show', a.ports[0]!.device)[0]!.mtu).toBe(1280)
    expect(ipJson<{ mtu: number }[]>('-n', b.netns, 'link', 'show', b.ports[0]!.device)[0]!.mtu).toBe(1280)
    expect((await a.ping(b, { count: 1, size: 1200, dontFragment: true })).received).toBe(1)
    const big = await a.ping(b, { count: 1, size: 1400, timeout: 200, dontFragment: true })
    expect(big).toMatchObject({ received: 0, errors: ['EMSGSIZE'] })
    expect(await pathMtu(a, b.address(a))).toBe(1280)
  })

  it('partitions two groups of hosts and heals them', async () => {
    const { lab, a, b, c } = await triangle()
    await lab.partition([a], [b, c])
    const cut = await lab.reachability({ hosts: [a, b, c], timeout: 200 })
    const rule = (from: string, to: string): boolean => (from === 'a') === (to === 'a')
    expect(matrixDiff(cut, rule)).toEqual([])
    await lab.heal()
    const healed = await lab.reachability({ hosts: [a, b, c] })
    expect(matrixDiff(healed, () => true)).toEqual([])
  })

  it('rate limits a link with tbf (or netem) and the measured throughput follows', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const rate = 4_000_000
    await lab.impair(a, b, { rate }, { direction: 'forward' })
    // 1 MB a->b: about 2 s at 4 Mbit/s; unlimited, veth moves gigabits.
    const limited = await tcpThroughput(a, b, { bytes: 1_000_000 })
    expect(limited.bitsPerSecond).toBeLessThan(rate * 1.3)
    expect(limited.bitsPerSecond).toBeGreaterThan(rate * 0.3)
    await lab.impair(a, b, {})
    const free = await tcpThroughput(a, b, { bytes: 4_000_000 })
    expect(free.bitsPerSecond).toBeGreaterThan(rate * 10)
  })

  it('drops a given share of packets (nftables numgen, or netem) and the measured loss follows', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    await lab.impair(a, b, { loss: 50 }, { direction: 'forward' })
    const r = await a.ping(b, { count: 200, timeout: 500 })
    // 200 trials at p=0.5: the received count lies in 60..140 with overwhelming probability.
    expect(r.received).toBeGreaterThan(60)
    expect(r.received).toBeLessThan(140)
    await lab.impair(a, b, {})
    expect((await a.ping(b, { count: 20 })).received).toBe(20)
  })

  it('delay needs netem: applied where the kernel has it, one clear sentence where it does not', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const { netem } = await kernelFeatures()
    if (netem) {
      await lab.impair(a, b, { delay: 50 })
      const r = await a.ping(b, { count: 2 })
      expect(r.rtt!.min).toBeGreaterThan(90)
    } else {
      const err = await lab.impair(a, b, { delay: 50 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(FeatureMissingError)
      expect(String(err)).toMatch(
        /impairment "delay" on .* needs the netem qdisc \(sch_netem\), which this kernel lacks; run the suite in the VM runner/,
      )
    }
  })

  it('rejects nonsense impairments before touching anything', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    await expect(lab.impair(a, b, { loss: 150 })).rejects.toThrow('percentage')
    await expect(lab.impair(a, b, { jitter: 5 })).rejects.toThrow('jitter needs a delay')
    await expect(lab.impair(a, 'nobody', { loss: 1 })).rejects.toThrow('no such node')
    await expect(lab.impair(a, b, { rate: 1 })).rejects.toThrow(
      'impairment rate must be at least 8 bit/s (tc counts whole bytes per second) and at most 1 Tbit/s, got 1 bit/s',
    )
    for (const bad of [{ delay: NaN }, { loss: -1 }, { rate: Infinity }])
      await expect(lab.impair(a, b, bad)).rejects.toThrow(/^impairment \w+ must be /)
  })

  it('refuses a switch size a bridge cannot have, before making anything', async () => {
    const lab = await newLab()
    for (const hosts of [0, -5, 2.5, 1025, NaN]) {
      const err = await lab.addSwitch('sw', { hosts }).catch((e: unknown) => e)
      expect(err, String(hosts)).toBeInstanceOf(TopologyError)
      expect((err as Error).message).toMatch(/^switch sw: hosts must be a whole number from 1 to 1024/)
    }
    expect(listNetns().filter((n) => n.startsWith(`nslab-${lab.id}-`))).toEqual([])
    const sw = await lab.addSwitch('sw', { hosts: 1024 })
    expect(sw.kind).toBe('switch')
  })
})

describe('checks', () => {
  it('a reachability matrix over all pairs, with a readable diff against the expectation', async () => {
    const { lab, a } = await triangle()
    const m = await lab.reachability()
    expect(m.hosts).toEqual(['a', 'b', 'c', 'r'])
    expect(matrixDiff(m, () => true)).toEqual([])
    const wrong = matrixDiff(m, (from, to) => !(from === 'b' && to === 'a'))
    expect(wrong).toEqual([`b -> a (${a.address()}): expected unreachable, got reachable`])
    const table = formatMatrix(m, (from, to) => !(from === 'b' && to === 'a'))
    expect(table).toContain('✓!')
  })

  it('TCP, UDP and HTTP echo checks report ok with a round trip, or the error', async () => {
    const { lab, a, b } = await triangle()
    for (const check of [tcpEcho, udpEcho, httpCheck]) {
      const r = await check(a, b)
      expect(r).toMatchObject({ ok: true, from: 'a', to: 'b', address: b.address() })
      expect(r.rtt).toBeGreaterThan(0)
      expect((await check(a, b, { family: 6 })).ok).toBe(true)
    }
    await lab.partition([a], [b])
    const tcp = await tcpEcho(a, b, { timeout: 300 })
    expect(tcp).toMatchObject({ ok: false, error: 'ETIMEDOUT' })
    const udp = await udpEcho(a, b, { timeout: 300 })
    expect(udp).toMatchObject({ ok: false, error: 'ETIMEDOUT' })
  })
})

describe('NAT', () => {
  it('masquerades a private network: inside reaches outside from the router address, outside has no way in', async () => {
    const lab = await newLab()
    const [inside, outside] = await lab.addHosts('inside', 'outside')
    const r = await lab.addRouter('nat')
    await lab.connect(inside, r, { subnet: '10.66.0.0/24' })
    await lab.connect(r, outside)
    await lab.nat(r, outside)
    const server = await outside.listen({ port: 7500 }, (s) => s.end(`${s.remoteAddress}\n`))
    const sock = await inside.connect({ port: 7500, host: outside.address(r) })
    const seen = await new Promise<string>((resolve) => {
      let d = ''
      sock.on('data', (x) => (d += x))
      sock.on('end', () => resolve(d.trim()))
    })
    expect(seen.replace('::ffff:', '')).toBe(r.address(outside))
    expect((await inside.ping(outside)).received).toBe(3)
    expect((await outside.netlink.listRoutes({ family: 4 })).map((x) => x.dst)).not.toContain('10.66.0.0/24')
    expect((await outside.ping(inside, { count: 1, timeout: 200 })).received).toBe(0)
    server.close()
  })
})
