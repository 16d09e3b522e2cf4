/**
 * Run programs inside a network namespace with `ip netns exec` semantics:
 * the namespace's own /sys and /etc/netns/NAME/* files, argv arrays only
 * (never a shell string), output collected or streamed, a timeout that kills.
 */
import { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import type { Worker } from 'node:worker_threads'
import { dup } from '../sys/index.js'
import { GATE_CLOSED, GATE_OPEN, GATE_SPAWNING } from './exec-protocol.js'
import type { FromWorker, ToWorker } from './exec-protocol.js'
import { type NetnsRef, usingNetns } from './handle.js'
import { startWorker } from './worker-url.js'

export interface SpawnOptions {
  /** Environment of the child (default: this process's). */
  env?: Record<string, string | undefined>
  /** Working directory of the child. */
  cwd?: string
  /** Data for the child's stdin; when absent stdin is /dev/null unless `stdin: 'pipe'`. */
  input?: string | Uint8Array
  /** Keep stdin open as a writable stream (`proc.stdin`). */
  stdin?: 'pipe'
  /**
   * Bind mounts made in the child's private mount namespace after the
   * `/etc/netns` binds, in order (`{ source: dir, target: '/run' }` gives the
   * child its own /run). The targets must exist; nothing changes outside the child.
   */
  mounts?: readonly BindMount[]
  /** Mount the namespace's /sys read-only for the child (programs that see a read-only /sys skip udev). */
  sysReadOnly?: boolean
  /**
   * Start the child in a process group (and session) of its own, so
   * `proc.kill(signal, { group: true })` reaches every process it started.
   * It then no longer gets the terminal's Ctrl-C: stopping it is up to you.
   */
  processGroup?: boolean
}

export interface BindMount {
  source: string
  target: string
}

export interface ExecOptions extends SpawnOptions {
  /**
   * Stop the child after this many milliseconds: SIGTERM to its whole
   * process group (so what it started goes too), SIGKILL `killGrace` ms
   * later, and the result once it has been reaped (`timedOut: true`).
   */
  timeout?: number
  /** Milliseconds between the SIGTERM and the SIGKILL of a stopped child (default 1000). */
  killGrace?: number
  /** Stop the child the same way when this aborts (the result then has `timedOut: false`). */
  signal?: AbortSignal
}

export interface ExecResult {
  argv: string[]
  /** Exit code, or null when a signal ended the child. */
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  /** True when the timeout stopped the child. */
  timedOut: boolean
}

/** The program could not be started at all (not found, not executable...). */
export class SpawnError extends Error {
  override readonly name = 'SpawnError'
  readonly code: string | undefined
  constructor(argv: string[], ns: string, message: string, code: string | undefined) {
    super(`could not start ${JSON.stringify(argv[0])} in namespace ${ns}: ${message}`)
    this.code = code
  }
}

let worker: Worker | undefined
let nextId = 1

/**
 * The spawn gate, shared with the exec worker (its states are in
 * exec-protocol.ts). A process dying of a signal closes it before removing
 * its labs, so no child can be forked into a namespace after the sweep that
 * kills what is inside (it would keep the namespace alive unnamed, where
 * nothing finds it).
 */
const gate = new Int32Array(new SharedArrayBuffer(4))

/**
 * Close the spawn gate, synchronously: wait (up to `ms`) for a spawn in
 * progress to finish, so the child it forks is inside its namespace and a
 * sweep finds it, then refuse every later spawn. For the signal teardown;
 * there is no reopening.
 */
export function closeSpawnGate(ms = 2000): void {
  const deadline = Date.now() + ms
  for (;;) {
    const was = Atomics.compareExchange(gate, 0, GATE_OPEN, GATE_CLOSED)
    if (was !== GATE_SPAWNING) return
    const left = deadline - Date.now()
    if (left <= 0) return
    Atomics.wait(gate, 0, GATE_SPAWNING, left)
  }
}
const live = new Map<number, NetnsProcess>()

function getWorker(): Worker {
  if (worker) return worker
  const w = startWorker(import.meta.url, 'exec-worker', { workerData: { gate } })
  w.on('message', (msg: FromWorker) => live.get(msg.id)?.handle(msg))
  w.on('error', (err) => {
    for (const p of live.values()) p.fail(err)
    live.clear()
    worker = undefined
  })
  w.on('exit', () => {
    if (worker === w) worker = undefined
  })
  w.unref()
  worker = w
  return w
}

function send(msg: ToWorker): void {
  getWorker().postMessage(msg)
}

function trackLive(id: number, proc: NetnsProcess | undefined): void {
  if (proc) live.set(id, proc)
  else live.delete(id)
  // The worker keeps the process alive only while a child runs.
  if (live.size > 0) getWorker().ref()
  else worker?.unref()
}

/** Stop the exec worker (children it started keep running unless killed first). */
export async function stopExecWorker(): Promise<void> {
  const w = worker
  worker = undefined
  if (w) await w.terminate()
}

/**
 * A child process running in a namespace. `stdout`/`stderr` are streams;
 * `output()` gives everything printed so far; `exited` resolves when it ends.
 * Events: 'spawn' (pid), 'output' (stream name, chunk), 'exit' (code, signal).
 */
export class NetnsProcess extends EventEmitter {
  readonly argv: string[]
  readonly netns: string
  readonly stdout = new PassThrough()
  readonly stderr = new PassThrough()
  /** The child's pid, once started. */
  pid: number | undefined
  /** Resolves once the child has started (rejects with SpawnError if it could not). */
  readonly started: Promise<number>
  /** Resolves with the exit status (never rejects after a successful start). */
  readonly exited: Promise<{ code: number | null; signal: string | null }>
  private readonly id: number
  private readonly chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] }
  private resolveStarted!: (pid: number) => void
  private rejectStarted!: (err: Error) => void
  private resolveExited!: (v: { code: number | null; signal: string | null }) => void
  private rejectExited!: (err: Error) => void
  private done = false

  constructor(id: number, argv: string[], netns: string) {
    super()
    this.id = id
    this.argv = argv
    this.netns = netns
    this.started = new Promise((res, rej) => {
      this.resolveStarted = res
      this.rejectStarted = rej
    })
    this.exited = new Promise((res, rej) => {
      this.resolveExited = res
      this.rejectExited = rej
    })
    // Callers that only await one of them must not see an unhandled rejection from the other.
    this.started.catch(() => undefined)
    this.exited.catch(() => undefined)
  }

  /** Everything the child printed so far. */
  output(): { stdout: string; stderr: string } {
    return {
      stdout: Buffer.concat(this.chunks.stdout).toString(),
      stderr: Buffer.concat(this.chunks.stderr).toString(),
    }
  }

  /** True once the child has exited. */
  get exitedAlready(): boolean {
    return this.done
  }

  /**
   * Send a signal (default SIGTERM). With `group`, to the child's whole
   * process group (for children started with `processGroup`). A no-op once
   * the child and its output pipes have closed.
   */
  kill(signal: NodeJS.Signals = 'SIGTERM', options: { group?: boolean } = {}): void {
    if (!this.done) send({ op: 'kill', id: this.id, signal, group: options.group ?? false })
  }

  /** Write to stdin (only with `stdin: 'pipe'`). */
  write(data: string | Uint8Array): void {
    send({ op: 'stdin', id: this.id, data: typeof data === 'string' ? Buffer.from(data) : data })
  }

  /** Close stdin. */
  end(): void {
    send({ op: 'stdin-end', id: this.id })
  }

  /** @internal */
  handle(msg: FromWorker): void {
    switch (msg.op) {
      case 'spawned':
        this.pid = msg.pid
        this.resolveStarted(msg.pid)
        this.emit('spawn', msg.pid)
        break
      case 'spawn-error': {
        const err = new SpawnError(this.argv, this.netns, msg.message, msg.code)
        this.finish()
        this.rejectStarted(err)
        this.rejectExited(err)
        break
      }
      case 'out': {
        const buf = Buffer.from(msg.data)
        this.chunks[msg.stream].push(buf)
        this[msg.stream].write(buf)
        // For recorders: the streams above stay paused for whoever reads them.
        this.emit('output', msg.stream, buf)
        break
      }
      case 'exit':
        this.finish()
        this.resolveExited({ code: msg.code, signal: msg.signal })
        this.emit('exit', msg.code, msg.signal)
        break
    }
  }

  /** @internal The worker died under us. */
  fail(err: Error): void {
    this.finish()
    this.rejectStarted(err)
    this.rejectExited(err)
  }

  private finish(): void {
    this.done = true
    this.stdout.end()
    this.stderr.end()
    trackLive(this.id, undefined)
  }
}

