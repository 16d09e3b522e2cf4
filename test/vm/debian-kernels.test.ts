/**
 * Real Debian kernels, through the nslab command: `kernel list` against
 * deb.debian.org, an unknown version's one sentence, and kernels of two
 * lines (bullseye's 5.10 and the newest 7.x, else 6.16+) fetched into the
 * cache and booted on the microvm path, where a module loads.
 *
 * And one real bisect: the shipped kernel-difference scenario
 * (scenarios/kernel-differences/ipv6-force-forwarding.yaml) over three
 * builds around Linux 6.17, each booted in the VM, then rerun from the cache.
 *
 * They need the network (about 60 MB of package lists, 100-200 MB per
 * kernel the first time; the cache keeps them) and a QEMU boot each, so they
 * run on their own: `npm run test:kernels` (and in .ci/run). `npm test`
 * (sealed: no network) leaves this file out (vitest.config.ts).
 */
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

if (process.env.NSLAB_TEST_DEBIAN !== '1')
  throw new Error(
    'test/vm/debian-kernels.test.ts needs the network and QEMU: run it with npm run test:kernels',
  )

/** What must not change: the host's apt sources, lists and package status, and /boot. */
function hostAptState(): string {
  const dirs = ['/etc/apt/sources.list.d', '/var/lib/apt/lists', '/boot']
  const files = ['/etc/apt/sources.list', '/var/lib/dpkg/status']
  const stamp = (p: string) => {
    try {
      const s = statSync(p)
      return `${p}:${s.size}:${s.mtimeMs}`
    } catch {
      return `${p}:-`
    }
  }
  return [
    ...files.map(stamp),
    ...dirs.flatMap((d) => {
      try {
        return [stamp(d), ...readdirSync(d).map((f) => stamp(`${d}/${f}`))]
      } catch {
        return [`${d}:-`]
      }
    }),
  ].join('\n')
}

interface Ran {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

function nslab(args: string[], timeoutMs: number): Promise<Ran> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'harness/cli/main.ts', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: performance.now() - t0 })
    })
  })
}

interface Row {
  version: string
  packageVersion: string
  suites: string[]
  marks: string[]
}

function parseList(out: string): Row[] {
  return out
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => {
      const [version = '', packageVersion = '', suites = '', marks = ''] = l.split(/\s+/)
      return { version, packageVersion, suites: suites.split(','), marks: marks ? marks.split(',') : [] }
    })
}

