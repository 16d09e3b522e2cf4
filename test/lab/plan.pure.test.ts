// Pure parts of the lab: the address plan, the route computation, the names.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TopologyError } from '../../harness/lab/errors.js'
import {
  AddressPlan,
  BRIDGE_MAX_PORTS,
  PlanError,
  contains,
  hostAddress,
  overlaps,
  parseSubnet,
} from '../../harness/lab/plan.js'
import { computeRoutes } from '../../harness/lab/routes.js'
import { deviceName, netnsName } from '../../harness/lab/names.js'

describe('address plan', () => {
  it('gives links /30s from 198.18.0.0/15 and /64s from fd00::/8, in order', () => {
    const plan = new AddressPlan()
    const s1 = plan.segment('link a--b', 2)
    const s2 = plan.segment('link b--c', 2)
    expect(`${s1.v4.network}/${s1.v4.prefixLen}`).toBe('198.18.0.0/30')
    expect(`${s2.v4.network}/${s2.v4.prefixLen}`).toBe('198.18.0.4/30')
    expect(`${s1.v6.network}/${s1.v6.prefixLen}`).toBe('fd00::/64')
    expect(`${s2.v6.network}/${s2.v6.prefixLen}`).toBe('fd00:0:0:1::/64')
    expect(plan.assign(s1, 'a')).toEqual({ v4: '198.18.0.1', v6: 'fd00::1' })
    expect(plan.assign(s1, 'b')).toEqual({ v4: '198.18.0.2', v6: 'fd00::2' })
    expect(() => plan.assign(s1, 'c')).toThrow('198.18.0.0/30 of link a--b is full')
  })

  it('sizes switch subnets for their members and aligns them', () => {
    const plan = new AddressPlan()
    plan.segment('link', 2)
    const sw = plan.segment('switch sw', 500)
    expect(sw.v4).toEqual({ network: '198.18.2.0', prefixLen: 23, family: 4 })
  })

  it('never hands out the same address or overlapping subnets (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 2, max: 300 }), { minLength: 1, maxLength: 40 }), (sizes) => {
        const plan = new AddressPlan()
        const segs = sizes.map((n, i) => {
          const s = plan.segment(`seg${i}`, n)
          for (let m = 0; m < Math.min(n, 5); m++) plan.assign(s, `m${m}`)
          return s
        })
        for (let i = 0; i < segs.length; i++) {
          for (let j = i + 1; j < segs.length; j++) {
            expect(overlaps(segs[i]!.v4, segs[j]!.v4)).toBe(false)
            expect(overlaps(segs[i]!.v6, segs[j]!.v6)).toBe(false)
          }
          for (const a of segs[i]!.members.values()) {
            expect(contains(segs[i]!.v4, a.v4)).toBe(true)
            expect(contains(segs[i]!.v6, a.v6)).toBe(true)
            expect(contains(parseSubnet('198.18.0.0/15'), a.v4)).toBe(true)
          }
        }
      }),
    )
  })

  it('says so when the pool runs out, naming the pool and the option to change', () => {
    const plan = new AddressPlan({ ipv4Pool: '10.0.0.0/29' })
    plan.segment('l1', 2)
    plan.segment('l2', 2)
    expect(() => plan.segment('l3', 2)).toThrow(PlanError)
    expect(() => plan.segment('l3', 2)).toThrow(
      'the address plan ran out: pool 10.0.0.0/29 has no free /30 left for l3; give the lab a larger pool (Lab.create({ ipv4Pool: ... }))',
    )
  })

  it('rejects bad pools and subnets with the name of the option', () => {
    expect(() => new AddressPlan({ ipv4Pool: 'fd00::/8' })).toThrow('ipv4Pool fd00::/8 is not an IPv4 subnet')
    expect(() => new AddressPlan({ ipv4Pool: 'nonsense' })).toThrow(
      'ipv4Pool "nonsense" is not an address/prefix',
    )
    expect(() => new AddressPlan({ ipv6Pool: 'fd00::/96' })).toThrow('smaller than one /64')
  })

  it('sizes a switch for 1 to 1024 members and refuses any other size, as a TopologyError', () => {
    expect(BRIDGE_MAX_PORTS).toBe(1024)
    const plan = new AddressPlan()
    expect(plan.switchSegment('switch one', 1).v4.prefixLen).toBe(30)
    expect(plan.switchSegment('switch big', 1024).v4.prefixLen).toBe(21)
    for (const hosts of [0, -5, 1.5, 1025, NaN, Infinity]) {
      const err = (() => {
        try {
          plan.switchSegment('switch sw', hosts)
        } catch (e) {
          return e
        }
      })()
      expect(err, String(hosts)).toBeInstanceOf(TopologyError)
      expect((err as Error).message).toBe(
        `switch sw: hosts must be a whole number from 1 to 1024 (a Linux bridge takes at most 1024 ports), got ${hosts}`,
      )
    }
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.double()), (hosts) => {
        const ok = Number.isInteger(hosts) && hosts >= 1 && hosts <= 1024
        const p = new AddressPlan()
        if (ok) expect(p.switchSegment('switch sw', hosts).members.size).toBe(0)
        else expect(() => p.switchSegment('switch sw', hosts)).toThrow(PlanError)
      }),
    )
  })

  it("refuses a switch's 1025th member in the plan, before the kernel's bridge would (EXFULL)", () => {
    const plan = new AddressPlan()
    const sw = plan.switchSegment('switch sw', 1024, { subnet: '10.0.0.0/16' })
    for (let i = 0; i < 1024; i++) plan.assign(sw, `h${i}`)
    expect(() => plan.assign(sw, 'h1024')).toThrow(
      'switch sw is full: a Linux bridge takes at most 1024 ports and h1024 would be port 1025; split its members over several switches joined by a router',
    )
    expect(sw.members.size).toBe(1024)
    // A point-to-point link or a plain segment has no such limit beyond its subnet.
    const seg = plan.segment('seg', 2000)
    for (let i = 0; i < 1100; i++) plan.assign(seg, `h${i}`)
  })

  it('computes host addresses and containment', () => {
    const s = parseSubnet('10.1.2.77/24')
    expect(s.network).toBe('10.1.2.0')
    expect(hostAddress(s, 1)).toBe('10.1.2.1')
    expect(() => hostAddress(s, 255)).toThrow('has no host number 255')
    expect(contains(s, '10.1.2.254')).toBe(true)
    expect(contains(s, '10.1.3.1')).toBe(false)
  })
})

