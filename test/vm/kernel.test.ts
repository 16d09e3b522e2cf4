import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cachedKernels, withLock } from '../../vm/kernel-cache.js'
import { KernelNotFoundError, bzImageVersion, installedKernels, resolveKernel } from '../../vm/kernel.js'

/** Bytes shaped like a bzImage setup header carrying `version`. */
function fakeBzImage(version: string): Buffer {
  const b = Buffer.alloc(0x1000)
  b.write('HdrS', 0x202, 'latin1')
  b.writeUInt16LE(0x0e00 - 0x200, 0x20e)
  b.write(`${version} (builder@host) #1 SMP\0`, 0x0e00, 'latin1')
  return b
}

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
function fakeRoot(kernels: string[], withModules = kernels): { boot: string; modules: string } {
  const root = mkdtempSync(join(tmpdir(), 'nslab-kernel-'))
  dirs.push(root)
  const boot = join(root, 'boot')
  const modules = join(root, 'modules')
  mkdirSync(boot)
  for (const k of kernels) writeFileSync(join(boot, `vmlinuz-${k}`), fakeBzImage(k))
  for (const k of withModules) {
    mkdirSync(join(modules, k), { recursive: true })
    writeFileSync(join(modules, k, 'modules.dep'), '')
  }
  return { boot, modules }
}

