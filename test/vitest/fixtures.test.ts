import { describe } from 'vitest'
import { expect, labTest, test } from '../../harness/vitest/index.js'
import { listNetns } from '../../harness/netns/index.js'

const seen: string[] = []

describe('the lab fixture', () => {
  test('client reaches server (the first test of DESIGN)', async ({ lab }) => {
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    await expect(a).toReach(b)
    seen.push(lab.prefix)
  })

  test('each test gets a fresh lab, and the previous one is gone', async ({ lab }) => {
    expect(seen).toHaveLength(1)
    expect(lab.prefix).not.toBe(seen[0])
    expect(listNetns().some((n) => n.startsWith(seen[0]!))).toBe(false)
  })

  test('matchers: toReach over each protocol, toPing, toHaveRoute, toHaveAddress, and .not', async ({
    lab,
  }) => {
    const [a, b, c, d] = await lab.addHosts('a', 'b', 'c', 'd')
    const r = await lab.addRouter('r')
    await lab.connect(a, r)
    await lab.connect(r, b)
    await lab.connect(c, d) // an island: no router joins it to a
    await expect(a).toReach(b, { protocol: 'tcp' })
    await expect(a).toReach(b, { protocol: 'udp' })
    await expect(a).toReach(b, { protocol: 'http', port: 8080 })
    await expect(a).toReach(b, { family: 6, count: 1 })
    await expect(b).toPing(a)
    await expect(a).not.toPing(c, { count: 1, timeout: 100 })
    await expect(a).toHaveAddress(a.address(r))
    await expect(a).toHaveRoute(`${b.ports[0]!.segment.v4.network}/30`, { via: r.address(a) })
    await expect(a).not.toHaveRoute('default')
  })

  test('a failing matcher names hosts, addresses and routes', async ({ lab }) => {
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    await lab.linkDown(a, b)
    const err = await expect(a)
      .toReach(b, { count: 1, timeout: 100 })
      .then(
        () => undefined,
        (e: Error) => e,
      )
    expect(err?.message).toContain(`expected a [${a.netns}] to reach b [${b.netns}] over icmp/IPv4`)
    expect(err?.message).toContain(`(${b.address(a)}): 0/1 replies`)
    expect(err?.message).toContain('routes in a:')
    const route = await expect(a)
      .toHaveRoute('198.18.200.0/24')
      .then(
        () => undefined,
        (e: Error) => e,
      )
    expect(route?.message).toContain('its routes:')
  })

  test('a host that was never connected is unreachable: .not.toReach passes, toReach says why', async ({
    lab,
  }) => {
    const [a, b, c] = await lab.addHosts('a', 'b', 'c')
    await lab.connect(a, b)
    for (const protocol of ['icmp', 'tcp', 'udp', 'http'] as const) {
      await expect(a).not.toReach(c, { protocol })
      await expect(c).not.toReach(a, { protocol })
    }
    await expect(a).not.toPing(c)
    await expect(c).not.toPing(a, { family: 6 })
    const fail = async (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'passed',
        (e: Error) => e.message,
      )
    const to = await fail(expect(a).toReach(c))
    expect(to).toContain(`expected a [${a.netns}] to reach c [${c.netns}] over icmp/IPv4`)
    expect(to).toContain(`host c (${c.netns}) has no IPv4 address yet: connect it first`)
    const from = await fail(expect(c).toPing(a, { family: 6 }))
    expect(from).toContain(`host c (${c.netns}) has no IPv6 address yet: connect it first`)
    const tcp = await fail(expect(a).toReach(c, { protocol: 'tcp' }))
    expect(tcp).toContain(`expected a [${a.netns}] to reach c [${c.netns}] over tcp/IPv4`)
    expect(tcp).toContain('has no IPv4 address yet')
  })

  test('the netns fixture is a fresh namespace with only lo', async ({ netns }) => {
    const r = await netns.exec(['ip', '-j', 'link'])
    expect(JSON.parse(r.stdout).map((l: { ifname: string }) => l.ifname)).toEqual(['lo'])
  })
})

const shared = labTest(async (lab) => {
  const [a, b] = await lab.addHosts('a', 'b')
  await lab.connect(a, b)
  return { a, b, lab }
})

describe('a topology built once per file and reset between tests', () => {
  let prefix = ''
  shared('the first test breaks the network', async ({ topo: { a, b, lab } }) => {
    prefix = lab.prefix
    await lab.linkDown(a, b)
    await lab.partition([a], [b])
    a.spawn(['sleep', '60'])
    await expect(a).not.toPing(b, { count: 1, timeout: 100 })
  })

  shared('the next test finds it reset, in the same lab', async ({ topo: { a, b, lab } }) => {
    expect(lab.prefix).toBe(prefix)
    expect(a.running).toEqual([])
    await expect(a).toPing(b)
  })
})

const asData = labTest({
  hosts: ['a', 'b'],
  routers: ['r'],
  links: [
    ['a', 'r'],
    ['r', 'b'],
  ],
})

describe('a topology given as data to labTest, built in batches', () => {
  asData('topo holds the nodes by name, routed', async ({ topo: { a, b, r } }) => {
    expect(r!.kind).toBe('router')
    await expect(a!).toPing(b!, { count: 1 })
  })
})