/**
 * Start a program in a namespace and return at once. Output streams through
 * `proc.stdout`/`proc.stderr`; `await proc.exited` for the status.
 */
export function spawnIn(ref: NetnsRef, argv: readonly string[], options: SpawnOptions = {}): NetnsProcess {
  checkArgv(argv)
  const id = nextId++
  return usingNetns(ref, (ns) => {
    const proc = new NetnsProcess(id, [...argv], ns.label)
    const fd = dup(ns.fd)
    trackLive(id, proc)
    const hasInput = options.input !== undefined
    send({
      op: 'spawn',
      id,
      nsFd: fd,
      nsName: ns.name,
      argv: [...argv],
      env: options.env ? cleanEnv(options.env) : undefined,
      cwd: options.cwd,
      stdin: hasInput || options.stdin === 'pipe',
      mounts: options.mounts?.map((m) => ({ source: m.source, target: m.target })) ?? [],
      sysReadOnly: options.sysReadOnly ?? false,
      group: options.processGroup ?? false,
    })
    if (hasInput) {
      proc.write(options.input!)
      proc.end()
    }
    return proc
  })
}

/** Process groups of bounded exec() children still running: killed if this process exits first. */
const groups = new Set<NetnsProcess>()
let groupsHooked = false

function killGroupsAtExit(): void {
  for (const p of groups) {
    try {
      if (p.pid !== undefined) process.kill(-p.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
}

/**
 * Run a program in a namespace to completion, like `ip netns exec NAME argv...`.
 * Resolves with its exit status and output (a non-zero exit is data, not an
 * exception); rejects only when the program cannot be started. With a
 * `timeout` or `signal`, the program runs in a process group of its own and
 * is stopped with everything it started (SIGTERM, then SIGKILL).
 */
export async function exec(
  ref: NetnsRef,
  argv: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  return await collect(spawnForExec(ref, argv, options), options)
}

/**
 * Start a program the way exec() does, without waiting for it: with a
 * `timeout` or `signal`, in a process group of its own (killed with this
 * process if it is still running then). Pair it with collect().
 */
export function spawnForExec(
  ref: NetnsRef,
  argv: readonly string[],
  options: ExecOptions = {},
): NetnsProcess {
  const { timeout, killGrace: _grace, signal, ...spawnOptions } = options
  signal?.throwIfAborted()
  const bounded = timeout !== undefined || signal !== undefined
  const proc = spawnIn(ref, argv, { ...spawnOptions, processGroup: spawnOptions.processGroup ?? bounded })
  if (bounded) {
    groups.add(proc)
    if (!groupsHooked) {
      groupsHooked = true
      process.on('exit', killGroupsAtExit)
    }
  }
  return proc
}

/**
 * Wait for a process started by spawnForExec() to end and collect its
 * status and output, as exec() does, stopping it (SIGTERM, then SIGKILL
 * after `killGrace`) when `timeout` runs out or `signal` aborts. For callers
 * that keep the process (to kill it on teardown) while they wait.
 */
export async function collect(
  proc: NetnsProcess,
  options: Pick<ExecOptions, 'timeout' | 'killGrace' | 'signal'> = {},
): Promise<ExecResult> {
  const { timeout, killGrace = 1000, signal } = options
  const argv = proc.argv
  let timedOut = false
  let timer: NodeJS.Timeout | undefined
  let killTimer: NodeJS.Timeout | undefined
  const stop = (): void => {
    if (killTimer !== undefined) return
    proc.kill('SIGTERM', { group: true })
    killTimer = setTimeout(() => proc.kill('SIGKILL', { group: true }), killGrace)
  }
  if (timeout !== undefined) {
    timer = setTimeout(() => {
      timedOut = true
      stop()
    }, timeout)
  }
  signal?.addEventListener('abort', stop, { once: true })
  try {
    const { code, signal: by } = await proc.exited
    return { argv: [...argv], code, signal: by, ...proc.output(), timedOut }
  } finally {
    clearTimeout(timer)
    clearTimeout(killTimer)
    signal?.removeEventListener('abort', stop)
    groups.delete(proc)
  }
}

function checkArgv(argv: readonly string[]): void {
  if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string'))
    throw new TypeError('argv must be a non-empty array of strings (nslab never runs a shell string)')
  if (argv[0] === '') throw new TypeError('argv[0] (the program) is empty')
}

function cleanEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v
  return out
}