describe('kernel resolution', () => {
  it('reads the release from a bzImage setup header, and refuses other bytes', () => {
    expect(bzImageVersion(fakeBzImage('6.1.0-56-amd64'))).toBe('6.1.0-56-amd64')
    expect(bzImageVersion(Buffer.alloc(0x1000))).toBeUndefined()
    expect(bzImageVersion(Buffer.from('HdrS'))).toBeUndefined()
  })

  it('picks the newest installed kernel by default, by version or by path', () => {
    const d = fakeRoot(['6.1.0-9-amd64', '6.1.0-56-amd64', '5.10.0-30-amd64'])
    expect(installedKernels(d)).toEqual(['6.1.0-56-amd64', '6.1.0-9-amd64', '5.10.0-30-amd64'])
    expect(resolveKernel(undefined, d)).toEqual({
      image: join(d.boot, 'vmlinuz-6.1.0-56-amd64'),
      version: '6.1.0-56-amd64',
      modulesDir: join(d.modules, '6.1.0-56-amd64'),
    })
    expect(resolveKernel('5.10.0-30-amd64', d).image).toBe(join(d.boot, 'vmlinuz-5.10.0-30-amd64'))
    expect(resolveKernel(join(d.boot, 'vmlinuz-6.1.0-9-amd64'), d).version).toBe('6.1.0-9-amd64')
  })

  it('says which package to install when the kernel or its modules are missing', () => {
    const none = fakeRoot([])
    expect(() => resolveKernel(undefined, none)).toThrow(KernelNotFoundError)
    expect(() => resolveKernel(undefined, none)).toThrow('apt-get install -y linux-image-amd64')
    const d = fakeRoot(['6.1.0-56-amd64', '6.1.0-9-amd64'], ['6.1.0-56-amd64'])
    expect(() => resolveKernel('9.9.9', d)).toThrow(
      /kernel 9\.9\.9 is neither installed .* nor cached; installed: 6\.1\.0-56-amd64, 6\.1\.0-9-amd64; or fetch one \(nslab kernel fetch VERSION/,
    )
    expect(() => resolveKernel('6.1.0-9-amd64', d)).toThrow(
      /modules of kernel 6\.1\.0-9-amd64 are missing.*nslab kernel fetch 6\.1\.0-9-amd64.*apt-get install -y linux-image-6\.1\.0-9-amd64/,
    )
    expect(() => resolveKernel('/nonexistent/bzImage', d)).toThrow('does not exist')
    writeFileSync(join(d.boot, 'junk'), 'not a kernel')
    expect(() => resolveKernel(join(d.boot, 'junk'), d)).toThrow('is not an x86 kernel image')
  })

  it('finds kernels in the cache: a version not installed, and the newest cached one when /boot has none', () => {
    const d = fakeRoot(['6.1.0-56-amd64'])
    const cache = join(d.boot, '..', 'cache')
    const cacheOne = (v: string, packageVersion: string, meta = true) => {
      mkdirSync(join(cache, v, 'lib', 'modules', v), { recursive: true })
      writeFileSync(join(cache, v, 'vmlinuz'), fakeBzImage(v))
      writeFileSync(join(cache, v, 'lib', 'modules', v, 'modules.dep'), '')
      if (meta)
        writeFileSync(
          join(cache, v, 'nslab.json'),
          JSON.stringify({ package: `linux-image-${v}`, packageVersion, suites: ['x'], fetchedAt: '' }),
        )
    }
    cacheOne('5.10.0-32-amd64', '5.10.223-1')
    cacheOne('7.3.4+deb13-amd64', '7.3.4-1~bpo13+1')
    cacheOne('6.16.3+deb13-amd64', '6.16.3-1~bpo13+1')
    cacheOne('6.2.0-1-amd64', '6.2.1-1', false) // half a kernel: no nslab.json, so not there
    mkdirSync(join(cache, '.7.0.0-amd64.tmp-1'))
    expect(cachedKernels(cache).map((k) => k.version)).toEqual([
      '5.10.0-32-amd64',
      '6.16.3+deb13-amd64',
      '7.3.4+deb13-amd64',
    ])
    const dirs = { ...d, cache }
    expect(resolveKernel('5.10.0-32-amd64', dirs)).toEqual({
      image: join(cache, '5.10.0-32-amd64', 'vmlinuz'),
      version: '5.10.0-32-amd64',
      modulesDir: join(cache, '5.10.0-32-amd64', 'lib', 'modules', '5.10.0-32-amd64'),
    })
    // An installed kernel is taken from /boot, the default is the newest installed...
    cacheOne('6.1.0-56-amd64', '6.1.192-2')
    expect(resolveKernel('6.1.0-56-amd64', dirs).image).toBe(join(d.boot, 'vmlinuz-6.1.0-56-amd64'))
    expect(resolveKernel(undefined, dirs).version).toBe('6.1.0-56-amd64')
    // ...and with nothing in /boot, the newest cached one.
    expect(resolveKernel(undefined, { ...fakeRoot([]), cache }).version).toBe('7.3.4+deb13-amd64')
    // A path to an image whose modules are only in the cache.
    expect(resolveKernel(join(cache, '5.10.0-32-amd64', 'vmlinuz'), dirs).modulesDir).toBe(
      join(cache, '5.10.0-32-amd64', 'lib', 'modules', '5.10.0-32-amd64'),
    )
    expect(() => resolveKernel('6.2.0-1-amd64', dirs)).toThrow(KernelNotFoundError)
  })

  it('lets one process at a time hold a lock, and takes over the lock of a process that is gone', async () => {
    const d = fakeRoot([])
    const lock = join(d.boot, 'x.lock')
    const order: string[] = []
    const hold = (name: string) =>
      withLock(lock, async () => {
        order.push(`${name} in`)
        await new Promise((r) => setTimeout(r, 50))
        order.push(`${name} out`)
      })
    await Promise.all([hold('a'), hold('b')])
    expect(order).toEqual(['a in', 'a out', 'b in', 'b out'])
    writeFileSync(lock, '999999999') // no such process
    expect(await withLock(lock, async () => 'taken over')).toBe('taken over')
    expect(existsSync(lock)).toBe(false)
  })

  it("resolves this machine's Debian kernel with its modules (apt-get install -y linux-image-amd64)", () => {
    const k = resolveKernel()
    expect(k.image).toMatch(/^\/boot\/vmlinuz-/)
    expect(k.modulesDir).toBe(`/lib/modules/${k.version}`)
  })
})
