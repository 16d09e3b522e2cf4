/**
 * The pure side of fetching Debian kernels: version ordering (against
 * `dpkg --compare-versions` as the oracle), apt-cache output, Depends,
 * the private apt configuration and the "nearest ones" of an unknown version.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_SUITES,
  DebianArchive,
  aptOptions,
  configuredSuites,
  controlField,
  kernelVersionOf,
  nearestVersions,
  parseMadison,
  pinnedDepends,
  sourcesList,
} from '../../vm/debian-archive.js'
import { compareDebianVersions } from '../../vm/debian-version.js'
import { unknownKernelMessage } from '../../vm/kernel-cache.js'

const sign = (n: number) => Math.sign(n) + 0 // no -0

/** dpkg's answer: -1, 0 or 1. */
function dpkgCompare(a: string, b: string): number {
  const run = (op: string) => spawnSync('dpkg', ['--compare-versions', a, op, b]).status === 0
  return run('lt') ? -1 : run('eq') ? 0 : 1
}

const hasDpkg = spawnSync('dpkg', ['--version'], { stdio: 'ignore' }).status === 0

// Versions as dpkg accepts them: [epoch:]upstream[-revision], upstream starting with a digit.
const chars = (set: string, max: number) =>
  fc.array(fc.constantFrom(...set.split('')), { maxLength: max }).map((a) => a.join(''))
const debVersion = fc
  .record({
    epoch: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    first: fc.constantFrom(...'0123456789'.split('')),
    upstream: chars('0123456789.+~ab', 8),
    revision: fc.option(
      chars('0123456789.+~ab', 5).map((r) => r || '1'),
      { nil: undefined },
    ),
  })
  .map(
    ({ epoch, first, upstream, revision }) =>
      `${epoch === undefined ? '' : `${epoch}:`}${first}${upstream}${revision === undefined ? '' : `-${revision}`}`,
  )

describe('Debian version order', () => {
  it('orders kernel versions as dpkg does', () => {
    const sorted = [
      '5.10.218-1',
      '5.10.223-1',
      '6.1.170-3',
      '6.1.192-2',
      '6.1.192-3',
      '6.12.43-1~bpo12+1',
      '6.12.43-1',
      '6.12.100-1~deb12u1',
      '7.0.4-1~bpo13+1',
      '7.3.4-1~bpo13+1',
      '1:0.1',
    ]
    expect([...sorted].reverse().sort(compareDebianVersions)).toEqual(sorted)
    expect(compareDebianVersions('1.0~rc1', '1.0')).toBeLessThan(0)
    expect(compareDebianVersions('1.0', '1.0-0')).toBe(0)
    expect(compareDebianVersions('1.0a', '1.0+')).toBeLessThan(0) // letters before other characters
    expect(compareDebianVersions('6.1.0-9-amd64', '6.1.0-41-amd64')).toBeLessThan(0)
  })

  it.skipIf(!hasDpkg)('agrees with dpkg --compare-versions (the oracle) on random versions', () => {
    fc.assert(
      fc.property(debVersion, debVersion, (a, b) => {
        expect(sign(compareDebianVersions(a, b)), `${a} vs ${b}`).toBe(dpkgCompare(a, b))
      }),
      { numRuns: 150 },
    )
    // Near misses: the same version with one part changed.
    fc.assert(
      fc.property(debVersion, chars('0~+.a1', 3), (a, tail) => {
        const b = a + tail
        expect(sign(compareDebianVersions(a, b)), `${a} vs ${b}`).toBe(dpkgCompare(a, b))
      }),
      { numRuns: 100 },
    )
  })

  it('is a total order: antisymmetric, and sorting agrees with every pair', () => {
    fc.assert(
      fc.property(fc.array(debVersion, { minLength: 2, maxLength: 12 }), (vs) => {
        const s = [...vs].sort(compareDebianVersions)
        for (let i = 0; i + 1 < s.length; i++)
          expect(compareDebianVersions(s[i]!, s[i + 1]!)).toBeLessThanOrEqual(0)
        for (const a of vs)
          for (const b of vs)
            expect(sign(compareDebianVersions(a, b))).toBe(-sign(compareDebianVersions(b, a)) + 0)
      }),
    )
  })
})

