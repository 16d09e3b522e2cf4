// Downstream projects consume nslab as a packed tarball through its subpath
// exports: test it exactly that way, offline (the suite runs sealed, so npm
// resolves every dependency from its cache, filled by `npm ci`).
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
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

// eslint-disable-next-line no-control-regex -- colour codes in a child's output
const ANSI = /\x1b\[[0-9;]*m/g

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
    expect(files).toContain('package/dist/vm/index.js')
    expect(files).toContain('package/dist/vm/guest-init.sh') // the VM runner's guest init, not TypeScript
    // The VM pool's guest agent and its frame codec: plain JavaScript the guest runs as is.
    expect(files).toEqual(
      expect.arrayContaining([
        'package/dist/vm/vitest-pool.js',
        'package/dist/vm/pool-agent.mjs',
        'package/dist/vm/pool-frames.mjs',
        'package/dist/vm/pool-frames.d.mts',
      ]),
    )
    // The trace page's script and style, inlined into each page at run time.
    expect(files).toEqual(
      expect.arrayContaining([
        'package/dist/harness/trace/page/page.js',
        'package/dist/harness/trace/page/page.css',
      ]),
    )
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
      const pool = await import('nslab/vm/vitest')
      console.log(JSON.stringify({
        root: typeof root.addNetns, netns: typeof netns.withNetns,
        netlink: Object.keys(netlink).length > 0, vitest: vt.endsWith('/dist/harness/vitest/index.js'),
        vmPool: pool.vmPool({ kernel: '/nonexistent' }).name,
      }))
      `,
    )
    expect(JSON.parse(run('node', ['check.mjs'], project))).toEqual({
      root: 'function',
      netns: 'function',
      netlink: true,
      vitest: true,
      vmPool: 'nslab-vm',
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

  it('runs the DESIGN test and more Vitest files against the installed package, in parallel', () => {
    for (const f of readdirSync(project).filter((x) => x.endsWith('.test.mjs'))) rmSync(join(project, f))
    // The first test of DESIGN.md, exactly as a downstream user writes it.
    writeFileSync(
      join(project, 'design.test.mjs'),
      `
      import { test, expect } from 'nslab/vitest'

      test('client reaches server', async ({ lab }) => {
        const [a, b] = await lab.addHosts('a', 'b')
        await lab.connect(a, b)
        await expect(a).toReach(b)
      })
      `,
    )
    for (const n of [1, 2, 3]) {
      writeFileSync(
        join(project, `star${n}.test.mjs`),
        `
        import { test, expect } from 'nslab/vitest'
        test('a star of ${n * 5} hosts', async ({ lab }) => {
          const sw = await lab.addSwitch('sw')
          const hosts = await lab.addHosts(...Array.from({ length: ${n * 5} }, (_, i) => 'h' + i))
          for (const h of hosts) await lab.connect(h, sw)
          await expect(hosts[0]).toReach(hosts[hosts.length - 1], { protocol: 'tcp' })
        })
        test('a fresh namespace has only lo, down', async ({ netns }) => {
          const links = JSON.parse((await netns.exec(['ip', '-j', 'link'])).stdout)
          expect(links.map((l) => l.ifname)).toEqual(['lo'])
          expect(links[0].operstate).toBe('DOWN')
        })
        `,
      )
    }
    const out = run('npx', ['--offline', 'vitest', 'run', '--reporter=verbose'], project).replace(ANSI, '')
    expect(out).toMatch(/Test Files\s+4 passed/)
    expect(out).toMatch(/Tests\s+7 passed/)
  })
})
