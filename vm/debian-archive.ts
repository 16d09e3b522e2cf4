/**
 * Debian's archive through apt with a private configuration: its own sources
 * list, package lists, cache and an empty dpkg status, all under nslab's cache
 * directory, so the host's apt sources, installed packages and /boot are never
 * touched. Signatures are checked against the host's Debian keyring.
 *
 * The parsing (apt-cache madison, Depends) is pure and unit-tested; running
 * apt is the rest.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { compareDebianVersions } from './debian-version.js'
import { VmPrerequisiteError } from './initramfs.js'

/** The suites nslab knows, oldest first (NSLAB_KERNEL_SUITES=a,b,... or --suites chooses others). */
export const DEFAULT_SUITES = [
  'bullseye',
  'bookworm',
  'bookworm-security',
  'bookworm-backports',
  'trixie',
  'trixie-backports',
  'sid',
] as const

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian'
export const DEFAULT_SECURITY_MIRROR = 'http://deb.debian.org/debian-security'
export const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg'

/** The kernel flavour nslab lists and boots (Debian's generic x86-64 kernel). */
export const FLAVOUR = 'amd64'

/** One kernel build in the archive: a `linux-image-<version>` package. */
export interface ArchiveKernel {
  /** `uname -r` of the kernel (the package name without linux-image-). */
  version: string
  package: string
  /** The newest package version the suites offer. */
  packageVersion: string
  /** Suites that carry it (at any package version). */
  suites: string[]
}

export interface ArchiveConfig {
  /** The private apt directory (sources, lists, cache). */
  dir: string
  suites: readonly string[]
  mirror?: string
  securityMirror?: string
  keyring?: string
}

/** The suites from NSLAB_KERNEL_SUITES (comma-separated), else the default ones. */
export function configuredSuites(env = process.env.NSLAB_KERNEL_SUITES): string[] {
  const s = (env ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
  return s.length ? s : [...DEFAULT_SUITES]
}

/** One-line-style sources.list for the suites (main only), signed by the Debian keyring. */
export function sourcesList(c: Omit<ArchiveConfig, 'dir'>): string {
  const key = c.keyring ?? DEFAULT_KEYRING
  return (
    c.suites
      .map((s) => {
        const url = s.endsWith('-security')
          ? (c.securityMirror ?? DEFAULT_SECURITY_MIRROR)
          : (c.mirror ?? DEFAULT_MIRROR)
        return `deb [arch=amd64 signed-by=${key}] ${url} ${s} main`
      })
      .join('\n') + '\n'
  )
}

/** The apt options that keep every file apt reads or writes under `dir`. */
export function aptOptions(dir: string, root = process.getuid?.() === 0): string[] {
  const o = (k: string, v: string) => ['-o', `${k}=${v}`]
  return [
    ...o('Dir::Etc::SourceList', join(dir, 'sources.list')),
    ...o('Dir::Etc::SourceParts', join(dir, 'sources.list.d')),
    ...o('Dir::Etc::Preferences', join(dir, 'preferences')),
    ...o('Dir::Etc::PreferencesParts', join(dir, 'preferences.d')),
    ...o('Dir::State::Lists', join(dir, 'lists')),
    ...o('Dir::State::status', join(dir, 'status')),
    ...o('Dir::State::extended_states', join(dir, 'extended_states')),
    ...o('Dir::Cache', join(dir, 'cache')),
    ...o('Dir::Log', join(dir, 'log')),
    ...o('APT::Architecture', 'amd64'),
    ...o('APT::Architectures', 'amd64'),
    ...o('Acquire::Languages', 'none'),
    // As root apt hands downloads to the _apt user, who cannot write into root's cache.
    ...(root ? o('APT::Sandbox::User', 'root') : []),
  ]
}

/** `uname -r` of a linux-image package of our flavour, or undefined (meta, -dbg, -unsigned, cloud, rt). */
export function kernelVersionOf(pkg: string): string | undefined {
  const m = /^linux-image-(\d+\.\d+\.\d+(?:-\d+)?(?:\+[a-z0-9.]+)?)-([a-z0-9-]+)$/.exec(pkg)
  return m && m[2] === FLAVOUR ? `${m[1]}-${m[2]}` : undefined
}

/**
 * `apt-cache madison` output (`pkg | version | url suite/component arch Packages`)
 * as kernels: one per package, its newest version, every suite that has it;
 * ordered by package version, oldest first.
 */
export function parseMadison(text: string): ArchiveKernel[] {
  const byVersion = new Map<string, ArchiveKernel>()
  for (const line of text.split('\n')) {
    const cols = line.split('|').map((c) => c.trim())
    if (cols.length < 3) continue
    const [pkg, version, source] = cols as [string, string, string]
    const kv = kernelVersionOf(pkg)
    // "http://deb.debian.org/debian bookworm/main amd64 Packages"
    const suite = /\s([^\s/]+)\/[^\s/]+\s+\S+\s+Packages$/.exec(source)?.[1]
    if (!kv || !version || !suite) continue
    const k = byVersion.get(kv)
    if (!k) byVersion.set(kv, { version: kv, package: pkg, packageVersion: version, suites: [suite] })
    else {
      if (compareDebianVersions(version, k.packageVersion) > 0) k.packageVersion = version
      if (!k.suites.includes(suite)) k.suites.push(suite)
    }
  }
  return [...byVersion.values()].sort(
    (a, b) =>
      compareDebianVersions(a.packageVersion, b.packageVersion) ||
      compareDebianVersions(a.version, b.version),
  )
}

/**
 * The packages a Depends field pins to exactly `version` (`name (= version)`):
 * how newer Debian kernels split linux-image-X into linux-binary-X,
 * linux-modules-X and linux-base-X. Alternatives ("a | b") are never pinned.
 */
export function pinnedDepends(depends: string, version: string): string[] {
  const out: string[] = []
  for (const d of depends.split(',')) {
    if (d.includes('|')) continue
    const m = /^\s*([a-z0-9][a-z0-9+.-]*)(?::\w+)?\s*\(\s*=\s*([^)\s]+)\s*\)\s*$/.exec(d)
    if (m && m[2] === version) out.push(m[1]!)
  }
  return out
}

