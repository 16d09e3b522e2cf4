/**
 * Which kernel the VM boots, and where its modules are. A kernel is named by
 * a path to its image or by the version of an installed Debian kernel
 * (/boot/vmlinuz-<v>); its modules come from /lib/modules/<v>.
 */
import { closeSync, existsSync, openSync, readSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

export interface Kernel {
  /** The kernel image QEMU boots. */
  image: string
  /** `uname -r` of that kernel. */
  version: string
  /** /lib/modules/<version>. */
  modulesDir: string
}

/** Where kernels and their modules live (tests point these elsewhere). */
export interface KernelDirs {
  boot: string
  modules: string
}

const DEFAULT_DIRS: KernelDirs = { boot: '/boot', modules: '/lib/modules' }

/** The kernel or its modules cannot be found; the message says which package to install. */
export class KernelNotFoundError extends Error {
  override readonly name = 'KernelNotFoundError'
}

const INSTALL = 'install one: apt-get install -y linux-image-amd64'

/**
 * The version string of an x86 bzImage, from its setup header: "HdrS" at
 * 0x202, and at 0x20e the offset (minus 0x200) of a NUL-terminated string
 * that starts with the release ("6.1.0-56-amd64 (debian-kernel@...) #1 ...").
 * Undefined when the bytes are not a bzImage.
 */
export function bzImageVersion(head: Buffer): string | undefined {
  if (head.length < 0x210 || head.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined
  const at = head.readUInt16LE(0x20e) + 0x200
  if (at >= head.length) return undefined
  const end = head.indexOf(0, at)
  const text = head.toString('latin1', at, end < 0 ? head.length : end)
  const release = text.split(' ')[0]
  return release && /^\d+\.\d+/.test(release) ? release : undefined
}

function readHead(path: string, bytes = 64 * 1024): Buffer {
  const fd = openSync(path, 'r')
  try {
    const buf = Buffer.alloc(bytes)
    const n = readSync(fd, buf, 0, bytes, 0)
    return buf.subarray(0, n)
  } finally {
    closeSync(fd)
  }
}

/** Versions of the kernels installed in /boot (vmlinuz-<v>), newest first. */
export function installedKernels(dirs: KernelDirs = DEFAULT_DIRS): string[] {
  let names: string[]
  try {
    names = readdirSync(dirs.boot)
  } catch {
    return []
  }
  return names
    .filter((n) => n.startsWith('vmlinuz-'))
    .map((n) => n.slice('vmlinuz-'.length))
    .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }))
}

/**
 * Resolve a kernel: undefined picks the newest installed one in /boot; a
 * string with a "/" is a path to an image (its version is read from the
 * image); anything else is a version (/boot/vmlinuz-<v>). Its modules must be
 * in /lib/modules/<version>.
 */
export function resolveKernel(spec?: string, dirs: KernelDirs = DEFAULT_DIRS): Kernel {
  let image: string
  let version: string
  if (spec === undefined || spec === '') {
    const found = installedKernels(dirs)
    if (found.length === 0)
      throw new KernelNotFoundError(
        `no kernel found in ${dirs.boot} (vmlinuz-*) to boot in the VM; ${INSTALL}`,
      )
    version = found[0]!
    image = join(dirs.boot, `vmlinuz-${version}`)
  } else if (spec.includes('/')) {
    image = spec
    if (!existsSync(image))
      throw new KernelNotFoundError(
        `kernel image ${image} does not exist; give a path to a bzImage or ${INSTALL}`,
      )
    const v = bzImageVersion(readHead(image))
    if (!v)
      throw new KernelNotFoundError(
        `${image} is not an x86 kernel image (bzImage: no "HdrS" setup header with a version); give /boot/vmlinuz-<version>`,
      )
    version = v
  } else {
    version = spec
    image = join(dirs.boot, `vmlinuz-${version}`)
    if (!existsSync(image)) {
      const found = installedKernels(dirs)
      throw new KernelNotFoundError(
        `kernel ${version} is not installed (no ${image}); ${found.length ? `installed: ${found.join(', ')}; or ` : ''}${INSTALL}`,
      )
    }
  }
  const modulesDir = join(dirs.modules, version)
  if (!existsSync(join(modulesDir, 'modules.dep')))
    throw new KernelNotFoundError(
      `the modules of kernel ${version} are missing (no ${modulesDir}/modules.dep); install the package that ships the kernel with its modules (apt-get install -y linux-image-${version})`,
    )
  return { image, version, modulesDir }
}
