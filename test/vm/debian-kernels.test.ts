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
import { readdirSync, statSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { type Row, nslab, parseList } from '../support/debian-cli.js'

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
})