/** A control-file field (`Depends: ...`, continuation lines joined) from `apt-cache show` or dpkg-deb -f. */
export function controlField(stanza: string, field: string): string | undefined {
  const m = new RegExp(`^${field}:[ \\t]*(.*(?:\\n[ \\t].*)*)`, 'mi').exec(stanza)
  return m ? m[1]!.replace(/\n[ \t]+/g, ' ').trim() : undefined
}

/** The line of a version: "6.1" from "6.1.0-41-amd64" or "6.1.158-1". */
export function kernelLine(version: string): string {
  return /^(\d+\.\d+)/.exec(version)?.[1] ?? version
}

/**
 * The available versions nearest to `wanted` (which is not among them): the
 * `n` closest by order within its line (major.minor) first, then, when the
 * line has fewer, the closest ones just below and above it overall.
 */
export function nearestVersions(wanted: string, available: string[], n = 2): string[] {
  const closest = (pool: string[], k: number): string[] => {
    const sorted = [...pool].sort(compareDebianVersions)
    let at = sorted.findIndex((v) => compareDebianVersions(v, wanted) > 0)
    if (at < 0) at = sorted.length
    // Alternately from below and above the place `wanted` would have.
    const picked: string[] = []
    for (let lo = at - 1, hi = at; picked.length < k && (lo >= 0 || hi < sorted.length);) {
      if (lo >= 0) picked.push(sorted[lo--]!)
      if (picked.length < k && hi < sorted.length) picked.push(sorted[hi++]!)
    }
    return picked
  }
  const line = closest(
    available.filter((v) => kernelLine(v) === kernelLine(wanted)),
    n,
  )
  const rest = closest(
    available.filter((v) => !line.includes(v)),
    n - line.length,
  )
  return [...line, ...rest].sort(compareDebianVersions)
}

/** apt failed (network, mirror, signature); the message carries apt's own words. */
export class ArchiveError extends Error {
  override readonly name = 'ArchiveError'
}

/** A line of progress for a human; `tty` says whether apt's own progress may go to the terminal. */
export interface Progress {
  line: (text: string) => void
  /** When true, apt's output goes straight to stderr (its progress on a terminal). */
  tty: boolean
}

export const quietProgress: Progress = { line: () => {}, tty: false }

function requireTool(tool: string, pkg: string): void {
  const r = spawnSync(tool, ['--version'], { stdio: 'ignore' })
  if (r.error)
    throw new VmPrerequisiteError(
      `${tool} is missing (nslab fetches Debian kernels with it); install it: apt-get install -y ${pkg}`,
    )
}

/** Run a command; stdout is returned, or on a terminal apt's output is shown as it comes. */
function run(cmd: string, args: string[], opts: { cwd?: string; show: boolean }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      stdio: ['ignore', opts.show ? 'inherit' : 'pipe', opts.show ? 'inherit' : 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    })
    let out = ''
    let err = ''
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve(out)
      else {
        const said = (err || out).trim().split('\n').slice(-6).join('\n  ')
        reject(
          new ArchiveError(
            `${cmd} ${args.filter((a) => !a.includes('=')).join(' ')} failed (exit ${code})${said ? `:\n  ${said}` : ''}`,
          ),
        )
      }
    })
  })
}

/** The archive through the private apt configuration in `c.dir`. */
export class DebianArchive {
  readonly options: string[]
  constructor(readonly c: ArchiveConfig) {
    this.options = aptOptions(c.dir)
  }

  private get stamp(): string {
    return join(this.c.dir, 'updated')
  }

