/**
 * Debian kernels fetched from the archive and unpacked into nslab's cache,
 * never installed: no postinst, no initramfs, /boot and the host's packages
 * untouched.
 *
 *   <root>/apt/                          the private apt configuration and lists
 *   <root>/kernels/<v>/vmlinuz           the kernel image
 *   <root>/kernels/<v>/lib/modules/<v>/  its modules, with modules.dep (depmod)
 *   <root>/kernels/<v>/nslab.json        package, version, suites, when
 *
 * <root> is NSLAB_CACHE_DIR, else $XDG_CACHE_HOME/nslab, else ~/.cache/nslab.
 * A kernel is unpacked into a temporary directory and renamed into place, so
 * a crash leaves no half kernel; a lock file keeps two processes from
 * fetching the same one at once.
 */
import { spawn, spawnSync } from 'node:child_process'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  type ArchiveKernel,
  DebianArchive,
  type Progress,
  configuredSuites,
  controlField,
  nearestVersions,
  pinnedDepends,
  quietProgress,
} from './debian-archive.js'
import { compareDebianVersions } from './debian-version.js'
import { VmPrerequisiteError } from './initramfs.js'
import type { Kernel } from './kernel.js'

/** nslab's cache root (kernels, apt lists). */
export function nslabCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NSLAB_CACHE_DIR) return env.NSLAB_CACHE_DIR
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'nslab')
}

export function kernelCacheDir(root = nslabCacheRoot()): string {
  return join(root, 'kernels')
}

/** A kernel in the cache: bootable as is. */
export interface CachedKernel extends Kernel {
  package: string
  packageVersion: string
  suites: string[]
  fetchedAt: string
}

/** The version asked for is in no suite; the message names the nearest ones. */
export class UnknownKernelError extends Error {
  override readonly name = 'UnknownKernelError'
}

const META = 'nslab.json'
const CHANGELOG = 'changelog.Debian.gz'

/** The first usr/share/doc/<package>/changelog.Debian.gz (older packages: changelog.gz) under an unpacked tree. */
function changelogIn(root: string): string | undefined {
  const doc = join(root, 'usr', 'share', 'doc')
  let pkgs: string[]
  try {
    pkgs = readdirSync(doc).sort()
  } catch {
    return undefined
  }
  return pkgs
    .flatMap((p) => [join(doc, p, CHANGELOG), join(doc, p, 'changelog.gz')])
    .find((f) => existsSync(f))
}

/**
 * The Debian changelog of kernel `version` (its entries, from the packages).
 * Kept in the cache when the kernel is fetched; for a kernel cached before
 * that, or never fetched, the one package that carries it is downloaded
 * (linux-base-<v> of split packages, else linux-image-<v>) and the
 * changelog alone kept.
 */