describe('routes computed from the topology', () => {
  const seg = (id: string, v4: string, members: Record<string, string>) => ({
    id,
    v4,
    v6: `fd00:${id.length}::/64`,
    members: new Map(
      Object.entries(members).map(([k, v]) => [k, { v4: v, v6: `fd00::${v.split('.').pop()}` }]),
    ),
  })

  it('routes a chain a - r1 - r2 - b through the nearest router, with no default route', () => {
    const nodes = [
      { name: 'a', router: false },
      { name: 'r1', router: true },
      { name: 'r2', router: true },
      { name: 'b', router: false },
    ]
    const segments = [
      seg('x', '10.0.1.0/30', { a: '10.0.1.1', r1: '10.0.1.2' }),
      seg('yy', '10.0.2.0/30', { r1: '10.0.2.1', r2: '10.0.2.2' }),
      seg('zzz', '10.0.3.0/30', { r2: '10.0.3.1', b: '10.0.3.2' }),
    ]
    const v4 = computeRoutes(nodes, segments).filter((r) => !r.dst.includes(':'))
    expect(v4).toEqual(
      expect.arrayContaining([
        { node: 'a', dst: '10.0.2.0/30', gateway: '10.0.1.2', via: 'x' },
        { node: 'a', dst: '10.0.3.0/30', gateway: '10.0.1.2', via: 'x' },
        { node: 'b', dst: '10.0.1.0/30', gateway: '10.0.3.1', via: 'zzz' },
        { node: 'r1', dst: '10.0.3.0/30', gateway: '10.0.2.2', via: 'yy' },
      ]),
    )
    expect(v4.some((r) => r.dst === 'default' || r.dst === '0.0.0.0/0')).toBe(false)
  })

  it('never routes through a host that does not forward', () => {
    const nodes = [
      { name: 'a', router: false },
      { name: 'h', router: false },
      { name: 'b', router: false },
    ]
    const segments = [
      seg('x', '10.0.1.0/30', { a: '10.0.1.1', h: '10.0.1.2' }),
      seg('y', '10.0.2.0/30', { h: '10.0.2.1', b: '10.0.2.2' }),
    ]
    expect(computeRoutes(nodes, segments)).toEqual([])
  })
})

describe('names', () => {
  it('prefixes namespaces with the lab id', () => {
    expect(netnsName('3f2a', 'a')).toBe('nslab-3f2a-a')
  })

  it('keeps device names within IFNAMSIZ and distinct for distinct peers (property)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,40}$/),
        fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,40}$/),
        (p, q) => {
          const a = deviceName('3f2a', p)
          expect(Buffer.byteLength(a)).toBeLessThanOrEqual(15)
          expect(a.startsWith('3f2a-')).toBe(true)
          expect(deviceName('3f2a', p)).toBe(a)
          if (p !== q) expect(deviceName('3f2a', q)).not.toBe(a)
        },
      ),
    )
  })
})
