/**
 * Run one command in a fresh container through testcontainers: make sure
 * Docker answers, reap containers of dead owners, find or build the image,
 * start the container (only the capabilities the suite needs, network mode
 * none, the project bind-mounted at its own path), run the command with its
 * output streamed, copy results out, and remove the container, also when the
 * command fails or the run is aborted.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { PassThrough, type Writable } from 'node:stream'
import { once } from 'node:events'
import { containerSpec, LABEL_RUN, parseCopyOut, type ContainerSpec } from './config.js'
import { ensureDocker } from './docker.js'
import { ContainerError } from './errors.js'
import { ensureImage } from './image.js'
import { currentOwner } from './owner.js'
import { reapContainers } from './reap.js'
import { loadTestcontainers } from './testcontainers.js'

export interface ContainerRunOptions {
  command: string[]
  /** Mounted at the same path and used as the working directory (default: the current directory). */
  projectDir?: string
  /** Use this image as it is instead of the built runner image. */
  image?: string
  /** Build the runner image on this base image instead of debootstrap (needs a registry, or a local image). */
  base?: string
  suite?: string
  mirror?: string
  env?: string[]
  mounts?: string[]
  /** `/CONTAINER/PATH:HOST_DIR`, copied out after the command, whatever its exit code. */
  copyOut?: string[]
  stdout?: Writable
  stderr?: Writable
  /** Aborting removes the container at once (the command dies with it). */
  signal?: AbortSignal
  log?: (line: string) => void
}

export interface ContainerRunResult {
  exitCode: number
  image: string
  containerId: string
}

function apparmorEnabled(): boolean {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y'
  } catch {
    return false
  }
}

async function startContainer(spec: ContainerSpec) {
  const tc = await loadTestcontainers()
  // testcontainers has no builder for these two host settings: set them on its host config.
  class RunnerContainer extends tc.GenericContainer {
    constructor() {
      super(spec.image)
      this.hostConfig.ReadonlyPaths = spec.readonlyPaths
      this.hostConfig.Devices = spec.devices.map((d) => ({
        PathOnHost: d,
        PathInContainer: d,
        CgroupPermissions: 'rwm',
      }))
    }
  }
  return new RunnerContainer()
    .withCommand(spec.init)
    .withNetworkMode(spec.networkMode)
    .withAddedCapabilities(...spec.capabilities)
    .withSecurityOpt(...spec.securityOpt)
    .withBindMounts(spec.binds)
    .withLabels(spec.labels)
    .withEnvironment(spec.env)
    .withWorkingDir(spec.workingDir)
    .withPullPolicy({ shouldPull: () => false })
    .start()
}

/**
 * Remove every container of this run (by its run label): also the Created one a failed start
 * leaves. Returns once none is left; a removal already under way (an abort) is waited for.
 */
async function removeRun(runId: string, timeoutMs = 60_000): Promise<void> {
  const tc = await loadTestcontainers()
  const docker = (await tc.getContainerRuntimeClient()).container.dockerode
  const filters = { label: [`${LABEL_RUN}=${runId}`] }
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const list = await docker.listContainers({ all: true, filters })
    if (list.length === 0) return
    if (Date.now() > deadline)
      throw new ContainerError(
        `container ${list[0]!.Id.slice(0, 12)} of this run could not be removed; remove it with: docker rm -f ${list[0]!.Id.slice(0, 12)}`,
      )
    for (const c of list) {
      try {
        await docker.getContainer(c.Id).remove({ force: true, v: true })
      } catch (err) {
        // 404: gone already; 409: a removal is under way (the abort's): look again shortly.
        const status = (err as { statusCode?: number }).statusCode
        if (status !== 404 && status !== 409) throw err
        if (status === 409) await new Promise((r) => setTimeout(r, 100))
      }
    }
  }
}

