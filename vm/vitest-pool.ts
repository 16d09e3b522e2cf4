/**
 * A Vitest pool that runs test files on a chosen kernel: Vitest stays on the
 * host (config, transforms, reporters, at native speed) and each test file's
 * worker is Vitest's own "forks" worker, started by the pool agent inside a
 * QEMU VM (pool-guest.ts) and talking to the host over a virtio-serial port.
 * One VM serves the whole run; it boots when the first worker is wanted and
 * powers off when the run is done. Every file gets a fresh process, started
 * ahead of need while the previous file runs (pool-agent.mjs).
 *
 *   // vitest.vm.config.ts
 *   import { vmPool } from 'nslab/vm/vitest'
 *   export default defineConfig({ test: { pool: vmPool({ kernel: '6.1.0-56-amd64' }) } })
 */
import { EventEmitter } from 'node:events'
import { resolve } from 'node:path'
import { deserialize, serialize } from 'node:v8'
import type { PoolOptions, PoolRunnerInitializer, PoolWorker, WorkerRequest } from 'vitest/node'
import { FRAME } from './pool-frames.mjs'
import { PoolGuest, type PoolGuestOptions, type WorkerSpec } from './pool-guest.js'

export const VM_POOL_NAME = 'nslab-vm'

export type VmPoolOptions = PoolGuestOptions

/** Milliseconds a worker gets to exit after SIGTERM before SIGKILL. */
const KILL_GRACE = 1000

let nextWorkerId = 1

class VmPoolWorker implements PoolWorker {
  readonly name = VM_POOL_NAME
  /** Module code travels over the channel: the guest's view of the host's files may lag behind. */
  readonly cacheFs = false
  private readonly events = new EventEmitter()
  private readonly id = nextWorkerId++
  private readonly stdout: NodeJS.WritableStream
  private readonly stderr: NodeJS.WritableStream
  private guest: PoolGuest | undefined
  private exited: (() => void) | undefined
  private running = false

  constructor(
    private readonly options: PoolOptions,
    private readonly getGuest: (first: WorkerSpec) => PoolGuest,
  ) {
    this.stdout = options.project.vitest.logger.outputStream
    this.stderr = options.project.vitest.logger.errorStream
  }

  on(event: string, callback: (arg: unknown) => void): void {
    this.events.on(event, callback)
  }

  off(event: string, callback: (arg: unknown) => void): void {
    this.events.off(event, callback)
  }

  send(message: WorkerRequest): void {
    if (!this.running || !this.guest) return
    try {
      this.guest.send(FRAME.message, this.id, serialize(message))
    } catch (e) {
      this.fail(e as Error)
    }
  }

  deserialize(data: unknown): unknown {
    return data
  }

  async start(): Promise<void> {
    const spec: WorkerSpec = {
      entry: resolve(this.options.distPath, 'workers/forks.js'),
      execArgv: this.options.execArgv,
      env: { ...this.options.env, NSLAB_VM: '1' },
      cwd: process.cwd(),
    }
    const guest = this.getGuest(spec)
    this.guest = guest
    await guest.ready
    guest.attach(this.id, { frame: (k, p) => this.frame(k, p), fail: (e) => this.fail(e) })
    this.running = true
    guest.send(FRAME.spawn, this.id, Buffer.from(JSON.stringify(spec)))
  }

  async stop(): Promise<void> {
    const guest = this.guest
    if (!guest || !this.running) return
    const exited = new Promise<void>((done) => (this.exited = done))
    const kill = (signal: string) => {
      try {
        guest.send(FRAME.kill, this.id, Buffer.from(JSON.stringify({ signal })))
      } catch {
        this.gone() // the VM is gone, and the worker with it
      }
    }
    const hard = setTimeout(() => kill('SIGKILL'), KILL_GRACE)
    // An agent that never answers (a hung guest) must not hang the run: give up on it.
    const giveUp = setTimeout(() => this.gone(), KILL_GRACE + 5000)
    kill('SIGTERM')
    await exited
    clearTimeout(hard)
    clearTimeout(giveUp)
  }

  private frame(kind: number, payload: Buffer): void {
    switch (kind) {
      case FRAME.reply:
        this.events.emit('message', deserialize(payload))
        return
      case FRAME.stdout:
        this.stdout.write(payload)
        return
      case FRAME.stderr:
        this.stderr.write(payload)
        return
      case FRAME.error:
        this.error(
          new Error(`nslab-vm worker: ${(JSON.parse(payload.toString()) as { message: string }).message}`),
        )
        return
      case FRAME.exit: {
        const { code } = JSON.parse(payload.toString()) as { code: number | null }
        this.gone()
        this.events.emit('exit', code)
        return
      }
    }
  }

  /** The VM or its kernel failed this worker: the file fails with the reason. */
  private fail(error: Error): void {
    this.error(error)
    if (this.guest?.isClosed) this.gone()
  }

  /** To Vitest when it listens (it does from start() on); to stderr otherwise, never thrown. */
  private error(error: Error): void {
    if (this.events.listenerCount('error') > 0) this.events.emit('error', error)
    else this.stderr.write(`nslab-vm worker ${this.id}: ${error.message}\n`)
  }

  private gone(): void {
    if (!this.running) return
    this.running = false
    this.guest?.detach(this.id)
    this.exited?.()
  }
}

/**
 * The pool, for `test.pool` in a Vitest config (or one project's). The VM
 * boots on the first worker and powers off once no worker needs it; a later
 * run (watch mode) boots a fresh one.
 */
export function vmPool(options: VmPoolOptions = {}): PoolRunnerInitializer {
  let guest: PoolGuest | undefined
  const current = (first: WorkerSpec): PoolGuest => {
    if (!guest || guest.isClosed) guest = new PoolGuest(options, first)
    return guest
  }
  return {
    name: VM_POOL_NAME,
    createPoolWorker: (o: PoolOptions) => new VmPoolWorker(o, current),
  }
}
