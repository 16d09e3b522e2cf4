// The kernel's ARP/NDP tables are one per machine (gc_thresh3 = 1024 fresh
// entries, settable only in the initial namespace): an all-pairs probe of a
// 50-host segment needs 2,450. The lab pins permanent entries from its plan
// before probing, and every pair answers.
import { afterEach, describe, expect, it } from 'vitest'
import { Lab } from '../../harness/index.js'
import { matrixDiff } from '../../harness/checks/index.js'
import { ipJson } from '../support/names.js'

const labs: Lab[] = []
afterEach(async () => {
  for (const lab of labs.splice(0)) await lab.destroy()
})

const HOSTS = 50

describe('neighbour tables on a big switch segment', () => {
  it(`all ${HOSTS * (HOSTS - 1)} ordered pairs of ${HOSTS} hosts on one switch answer`, async () => {
    const lab = await Lab.create()
    labs.push(lab)
    const sw = await lab.addSwitch('sw')
    const hosts = await lab.addHosts(...Array.from({ length: HOSTS }, (_, i) => `h${i}`))
    for (const h of hosts) await lab.connect(h, sw)

    const m = await lab.reachability()
    expect(m.pairs.length).toBe(HOSTS * (HOSTS - 1))
    expect(matrixDiff(m, () => true)).toEqual([])

    // What made it work, as ip sees it: h0 holds a permanent entry for each other host, with its MAC.
    const neigh = ipJson<{ dst: string; lladdr: string; state: string[] }[]>('-n', hosts[0]!.netns, 'neigh')
    const permanent = neigh.filter((e) => e.state.includes('PERMANENT'))
    expect(permanent.map((e) => e.dst).sort()).toEqual(
      hosts
        .slice(1)
        .map((h) => h.address())
        .sort(),
    )
    const h1 = ipJson<{ address: string }[]>(
      '-n',
      hosts[1]!.netns,
      'link',
      'show',
      hosts[1]!.ports[0]!.device,
    )[0]!
    expect(permanent.find((e) => e.dst === hosts[1]!.address())?.lladdr).toBe(h1.address)
  })

  it('small segments are left to ARP unless asked; staticNeighbours pins them on request', async () => {
    const lab = await Lab.create()
    labs.push(lab)
    const sw = await lab.addSwitch('sw')
    const [a, b, c] = await lab.addHosts('a', 'b', 'c')
    for (const h of [a, b, c]) await lab.connect(h, sw)
    const m = await lab.reachability()
    expect(matrixDiff(m, () => true)).toEqual([])
    const state = (): string[][] => ipJson<{ state: string[] }[]>('-n', a.netns, 'neigh').map((e) => e.state)
    expect(state().flat()).not.toContain('PERMANENT')
    expect(await lab.staticNeighbours(sw, { family: 6 })).toBe(6)
    expect(await lab.staticNeighbours(sw)).toBe(6)
    const pinned = ipJson<{ dst: string; state: string[] }[]>('-n', a.netns, 'neigh').filter((e) =>
      e.state.includes('PERMANENT'),
    )
    expect(pinned.map((e) => e.dst).sort()).toEqual(
      [b.address(), c.address(), b.address(a, 6), c.address(a, 6)].sort(),
    )
    await expect(lab.staticNeighbours(a)).rejects.toThrow('a is not a switch')
  })
})
