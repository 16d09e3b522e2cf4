/**
 * The runner image, built offline and cached by a content hash: a Debian
 * root made by `debootstrap --variant=minbase` with the tools the suite
 * calls (iproute2, nftables, ping, procps, util-linux), plus this host's own
 * Node binary, imported with `docker import`. Where a registry exists, a
 * base image may be named instead; the tools and Node are then layered on it
 * with a Dockerfile. The tag holds the hash of everything that goes in, so a
 * second run finds the image and builds nothing.
 *
 * Builds are serialised across processes by a lock beside the cache
 * (build-lock.ts): while one process builds, the others (say, test files
 * started at once on a machine with no image) wait for it and reuse its
 * image, and the .deb cache is never written by two debootstraps at once.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { processStartTime } from './owner.js'
import { MNT_DETACH, umount2 } from '../sys/index.js'
import { buildOnce, type BuildLock } from './build-lock.js'
import { hostNetnsPath } from './docker.js'
import { ContainerError } from './errors.js'
import { loadTestcontainers } from './testcontainers.js'

/** Bump when the recipe below changes in a way the inputs do not show. */
export const RECIPE_VERSION = 1
export const IMAGE_REPO = 'nslab-runner'
export const DEFAULT_SUITE = 'bookworm'
export const RUNNER_PACKAGES = [
  'iproute2',
  'nftables',
  'iputils-ping',
  'procps',
  'util-linux',
  'ca-certificates',
  // /etc/protocols and /etc/services: `ip xfrm` and others print names, not numbers
  'netbase',
  // Wireshark's reader: the capture tests check every pcapng file with it
  'tshark',
  // the kernel's errno headers: the errno table is checked against them
  'linux-libc-dev',
  // the VPN tests and scenarios; curl is the TLS client whose session keys the capture carries
  'openssl',
  'curl',
  'openvpn',
  'wireguard-tools',
  'wireguard-go',
  // NetworkManager and its OpenVPN plugin, on a private D-Bus (harness/vpn/nm).
  'dbus',
  'network-manager',
  'network-manager-openvpn',
  // polkitd (which network-manager needs) depends on default-logind | logind,
  // virtual packages debootstrap's resolver cannot choose for: name the provider.
  'libpam-systemd',
]
export const LABEL_IMAGE_HASH = 'nslab.image.hash'
const NODE_IN_IMAGE = '/usr/local/bin/node'

export interface ImageInputs {
  /** Debian suite for debootstrap, or undefined when built on a base image. */
  suite?: string
  /** A base image reference, used instead of debootstrap. */
  base?: string
  packages: string[]
  /** sha256 of the Node binary copied in. */
  nodeSha256: string
}

/** The image's content hash: the same inputs always give the same tag. */
export function imageHash(inputs: ImageInputs): string {
  const canonical = JSON.stringify({
    recipe: RECIPE_VERSION,
    suite: inputs.suite ?? null,
    base: inputs.base ?? null,
    packages: [...inputs.packages].sort(),
    node: inputs.nodeSha256,
  })
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16)
}

export function imageTag(hash: string): string {
  return `${IMAGE_REPO}:${hash}`
}

/**
 * The Debian mirror apt uses for `suite`, from the texts of
 * /etc/apt/sources.list and /etc/apt/sources.list.d/* (one-line and deb822
 * formats), or undefined when none serves that suite.
 */
export function debianMirror(texts: string[], suite = DEFAULT_SUITE): string | undefined {
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line)
      if (m && m[2] === suite) return m[1]
    }
    for (const stanza of text.split(/\n\s*\n/)) {
      const field = (name: string) =>
        new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? []
      if (!field('Types').includes('deb') || !field('Suites').includes(suite)) continue
      const uri = field('URIs')[0]
      if (uri) return uri
    }
  }
  return undefined
}

