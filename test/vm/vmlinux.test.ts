import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { resolveKernel } from '../../vm/kernel.js'
import { bootImage, hasPvhEntry } from '../../vm/vmlinux.js'

describe('PVH boot image', () => {
  it("extracts the Debian kernel's vmlinux once, with its PVH entry, and reuses it", () => {
    const k = resolveKernel()
    const cache = mkdtempSync(join(tmpdir(), 'nslab-vmlinux-'))
    try {
      const first = bootImage(k.image, k.version, cache)
      expect(first.pvh).toBe(true)
      expect(first.path.startsWith(cache)).toBe(true)
      expect(hasPvhEntry(readFileSync(first.path))).toBe(true)
      expect(bootImage(k.image, k.version, cache)).toEqual(first)
    } finally {
      rmSync(cache, { recursive: true })
    }
  })

  it('finds no PVH entry in other executables or in non-ELF bytes', () => {
    expect(hasPvhEntry(readFileSync(process.execPath))).toBe(false)
    expect(hasPvhEntry(Buffer.from('MZ not an elf'))).toBe(false)
  })
})
