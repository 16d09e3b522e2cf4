/**
 * One VM serving test workers: boots the chosen kernel with the pool agent
 * (pool-agent.mjs) as the guest's command, speaks frames (pool-frames.mjs)
 * with it over a virtio-serial port, routes each frame to the worker it names,
 * and powers the VM off once no worker has needed it for a moment. Vitest
 * itself stays on the host (config, transforms, reporters); only the test
 * files' worker processes run on the guest kernel.
 */
import { mkdirSync } from 'node:fs'
import type net from 'node:net'
import { fileURLToPath } from 'node:url'
import { ConsoleWatch, describeProblems, type KernelProblem } from './console.js'
import { FRAME, FrameReader, encodeFrame } from './pool-frames.mjs'
import { artifactsDir } from '../harness/util/artifacts-dir.js'
import { consoleDir, runVm, vmFailure, type VmResult } from './index.js'

/** The virtio-serial port's name, as the agent looks for it. */
export const POOL_CHANNEL = 'nslab.pool'

export interface PoolGuestOptions {
  /** A kernel image path or an installed Debian kernel version (default: the newest in /boot). */
  kernel?: string
  /** Guest memory in MiB (default 1536) and CPUs (default 2). */
  memory?: number
  cpus?: number
  /** Seconds the VM may live in all (default 4 hours: it lives as long as the test run). */
  timeout?: number
  /** Milliseconds without a worker before the VM is powered off (default 1000). */
  idleMs?: number
  /**
   * Seconds the guest may send nothing while test files run in it before
   * the run gives up on it (default NSLAB_VM_STALL_S, else 300): a hung
   * guest kernel or a worker blocked in a system call fails its files with
   * the console's last lines instead of holding the run until `timeout`.
   * Vitest's workers report every test as it ends, and a test may take at
   * most its timeout (30 s here), so five silent minutes mean a hang.
   */
  stallSeconds?: number
  /** Progress lines (booting, guest up, done), for a human. */
  onProgress?: (line: string) => void
  /**
   * A host directory shared writable with the guest, at the same path
   * (default: the fixtures' artifacts directory, artifactsDir(), so that a
   * test failing in the VM leaves its pcapng and trace on the host, where its
   * failure message says they are); false for none.
   */
  results?: string | false
}

/** How the agent starts a worker: Vitest's worker entry, with its node options, environment and directory. */
export interface WorkerSpec {
  entry: string
  execArgv: string[]
  env: Record<string, string | undefined>
  cwd: string
}

/** What the agent told us once it was up. */
export interface GuestInfo {
  /** The guest kernel's release (uname -r). */
  release: string
  pid: number
  node: string
}

/** A worker's end of the guest: frames addressed to it, and failures (the VM gone, a kernel problem). */
export interface GuestWorkerLink {
  frame(kind: number, payload: Buffer): void
  fail(error: Error): void
}

function agentPath(): string {
  return fileURLToPath(new URL('./pool-agent.mjs', import.meta.url))
}

export class PoolGuest {
  /** Resolves once the agent in the guest is up; rejects, saying why, when the VM ends before that. */
  readonly ready: Promise<GuestInfo>
  /** Resolves when QEMU is gone. */
  readonly ended: Promise<VmResult | undefined>
  private readonly links = new Map<number, GuestWorkerLink>()
  private readonly abort = new AbortController()
  private readonly idleMs: number
  private readonly timeout: number
  private socket: net.Socket | undefined
  private idle: NodeJS.Timeout | undefined
  private closed = false
  private readonly unreported: Error[] = []
  private agentErr = ''
  private readonly stallMs: number
  private lastFrameAt = Date.now()
  private readonly watchdog: NodeJS.Timeout
  /** The console's last lines, for a stall's message. */
  /** The console's last lines (a watch of its own: the run's is read only when the VM has ended). */
  private readonly console = new ConsoleWatch()
  private setReady!: (info: GuestInfo) => void
  private failReady!: (e: Error) => void

  /** `prepare`: the first worker's spec; the agent starts that worker at once, before it is asked. */
  constructor(o: PoolGuestOptions = {}, prepare?: WorkerSpec) {
    this.idleMs = o.idleMs ?? 1000
    this.timeout = o.timeout ?? 4 * 3600
    this.stallMs = (o.stallSeconds ?? (Number(process.env.NSLAB_VM_STALL_S) || 300)) * 1000
    this.watchdog = setInterval(() => this.checkStall(), Math.min(30_000, this.stallMs / 4))
    this.watchdog.unref()
    this.ready = new Promise<GuestInfo>((resolve, reject) => {
      this.setReady = resolve
      this.failReady = reject
    })
    this.ready.catch(() => {}) // a start() awaits it; nobody else need care
    const results = this.shareResults(o)
    this.ended = runVm({
      ...(results ? { results } : {}),
      // The host's node, at the same path in the guest.
      command: [process.execPath, agentPath(), POOL_CHANNEL],
      env: {
        ...(prepare ? { NSLAB_POOL_PREPARE: JSON.stringify(prepare) } : {}),
        ...(process.env.NSLAB_POOL_DEBUG ? { NSLAB_POOL_DEBUG: '1' } : {}),
      },
      kernel: o.kernel,
      memory: o.memory,
      cpus: o.cpus,
      timeout: this.timeout,
      channels: { [POOL_CHANNEL]: (s) => this.connect(s) },
      onProblem: (p) => this.problem(p),
      onStdout: (d) => process.stderr.write(d),
      onConsole: (d) => this.console.write(d),
      onStderr: (d) => {
        this.agentErr = (this.agentErr + d.toString()).slice(-4000)
        process.stderr.write(d)
      },
      onProgress: o.onProgress,
      signal: this.abort.signal,
    }).then(
      (r) => {
        this.finish(new Error(this.describeEnd(r)))
        return r
      },
      (e: unknown) => {
        this.finish(e instanceof Error ? e : new Error(String(e)))
        return undefined
      },
    )
  }