function aptSourceTexts(): string[] {
  const texts: string[] = []
  const read = (f: string) => {
    try {
      texts.push(readFileSync(f, 'utf8'))
    } catch {
      /* absent */
    }
  }
  read('/etc/apt/sources.list')
  try {
    for (const f of readdirSync('/etc/apt/sources.list.d').sort()) read(join('/etc/apt/sources.list.d', f))
  } catch {
    /* absent */
  }
  return texts
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

/**
 * Run a tool, its output on our stderr (stdout stays the command's); reject
 * with what to do. The tool holds the build lock too, so a tool that runs on
 * after this process is killed keeps other builders out until it ends.
 */
function runTool(argv: string[], hint: string, lock: BuildLock): Promise<void> {
  const [cmd, ...args] = argv as [string, ...string[]]
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: lock.stdio('ignore', process.stderr, process.stderr) })
    child.on('error', (err) =>
      reject(new ContainerError(`could not run ${cmd} (${err.message}); ${hint}`, 3)),
    )
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new ContainerError(`${argv.join(' ')} failed (${signal ?? `exit ${code}`}); ${hint}`)),
    )
  })
}

/** Where debootstrap's .deb cache, the build lock and the temporary roots live. */
export function imageCacheDir(o: { cacheDir?: string } = {}): string {
  return o.cacheDir ?? process.env.NSLAB_CACHE_DIR ?? '/var/cache/nslab'
}

/** The build lock beside the cache: one builder at a time for every image built from it. */
export const BUILD_LOCK = 'build.lock'

/** Mount points at or below `dir` (from this process's mountinfo), deepest first. */
function mountsUnder(dir: string): string[] {
  const unescape = (p: string) =>
    p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((m): m is string => m !== undefined)
    .map(unescape)
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length)
}

/**
 * Remove a build's temporary tree. A debootstrap killed outright leaves
 * /proc, /sys and /dev mounted in its target: those are detached first, so
 * the removal never reaches into the host's.
 */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return
  for (const m of mountsUnder(realpathSync(dir))) {
    try {
      umount2(m, MNT_DETACH)
    } catch (err) {
      throw new ContainerError(
        `could not unmount ${m}, left mounted in a build root by a killed debootstrap (${(err as Error).message}); unmount it (umount -l ${m}) and remove ${dir}`,
      )
    }
  }
  rmSync(dir, { recursive: true, force: true })
}

/**
 * What builds killed mid-way left in the cache directory: the temporary
 * roots and build contexts of processes that are gone (their names end in the
 * builder's pid), and half-downloaded .debs. Called with the build lock held,
 * so no live builder that takes the lock owns them; trees of live processes
 * (a build by an nslab without the lock) are left alone.
 */
function sweepLeftovers(cacheDir: string, log: (line: string) => void): void {
  for (const name of readdirSync(cacheDir)) {
    const m = /^(?:rootfs-[0-9a-f]+\.|context-)(\d+)$/.exec(name)
    if (!m || processStartTime(Number(m[1])) !== undefined) continue
    log(`removing ${join(cacheDir, name)}, left by a build whose process (pid ${m[1]}) is gone`)
    removeTree(join(cacheDir, name))
  }
  // debootstrap downloads into partial/ when it exists and moves a .deb into the cache only once
  // its checksum is verified; what a killed download left there is thrown away.
  rmSync(join(cacheDir, 'debs', 'partial'), { recursive: true, force: true })
  mkdirSync(join(cacheDir, 'debs', 'partial'), { recursive: true })
}

function capture(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    child.on('error', (err) => resolve({ code: -1, out: err.message }))
    child.on('exit', (code) => resolve({ code, out }))
  })
}

export interface ImageOptions {
  suite?: string
  base?: string
  mirror?: string
  /** Where debootstrap's .deb cache, the build lock and the temporary root live. */
  cacheDir?: string
  /** The Node binary to copy in (default: the one running this code). */
  node?: string
  /** Progress lines (default: on stderr, prefixed `nslab container:`). */
  log?: (line: string) => void
  /** How long to wait for another process's build before giving up (default 20 min). */
  waitMs?: number
  /** Stop waiting for another process's build once this is aborted. */
  signal?: AbortSignal
}