  /** Write the private configuration; true when the sources changed (the lists must be renewed). */
  private prepare(): boolean {
    requireTool('apt-get', 'apt')
    for (const d of ['sources.list.d', 'preferences.d', 'lists/partial', 'cache/archives/partial', 'log'])
      mkdirSync(join(this.c.dir, d), { recursive: true })
    for (const f of ['status', 'preferences', 'extended_states'])
      if (!existsSync(join(this.c.dir, f))) writeFileSync(join(this.c.dir, f), '')
    const sources = sourcesList(this.c)
    const file = join(this.c.dir, 'sources.list')
    const old = existsSync(file) ? readFileSync(file, 'utf8') : undefined
    if (old === sources) return false
    writeFileSync(file, sources)
    return true
  }

  /** Seconds since the package lists were last renewed, or undefined when they never were. */
  listsAge(): number | undefined {
    try {
      return (Date.now() - statSync(this.stamp).mtimeMs) / 1000
    } catch {
      return undefined
    }
  }

  /**
   * Renew the package lists when they are missing, older than `maxAge`
   * seconds, for other suites, or `force`d. Offline with lists at hand, the
   * old lists serve (a progress line says so).
   */
  async update(p: Progress, o: { maxAge?: number; force?: boolean } = {}): Promise<void> {
    const changed = this.prepare()
    const age = this.listsAge()
    if (!changed && !o.force && age !== undefined && age < (o.maxAge ?? 24 * 3600)) return
    p.line(`updating the package lists of ${this.c.suites.join(', ')}`)
    try {
      await run('apt-get', [...this.options, 'update'], { show: p.tty })
      writeFileSync(this.stamp, new Date().toISOString() + '\n')
    } catch (err) {
      if (age === undefined || changed) throw err
      p.line(
        `could not renew the package lists (using those of ${Math.round(age / 3600)} h ago): ${(err as Error).message.split('\n')[0]}`,
      )
    }
  }

  /** The kernels the suites offer, oldest first (after update()). */
  async list(suites: readonly string[] = this.c.suites): Promise<ArchiveKernel[]> {
    const names = (await run('apt-cache', [...this.options, 'pkgnames', 'linux-image-'], { show: false }))
      .split('\n')
      .filter((n) => kernelVersionOf(n))
    if (names.length === 0) return []
    const madison = await run('apt-cache', [...this.options, 'madison', ...names], { show: false })
    return parseMadison(madison)
      .map((k) => ({ ...k, suites: k.suites.filter((s) => suites.includes(s)) }))
      .filter((k) => k.suites.length > 0)
  }

  /** A package's control stanza for one version. */
  async show(pkg: string, version: string): Promise<string> {
    const all = await run('apt-cache', [...this.options, 'show', `${pkg}=${version}`], { show: false })
    return all.split(/\n\n/)[0] ?? ''
  }

  /**
   * Download `pkg` at `version` and every package it pins to that version
   * (linux-binary-*, linux-modules-*, ...; not with `depends: false`) into `dest`; returns the .deb paths.
   */
  async download(
    pkg: string,
    version: string,
    dest: string,
    p: Progress,
    o: { depends?: boolean } = {},
  ): Promise<string[]> {
    const wanted: string[] = []
    const missing: string[] = []
    const queue = [pkg]
    let bytes = 0
    while (queue.length) {
      const name = queue.shift()!
      if (wanted.includes(name) || missing.includes(name)) continue
      let stanza = ''
      try {
        stanza = await this.show(name, version)
      } catch (err) {
        if (name === pkg) throw err
      }
      if (!controlField(stanza, 'Package')) {
        if (name === pkg) throw new ArchiveError(`${pkg} ${version} is not in the package lists`)
        // Without its modules a kernel boots but cannot make a lab (veth, bridge...): refused
        // before anything is downloaded (trixie-backports lists 6.19.x builds in that state).
        if (name.startsWith('linux-modules-'))
          throw new ArchiveError(
            `${name} ${version} is not in the archive: ${pkg} cannot make a lab without its modules (nothing downloaded)`,
          )
        // Some backports list a kernel whose pinned linux-base-<v> (config, System.map,
        // modules.builtin, the changelog) the archive no longer carries: the kernel boots without it.
        p.line(`${name} ${version} is not in the archive: going on without it`)
        missing.push(name)
        continue
      }
      wanted.push(name)
      bytes += Number(controlField(stanza, 'Size') ?? 0)
      if (o.depends !== false) queue.push(...pinnedDepends(controlField(stanza, 'Depends') ?? '', version))
    }
    mkdirSync(dest, { recursive: true })
    p.line(`downloading ${wanted.join(', ')} ${version} (${(bytes / 1e6).toFixed(0)} MB)`)
    await run('apt-get', [...this.options, 'download', ...wanted.map((w) => `${w}=${version}`)], {
      cwd: dest,
      show: p.tty,
    })
    return readdirSync(dest)
      .filter((f) => f.endsWith('.deb'))
      .map((f) => join(dest, f))
  }
}