export async function kernelChangelog(version: string, o: FetchOptions = {}): Promise<string> {
  const root = o.root ?? nslabCacheRoot()
  const dir = kernelCacheDir(root)
  const p = o.progress ?? quietProgress
  const kept = [join(dir, version, CHANGELOG), join(dir, '.changelogs', `${version}.gz`)].find((f) =>
    existsSync(f),
  )
  if (!kept) {
    tool('dpkg-deb', 'dpkg')
    const kernels = await archiveKernels({ ...o, root, progress: p })
    const k = kernels.find((x) => x.version === version)
    if (!k)
      throw new UnknownKernelError(
        unknownKernelMessage(
          version,
          kernels.map((x) => x.version),
        ),
      )
    const archive = archiveFor({ ...o, root })
    const stanza = await archive.show(k.package, k.packageVersion)
    const base = pinnedDepends(controlField(stanza, 'Depends') ?? '', k.packageVersion).find((d) =>
      d.startsWith('linux-base-'),
    )
    const tmp = join(dir, `.changelog-${version}.tmp-${process.pid}`)
    try {
      mkdirSync(tmp, { recursive: true })
      p.line(`downloading the changelog of ${version} (${base ?? k.package} ${k.packageVersion})`)
      const get = (pkg: string) =>
        withLock(join(archive.c.dir, '.lock'), () =>
          archive.download(pkg, k.packageVersion, join(tmp, 'debs'), p, { depends: false }),
        )
      // linux-base-<v> is small; some backports' lists lack it, and the image has the changelog then.
      await (base ? get(base).catch(() => get(k.package)) : get(k.package))
      for (const deb of readdirSync(join(tmp, 'debs')))
        await exec('dpkg-deb', ['-x', join(tmp, 'debs', deb), join(tmp, 'x')])
      const log = changelogIn(join(tmp, 'x'))
      if (!log) throw new Error(`the package ${base ?? k.package} ${k.packageVersion} holds no ${CHANGELOG}`)
      mkdirSync(join(dir, '.changelogs'), { recursive: true })
      renameSync(log, join(dir, '.changelogs', `${version}.gz`))
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  }
  const file = kept ?? join(dir, '.changelogs', `${version}.gz`)
  return gunzipSync(readFileSync(file)).toString('utf8')
}

/** The cached kernel `version`, or undefined. */
export function cachedKernel(version: string, dir = kernelCacheDir()): CachedKernel | undefined {
  const at = join(dir, version)
  try {
    const meta = JSON.parse(readFileSync(join(at, META), 'utf8')) as Omit<CachedKernel, keyof Kernel>
    const k: CachedKernel = {
      ...meta,
      version,
      image: join(at, 'vmlinuz'),
      modulesDir: join(at, 'lib', 'modules', version),
    }
    return existsSync(k.image) && existsSync(join(k.modulesDir, 'modules.dep')) ? k : undefined
  } catch {
    return undefined
  }
}

/** Every cached kernel, oldest first. */
export function cachedKernels(dir = kernelCacheDir()): CachedKernel[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names
    .filter((n) => !n.startsWith('.'))
    .map((n) => cachedKernel(n, dir))
    .filter((k): k is CachedKernel => k !== undefined)
    .sort(
      (a, b) =>
        compareDebianVersions(a.packageVersion, b.packageVersion) ||
        compareDebianVersions(a.version, b.version),
    )
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Run `fn` holding the lock file `path` (O_EXCL, our pid inside). A lock whose
 * process is gone is taken over; a live one is waited for.
 */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  onWait?: (pid: number) => void,
): Promise<T> {
  let told = false
  for (;;) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      let pid: number
      try {
        pid = Number(readFileSync(path, 'utf8').trim() || 0)
      } catch {
        continue // released meanwhile
      }
      if (pid > 0 && (pid === process.pid || alive(pid))) {
        if (!told) onWait?.(pid)
        told = true
        await sleep(300)
      } else if (pid === 0) {
        await sleep(50) // being written right now
        let again = -1
        try {
          again = Number(readFileSync(path, 'utf8').trim() || 0)
        } catch {
          // released meanwhile
        }
        if (again === 0) rmSync(path, { force: true })
      } else rmSync(path, { force: true })
    }
  }
  try {
    return await fn()
  } finally {
    try {
      if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path)
    } catch {
      // gone already
    }
  }
}

function tool(cmd: string, pkg: string): void {
  if (spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error)
    throw new VmPrerequisiteError(
      `${cmd} is missing (nslab unpacks Debian kernels with it); install it: apt-get install -y ${pkg}`,
    )
}