// apt-cache madison lines as apt prints them (Debian's archive, 2026-12).
const MADISON = `linux-image-5.10.0-32-amd64 | 5.10.223-1 | http://deb.debian.org/debian bullseye/main amd64 Packages
linux-image-6.1.0-50-amd64 |  6.1.176-1 | http://deb.debian.org/debian bookworm/main amd64 Packages
linux-image-6.1.0-50-amd64 |  6.1.176-1 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
linux-image-7.3.4+deb13-amd64 | 7.3.4-1~bpo13+1 | http://deb.debian.org/debian trixie-backports/main amd64 Packages
linux-image-6.12.43+deb12-amd64 | 6.12.43-1~bpo12+1 | http://deb.debian.org/debian bookworm-backports/main amd64 Packages
linux-image-6.1.0-9-amd64 |  6.1.27-1 | http://deb.debian.org/debian bookworm/main amd64 Packages
linux-image-6.12-amd64 | 6.12.118-1~deb12u1 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
linux-image-6.1.0-50-cloud-amd64 |  6.1.176-1 | http://deb.debian.org/debian bookworm/main amd64 Packages
linux-image-6.1.0-50-amd64 |  6.1.176-1 | http://deb.debian.org/debian bookworm/main Sources
`

describe('the archive listing', () => {
  it('keeps linux-image-<uname -r> of the amd64 flavour only', () => {
    expect(kernelVersionOf('linux-image-6.1.0-41-amd64')).toBe('6.1.0-41-amd64')
    expect(kernelVersionOf('linux-image-7.3.4+deb13-amd64')).toBe('7.3.4+deb13-amd64')
    expect(kernelVersionOf('linux-image-6.12.90+deb12.1-amd64')).toBe('6.12.90+deb12.1-amd64')
    for (const other of [
      'linux-image-amd64',
      'linux-image-6.12-amd64', // a meta package, not a build
      'linux-image-6.1.0-41-amd64-unsigned',
      'linux-image-6.1.0-41-amd64-dbg',
      'linux-image-6.1.0-41-cloud-amd64',
      'linux-image-6.1.0-41-rt-amd64',
      'linux-headers-6.1.0-41-amd64',
    ])
      expect(kernelVersionOf(other), other).toBeUndefined()
  })

  it('turns apt-cache madison into kernels ordered by package version, suites merged', () => {
    expect(parseMadison(MADISON)).toEqual([
      {
        version: '5.10.0-32-amd64',
        package: 'linux-image-5.10.0-32-amd64',
        packageVersion: '5.10.223-1',
        suites: ['bullseye'],
      },
      {
        version: '6.1.0-9-amd64',
        package: 'linux-image-6.1.0-9-amd64',
        packageVersion: '6.1.27-1',
        suites: ['bookworm'],
      },
      {
        version: '6.1.0-50-amd64',
        package: 'linux-image-6.1.0-50-amd64',
        packageVersion: '6.1.176-1',
        suites: ['bookworm', 'bookworm-security'],
      },
      {
        version: '6.12.43+deb12-amd64',
        package: 'linux-image-6.12.43+deb12-amd64',
        packageVersion: '6.12.43-1~bpo12+1',
        suites: ['bookworm-backports'],
      },
      {
        version: '7.3.4+deb13-amd64',
        package: 'linux-image-7.3.4+deb13-amd64',
        packageVersion: '7.3.4-1~bpo13+1',
        suites: ['trixie-backports'],
      },
    ])
    expect(parseMadison('')).toEqual([])
    expect(parseMadison('garbage\n| |\nlinux-image-6.1.0-1-amd64 | 1 | nonsense')).toEqual([])
  })

  it('follows the packages a split kernel pins to its own version (linux-binary, linux-modules, linux-base)', () => {
    const stanza = `Package: linux-image-7.3.4+deb13-amd64
Version: 7.3.4-1~bpo13+1
Depends: dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-7.3.4+deb13-amd64 (= 7.3.4-1~bpo13+1),
 linux-binary-7.3.4+deb13-amd64 (= 7.3.4-1~bpo13+1), linux-modules-7.3.4+deb13-amd64 (= 7.3.4-1~bpo13+1)
Size: 1900
`
    const depends = controlField(stanza, 'Depends')!
    expect(pinnedDepends(depends, '7.3.4-1~bpo13+1')).toEqual([
      'linux-base-7.3.4+deb13-amd64',
      'linux-binary-7.3.4+deb13-amd64',
      'linux-modules-7.3.4+deb13-amd64',
    ])
    expect(controlField(stanza, 'Size')).toBe('1900')
    expect(controlField(stanza, 'Missing')).toBeUndefined()
    // An older, whole package: nothing pinned.
    expect(
      pinnedDepends(
        'kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool',
        '6.1.174-1',
      ),
    ).toEqual([])
    expect(pinnedDepends('a (= 2), b (= 1)', '1')).toEqual(['b'])
  })

  it("writes apt's private configuration: the suites signed by Debian's keyring, every path under its own folder", () => {
    expect(sourcesList({ suites: ['bullseye', 'bookworm-security'] })).toBe(
      'deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main\n' +
        'deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main\n',
    )
    const opts = aptOptions('/c/apt', false)
    const dirs = opts.filter((o) => o.startsWith('Dir::'))
    expect(dirs.map((d) => d.split('=')[0]).sort()).toEqual(
      [
        'Dir::Cache',
        'Dir::Etc::Preferences',
        'Dir::Etc::PreferencesParts',
        'Dir::Etc::SourceList',
        'Dir::Etc::SourceParts',
        'Dir::Log',
        'Dir::State::Lists',
        'Dir::State::extended_states',
        'Dir::State::status',
      ].sort(),
    )
    for (const d of dirs) expect(d.split('=')[1]).toMatch(/^\/c\/apt\//)
    expect(opts.join(' ')).not.toMatch(/AllowUnauthenticated|Trusted|allow-insecure/)
    expect(configuredSuites(undefined)).toEqual([...DEFAULT_SUITES])
    expect(configuredSuites(' sid, bullseye ,')).toEqual(['sid', 'bullseye'])
  })
})

describe('an unknown version', () => {
  const available = [
    '5.10.0-30-amd64',
    '5.10.0-32-amd64',
    '6.1.0-41-amd64',
    '6.1.0-42-amd64',
    '6.12.43+deb12-amd64',
    '7.3.4+deb13-amd64',
  ]
  it('names the nearest ones of its line, else its neighbours', () => {
    expect(unknownKernelMessage('6.1.0-999-amd64', available)).toBe(
      'there is no Debian kernel 6.1.0-999-amd64; nearest: 6.1.0-41-amd64, 6.1.0-42-amd64 (see: nslab kernel list)',
    )
    expect(nearestVersions('5.10.0-31-amd64', available)).toEqual(['5.10.0-30-amd64', '5.10.0-32-amd64'])
    expect(nearestVersions('6.5.0-1-amd64', available)).toEqual(['6.1.0-42-amd64', '6.12.43+deb12-amd64'])
    expect(nearestVersions('9.0.0-amd64', available)).toEqual(['6.12.43+deb12-amd64', '7.3.4+deb13-amd64'])
    expect(unknownKernelMessage('6.1.0-1-amd64', [])).toBe(
      'there is no Debian kernel 6.1.0-1-amd64 (see: nslab kernel list)',
    )
  })

  it('always picks available versions, at most n', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom(...available), { maxLength: 6 }),
        fc.constantFrom(...available, '6.1.0-5-amd64', '8.0.0'),
        (av, wanted) => {
          const near = nearestVersions(wanted, av)
          expect(near.length).toBe(Math.min(2, av.length))
          for (const n of near) expect(av).toContain(n)
        },
      ),
    )
  })
})