  /** The directory to share (made if missing), or undefined: one that cannot be made is said once, not fatal. */
  private shareResults(o: PoolGuestOptions): string | undefined {
    if (o.results === false) return undefined
    const dir = o.results ?? artifactsDir()
    try {
      mkdirSync(dir, { recursive: true })
      return dir
    } catch (err) {
      process.stderr.write(
        `nslab-vm: could not make ${dir} (${(err as Error).message}): artifacts written in the VM stay there\n`,
      )
      return undefined
    }
  }

  /** True once the VM was asked to power off or has gone: a new run needs a new PoolGuest. */
  get isClosed(): boolean {
    return this.closed
  }

  /** Route the frames for `id` to `link`; the VM stays up while any worker is attached. */
  attach(id: number, link: GuestWorkerLink): void {
    if (this.closed) throw new Error('the test VM is shutting down; it cannot take another worker')
    if (this.idle) clearTimeout(this.idle)
    this.idle = undefined
    if (this.links.size === 0) this.lastFrameAt = Date.now() // silence while idle is no stall
    this.links.set(id, link)
    for (const e of this.unreported.splice(0)) link.fail(e)
  }

  detach(id: number): void {
    this.links.delete(id)
    if (this.links.size === 0 && !this.closed) {
      this.idle = setTimeout(() => this.close(), this.idleMs)
      this.idle.unref()
    }
  }

  send(kind: number, worker: number, payload?: Uint8Array): void {
    if (!this.socket || this.socket.destroyed) throw new Error('the test VM is gone')
    this.socket.write(encodeFrame(kind, worker, payload))
  }

  /** Ask the agent to stop its workers and exit (the guest then powers off); resolves when QEMU is gone. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true
      if (this.idle) clearTimeout(this.idle)
      // The agent's read of the port returns once our end is closed, which lets it exit.
      if (this.socket && !this.socket.destroyed) this.socket.end(encodeFrame(FRAME.shutdown, 0))
      else this.abort.abort()
      // An agent that does not answer within 10 s is not waited for.
      const t = setTimeout(() => this.abort.abort(), 10_000)
      t.unref()
      await this.ended
      clearTimeout(t)
    }
    await this.ended
  }

  private connect(socket: net.Socket): void {
    this.socket = socket
    const reader = new FrameReader()
    socket.on('data', (chunk: Buffer) => {
      this.lastFrameAt = Date.now()
      let frames
      try {
        frames = reader.push(chunk)
      } catch (e) {
        this.finish(new Error(`the test VM's channel broke: ${(e as Error).message}`))
        this.abort.abort()
        return
      }
      for (const f of frames) {
        if (f.worker === 0) {
          if (f.kind === FRAME.ready) this.setReady(JSON.parse(f.payload.toString()) as GuestInfo)
          continue
        }
        this.links.get(f.worker)?.frame(f.kind, f.payload)
      }
    })
    socket.on('error', () => {}) // the VM's end shows up in `ended`
  }

  /**
   * A kernel problem (panic, oops, BUG, WARNING) fails the workers running
   * now, or the next one to attach when none is; its excerpt is complete a
   * moment after its first line.
   */
  private problem(p: KernelProblem): void {
    const t = setTimeout(() => {
      const e = new Error(`the guest kernel reported a problem while tests ran:\n${describeProblems([p])}`)
      if (this.links.size === 0) this.unreported.push(e)
      for (const l of this.links.values()) l.fail(e)
    }, 300)
    t.unref()
  }

  /** Test files run and the guest has said nothing for stallMs: give up on it, saying so. */
  private checkStall(): void {
    if (this.closed || this.links.size === 0) return
    const silent = Date.now() - this.lastFrameAt
    if (silent < this.stallMs) return
    const tail = this.console.tail.slice(-12).join('\n  ')
    this.finish(
      new Error(
        `the test VM sent nothing for ${Math.round(silent / 1000)} s while ${this.links.size} test file(s) ran in it: ` +
          `its kernel or a test worker is hung (NSLAB_VM_STALL_S sets the limit); the console ended with:\n  ${tail || '(nothing)'}\n` +
          `(the whole console is kept in ${consoleDir()})`,
      ),
    )
    this.abort.abort()
  }

  private describeEnd(r: VmResult): string {
    const why = vmFailure(r, this.timeout)
    if (!why) return 'the test VM powered off'
    return this.agentErr ? `${why}\n${this.agentErr.trim()}` : why
  }

  private finish(error: Error): void {
    this.closed = true
    clearInterval(this.watchdog)
    if (this.idle) clearTimeout(this.idle)
    this.failReady(error)
    for (const l of this.links.values()) l.fail(error)
    this.links.clear()
  }
}
