/**
 * Lab.build: a topology given as data, built in batches. It makes the same
 * lab as one awaited call per node and link (addresses, routes), sends one
 * datagram per namespace for the links whatever their number, refuses bad
 * input before making anything, and a failure at any of its kernel requests
 * unwinds everything it made at once.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Lab, type TopologySpec } from '../../harness/lab/lab.js'
import { listNetns } from '../../harness/index.js'
import { Netlink } from '../../harness/netlink/index.js'

const labs: Lab[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const lab of labs.splice(0)) await lab.destroy()
})
async function newLab(): Promise<Lab> {
  const lab = await Lab.create()
  labs.push(lab)
  return lab
}

/** Two LANs: a and b on a switch, c behind a router, d on a link of its own to the router. */
const SPEC: TopologySpec = {
  hosts: ['a', 'b', 'c', 'd'],
  routers: ['r'],
  switches: [{ name: 'lan', hosts: 8 }],
  links: [['a', 'lan'], ['lan', 'b'], ['r', 'lan'], ['r', 'c'], { between: ['d', 'r'], mtu: 1400 }],
}

/** The same topology, one awaited call at a time. */
async function sequential(lab: Lab): Promise<void> {
  await lab.addHosts('a', 'b', 'c', 'd')
  await lab.addRouter('r')
  await lab.addSwitch('lan', { hosts: 8 })
  await lab.connect('a', 'lan')
  await lab.connect('lan', 'b')
  await lab.connect('r', 'lan')
  await lab.connect('r', 'c')
  await lab.connect('d', 'r', { mtu: 1400 })
}

const REQUESTS = ['createVeth', 'createBridge', 'setLink', 'getLink', 'addAddress', 'replaceRoute'] as const

function injectFault(fail: number): { count: () => number } {
  let n = 0
  for (const method of REQUESTS) {
    const original = Netlink.prototype[method] as (...args: unknown[]) => Promise<unknown>
    vi.spyOn(Netlink.prototype, method).mockImplementation(function (this: Netlink, ...args: unknown[]) {
      if (++n === fail) return Promise.reject(new Error(`injected fault at request ${n} (${method})`))
      return original.apply(this, args)
    } as never)
  }
  return { count: () => n }
}

describe('Lab.build', () => {
  it('makes the lab one awaited call per node and link makes: addresses, routes, ports, reachability', async () => {
    const [batched, oneByOne] = [await newLab(), await newLab()]
    const nodes = await batched.build(SPEC)
    await sequential(oneByOne)
    expect(Object.keys(nodes).sort()).toEqual(['a', 'b', 'c', 'd', 'lan', 'r'])
    const view = (lab: Lab) =>
      lab.allNodes.map((n) => ({
        name: n.name,
        kind: n.kind,
        ports: n.ports.map((p) => ({ peer: p.peer.name, index: p.index, v4: p.v4, v6: p.v6 })),
      }))
    expect(view(batched)).toEqual(view(oneByOne))
    expect(batched.plannedRoutes()).toEqual(oneByOne.plannedRoutes())
    const { a, b, c, d } = nodes
    expect((await a!.ping(b!, { count: 1 })).received).toBe(1)
    expect((await a!.ping(c!, { count: 1 })).received).toBe(1)
    expect((await d!.ping(b!, { count: 1, family: 6 })).received).toBe(1)
    expect((await d!.netlink.getLink(d!.ports[0]!.index)).mtu).toBe(1400)
  })

  it('sends the links of a namespace in one datagram, however many', async () => {
    const lab = await newLab()
    const names = Array.from({ length: 30 }, (_, i) => `h${i}`)
    const nodes = await lab.build({
      hosts: names,
      switches: [{ name: 'sw', hosts: 30 }],
      links: names.map((h) => [h, 'sw'] as const),
    })
    // lo up, the bridge, the bridge up, 30 ports enslaved and up, the carrier check (if any).
    expect(nodes.sw!.netlink.socket.stats.datagrams).toBeLessThanOrEqual(5)
    // lo up, the pair, addresses and up, the carrier check (if any).
    for (const h of names) expect(nodes[h]!.netlink.socket.stats.datagrams).toBeLessThanOrEqual(4)
    const m = await lab.reachability({ hosts: [nodes.h0!, nodes.h29!, nodes.h15!], count: 1 })
    expect(m.pairs.every((p) => p.received === 1)).toBe(true)
  })

  it('refuses bad input before making anything', async () => {
    const lab = await newLab()
    await expect(lab.build({ hosts: ['a'], links: [['a', 'nobody']] })).rejects.toThrow(
      /cannot connect to "nobody": lab \w+ has no such node/,
    )
    await expect(lab.build({ hosts: ['a', 'a'] })).rejects.toThrow(/already has a node named "a"/)
    expect(lab.pendingUndo).toEqual([])
    expect(listNetns().filter((n) => n.startsWith(lab.prefix))).toEqual([])
  })

  it('links may name nodes the lab already has, and a second build goes on from the first', async () => {
    const lab = await newLab()
    await lab.addHosts('a')
    const { r } = await lab.build({ routers: ['r'], links: [['a', 'r']] })
    const { b } = await lab.build({ hosts: ['b'], links: [['r', 'b']] })
    expect((await lab.node('a').ping(b!, { count: 1 })).received).toBe(1)
    expect(r!.ports).toHaveLength(2)
  })

  it('a failure at any kernel request unwinds everything the build made, at once', async () => {
    const probe = injectFault(Infinity)
    const whole = await newLab()
    await whole.build(SPEC)
    const steps = probe.count()
    vi.restoreAllMocks()
    expect(steps).toBeGreaterThan(10)

    const lab = await newLab()
    await lab.addHosts('x')
    const before = lab.pendingUndo
    for (let k = 1; k <= steps; k++) {
      injectFault(k)
      const error = await lab.build({ ...SPEC, links: [...SPEC.links!, ['x', 'a']] }).then(
        () => undefined,
        (err: unknown) => err as Error,
      )
      vi.restoreAllMocks()
      expect(error?.message, `request ${k}`).toMatch(/injected fault/)
      expect(lab.pendingUndo, `request ${k}`).toEqual(before)
      expect(
        lab.allNodes.map((n) => n.name),
        `request ${k}`,
      ).toEqual(['x'])
      expect(lab.node('x').ports, `request ${k}`).toEqual([])
      expect(
        listNetns().filter((n) => n.startsWith(lab.prefix)),
        `request ${k}`,
      ).toEqual([`${lab.prefix}x`])
    }
    // After all those failures, the same build works, with the plan's first addresses.
    const fresh = await newLab()
    const nodes = await fresh.build(SPEC)
    expect(nodes.c!.address(nodes.r!)).toBe(whole.node('c').address(whole.node('r')))
  }, 120_000)
})
