// Route operations (harness/netlink/route.ts) cross-checked with iproute2.
import { describe, expect, it } from 'vitest'
import { ip, ipJson } from '../support/names.js'
import { netlinkNamespaces } from '../support/netlink.js'

const { ns } = netlinkNamespaces()

describe('routes', () => {
  it('adds, replaces, lists and deletes routes: gateway, device, table, metric, blackhole, unreachable', async () => {
    const a = ns()
    await a.nl.createVeth({ name: 'r0', peer: { name: 'r1' } })
    const r0 = await a.nl.getLink('r0')
    await a.nl.setLink(r0.index, { up: true })
    await a.nl.addAddress(r0.index, '198.18.0.1/30')
    await a.nl.addAddress(r0.index, 'fd00::1/64')
    await a.nl.addRoute({ dst: '198.18.10.0/24', gateway: '198.18.0.2', metric: 50 })
    await a.nl.addRoute({ dst: '198.18.11.0/24', oif: r0.index })
    await a.nl.addRoute({ dst: '198.18.12.0/24', type: 'blackhole' })
    await a.nl.addRoute({ dst: '198.18.13.0/24', type: 'unreachable' })
    await a.nl.addRoute({ dst: 'fd00:1::/64', gateway: 'fd00::2' })
    await a.nl.addRoute({ dst: '198.18.14.0/24', gateway: '198.18.0.2', table: 1000 })
    const theirs = ipJson<{ dst: string; gateway?: string; dev?: string; metric?: number; type?: string }[]>(
      '-n',
      a.name,
      'route',
    )
    expect(theirs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ dst: '198.18.10.0/24', gateway: '198.18.0.2', dev: 'r0', metric: 50 }),
        expect.objectContaining({ dst: '198.18.11.0/24', dev: 'r0' }),
        expect.objectContaining({ dst: '198.18.12.0/24', type: 'blackhole' }),
        expect.objectContaining({ dst: '198.18.13.0/24', type: 'unreachable' }),
      ]),
    )
    expect(
      ipJson<{ dst: string }[]>('-n', a.name, 'route', 'show', 'table', '1000').map((r) => r.dst),
    ).toEqual(['198.18.14.0/24'])
    expect(ipJson<{ dst: string; gateway: string }[]>('-n', a.name, '-6', 'route')).toEqual(
      expect.arrayContaining([expect.objectContaining({ dst: 'fd00:1::/64', gateway: 'fd00::2' })]),
    )
    const ours = await a.nl.listRoutes({ family: 4 })
    expect(ours.find((r) => r.dst === '198.18.10.0/24')).toMatchObject({
      gateway: '198.18.0.2',
      metric: 50,
      oif: r0.index,
    })
    expect(ours.find((r) => r.dst === '198.18.12.0/24')).toMatchObject({ type: 'blackhole' })
    expect((await a.nl.listRoutes({ table: 1000 })).map((r) => r.dst)).toEqual(['198.18.14.0/24'])

    await a.nl.replaceRoute({ dst: '198.18.10.0/24', gateway: '198.18.0.2', metric: 50, mtu: 1300 })
    expect(ip('-n', a.name, 'route', 'show', '198.18.10.0/24')).toContain('mtu 1300')
    await expect(a.nl.addRoute({ dst: '198.18.10.0/24', gateway: '198.18.0.2', metric: 50 })).rejects.toThrow(
      'EEXIST',
    )
    await a.nl.deleteRoute({ dst: '198.18.10.0/24', gateway: '198.18.0.2', metric: 50 })
    expect(ip('-n', a.name, 'route', 'show', '198.18.10.0/24')).toBe('')
  })

  it('adds a default route and reads one that ip added', async () => {
    const a = ns()
    await a.nl.createVeth({ name: 'g0', peer: { name: 'g1' } })
    const g0 = await a.nl.getLink('g0')
    await a.nl.setLink(g0.index, { up: true })
    await a.nl.addAddress(g0.index, '198.18.0.1/30')
    await a.nl.addRoute({ dst: 'default', gateway: '198.18.0.2' })
    expect(
      ipJson<{ dst: string; gateway: string }[]>('-n', a.name, 'route', 'show', 'default')[0],
    ).toMatchObject({
      dst: 'default',
      gateway: '198.18.0.2',
    })
    ip('-n', a.name, 'route', 'add', '198.18.20.0/24', 'via', '198.18.0.2', 'metric', '7')
    expect((await a.nl.listRoutes({ family: 4 })).find((r) => r.dst === '198.18.20.0/24')).toMatchObject({
      metric: 7,
    })
    expect((await a.nl.listRoutes({ family: 4 })).find((r) => r.dst === 'default')).toMatchObject({
      gateway: '198.18.0.2',
    })
  })
})