export interface ImageResult {
  tag: string
  hash: string
  built: boolean
  seconds: number
}

async function imageExists(tag: string): Promise<boolean> {
  const tc = await loadTestcontainers()
  const client = await tc.getContainerRuntimeClient()
  try {
    await client.container.dockerode.getImage(tag).inspect()
    return true
  } catch {
    return false
  }
}

/**
 * debootstrap's command line. nslab's sealed suite runs in a network
 * namespace with only loopback, where the mirror cannot be reached: there
 * debootstrap runs in the host's network namespace (as dockerd does), the
 * download being the build's own, not lab traffic.
 */
function debootstrapArgv(args: string[], tag: string, mirror: string): { argv: string[]; where: string } {
  if (process.env.NSLAB_SEALED !== '1') return { argv: ['debootstrap', ...args], where: '' }
  const hostNet = hostNetnsPath()
  if (!hostNet)
    throw new ContainerError(
      `cannot build ${tag} here: this process runs in nslab's sealed network namespace (loopback only), debootstrap must reach ${mirror}, and neither PID 1's network namespace nor the one the suite was started from (NSLAB_OUTER_NETNS) can be entered; build the image first, outside the suite: npx nslab container image`,
      3,
    )
  return {
    argv: ['nsenter', `--net=${hostNet}`, '--', 'debootstrap', ...args],
    where: " (in the host's network namespace: the sealed suite's has no route out)",
  }
}

async function buildWithDebootstrap(
  tag: string,
  hash: string,
  suite: string,
  cacheDir: string,
  lock: BuildLock,
  o: ImageOptions,
  log: (line: string) => void,
): Promise<void> {
  const debs = join(cacheDir, 'debs')
  const root = join(cacheDir, `rootfs-${hash}.${process.pid}`)
  const mirror = o.mirror ?? process.env.NSLAB_DEBIAN_MIRROR ?? debianMirror(aptSourceTexts(), suite)
  if (!mirror)
    throw new ContainerError(
      `no Debian mirror for ${suite} in /etc/apt/sources.list(.d); pass one with --mirror URL`,
      2,
    )
  const { argv, where } = debootstrapArgv(
    [
      '--variant=minbase',
      `--include=${RUNNER_PACKAGES.join(',')}`,
      `--cache-dir=${debs}`,
      suite,
      root,
      mirror,
    ],
    tag,
    mirror,
  )
  mkdirSync(debs, { recursive: true })
  removeTree(root)
  try {
    log(`building ${tag}: debootstrap ${suite} from ${mirror}${where}, about a minute`)
    await runTool(
      argv,
      'install debootstrap (apt-get install -y debootstrap) and check the Debian mirror answers',
      lock,
    )
    const node = o.node ?? process.execPath
    copyFileSync(node, join(root, NODE_IN_IMAGE))
    chmodSync(join(root, NODE_IN_IMAGE), 0o755)
    const check = await capture('chroot', [root, NODE_IN_IMAGE, '-p', 'process.version'])
    if (check.code !== 0) {
      const ldd = await capture('chroot', [root, 'ldd', NODE_IN_IMAGE])
      const missing = ldd.out.split('\n').filter((l) => l.includes('not found'))
      throw new ContainerError(
        `the host's Node (${node}) does not run in the ${suite} root: ${missing.join('; ') || check.out.trim()}; pass a Node built for that Debian release with --node`,
      )
    }
    log(`node ${check.out.trim()} runs inside the image`)
    rmSync(join(root, 'var/lib/apt/lists'), { recursive: true, force: true })
    mkdirSync(join(root, 'var/lib/apt/lists/partial'), { recursive: true })
    await importRoot(root, tag, hash)
  } finally {
    removeTree(root)
  }
}