describe("Debian's kernels, fetched and booted", { timeout: 900_000 }, () => {
  let rows: Row[] = []

  it("lists the suites' kernel builds, oldest first, without touching the host's apt state", async () => {
    const before = hostAptState()
    // --refresh: apt-get update runs now, against the private lists.
    const r = await nslab(['kernel', 'list', '--refresh'], 300_000)
    expect(r.code, r.stderr).toBe(0)
    expect(hostAptState()).toBe(before)
    rows = parseList(r.stdout)
    const suites = new Set(rows.flatMap((x) => x.suites))
    for (const s of ['bullseye', 'bookworm', 'bookworm-security', 'bookworm-backports', 'trixie-backports'])
      expect(suites, s).toContain(s)
    for (const line of [/^5\.10\.0-\d+-amd64$/, /^6\.1\.0-\d+-amd64$/, /^6\.12\.\d+\+deb1[23]-amd64$/])
      expect(
        rows.some((x) => line.test(x.version)),
        String(line),
      ).toBe(true)
    // Ordered as dpkg orders the package versions.
    const { compareDebianVersions } = await import('../../vm/debian-version.js')
    for (let i = 0; i + 1 < rows.length; i++)
      if (!rows[i + 1]!.suites.includes('(cache only)'))
        expect(
          compareDebianVersions(rows[i]!.packageVersion, rows[i + 1]!.packageVersion),
        ).toBeLessThanOrEqual(0)
  })

  it('says in one sentence that a version does not exist, naming the nearest ones (exit 2)', async () => {
    const r = await nslab(['kernel', 'fetch', '6.1.0-999-amd64'], 120_000)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /^nslab kernel: there is no Debian kernel 6\.1\.0-999-amd64; nearest: 6\.1\.0-\d+-amd64, 6\.1\.0-\d+-amd64 \(see: nslab kernel list\)\n$/,
    )
  })

  const pick = (test: (v: string) => boolean) =>
    rows
      .filter((x) => test(x.version) && !x.suites.includes('(cache only)'))
      .map((x) => x.version)
      .pop()

  it.each([
    ['bullseye 5.10', (v: string) => v.startsWith('5.10.')],
    ['the newest 7.x (else 6.16+)', (v: string) => /^7\./.test(v) || /^6\.(1[6-9]|[2-9]\d)\./.test(v)],
  ])('fetches %s on first use, boots it on the microvm path and loads a module', async (_, which) => {
    const v = pick(which)
    expect(v, 'no such kernel in the list').toBeDefined()
    const r = await nslab(
      [
        'vm',
        'run',
        '--kernel',
        v!,
        '--timeout',
        '300',
        '--',
        'sh',
        '-c',
        'uname -r; modprobe veth && ip link add nslab-va type veth peer name nslab-vb && echo veth-ok',
      ],
      600_000,
    )
    console.log(`${v}: ${(r.ms / 1000).toFixed(1)} s\n${r.stderr}`)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(`${v}\nveth-ok\n`)
    expect(r.stderr).toMatch(/, microvm, /)
    // Cached now: `kernel list --cached` reads the cache alone.
    const c = await nslab(['kernel', 'list', '--cached'], 60_000)
    expect(parseList(c.stdout).find((x) => x.version === v)?.marks).toContain('cached')
  })

  it(
    'bisects the shipped kernel-difference scenario over three real builds: the first bad one is 6.17',
    {
      timeout: 1_800_000,
    },
    async () => {
      // On its own (-t), it lists the kernels itself.
      if (rows.length === 0) rows = parseList((await nslab(['kernel', 'list'], 300_000)).stdout)
      const versions = rows.filter((x) => !x.suites.includes('(cache only)')).map((x) => x.version)
      const lastOf = (re: RegExp) => versions.filter((v) => re.test(v)).pop()
      const firstOf = (re: RegExp) => versions.find((v) => re.test(v))
      const three = [lastOf(/^6\.16\./), firstOf(/^6\.17\./), lastOf(/^7\./)]
      expect(three.every(Boolean), `6.16, 6.17 and 7.x builds in the list: ${three.join(', ')}`).toBe(true)
      const file = 'scenarios/kernel-differences/ipv6-force-forwarding.yaml'
      const args = ['bisect', file, '--kernels', three.join(','), '--changelog-lines', '2']
      // --fresh: every candidate boots now, whatever an earlier run cached.
      const r = await nslab([...args, '--fresh'], 1_500_000)
      console.log(
        `bisect over ${three.join(', ')}: ${(r.ms / 1000).toFixed(1)} s\n${r.stdout.slice(0, 3000)}`,
      )
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain(`over 3 builds, ${three[0]} (good) .. ${three[2]} (bad): at most 3 boots`)
      expect(r.stdout).toMatch(
        new RegExp(`^\\[1\\] ${three[0]!.replace(/[.+]/g, '\\$&')} .*: fail -> good`, 'm'),
      )
      expect(r.stdout).toMatch(/^\[3\] .*: pass -> bad/m)
      expect(r.stdout).toContain(`first bad build: ${three[1]} (package `)
      expect(r.stdout).toMatch(/upstream Linux 6\.17\.\d+\): pass/)
      expect(r.stdout).toMatch(
        /Debian changelog entries after 6\.16\.\S+ up to 6\.17\.\S+ \(\d+, from the changelog/,
      )
      expect((r.stderr.match(/: booting$/gm) ?? []).length).toBe(3)
      // A rerun costs nothing: every outcome comes from the cache, no VM boots.
      const again = await nslab(args, 300_000)
      expect(again.code, again.stderr).toBe(0)
      expect(again.stderr).not.toMatch(/booting/)
      expect((again.stdout.match(/\(cached\)/g) ?? []).length).toBe(3)
      expect(again.stdout).toContain(`first bad build: ${three[1]} (package `)
    },
  )
})
