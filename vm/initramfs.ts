/**
 * The guest's initramfs: static busybox, the init script (guest-init.sh) and
 * the guest kernel's modules that mounting the host root needs (virtio_pci,
 * 9p over virtio, overlay), in dependency order. Built once per kernel and
 * cached under node_modules/.cache/nslab (or /var/cache/nslab).
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { cpioArchive, type CpioEntry } from './cpio.js'
import type { Kernel } from './kernel.js'
import { loadOrder, parseModulesBuiltin, parseModulesDep } from './modules.js'

/**
 * Modules the init script needs before it can mount the host root, and
 * virtio_console for the runner's byte channels (virtio-serial ports); deps come along.
 */
export const BOOT_MODULES = ['virtio_pci', 'virtio_mmio', '9pnet_virtio', '9p', 'overlay', 'virtio_console']

export const BUSYBOX_PATHS = ['/bin/busybox', '/usr/bin/busybox', '/sbin/busybox']

/** Something the VM runner needs on the host is missing; the message names the package. */
export class VmPrerequisiteError extends Error {
  override readonly name = 'VmPrerequisiteError'
}

/** True when an ELF executable has no program interpreter (PT_INTERP), i.e. is statically linked. */
export function isStaticElf(bytes: Buffer): boolean {
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46 || bytes[4] !== 2) return false
  const phoff = Number(bytes.readBigUInt64LE(0x20))
  const phentsize = bytes.readUInt16LE(0x36)
  const phnum = bytes.readUInt16LE(0x38)
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize
    if (at + 4 > bytes.length) return false
    if (bytes.readUInt32LE(at) === 3) return false // PT_INTERP
  }
  return true
}

/** The host's static busybox, or an error saying to install busybox-static. */
export function findBusybox(paths = BUSYBOX_PATHS): string {
  for (const p of paths) {
    if (!existsSync(p)) continue
    if (isStaticElf(readFileSync(p))) return p
    throw new VmPrerequisiteError(
      `${p} is dynamically linked and cannot run in the VM's initramfs; install the static one: apt-get install -y busybox-static`,
    )
  }
  throw new VmPrerequisiteError(
    'busybox is missing (the VM initramfs needs a static one); install it: apt-get install -y busybox-static',
  )
}

/** Where built initramfs images are kept. */
export function cacheDir(cwd = process.cwd()): string {
  if (process.env.NSLAB_CACHE_DIR) return process.env.NSLAB_CACHE_DIR
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) return join(dir, 'node_modules', '.cache', 'nslab')
    if (dirname(dir) === dir) return '/var/cache/nslab'
  }
}

/** The guest init script (shipped beside this module, in vm/ and dist/vm/). */
export function guestInitPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'guest-init.sh')
}

function moduleBytes(path: string): Buffer {
  if (path.endsWith('.ko')) return readFileSync(path)
  if (path.endsWith('.ko.gz')) return gunzipSync(readFileSync(path))
  const tool = path.endsWith('.ko.xz') ? 'xz' : path.endsWith('.ko.zst') ? 'zstd' : undefined
  if (!tool) throw new VmPrerequisiteError(`cannot load kernel module ${path}: unknown compression`)
  const r = spawnSync(tool, ['-dc', path], { maxBuffer: 256 * 1024 * 1024 })
  if (r.error || r.status !== 0)
    throw new VmPrerequisiteError(
      `cannot decompress kernel module ${path} with ${tool}; install it: apt-get install -y ${tool === 'xz' ? 'xz-utils' : 'zstd'}`,
    )
  return r.stdout
}

export interface Initramfs {
  path: string
  /** True when it came from the cache. */
  cached: boolean
  /** The module files it loads, in order. */
  modules: string[]
}

/** Build (or reuse from the cache) the initramfs for `kernel`. */
export function buildInitramfs(kernel: Kernel, dir = cacheDir()): Initramfs {
  const busybox = findBusybox()
  const init = readFileSync(guestInitPath())
  const deps = parseModulesDep(readFileSync(join(kernel.modulesDir, 'modules.dep'), 'utf8'))
  const builtinFile = join(kernel.modulesDir, 'modules.builtin')
  const builtin = existsSync(builtinFile)
    ? parseModulesBuiltin(readFileSync(builtinFile, 'utf8'))
    : new Set<string>()
  const order = loadOrder(deps, BOOT_MODULES, builtin, join(kernel.modulesDir, 'modules.dep'))

  const hash = createHash('sha256').update(init).update(kernel.version)
  for (const f of [busybox, ...order.map((m) => join(kernel.modulesDir, m))]) {
    const s = statSync(f)
    hash.update(`${f}:${s.size}:${s.mtimeMs}`)
  }
  const path = join(dir, `initramfs-${kernel.version}-${hash.digest('hex').slice(0, 12)}.cpio`)
  if (existsSync(path)) return { path, cached: true, modules: order }

  const files = order.map((m) => m.slice(m.lastIndexOf('/') + 1).replace(/\.(xz|gz|zst)$/, ''))
  const entries: CpioEntry[] = [
    { path: 'bin', type: 'dir', mode: 0o755 },
    { path: 'bin/busybox', type: 'file', mode: 0o755, data: readFileSync(busybox) },
    { path: 'bin/sh', type: 'symlink', mode: 0o777, data: 'busybox' },
    { path: 'init', type: 'file', mode: 0o755, data: init },
    { path: 'dev', type: 'dir', mode: 0o755 },
    { path: 'proc', type: 'dir', mode: 0o755 },
    { path: 'sys', type: 'dir', mode: 0o755 },
    { path: 'modules', type: 'dir', mode: 0o755 },
    { path: 'modules/order', type: 'file', mode: 0o644, data: files.join('\n') + '\n' },
    ...order.map((m, i): CpioEntry => ({
      path: `modules/${files[i]}`,
      type: 'file',
      mode: 0o644,
      data: moduleBytes(join(kernel.modulesDir, m)),
    })),
  ]
  mkdirSync(dir, { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, cpioArchive(entries))
  renameSync(tmp, path)
  // Older builds for this kernel (another init script, busybox or modules) are of no more use.
  for (const f of readdirSync(dir))
    if (f.startsWith(`initramfs-${kernel.version}-`) && join(dir, f) !== path)
      rmSync(join(dir, f), { force: true })
  return { path, cached: false, modules: order }
}
