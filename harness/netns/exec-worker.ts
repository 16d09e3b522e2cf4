/**
 * The exec worker: one thread that starts child processes inside network
 * namespaces with `ip netns exec` semantics (ip/ipnetns.c, on_netns_exec):
 *
 *   setns(net) -> unshare(CLONE_NEWNS) -> make "/" a slave mount ->
 *   remount /sys for the namespace -> bind /etc/netns/NAME/* over /etc/* ->
 *   spawn -> return to the worker's own net and mount namespaces.
 *
 * Node spawns children from the calling thread, and a child inherits that
 * thread's namespaces, so the main thread never leaves its own.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import {
  CLONE_FS,
  CLONE_NEWNET,
  CLONE_NEWNS,
  MNT_DETACH,
  MS_BIND,
  MS_RDONLY,
  MS_REC,
  MS_SLAVE,
  O_CLOEXEC,
  O_RDONLY,
  close,
  mount,
  open,
  setns,
  umount2,
  unshare,
} from '../sys/index.js'
import { GATE_OPEN, GATE_SPAWNING } from './exec-protocol.js'
import type { FromWorker, SpawnRequest, ToWorker } from './exec-protocol.js'
import { NETNS_ETC_DIR } from './names.js'

const port = parentPort
if (!port) throw new Error('exec-worker must run as a worker thread')
/** The spawn gate (exec.ts, states in exec-protocol.ts). */
const { gate } = workerData as { gate: Int32Array }

// A private fs_struct lets this thread switch mount namespaces (setns on a
// mount namespace refuses a thread that shares its fs_struct).
unshare(CLONE_FS)
const homeNet = open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC)
const homeMnt = open('/proc/thread-self/ns/mnt', O_RDONLY | O_CLOEXEC)
const sysReadOnly = isSysReadOnly()

interface Child {
  proc: ChildProcess
  /** Leads a process group of its own (spawned detached). */
  group: boolean
  /** A SIGKILL was sent: stop waiting for output once it has exited. */
  killed: boolean
}
const children = new Map<number, Child>()

/**
 * How long a SIGKILLed child's output pipes may stay open after it exited.
 * Whatever still holds them escaped its process group (a daemon that called
 * setsid); the caller is not kept waiting for it.
 */
const STDIO_GRACE_MS = 200

function post(msg: FromWorker): void {
  port!.postMessage(msg)
}

function isSysReadOnly(): boolean {
  for (const line of readFileSync('/proc/thread-self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ')
    if (f[4] === '/sys') return (f[5] ?? '').split(',').includes('ro')
  }
  return false
}

/** Bind /etc/netns/NAME/* over /etc/*, as `ip netns exec` does; skip what /etc lacks. */
function bindEtc(name: string): void {
  const dir = join(NETNS_ETC_DIR, name)
  if (!existsSync(dir)) return
  for (const entry of readdirSync(dir)) {
    const target = join('/etc', entry)
    if (!existsSync(target)) continue
    mount(join(dir, entry), target, 'none', MS_BIND)
  }
}

function enterNamespaces(req: SpawnRequest): void {
  setns(req.nsFd, CLONE_NEWNET, req.nsName)
  unshare(CLONE_NEWNS)
  mount('none', '/', 'none', MS_SLAVE | MS_REC)
  try {
    umount2('/sys', MNT_DETACH)
  } catch {
    // nothing mounted on /sys in this mount namespace: mount ours anyway
  }
  mount(req.nsName ?? 'sysfs', '/sys', 'sysfs', sysReadOnly || req.sysReadOnly ? MS_RDONLY : 0)
  if (req.nsName) bindEtc(req.nsName)
  for (const m of req.mounts) mount(m.source, m.target, 'none', MS_BIND)
}

function leaveNamespaces(): void {
  setns(homeMnt, CLONE_NEWNS)
  setns(homeNet, CLONE_NEWNET)
}

function startChild(req: SpawnRequest): void {
  if (Atomics.compareExchange(gate, 0, GATE_OPEN, GATE_SPAWNING) !== GATE_OPEN) {
    close(req.nsFd)
    post({
      op: 'spawn-error',
      id: req.id,
      message: 'this process is being torn down by a signal',
      code: 'ECANCELED',
    })
    return
  }
  let child: ChildProcess
  try {
    try {
      enterNamespaces(req)
      const [file, ...args] = req.argv
      child = spawn(file!, args, {
        env: req.env ?? process.env,
        cwd: req.cwd,
        stdio: [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        // setsid(): the child leads a process group, so kill(-pid) reaches what it starts.
        detached: req.group,
      })
    } finally {
      // spawn() returns once the child has exec'd: it is inside the
      // namespace, where a sweep after the gate closes finds it.
      Atomics.store(gate, 0, GATE_OPEN)
      Atomics.notify(gate, 0)
      leaveNamespaces()
      close(req.nsFd)
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    post({ op: 'spawn-error', id: req.id, message: e.message, code: e.code })
    return
  }
  const { id } = req
  let spawned = false
  // Registered at once, so a kill or stdin message that follows is never lost.
  const entry: Child = { proc: child, group: req.group, killed: false }
  children.set(id, entry)
  child.once('exit', () => {
    if (entry.killed) dropStdioSoon(entry)
  })
  child.once('spawn', () => {
    spawned = true
    post({ op: 'spawned', id, pid: child.pid! })
  })
  child.once('error', (err: NodeJS.ErrnoException) => {
    if (spawned) return
    children.delete(id)
    post({ op: 'spawn-error', id, message: err.message, code: err.code })
  })
  child.stdout!.on('data', (data: Buffer) => post({ op: 'out', id, stream: 'stdout', data }))
  child.stderr!.on('data', (data: Buffer) => post({ op: 'out', id, stream: 'stderr', data }))
  child.stdin?.on('error', () => undefined)
  child.once('close', (code, signal) => {
    children.delete(id)
    if (spawned) post({ op: 'exit', id, code, signal })
  })
}

port.on('message', (msg: ToWorker) => {
  switch (msg.op) {
    case 'spawn':
      startChild(msg)
      break
    case 'stdin':
      children.get(msg.id)?.proc.stdin?.write(msg.data)
      break
    case 'stdin-end':
      children.get(msg.id)?.proc.stdin?.end()
      break
    case 'kill':
      kill(msg.id, msg.signal as NodeJS.Signals, msg.group)
      break
  }
})

function kill(id: number, signal: NodeJS.Signals, group: boolean): void {
  const c = children.get(id)
  if (!c) return
  const pid = c.proc.pid
  if (group && c.group && pid !== undefined) {
    try {
      process.kill(-pid, signal)
    } catch {
      // ESRCH: every process of the group has ended already
    }
  } else c.proc.kill(signal)
  if (signal === 'SIGKILL') {
    c.killed = true
    if (c.proc.exitCode !== null || c.proc.signalCode !== null) dropStdioSoon(c)
  }
}

/** Close a killed child's output pipes shortly, so 'close' comes even if an escaped process holds them. */
function dropStdioSoon(c: Child): void {
  setTimeout(() => {
    c.proc.stdout?.destroy()
    c.proc.stderr?.destroy()
  }, STDIO_GRACE_MS)
}
