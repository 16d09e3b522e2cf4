/**
 * Which kernel the VM boots, and where its modules are. A kernel is named by
 * a path to its image or by a version: an installed Debian kernel
 * (/boot/vmlinuz-<v>, modules in /lib/modules/<v>), else one in nslab's
 * kernel cache (vm/kernel-cache.ts), else (findKernel) one fetched from
 * Debian's archive into that cache.
 */
import { closeSync, existsSync, openSync, readSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { compareDebianVersions } from './debian-version.js'
import {
  type FetchOptions,
  cachedKernel,
  cachedKernels,
  fetchKernel,
  kernelCacheDir,
} from './kernel-cache.js'

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
  /** nslab's kernel cache (default kernelCacheDir()); none when undefined in a test's dirs. */
  cache?: string
}

const DEFAULT_DIRS: KernelDirs = {
  boot: '/boot',
  modules: '/lib/modules',
  get cache() {
    return kernelCacheDir()
  },
}

/** The kernel or its modules cannot be found; the message says which package to install. */
export class KernelNotFoundError extends Error {
  override readonly name = 'KernelNotFoundError'
}

const INSTALL =
  'fetch one (nslab kernel fetch VERSION, see nslab kernel list) or install one: apt-get install -y linux-image-amd64'

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
    .sort((a, b) => compareDebianVersions(b, a))
}

function installed(version: string, dirs: KernelDirs): Kernel | undefined {
  const image = join(dirs.boot, `vmlinuz-${version}`)
  const modulesDir = join(dirs.modules, version)
  return existsSync(image) && existsSync(join(modulesDir, 'modules.dep'))
    ? { image, version, modulesDir }
    : undefined
}

function fromCache(version: string, dirs: KernelDirs): Kernel | undefined {
  const k = dirs.cache === undefined ? undefined : cachedKernel(version, dirs.cache)
  return k && { image: k.image, version: k.version, modulesDir: k.modulesDir }
}

/**
 * Resolve a kernel: undefined picks the newest installed one in /boot (else
 * the newest cached one); a string with a "/" is a path to an image (its
 * version is read from the image, its modules must be in /lib/modules/<v>);
 * anything else is a version: installed (/boot/vmlinuz-<v> with
 * /lib/modules/<v>) first, else cached. findKernel also fetches.
 */
export function resolveKernel(spec?: string, dirs: KernelDirs = DEFAULT_DIRS): Kernel {
  if (spec === undefined || spec === '') {
    const found = installedKernels(dirs)
    if (found.length === 0) {
      const cached = dirs.cache === undefined ? [] : cachedKernels(dirs.cache)
      const newest = cached[cached.length - 1]
      if (newest) return { image: newest.image, version: newest.version, modulesDir: newest.modulesDir }
      throw new KernelNotFoundError(
        `no kernel found in ${dirs.boot} (vmlinuz-*) to boot in the VM; ${INSTALL}`,
      )
    }
    const version = found[0]!
    return installed(version, dirs) ?? missingModules(version, dirs)
  }
  if (spec.includes('/')) {
    const image = spec
    if (!existsSync(image))
      throw new KernelNotFoundError(
        `kernel image ${image} does not exist; give a path to a bzImage or ${INSTALL}`,
      )
    const version = bzImageVersion(readHead(image))
    if (!version)
      throw new KernelNotFoundError(
        `${image} is not an x86 kernel image (bzImage: no "HdrS" setup header with a version); give /boot/vmlinuz-<version>`,
      )
    const modulesDir = join(dirs.modules, version)
    if (existsSync(join(modulesDir, 'modules.dep'))) return { image, version, modulesDir }
    const cached = fromCache(version, dirs)
    if (cached) return { ...cached, image }
    return missingModules(version, dirs)
  }
  const k = installed(spec, dirs) ?? fromCache(spec, dirs)
  if (k) return k
  if (existsSync(join(dirs.boot, `vmlinuz-${spec}`))) return missingModules(spec, dirs)
  const found = installedKernels(dirs)
  throw new KernelNotFoundError(
    `kernel ${spec} is neither installed (no ${join(dirs.boot, `vmlinuz-${spec}`)}) nor cached; ${found.length ? `installed: ${found.join(', ')}; or ` : ''}${INSTALL}`,
  )
}

function missingModules(version: string, dirs: KernelDirs): never {
  throw new KernelNotFoundError(
    `the modules of kernel ${version} are missing (no ${join(dirs.modules, version)}/modules.dep); fetch the kernel with them (nslab kernel fetch ${version}) or install the package that ships them (apt-get install -y linux-image-${version})`,
  )
}

/**
 * resolveKernel, and when `spec` names a version that is neither installed
 * nor cached, that version fetched from Debian's archive into the cache
 * (progress through `o.progress`). Offline, a cached kernel still resolves.
 */
export async function findKernel(
  spec?: string,
  o: FetchOptions = {},
  dirs: KernelDirs = DEFAULT_DIRS,
): Promise<Kernel> {
  try {
    return resolveKernel(spec, dirs)
  } catch (err) {
    // Only a version (not a path, not the default) can be fetched.
    if (!(err instanceof KernelNotFoundError) || !spec || spec.includes('/') || !/^\d+\.\d+/.test(spec))
      throw err
  }
  const k = await fetchKernel(spec, o)
  return { image: k.image, version: k.version, modulesDir: k.modulesDir }
}