function exec(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}): ${err.trim()}`)),
    )
  })
}

export interface FetchOptions {
  /** The cache root (default nslabCacheRoot()). */
  root?: string
  /** Suites to look in (default NSLAB_KERNEL_SUITES or DEFAULT_SUITES). */
  suites?: readonly string[]
  progress?: Progress
}

/** The archive behind the cache at `root`. */
export function archiveFor(o: FetchOptions = {}): DebianArchive {
  const root = o.root ?? nslabCacheRoot()
  return new DebianArchive({
    dir: join(root, 'apt'),
    suites: o.suites ?? configuredSuites(),
    mirror: process.env.NSLAB_DEBIAN_MIRROR || undefined,
    securityMirror: process.env.NSLAB_DEBIAN_SECURITY_MIRROR || undefined,
  })
}

/** The archive's kernels (lists renewed when a day old), under the apt lock. */
export async function archiveKernels(o: FetchOptions & { refresh?: boolean } = {}): Promise<ArchiveKernel[]> {
  const archive = archiveFor(o)
  const p = o.progress ?? quietProgress
  mkdirSync(archive.c.dir, { recursive: true })
  return withLock(
    join(archive.c.dir, '.lock'),
    async () => {
      await archive.update(p, { force: o.refresh })
      return archive.list()
    },
    (pid) => p.line(`waiting for process ${pid}, which is updating the package lists`),
  )
}

/** The one sentence for a version no suite has. */
export function unknownKernelMessage(version: string, available: string[]): string {
  const near = nearestVersions(version, available)
  return `there is no Debian kernel ${version}${near.length ? `; nearest: ${near.join(', ')}` : ''} (see: nslab kernel list)`
}

/**
 * The kernel `version` from the cache, fetched first when it is not there:
 * download its packages with the private apt configuration, unpack them with
 * dpkg-deb -x, lay out image and modules, run depmod on them.
 */
export async function fetchKernel(version: string, o: FetchOptions = {}): Promise<CachedKernel> {
  const root = o.root ?? nslabCacheRoot()
  const dir = kernelCacheDir(root)
  const p = o.progress ?? quietProgress
  const have = cachedKernel(version, dir)
  if (have) return have
  tool('dpkg-deb', 'dpkg')
  tool('depmod', 'kmod')
  mkdirSync(dir, { recursive: true })
  return withLock(
    join(dir, `.${version}.lock`),
    async () => {
      const done = cachedKernel(version, dir) // another process may have fetched it meanwhile
      if (done) return done
      const kernels = await archiveKernels({ ...o, root, progress: p })
      const k = kernels.find((x) => x.version === version)
      if (!k)
        throw new UnknownKernelError(
          unknownKernelMessage(
            version,
            kernels.map((x) => x.version),
          ),
        )
      return unpack(k, dir, archiveFor({ ...o, root }), p)
    },
    (pid) => p.line(`waiting for process ${pid}, which is fetching ${version}`),
  )
}

async function unpack(
  k: ArchiveKernel,
  dir: string,
  archive: DebianArchive,
  p: Progress,
): Promise<CachedKernel> {
  // Leftovers of fetches that died (their pid gone) go first.
  for (const f of readdirSync(dir)) {
    const m = /^\.(.+)\.tmp-(\d+)$/.exec(f)
    if (m && !alive(Number(m[2]))) rmSync(join(dir, f), { recursive: true, force: true })
  }
  const tmp = join(dir, `.${k.version}.tmp-${process.pid}`)
  rmSync(tmp, { recursive: true, force: true })
  try {
    const debs = await withLock(join(archive.c.dir, '.lock'), () =>
      archive.download(k.package, k.packageVersion, join(tmp, 'debs'), p),
    )
    p.line(`unpacking ${k.version} (dpkg-deb -x: no postinst, no initramfs)`)
    const x = join(tmp, 'x')
    for (const deb of debs) await exec('dpkg-deb', ['-x', deb, x])
    // Older packages: /boot/vmlinuz-<v> and /lib/modules/<v>; newer ones: all in /usr/lib/modules/<v>.
    const mods = [join(x, 'usr', 'lib', 'modules', k.version), join(x, 'lib', 'modules', k.version)].find(
      (d) => existsSync(d),
    )
    const image = [join(x, 'boot', `vmlinuz-${k.version}`), mods && join(mods, 'vmlinuz')].find(
      (f): f is string => !!f && existsSync(f),
    )
    if (!mods || !image)
      throw new Error(
        `the packages of ${k.version} (${debs.map((d) => d.slice(d.lastIndexOf('/') + 1)).join(', ')}) hold no ${mods ? 'kernel image' : 'modules directory'}`,
      )
    // The Debian changelog (linux-image-* of old, linux-base-* of split packages): bisect reads it.
    const log = changelogIn(x)
    if (log) renameSync(log, join(tmp, CHANGELOG))
    const modulesDir = join(tmp, 'lib', 'modules', k.version)
    mkdirSync(join(tmp, 'lib', 'modules'), { recursive: true })
    renameSync(image, join(tmp, 'vmlinuz'))
    renameSync(mods, modulesDir)
    for (const [from, to] of [
      [join(x, 'boot', `config-${k.version}`), 'config'],
      [join(x, 'boot', `System.map-${k.version}`), 'System.map'],
    ] as const)
      if (existsSync(from)) renameSync(from, join(modulesDir, to))
    // Debian's packages leave modules.dep to depmod in their postinst; a newer depmod looks under usr/.
    mkdirSync(join(tmp, 'usr', 'lib'), { recursive: true })
    symlinkSync('../../lib/modules', join(tmp, 'usr', 'lib', 'modules'))
    await exec('depmod', ['-b', tmp, k.version])
    if (!existsSync(join(modulesDir, 'modules.dep')))
      throw new Error(`depmod -b ${tmp} ${k.version} wrote no modules.dep`)
    rmSync(join(tmp, 'debs'), { recursive: true, force: true })
    rmSync(x, { recursive: true, force: true })
    const meta = {
      package: k.package,
      packageVersion: k.packageVersion,
      suites: k.suites,
      fetchedAt: new Date().toISOString(),
    }
    writeFileSync(join(tmp, META), JSON.stringify(meta, null, 2) + '\n')
    rmSync(join(dir, k.version), { recursive: true, force: true }) // a half one from before the meta file existed
    renameSync(tmp, join(dir, k.version))
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  p.line(`${k.version} cached in ${join(dir, k.version)}`)
  const c = cachedKernel(k.version, dir)
  if (!c) throw new Error(`${k.version} was unpacked but is not usable in ${dir}`)
  return c
}
