// Downstream projects consume nslab as a packed tarball through its subpath
// exports: test it exactly that way, offline (the suite runs sealed, so npm
// resolves every dependency from its cache, filled by `npm ci`).
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

// The fixture is built by scripts/downstream-fixture.mjs (npm's `pretest`),
// outside the sealed namespace, because installing needs the registry.
const root = resolve(import.meta.dirname, '../..')
const work = join(tmpdir(), `nslab-downstream-${createHash('sha1').update(root).digest('hex').slice(0, 8)}`)
const project = join(work, 'project')
if (!existsSync(join(project, 'node_modules', 'nslab')))
  throw new Error(
    'the downstream fixture is missing: run `npm test` (its pretest step packs nslab and installs it into a throwaway project), or `node scripts/downstream-fixture.mjs` first',
  )

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_update_notifier: 'false' },
  })
}

describe('the packed tarball', () => {
  it('ships built JavaScript with declarations and no tests or sources', () => {
    const files = run(
      'tar',
      [
        '-tzf',
        join(
          work,
          readdirSync(work).find((f) => f.endsWith('.tgz'))!,
        ),
      ],
      work,
    ).split('\n')
    expect(files).toContain('package/dist/harness/index.js')
    expect(files).toContain('package/dist/harness/index.d.ts')
    expect(files).toContain('package/dist/harness/netns/exec-worker.js')
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([])
    expect(files.filter((f) => f.includes('.test.'))).toEqual([])
  })

  it('imports every entry point from a fresh project', () => {
    writeFileSync(
      join(project, 'check.mjs'),
      `
      const root = await import('nslab')
      const netns = await import('nslab/netns')
      const netlink = await import('nslab/netlink')
      // nslab/vitest runs only inside Vitest (test.extend needs a runner): resolve it here, run it below.
      const vt = import.meta.resolve('nslab/vitest')
      console.log(JSON.stringify({
        root: typeof root.addNetns, netns: typeof netns.withNetns,
        netlink: Object.keys(netlink).length > 0, vitest: vt.endsWith('/dist/harness/vitest/index.js'),
      }))
      `,
    )
    expect(JSON.parse(run('node', ['check.mjs'], project))).toEqual({
      root: 'function',
      netns: 'function',
      netlink: true,
      vitest: true,
    })
  })

  it('runs the nslab bin and a namespace operation from the installed package', () => {
    expect(run('npx', ['--offline', 'nslab', '--version'], project).trim()).toMatch(/^\d+\.\d+\.\d+/)
    const name = `nslab-pack${process.pid.toString(36)}`
    run('npx', ['--offline', 'nslab', 'netns', 'add', name], project)
    try {
      // The exec worker must load from dist (built JS), not from TypeScript sources.
      expect(run('npx', ['--offline', 'nslab', 'netns', 'exec', name, 'ls', '/sys/class/net'], project)).toBe(
        'lo\n',
      )
    } finally {
      run('npx', ['--offline', 'nslab', 'netns', 'delete', name], project)
    }
  })

  it('runs a Vitest file with the nslab/vitest fixture', () => {
    writeFileSync(
      join(project, 'ns.test.mjs'),
      `
      import { test, expect } from 'nslab/vitest'
      test('a fresh namespace has only lo, down', async ({ netns }) => {
        const r = await netns.exec(['ip', '-j', 'link'])
        const links = JSON.parse(r.stdout)
        expect(links.map((l) => l.ifname)).toEqual(['lo'])
        expect(links[0].operstate).toBe('DOWN')
      })
      `,
    )
    const out = run('npx', ['--offline', 'vitest', 'run', '--reporter=dot', 'ns.test.mjs'], project)
    expect(out).toMatch(/1 passed/)
  })
})
