/**
 * The runner image, built offline and cached by a content hash: a Debian
 * root made by `debootstrap --variant=minbase` with the tools the suite
 * calls (iproute2, nftables, ping, procps, util-linux), plus this host's own
 * Node binary, imported with `docker import`. Where a registry exists, a
 * base image may be named instead; the tools and Node are then layered on it
 * with a Dockerfile. The tag holds the hash of everything that goes in, so a
 * second run finds the image and builds nothing.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
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
  // the VPN tests and scenarios
  'openssl',
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

/** Run a tool, its output on our stderr (stdout stays the command's); reject with what to do. */
function runTool(cmd: string, args: string[], hint: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', process.stderr, process.stderr] })
    child.on('error', (err) =>
      reject(new ContainerError(`could not run ${cmd} (${err.message}); ${hint}`, 3)),
    )
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve()
        : reject(
            new ContainerError(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}); ${hint}`),
          ),
    )
  })
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
  /** Where debootstrap's .deb cache and the temporary root live. */
  cacheDir?: string
  /** The Node binary to copy in (default: the one running this code). */
  node?: string
  log?: (line: string) => void
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

async function buildWithDebootstrap(
  tag: string,
  hash: string,
  suite: string,
  o: ImageOptions,
): Promise<void> {
  const cacheDir = o.cacheDir ?? process.env.NSLAB_CACHE_DIR ?? '/var/cache/nslab'
  const debs = join(cacheDir, 'debs')
  const root = join(cacheDir, `rootfs-${hash}.${process.pid}`)
  const mirror = o.mirror ?? process.env.NSLAB_DEBIAN_MIRROR ?? debianMirror(aptSourceTexts(), suite)
  if (!mirror)
    throw new ContainerError(
      `no Debian mirror for ${suite} in /etc/apt/sources.list(.d); pass one with --mirror URL`,
      2,
    )
  mkdirSync(debs, { recursive: true })
  rmSync(root, { recursive: true, force: true })
  try {
    o.log?.(`building ${tag}: debootstrap ${suite} from ${mirror}`)
    await runTool(
      'debootstrap',
      [
        '--variant=minbase',
        `--include=${RUNNER_PACKAGES.join(',')}`,
        `--cache-dir=${debs}`,
        suite,
        root,
        mirror,
      ],
      'install debootstrap (apt-get install -y debootstrap) and check the Debian mirror answers',
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
    o.log?.(`node ${check.out.trim()} runs inside the image`)
    rmSync(join(root, 'var/lib/apt/lists'), { recursive: true, force: true })
    mkdirSync(join(root, 'var/lib/apt/lists/partial'), { recursive: true })
    await importRoot(root, tag, hash)
  } finally {
    rmSync(root, { recursive: true, force: true })
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

async function buildOnBase(tag: string, base: string, o: ImageOptions): Promise<void> {
  const tc = await loadTestcontainers()
  const cacheDir = o.cacheDir ?? process.env.NSLAB_CACHE_DIR ?? '/var/cache/nslab'
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
    o.log?.(`building ${tag} on ${base}`)
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

/** The runner image's tag, built first when no image with that content hash exists. */
export async function ensureImage(o: ImageOptions = {}): Promise<ImageResult> {
  const t0 = performance.now()
  const nodeSha256 = sha256File(o.node ?? process.execPath)
  const inputs: ImageInputs = o.base
    ? { base: o.base, packages: RUNNER_PACKAGES, nodeSha256 }
    : { suite: o.suite ?? DEFAULT_SUITE, packages: RUNNER_PACKAGES, nodeSha256 }
  const hash = imageHash(inputs)
  const tag = imageTag(hash)
  if (await imageExists(tag)) return { tag, hash, built: false, seconds: (performance.now() - t0) / 1000 }
  if (o.base) await buildOnBase(tag, o.base, o)
  else await buildWithDebootstrap(tag, hash, inputs.suite!, o)
  const seconds = (performance.now() - t0) / 1000
  o.log?.(`built ${tag} in ${seconds.toFixed(1)} s`)
  return { tag, hash, built: true, seconds }
}