describe('downloading a kernel whose modules package is gone', () => {
  it('refuses before anything is downloaded, naming the missing package', async () => {
    // apt-cache and apt-get stand-ins first on PATH: the archive lists the image (pinning its
    // modules), not the modules; apt-get leaves a mark if it is ever run.
    const bin = mkdtempSync(join(tmpdir(), 'nslab-fake-apt-'))
    const mark = join(bin, 'apt-get-ran')
    const v = '6.19.14+deb13-amd64'
    const pv = '6.19.14-1~bpo13+1'
    writeFileSync(
      join(bin, 'apt-cache'),
      `#!/bin/sh\ncase "$*" in\n  *"linux-image-${v}=${pv}"*) printf 'Package: linux-image-${v}\\nVersion: ${pv}\\nSize: 1000\\nDepends: linux-modules-${v} (= ${pv}), kmod\\n' ;;\nesac\nexit 0\n`,
    )
    writeFileSync(join(bin, 'apt-get'), `#!/bin/sh\ntouch ${mark}\n`)
    chmodSync(join(bin, 'apt-cache'), 0o755)
    chmodSync(join(bin, 'apt-get'), 0o755)
    const path = process.env.PATH
    process.env.PATH = `${bin}:${path}`
    try {
      const archive = new DebianArchive({ dir: join(bin, 'apt'), suites: ['trixie-backports'] })
      const lines: string[] = []
      await expect(
        archive.download(`linux-image-${v}`, pv, join(bin, 'debs'), {
          line: (l) => lines.push(l),
          tty: false,
        }),
      ).rejects.toThrow(
        `linux-modules-${v} ${pv} is not in the archive: linux-image-${v} cannot make a lab without its modules (nothing downloaded)`,
      )
      expect(existsSync(mark)).toBe(false)
      expect(lines).toEqual([])
    } finally {
      process.env.PATH = path
      rmSync(bin, { recursive: true, force: true })
    }
  })
})
