/**
 * Make sure a Docker daemon answers: ping its socket, and when none answers
 * but `dockerd` is installed, start it (detached, with no bridge, no
 * iptables rules and no forwarding, so the host's network is left as it
 * was) and wait for the
 * socket. Docker missing altogether is one clear error naming the package.
 */
import { spawn } from 'node:child_process'
import { accessSync, closeSync, constants as fsConstants, mkdirSync, openSync } from 'node:fs'
import { request } from 'node:http'
import { dirname, join } from 'node:path'
import { ContainerError } from './errors.js'

export const DEFAULT_SOCKET = '/var/run/docker.sock'
const DOCKERD_LOG = '/var/log/nslab-dockerd.log'

/**
 * How nslab starts dockerd: no docker0 bridge, no iptables rules, and no
 * ip_forward=1 on the host (dockerd sets it by default, and new network
 * namespaces inherit it, which would change what every lab sees).
 */
export const DOCKERD_FLAGS = ['--bridge=none', '--iptables=false', '--ip-forward=false']

/** The daemon's unix socket from DOCKER_HOST (unix://PATH), the default socket, or undefined for tcp:// hosts. */
export function dockerSocket(dockerHost = process.env.DOCKER_HOST): string | undefined {
  if (!dockerHost) return DEFAULT_SOCKET
  if (dockerHost.startsWith('unix://')) return dockerHost.slice('unix://'.length)
  return undefined
}

/** True when a daemon answers GET /_ping on the socket within the timeout. */
export function pingDocker(socketPath: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(false))
    req.end()
  })
}

/** The first executable `cmd` on PATH. */
function which(cmd: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean)
  for (const dir of dirs) {
    try {
      accessSync(join(dir, cmd), fsConstants.X_OK)
      return join(dir, cmd)
    } catch {
      /* not here */
    }
  }
  return undefined
}

/**
 * The host's network namespace, for what must run outside nslab's sealed one:
 * /proc/1/ns/net when this process may open it, else (some sandboxes' init
 * forbids that) the namespace the sealed run was started from, which
 * scripts/sealed.mjs passes as NSLAB_OUTER_NETNS; undefined when neither opens.
 */
export function hostNetnsPath(): string | undefined {
  for (const path of ['/proc/1/ns/net', process.env.NSLAB_OUTER_NETNS]) {
    if (!path) continue
    try {
      closeSync(openSync(path, 'r'))
      return path
    } catch {
      /* not ours to enter */
    }
  }
  return undefined
}

export interface DockerStatus {
  socket: string | undefined
  /** Pid of the dockerd this call started, or undefined when a daemon already answered. */
  startedPid?: number
}

/**
 * Ping the daemon; start `dockerd` when none answers (unless `start` is false)
 * and wait up to `timeoutMs` for its socket. Throws ContainerError (exit 3)
 * when Docker is not installed or does not come up.
 */
export async function ensureDocker(
  options: { start?: boolean; timeoutMs?: number; log?: (line: string) => void } = {},
): Promise<DockerStatus> {
  const socket = dockerSocket()
  if (socket === undefined) return { socket } // a remote daemon: testcontainers reaches it, or says why not
  if (await pingDocker(socket)) return { socket }
  const dockerd = which('dockerd')
  if (!dockerd)
    throw new ContainerError(
      `Docker is missing: no daemon answers on ${socket} and dockerd is not installed; install it with: apt-get install -y docker.io`,
      3,
    )
  if (options.start === false)
    throw new ContainerError(`no Docker daemon answers on ${socket}; start it: dockerd &`, 3)
  if (process.getuid?.() !== 0)
    throw new ContainerError(`no Docker daemon answers on ${socket}, and starting dockerd needs root`, 3)
  const hostNet = hostNetnsPath()
  if (!hostNet && process.env.NSLAB_SEALED === '1')
    throw new ContainerError(
      `no Docker daemon answers on ${socket}, and this process runs in nslab's sealed network namespace, where a daemon started now would be cut off from every network; start it first: dockerd ${DOCKERD_FLAGS.join(' ')} & (as .ci/run does)`,
      3,
    )
  mkdirSync(dirname(DOCKERD_LOG), { recursive: true })
  const out = openSync(DOCKERD_LOG, 'a')
  const args = ['--host', `unix://${socket}`, ...DOCKERD_FLAGS]
  // In the host's network namespace when it can be entered: the daemon outlives this process.
  const argv = hostNet ? ['nsenter', `--net=${hostNet}`, '--', dockerd, ...args] : [dockerd, ...args]
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', out, out] })
  closeSync(out)
  child.unref()
  let exited: number | null | undefined
  child.on('exit', (code) => (exited = code))
  child.on('error', () => (exited = -1)) // nsenter (util-linux) missing
  options.log?.(`started ${argv.join(' ')} (pid ${child.pid}, log ${DOCKERD_LOG})`)
  const deadline = Date.now() + (options.timeoutMs ?? 60_000)
  while (Date.now() < deadline) {
    if (exited !== undefined)
      throw new ContainerError(`dockerd exited with code ${exited} before answering; see ${DOCKERD_LOG}`, 3)
    if (await pingDocker(socket, 1000)) return { socket, startedPid: child.pid }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new ContainerError(
    `dockerd (pid ${child.pid}) did not answer on ${socket} within ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s; see ${DOCKERD_LOG}`,
    3,
  )
}
