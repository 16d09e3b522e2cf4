// The guest side of nslab's VM test pool (vm/vitest-pool.ts): started by the
// VM runner as the guest's command, it opens the virtio-serial port named on
// its command line and, for each worker the host asks for, forks Vitest's own
// worker entry (a child process, as Vitest's "forks" pool does) and relays
// its IPC messages, output and exit over the port. Plain JavaScript with
// node: built-ins only, so it starts fast under emulation and needs no build.
//
//   node vm/pool-agent.mjs nslab.pool
import { fork } from 'node:child_process'
import { openSync, read, readFileSync, readdirSync, write } from 'node:fs'
import { release } from 'node:os'
import { performance } from 'node:perf_hooks'
import { deserialize, serialize } from 'node:v8'
import { FRAME, FrameReader, encodeFrame } from './pool-frames.mjs'

const name = process.argv[2] ?? 'nslab.pool'

/** /dev/<port> of the virtio-serial port called `name`. */
function findPort(name) {
  const dir = '/sys/class/virtio-ports'
  let ports = []
  try {
    ports = readdirSync(dir)
  } catch {
    // no virtio-serial device at all
  }
  for (const p of ports) {
    try {
      if (readFileSync(`${dir}/${p}/name`, 'utf8').trim() === name) return `/dev/${p}`
    } catch {
      // a port without a name
    }
  }
  throw new Error(
    `nslab pool agent: no virtio-serial port named ${name} (found: ${ports.join(', ') || 'none'}); is virtio_console loaded?`,
  )
}

const fd = openSync(findPort(name), 'r+')

// Writes go out in order, one at a time.
let writing = Promise.resolve()
function send(kind, worker, payload) {
  const frame = encodeFrame(kind, worker, payload)
  writing = writing
    .then(() => writeAll(frame))
    .catch((e) => {
      console.error(`nslab pool agent: writing to the port failed: ${e.message}`)
      process.exit(1)
    })
}
function writeAll(buf) {
  return new Promise((resolve, reject) => {
    const step = (off) =>
      write(fd, buf, off, buf.length - off, null, (err, n) => {
        if (err) reject(err)
        else if (off + n < buf.length) step(off + n)
        else resolve()
      })
    step(0)
  })
}
const json = (v) => Buffer.from(JSON.stringify(v))
const debug = process.env.NSLAB_POOL_DEBUG
  ? (line) => console.error(`nslab pool agent ${(performance.now() / 1000).toFixed(2)}: ${line}`)
  : () => {}

/** @type {Map<number, import('node:child_process').ChildProcess>} */
const workers = new Map()

/**
 * A worker started ahead of need: starting node and loading Vitest's worker
 * code takes seconds under emulation, so while one test file runs the next
 * file's process is already getting ready. It is used only for a spawn with
 * the same spec, and never twice (each test file gets a fresh process).
 */
let standby

function forkWorker({ entry, execArgv, env, cwd }) {
  return fork(entry, [], {
    cwd,
    env,
    execArgv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  })
}

function prepare(spec) {
  const child = forkWorker(spec)
  const early = []
  const keep = (stream) => (d) => early.push([stream, d])
  child.stdout.on('data', keep(FRAME.stdout))
  child.stderr.on('data', keep(FRAME.stderr))
  child.on('error', () => {}) // reported if it is ever adopted; a dead standby is simply not used
  standby = { key: JSON.stringify(spec), child, early }
  debug(`standby process ${child.pid} started`)
  child.once('exit', () => {
    if (standby?.child === child) standby = undefined
  })
}

// The host told us at boot what its first worker will look like: start it now.
if (process.env.NSLAB_POOL_PREPARE) prepare(JSON.parse(process.env.NSLAB_POOL_PREPARE))

function spawnWorker(id, spec) {
  const key = JSON.stringify(spec)
  let child
  if (standby && standby.key === key && standby.child.exitCode === null && standby.child.connected) {
    child = standby.child
    child.stdout.removeAllListeners('data')
    child.stderr.removeAllListeners('data')
    for (const [stream, d] of standby.early) send(stream, id, d)
    standby = undefined
    debug(`worker ${id}: the standby process ${child.pid}`)
  } else {
    standby?.child.kill('SIGKILL')
    standby = undefined
    child = forkWorker(spec)
    debug(`worker ${id}: a new process ${child.pid} (no standby with this spec)`)
  }
  workers.set(id, child)
  // The next file's process starts once this one has loaded its test file:
  // starting it at once would take CPU from the worker that is on the way to
  // its first test (two vCPUs, and TCG on the host's cores).
  let next = spec
  const prepareNext = () => {
    if (next && !standby) prepare(next)
    next = undefined
  }
  child.on('message', (m) => {
    debug(`worker ${id} says ${m?.type ?? m?.m ?? '?'}`)
    send(FRAME.reply, id, serialize(m))
    if (next && (m?.m === 'onCollected' || m?.type === 'testfileFinished')) prepareNext()
  })
  child.stdout.on('data', (d) => send(FRAME.stdout, id, d))
  child.stderr.on('data', (d) => send(FRAME.stderr, id, d))
  child.on('error', (e) => send(FRAME.error, id, json({ message: e.message })))
  child.on('exit', (code, signal) => {
    workers.delete(id)
    send(FRAME.exit, id, json({ code, signal }))
    prepareNext()
  })
}

function onFrame({ kind, worker, payload }) {
  debug(`frame ${kind} for worker ${worker}, ${payload.length} bytes`)
  const child = workers.get(worker)
  switch (kind) {
    case FRAME.spawn:
      try {
        spawnWorker(worker, JSON.parse(payload.toString()))
      } catch (e) {
        send(FRAME.error, worker, json({ message: `could not start the worker: ${e.message}` }))
      }
      return
    case FRAME.message:
      if (child?.connected) child.send(deserialize(payload))
      return
    case FRAME.kill:
      child?.kill(JSON.parse(payload.toString()).signal ?? 'SIGTERM')
      return
    case FRAME.shutdown:
      shutdown(0)
      return
  }
}

// The port is a character device, which libuv reads in its thread pool, and
// a read blocked there holds up the process's exit. It returns (0 bytes) when
// the host closes its end, which the host does after asking us to shut down.
function shutdown(code) {
  for (const c of workers.values()) c.kill('SIGKILL')
  standby?.child.kill('SIGKILL')
  void writing.then(() => process.exit(code))
}

const reader = new FrameReader()
const buf = Buffer.allocUnsafe(1 << 20)
function pump() {
  read(fd, buf, 0, buf.length, null, (err, n) => {
    if (err || n === 0) {
      if (err) console.error(`nslab pool agent: reading the port failed: ${err.message}`)
      return shutdown(err ? 1 : 0) // the host closed its end: nobody is left to serve
    }
    let frames
    try {
      frames = reader.push(buf.subarray(0, n))
    } catch (e) {
      console.error(`nslab pool agent: ${e.message}`)
      return shutdown(1)
    }
    for (const f of frames) onFrame(f)
    pump()
  })
}
pump()
send(FRAME.ready, 0, json({ release: release(), pid: process.pid, node: process.version }))
