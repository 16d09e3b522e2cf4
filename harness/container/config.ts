/**
 * The pure part of a container run: options in, the container's settings out
 * (capabilities, security options, network mode, mounts, labels, environment),
 * and the labels that let a later run or `nslab container gc` tell whether the
 * process that started a container is still alive.
 */
import { ContainerError } from './errors.js'

/**
 * The capabilities the suite needs, no more: namespaces and mounts, links and
 * routes, raw ICMP, and SYS_PTRACE to read which network namespace another
 * user's process is in (/proc/PID/ns/net needs ptrace access: without it
 * `ip netns pids` and `nslab gc` miss the openvpn that NetworkManager runs as
 * the nm-openvpn user).
 */
export const CAPABILITIES = ['NET_ADMIN', 'SYS_ADMIN', 'NET_RAW', 'SYS_PTRACE'] as const

/**
 * Docker's default read-only /proc paths, less /proc/sys: the suite writes
 * net.* sysctls of the namespaces it makes (a thread sees its own network
 * namespace's values there), which a read-only /proc/sys forbids.
 */
export const READONLY_PATHS = ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sysrq-trigger']

export const LABEL_OWNER_PID = 'nslab.owner.pid'
export const LABEL_OWNER_START = 'nslab.owner.start'
export const LABEL_OWNER_BOOT = 'nslab.owner.boot'
export const LABEL_RUN = 'nslab.run'

/** Variables passed from the caller's environment into the container when set. */
const PASSED_ENV = /^(CI|GITHUB_ACTIONS|TERM|NO_COLOR|FORCE_COLOR|NSLAB_[A-Z0-9_]+)$/

export interface Owner {
  pid: number
  /** Start time in clock ticks since boot (/proc/PID/stat field 22), against pid reuse. */
  startTime: number
  /** /proc/sys/kernel/random/boot_id: a pid from another boot is never alive. */
  bootId: string
}

export interface RunOptions {
  image: string
  /** The host directory mounted into the container at the same path, and the working directory. */
  projectDir: string
  command: string[]
  /** Extra variables, KEY=VALUE. */
  env?: string[]
  /** Extra bind mounts, HOST[:CONTAINER][:ro]. */
  mounts?: string[]
  /** True when the host runs AppArmor (Docker's default profile then forbids mount). */
  apparmor?: boolean
  /** True when the host has /dev/net/tun, passed through for tun/tap tests. */
  tun?: boolean
}

export interface BindMount {
  source: string
  target: string
  mode: 'rw' | 'ro'
}

export interface ContainerSpec {
  image: string
  /** The container's first process: it idles until the command, run with exec, is done. */
  init: string[]
  command: string[]
  capabilities: string[]
  securityOpt: string[]
  networkMode: 'none'
  readonlyPaths: string[]
  devices: string[]
  binds: BindMount[]
  labels: Record<string, string>
  env: Record<string, string>
  workingDir: string
}

export function ownerLabels(owner: Owner, runId: string): Record<string, string> {
  return {
    [LABEL_OWNER_PID]: String(owner.pid),
    [LABEL_OWNER_START]: String(owner.startTime),
    [LABEL_OWNER_BOOT]: owner.bootId,
    [LABEL_RUN]: runId,
  }
}

/**
 * True when a container's labels name an owner that is gone: another boot, or
 * a pid that is dead or now belongs to a process started at another time.
 * Containers without nslab owner labels are never ours to judge.
 */
export function isOrphan(
  labels: Record<string, string>,
  bootId: string,
  startTimeOf: (pid: number) => number | undefined,
): boolean {
  const pid = Number(labels[LABEL_OWNER_PID])
  const start = Number(labels[LABEL_OWNER_START])
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isFinite(start)) return false
  if (labels[LABEL_OWNER_BOOT] !== bootId) return true
  return startTimeOf(pid) !== start
}

function parseEnv(entries: string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const e of entries) {
    const eq = e.indexOf('=')
    if (eq <= 0) throw new ContainerError(`bad --env ${JSON.stringify(e)}: expected KEY=VALUE`, 2)
    env[e.slice(0, eq)] = e.slice(eq + 1)
  }
  return env
}

function parseMount(m: string): BindMount {
  const parts = m.split(':')
  const mode = parts.length > 1 && (parts.at(-1) === 'ro' || parts.at(-1) === 'rw') ? parts.pop() : 'rw'
  const [source, target = source] = parts
  if (!source?.startsWith('/') || !target?.startsWith('/') || parts.length > 2)
    throw new ContainerError(`bad --mount ${JSON.stringify(m)}: expected /HOST[:/CONTAINER][:ro]`, 2)
  return { source, target, mode: mode as 'rw' | 'ro' }
}

/** The settings of the container that runs `options.command`, given the caller's owner and environment. */
export function containerSpec(
  options: RunOptions,
  owner: Owner,
  runId: string,
  callerEnv: Record<string, string | undefined>,
): ContainerSpec {
  if (options.command.length === 0)
    throw new ContainerError('no command given: nslab container run -- COMMAND...', 2)
  if (!options.projectDir.startsWith('/'))
    throw new ContainerError(`the project directory must be absolute, got ${options.projectDir}`, 2)
  const passed = Object.fromEntries(
    Object.entries(callerEnv).filter(
      (e): e is [string, string] => PASSED_ENV.test(e[0]) && e[1] !== undefined,
    ),
  )
  return {
    image: options.image,
    init: ['sleep', 'infinity'],
    command: options.command,
    capabilities: [...CAPABILITIES],
    securityOpt: ['seccomp=unconfined', ...(options.apparmor ? ['apparmor=unconfined'] : [])],
    networkMode: 'none',
    readonlyPaths: [...READONLY_PATHS],
    devices: options.tun ? ['/dev/net/tun'] : [],
    binds: [
      { source: options.projectDir, target: options.projectDir, mode: 'rw' },
      ...(options.mounts ?? []).map(parseMount),
    ],
    labels: ownerLabels(owner, runId),
    env: {
      HOME: '/root',
      // Like `npm run`: the project's own binaries (vitest, tsx) come first.
      PATH: `${options.projectDir}/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      ...passed,
      ...parseEnv(options.env ?? []),
    },
    workingDir: options.projectDir,
  }
}

export interface CopyOut {
  /** Absolute path inside the container. */
  from: string
  /** Host directory the content of `from` lands in. */
  to: string
}

/** Parse `CONTAINER_PATH:HOST_DIR` (the host side resolved against `cwd`). */
export function parseCopyOut(spec: string, cwd: string): CopyOut {
  const colon = spec.indexOf(':')
  const from = colon > 0 ? spec.slice(0, colon) : ''
  const to = colon > 0 ? spec.slice(colon + 1) : ''
  if (!from.startsWith('/') || !to || from === '/')
    throw new ContainerError(`bad --copy-out ${JSON.stringify(spec)}: expected /CONTAINER/PATH:HOST_DIR`, 2)
  return { from: from.replace(/\/+$/, ''), to: to.startsWith('/') ? to : `${cwd.replace(/\/+$/, '')}/${to}` }
}
