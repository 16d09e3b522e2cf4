// A failing test's report carries the lab's state: run a tiny Vitest file
// that fails on purpose, in a child Vitest, and read its JUnit report.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')
const dir = mkdtempSync(join(tmpdir(), 'nslab-artifacts-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('failure artifacts', () => {
  it('attach addresses, routes, links, neighbours, nftables and process output to the failed test', () => {
    const file = join(dir, 'fails.test.ts')
    writeFileSync(
      file,
      `
      import { test, expect } from '${join(root, 'harness/vitest/index.ts')}'
      test('fails on purpose', async ({ lab }) => {
        const [a, b] = await lab.addHosts('a', 'b')
        await lab.connect(a, b, { subnet: '10.77.0.0/30' })
        const p = a.spawn(['sh', '-c', 'echo marker-output; exec sleep 30'])
        await new Promise((r) => p.stdout.once('data', r))
        await lab.partition([a], [b])
        await expect(a).toPing(b, { count: 1, timeout: 100 })
      })
      `,
    )
    writeFileSync(join(dir, 'vitest.config.mjs'), `export default { test: { include: ['*.test.ts'] } }`)
    const junit = join(dir, 'junit.xml')
    let code = 0
    try {
      execFileSync(
        join(root, 'node_modules/.bin/vitest'),
        ['run', '--root', dir, '--reporter=junit', `--outputFile=${junit}`],
        {
          cwd: dir,
          stdio: 'pipe',
          env: { ...process.env, NSLAB_ALLOW_UNSEALED: '1' },
        },
      )
    } catch (err) {
      code = (err as { status: number }).status
    }
    expect(code).toBe(1)
    const xml = readFileSync(junit, 'utf8')
    expect(xml).toContain('expected a [nslab-')
    expect(xml).toContain('nslab lab state')
    expect(xml).toContain('10.77.0.1/30 dev')
    expect(xml).toContain('addresses:')
    expect(xml).toContain('routes:')
    expect(xml).toContain('table inet nslab_partition')
    expect(xml).toContain('out| marker-output')
  })
})