/** `docker import` of a directory tree, through the daemon's API (tar streamed, nothing staged on disk). */
async function importRoot(root: string, tag: string, hash: string): Promise<void> {
  const tc = await loadTestcontainers()
  const docker = (await tc.getContainerRuntimeClient()).container.dockerode
  const tar = spawn('tar', ['--numeric-owner', '-C', root, '-cf', '-', '.'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [repo, version] = tag.split(':') as [string, string]
  const progress = await docker.importImage(tar.stdout, {
    repo,
    tag: version,
    changes: [
      `LABEL ${LABEL_IMAGE_HASH}=${hash}`,
      `ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      'CMD ["/bin/bash"]',
    ],
  })
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(progress, (err: Error | null, out: Array<{ error?: string }>) => {
      const failed = err?.message ?? out.find((o) => o.error)?.error
      if (failed) reject(new ContainerError(`docker import of ${root} as ${tag} failed: ${failed}`))
      else resolve()
    }),
  )
}

async function buildOnBase(
  tag: string,
  base: string,
  cacheDir: string,
  o: ImageOptions,
  log: (line: string) => void,
): Promise<void> {
  const tc = await loadTestcontainers()
  const ctx = join(cacheDir, `context-${process.pid}`)
  rmSync(ctx, { recursive: true, force: true })
  mkdirSync(ctx, { recursive: true })
  try {
    copyFileSync(o.node ?? process.execPath, join(ctx, 'node'))
    const tools = 'ip nft ping ps unshare'
    writeFileSync(
      join(ctx, 'Dockerfile'),
      [
        `FROM ${base}`,
        // Install the tools only when the base lacks one (a registry-less machine can then reuse a local base).
        `RUN for t in ${tools}; do command -v $t >/dev/null || missing=1; done; ` +
          `if [ -n "$missing" ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${RUNNER_PACKAGES.join(' ')} && rm -rf /var/lib/apt/lists/*; fi`,
        `COPY node ${NODE_IN_IMAGE}`,
        `RUN ${NODE_IN_IMAGE} --version`,
        '',
      ].join('\n'),
    )
    log(`building ${tag} on ${base}`)
    const [repo, version] = tag.split(':') as [string, string]
    await tc.GenericContainer.fromDockerfile(ctx)
      .withBuildArgs({})
      .build(`${repo}:${version}`, { deleteOnExit: false })
  } catch (err) {
    if (err instanceof ContainerError) throw err
    throw new ContainerError(`building ${tag} on base image ${base} failed: ${(err as Error).message}`)
  } finally {
    rmSync(ctx, { recursive: true, force: true })
  }
}

/**
 * The runner image's tag, built first when no image with that content hash
 * exists. One process builds at a time (the lock beside the cache); one that
 * finds another building waits for it, says so in one line, and reuses the
 * image it made.
 */
export async function ensureImage(o: ImageOptions = {}): Promise<ImageResult> {
  const t0 = performance.now()
  const log = o.log ?? ((line: string) => console.error(`nslab container: ${line}`))
  const nodeSha256 = sha256File(o.node ?? process.execPath)
  const inputs: ImageInputs = o.base
    ? { base: o.base, packages: RUNNER_PACKAGES, nodeSha256 }
    : { suite: o.suite ?? DEFAULT_SUITE, packages: RUNNER_PACKAGES, nodeSha256 }
  const hash = imageHash(inputs)
  const tag = imageTag(hash)
  const cacheDir = imageCacheDir(o)
  const r = await buildOnce({
    lockPath: join(cacheDir, BUILD_LOCK),
    what: tag,
    log,
    waitMs: o.waitMs,
    signal: o.signal,
    find: async () => ((await imageExists(tag)) ? tag : undefined),
    build: async (lock) => {
      sweepLeftovers(cacheDir, log)
      if (o.base) await buildOnBase(tag, o.base, cacheDir, o, log)
      else await buildWithDebootstrap(tag, hash, inputs.suite!, cacheDir, lock, o, log)
      return tag
    },
  })
  const seconds = (performance.now() - t0) / 1000
  if (r.built) log(`built ${tag} in ${seconds.toFixed(1)} s`)
  return { tag, hash, built: r.built, seconds }
}
