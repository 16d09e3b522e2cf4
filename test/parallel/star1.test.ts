// Four files like this one run at once (Vitest runs files in parallel): their
// labs must never collide on namespace or device names.
import { describe } from 'vitest'
import { expect, test } from '../../harness/vitest/index.js'

describe('parallel labs', () => {
  test('a star of 20 hosts builds, every host reaches its neighbour, and tears down', async ({ lab }) => {
    const sw = await lab.addSwitch('sw')
    const hosts = await lab.addHosts(...Array.from({ length: 20 }, (_, i) => `h${i}`))
    for (const h of hosts) await lab.connect(h, sw)
    const results = await Promise.all(
      hosts.map((h, i) => h.ping(hosts[(i + 1) % hosts.length]!, { count: 1 })),
    )
    expect(results.filter((r) => r.received !== 1).map((r) => `${r.from} -> ${r.to}`)).toEqual([])
  })
})
