// Address operations (harness/netlink/addr.ts) cross-checked with iproute2.
import { describe, expect, it } from 'vitest'
import { ip, ipJson } from '../support/names.js'
import { netlinkNamespaces } from '../support/netlink.js'

const { ns } = netlinkNamespaces()

describe('addresses', () => {
  it('adds IPv4 and IPv6 addresses (IPv6 not tentative) that ip sees, and deletes them', async () => {
    const a = ns()
    await a.nl.createVeth({ name: 'v0', peer: { name: 'v1' } })
    const v0 = await a.nl.getLink('v0')
    await a.nl.setLink(v0.index, { up: true })
    await a.nl.addAddress(v0.index, '198.18.0.1/30')
    await a.nl.addAddress(v0.index, 'fd00::1/64')
    const theirs = ipJson<
      { ifname: string; addr_info: { local: string; prefixlen: number; tentative?: boolean }[] }[]
    >('-n', a.name, 'addr', 'show', 'dev', 'v0')[0]!.addr_info
    expect(theirs.map((x) => `${x.local}/${x.prefixlen}`)).toEqual(
      expect.arrayContaining(['198.18.0.1/30', 'fd00::1/64']),
    )
    expect(theirs.find((x) => x.local === 'fd00::1')?.tentative).toBeUndefined()
    const ours = await a.nl.listAddresses({ index: v0.index })
    expect(ours.filter((x) => x.scope === 'global').map((x) => x.cidr)).toEqual([
      '198.18.0.1/30',
      'fd00::1/64',
    ])
    expect(ours.every((x) => !x.tentative)).toBe(true)
    await a.nl.deleteAddress(v0.index, '198.18.0.1/30')
    expect(ip('-n', a.name, 'addr', 'show', 'dev', 'v0')).not.toContain('198.18.0.1')
  })

  it('lists addresses that ip added, per family', async () => {
    const a = ns()
    ip('-n', a.name, 'link', 'set', 'lo', 'up')
    ip('-n', a.name, 'addr', 'add', '198.19.0.9/32', 'dev', 'lo')
    const v4 = await a.nl.listAddresses({ family: 4 })
    expect(v4.map((x) => x.cidr).sort()).toEqual(['127.0.0.1/8', '198.19.0.9/32'])
    const v6 = await a.nl.listAddresses({ family: 6 })
    expect(v6.map((x) => x.cidr)).toEqual(['::1/128'])
  })
})
