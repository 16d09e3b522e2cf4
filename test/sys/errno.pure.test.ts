/**
 * The errno table against the kernel and the C library: every value the
 * kernel defines (1..133) has its name and strerror(3) text, so a message
 * never reads `E54 ... Unknown error 54`. Pure: reads headers, runs perl.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SysError, errnoName, errnoText, errnoValue } from '../../harness/sys/index.js'

const HEADERS = ['/usr/include/asm-generic/errno-base.h', '/usr/include/asm-generic/errno.h']

/** The kernel's values: number -> its first name in asm-generic (aliases such as EWOULDBLOCK are `#define X Y`). */
function kernelNames(): Map<number, string> {
  const names = new Map<number, string>()
  for (const h of HEADERS)
    for (const m of readFileSync(h, 'utf8').matchAll(/^#define\s+(E[A-Z0-9]+)\s+(\d+)\b/gm))
      if (!names.has(Number(m[2]))) names.set(Number(m[2]), m[1]!)
  return names
}

/** What the C library says, through perl (perl-base is part of every Debian system): number -> names, text. */
function libcErrnos(): Map<number, { names: string[]; text: string }> {
  const r = spawnSync(
    'perl',
    ['-e', 'use Errno; for my $n (keys %!) { my $v = Errno->$n; $! = $v; print "$v\\t$n\\t$!\\n" }'],
    { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
  )
  expect(r.status, r.stderr).toBe(0)
  const out = new Map<number, { names: string[]; text: string }>()
  for (const line of r.stdout.trim().split('\n')) {
    const [v, name, text] = line.split('\t') as [string, string, string]
    const e = out.get(Number(v)) ?? { names: [], text }
    e.names.push(name)
    out.set(Number(v), e)
  }
  return out
}

describe('errno table', () => {
  it('names EXFULL, what a bridge answers past its 1024th port', () => {
    expect(errnoName(54)).toBe('EXFULL')
    expect(errnoText(54)).toBe('Exchange full')
    expect(new SysError('sendmsg', 54).message).toBe('EXFULL from sendmsg: Exchange full')
  })

  it('names every value 1..133 but the two Linux leaves unused (41, 58)', () => {
    for (let n = 1; n <= 133; n++) {
      if (n === 41 || n === 58) {
        expect(errnoName(n)).toBe(`E${n}`)
        continue
      }
      expect(errnoName(n), `errno ${n}`).toMatch(/^E[A-Z0-9]+$/)
      expect(errnoText(n), `errno ${n}`).not.toMatch(/^Unknown error/)
      expect(errnoValue(errnoName(n))).toBe(n)
    }
    expect(errnoName(134)).toBe('E134')
    expect(errnoText(134)).toBe('Unknown error 134')
  })

  it("matches the kernel's asm-generic/errno-base.h and errno.h, name for name", () => {
    const missing = HEADERS.filter((h) => !existsSync(h))
    if (missing.length > 0)
      throw new Error(
        `${missing.join(', ')} missing: the kernel's headers are the authority here (apt-get install linux-libc-dev; scripts/setup-system.sh does)`,
      )
    const kernel = kernelNames()
    expect(kernel.size).toBeGreaterThanOrEqual(131)
    for (const [n, name] of kernel) expect(errnoName(n), `errno ${n}`).toBe(name)
  })

  it("matches the C library's names and strerror texts (C locale)", () => {
    const libc = libcErrnos()
    for (const [n, { names, text }] of libc) {
      if (n > 133) continue
      expect(names, `errno ${n}`).toContain(errnoName(n))
      expect(errnoText(n), `errno ${n}`).toBe(text)
    }
  })

  it('knows the aliases', () => {
    expect(errnoValue('EWOULDBLOCK')).toBe(11)
    expect(errnoValue('EDEADLOCK')).toBe(35)
    expect(errnoValue('ENOTSUP')).toBe(95)
    expect(errnoValue('ENOSUCH')).toBeUndefined()
  })
})
