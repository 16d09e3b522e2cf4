// Neighbour operations (harness/netlink/neigh.ts) cross-checked with iproute2.
import { describe, expect, it } from 'vitest'
import { ip, ipJson } from '../support/names.js'
import { netlinkNamespaces } from '../support/netlink.js'

const { ns } = netlinkNamespaces()

describe('neighbours', () => {
  it('adds, lists and deletes permanent entries, cross-checked with ip neigh', async () => {
    const a = ns()
    await a.nl.createVeth({ name: 'n0', peer: { name: 'n1' } })
    const n0 = await a.nl.getLink('n0')
    await a.nl.setLink(n0.index, { up: true })
    await a.nl.addNeighbour({ index: n0.index, address: '198.18.0.2', lladdr: '02:00:00:00:00:02' })
    expect(
      ipJson<{ dst: string; lladdr: string; state: string[] }[]>('-n', a.name, 'neigh')[0],
    ).toMatchObject({
      dst: '198.18.0.2',
      lladdr: '02:00:00:00:00:02',
      state: ['PERMANENT'],
    })
    ip(
      '-n',
      a.name,
      'neigh',
      'add',
      'fd00::2',
      'lladdr',
      '02:00:00:00:00:03',
      'dev',
      'n0',
      'nud',
      'permanent',
    )
    const ours = await a.nl.listNeighbours()
    expect(ours.map((n) => [n.address, n.lladdr, n.state])).toEqual(
      expect.arrayContaining([
        ['198.18.0.2', '02:00:00:00:00:02', ['permanent']],
        ['fd00::2', '02:00:00:00:00:03', ['permanent']],
      ]),
    )
    await a.nl.deleteNeighbour({ index: n0.index, address: '198.18.0.2' })
    expect(ip('-n', a.name, 'neigh')).not.toContain('198.18.0.2')
  })
})
