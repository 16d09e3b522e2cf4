/**
 * A bzImage's kernel, decompressed once on the host (and cached), booted
 * straight through its PVH entry point: under TCG, decompressing an XZ
 * kernel inside the guest costs seconds (Debian 6.1: 4.5 s to the first
 * panic with the bzImage, 1.7 s with the extracted vmlinux). Any kernel that
 * cannot be extracted or has no PVH entry is booted as the bzImage.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const FORMATS: { magic: Buffer; tool: string }[] = [
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), tool: 'xz' },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tool: 'zstd' },
  { magic: Buffer.from([0x1f, 0x8b, 0x08]), tool: 'gzip' },
]

const XEN_ELFNOTE_PHYS32_ENTRY = 18

/** True when `elf` is a 64-bit ELF with a Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY), which QEMU boots directly. */
export function hasPvhEntry(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false
  const phoff = Number(elf.readBigUInt64LE(0x20))
  const phentsize = elf.readUInt16LE(0x36)
  for (let i = 0, n = elf.readUInt16LE(0x38); i < n; i++) {
    const ph = phoff + i * phentsize
    if (ph + 56 > elf.length || elf.readUInt32LE(ph) !== 4) continue // PT_NOTE
    let at = Number(elf.readBigUInt64LE(ph + 8))
    const end = Math.min(at + Number(elf.readBigUInt64LE(ph + 32)), elf.length)
    while (at + 12 <= end) {
      const namesz = elf.readUInt32LE(at)
      const descsz = elf.readUInt32LE(at + 4)
      const type = elf.readUInt32LE(at + 8)
      const name = elf.toString('latin1', at + 12, at + 12 + Math.max(0, namesz - 1))
      if (name === 'Xen' && type === XEN_ELFNOTE_PHYS32_ENTRY) return true
      at += 12 + Math.ceil(namesz / 4) * 4 + Math.ceil(descsz / 4) * 4
    }
  }
  return false
}

/** Decompress the kernel inside a bzImage; undefined when no known payload yields an ELF. */
export function extractVmlinux(bzImage: Buffer): Buffer | undefined {
  for (const { magic, tool } of FORMATS) {
    for (let at = bzImage.indexOf(magic); at >= 0; at = bzImage.indexOf(magic, at + 1)) {
      // The payload is followed by more of the image: the tools complain but write the whole kernel.
      const r = spawnSync(tool, ['-dc'], { input: bzImage.subarray(at), maxBuffer: 512 * 1024 * 1024 })
      if (r.stdout && r.stdout.length > 64 && r.stdout.readUInt32BE(0) === 0x7f454c46) return r.stdout
    }
  }
  return undefined
}

/** The image to boot: a cached PVH vmlinux extracted from `image` when possible, else `image` itself. */
export function bootImage(image: string, version: string, cache: string): { path: string; pvh: boolean } {
  const s = statSync(image)
  const key = createHash('sha256').update(`${image}:${s.size}:${s.mtimeMs}`).digest('hex').slice(0, 12)
  const path = join(cache, `vmlinux-${version}-${key}`)
  const none = join(cache, `vmlinux-${version}-${key}.none`)
  if (existsSync(path)) return { path, pvh: true }
  if (existsSync(none)) return { path: image, pvh: false }
  const elf = extractVmlinux(readFileSync(image))
  mkdirSync(cache, { recursive: true })
  if (!elf || !hasPvhEntry(elf)) {
    writeFileSync(none, '') // remembered: this kernel boots as a bzImage
    return { path: image, pvh: false }
  }
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, elf)
  renameSync(tmp, path)
  return { path, pvh: true }
}
