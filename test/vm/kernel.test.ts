import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
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
      /kernel 9\.9\.9 is not installed .*installed: 6\.1\.0-56-amd64, 6\.1\.0-9-amd64/,
    )
    expect(() => resolveKernel('6.1.0-9-amd64', d)).toThrow(
      /modules of kernel 6\.1\.0-9-amd64 are missing.*apt-get install -y linux-image-6\.1\.0-9-amd64/,
    )
    expect(() => resolveKernel('/nonexistent/bzImage', d)).toThrow('does not exist')
    writeFileSync(join(d.boot, 'junk'), 'not a kernel')
    expect(() => resolveKernel(join(d.boot, 'junk'), d)).toThrow('is not an x86 kernel image')
  })

  it("resolves this machine's Debian kernel with its modules (apt-get install -y linux-image-amd64)", () => {
    const k = resolveKernel()
    expect(k.image).toMatch(/^\/boot\/vmlinuz-/)
    expect(k.modulesDir).toBe(`/lib/modules/${k.version}`)
  })
})