async function execStreaming(
  id: string,
  spec: ContainerSpec,
  stdout: Writable,
  stderr: Writable,
): Promise<number> {
  const tc = await loadTestcontainers()
  const docker = (await tc.getContainerRuntimeClient()).container.dockerode
  const ex = await docker.getContainer(id).exec({
    Cmd: spec.command,
    AttachStdout: true,
    AttachStderr: true,
    WorkingDir: spec.workingDir,
  })
  const stream = await ex.start({ hijack: true, stdin: false })
  // Demultiplex into pass-throughs that never end the caller's streams (process.stdout must stay open).
  const out = new PassThrough()
  const err = new PassThrough()
  out.on('data', (d: Buffer) => stdout.write(d))
  err.on('data', (d: Buffer) => stderr.write(d))
  docker.modem.demuxStream(stream, out, err)
  await Promise.race([once(stream, 'end'), once(stream, 'close')])
  const info = await ex.inspect()
  // No exit code: the container went away under the command (aborted run).
  return info.ExitCode ?? 137
}

async function copyOut(
  container: { copyArchiveFromContainer(path: string): Promise<NodeJS.ReadableStream> },
  from: string,
  to: string,
): Promise<void> {
  const archive = await container.copyArchiveFromContainer(from)
  mkdirSync(to, { recursive: true })
  const tar = spawn('tar', ['-x', '-C', to, '--strip-components=1'], {
    stdio: ['pipe', 'inherit', 'inherit'],
  })
  archive.pipe(tar.stdin)
  const [code] = (await once(tar, 'exit')) as [number | null]
  if (code !== 0) throw new ContainerError(`extracting ${from} into ${to} failed (tar exit ${code})`)
}

export async function runInContainer(o: ContainerRunOptions): Promise<ContainerRunResult> {
  const log = o.log ?? (() => {})
  const projectDir = o.projectDir ?? process.cwd()
  if (!existsSync(projectDir))
    throw new ContainerError(`the project directory ${projectDir} does not exist`, 2)
  const copies = (o.copyOut ?? []).map((c) => parseCopyOut(c, process.cwd()))
  await ensureDocker({ log })
  const reaped = await reapContainers()
  for (const r of reaped.removed) log(`removed container ${r.id} of dead owner pid ${r.ownerPid}`)
  const image =
    o.image ??
    (await ensureImage({ base: o.base, suite: o.suite, mirror: o.mirror, log, signal: o.signal })).tag
  const runId = randomUUID()
  const spec = containerSpec(
    {
      image,
      projectDir,
      command: o.command,
      env: o.env,
      mounts: o.mounts,
      apparmor: apparmorEnabled(),
      tun: existsSync('/dev/net/tun'),
    },
    currentOwner(),
    runId,
    process.env,
  )
  const onAbort = () => void removeRun(runId).catch(() => {})
  o.signal?.addEventListener('abort', onAbort, { once: true })
  let containerId = ''
  try {
    if (o.signal?.aborted) throw new ContainerError('the container run was aborted before it started')
    let container: Awaited<ReturnType<typeof startContainer>>
    try {
      container = await startContainer(spec)
    } catch (err) {
      throw new ContainerError(`starting a container from ${image} failed: ${(err as Error).message}`)
    }
    containerId = container.getId()
    log(`container ${containerId.slice(0, 12)} from ${image}: ${spec.command.join(' ')}`)
    let exitCode = await execStreaming(
      containerId,
      spec,
      o.stdout ?? process.stdout,
      o.stderr ?? process.stderr,
    )
    if (o.signal?.aborted) return { exitCode, image, containerId }
    for (const c of copies) {
      try {
        await copyOut(container, c.from, c.to)
        log(`copied ${c.from} out to ${c.to}`)
      } catch (err) {
        const msg = `could not copy ${c.from} out of the container: ${(err as Error).message}`
        // A failed command may not have written its results: keep its own exit code then.
        if (exitCode === 0) {
          ;(o.stderr ?? process.stderr).write(`nslab: ${msg}\n`)
          exitCode = 1
        } else log(msg)
      }
    }
    return { exitCode, image, containerId }
  } finally {
    o.signal?.removeEventListener('abort', onAbort)
    await removeRun(runId)
  }
}
