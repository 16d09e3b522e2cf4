/**
 * A lab node: a named network namespace with its own netlink handle. Hosts,
 * routers and switches are nodes; hosts and routers also run traffic.
 */
import type dgram from 'node:dgram'
import type net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type ConnectOptions,
  type ExecOptions,
  type ExecResult,
  type ListenOptions,
  type Netns,
  NetnsRuntime,
  type NetnsProcess,
  type SpawnOptions,
  type UdpOptions,
  bindUdpIn,
  collect,
  connectIn,
  listenIn,
  spawnForExec,
  spawnIn,
} from '../netns/index.js'
import type { Netlink } from '../netlink/index.js'
import { type PingOptions, type PingResult, ping, pingEach } from '../checks/ping.js'
import type { Impairment } from './impairment.js'
import type { Segment } from './plan.js'
import type { Timeline } from './timeline.js'

/** os.tmpdir(), asked once (it reads three variables, each with a credentials check, per call). */
let tmp: string | undefined
const tempDir = (): string => (tmp ??= tmpdir())

export type NodeKind = 'host' | 'router' | 'switch'

/** Where a node names the files it makes outside its namespace (the lab's record). */
export interface PathOwner {
  addPath(path: string): void
  removePath(path: string): void
}

/** One end of a link, as seen from the node that owns it. */
export interface Port {
  /** The device name in this node's namespace. */
  device: string
  /** The link's id, the same at both ends: `<a>--<b>#<n>` (node names sorted, n-th link of the pair). */
  link: string
  /** Its ifindex in this node's namespace. */
  index: number
  /** The node at the other end (for a host on a switch: the switch). */
  peer: LabNode
  segment: Segment
  /** This node's addresses on the segment (switch ports have none). */
  v4: string | undefined
  v6: string | undefined
  /** The port's MAC address, once read (see Lab's neighbour entries). */
  mac?: string
  /** The MTU the lab set on it (absent: the kernel's default, 1500 for a veth). */
  mtu?: number
  /** The impairment set on its egress now (absent: none). */
  impairment?: Impairment
}

export class LabNode {
  /** The user's name for it ('a', 'r1', 'sw'). */
  readonly name: string
  readonly kind: NodeKind
  /** The namespace name `ip netns` knows it by. */
  readonly netns: string
  /**
   * The namespace, held open by this process for as long as the node lives:
   * hand it to the netns layer to work inside (`socketIn(a.ns, ...)`,
   * `withNetns(a.ns, ...)`, `subscribe(a.ns, ...)`, `setSysctl(a.ns, ...)`).
   */
  readonly ns: Netns
  /** The rtnetlink client living in this node's namespace. */
  readonly netlink: Netlink
  /** Links of this node, in the order they were made. */
  readonly ports: Port[] = []
  private runtime: NetnsRuntime | undefined
  private readonly processes = new Set<NetnsProcess>()
  /** Every process started here with spawn(), finished or not (for failure reports). */
  readonly history: NetnsProcess[] = []
  private readonly closers = new Set<{ close(): void } | { destroy(): void }>()
  private readonly cleanups: (() => Promise<void>)[] = []
  private startedProcesses = false
  private tlsKeyLog: string | undefined
  private tlsKeyLogOwned = false

  constructor(
    name: string,
    kind: NodeKind,
    ns: Netns,
    netlink: Netlink,
    private readonly paths?: PathOwner,
    private readonly timeline?: Timeline,
  ) {
    this.name = name
    this.kind = kind
    this.netns = ns.name ?? ns.label
    this.ns = ns
    this.netlink = netlink
  }

  toString(): string {
    return `${this.kind} ${this.name} (${this.netns})`
  }

  /**
   * This node's address on the link facing `peer` (adjacent, or on a switch
   * both are on); without a peer, or when not adjacent, its first address.
   */
  address(peer?: LabNode, family: 4 | 6 = 4): string {
    const pick = (p: Port | undefined): string | undefined => (family === 4 ? p?.v4 : p?.v6)
    if (peer) {
      const direct = this.ports.find((p) => p.peer === peer && pick(p))
      if (direct) return pick(direct)!
      const shared = this.ports.find(
        (p) => p.peer.kind === 'switch' && peer.ports.some((q) => q.peer === p.peer) && pick(p),
      )
      if (shared) return pick(shared)!
    }
    const first = this.ports.find((p) => pick(p))
    if (!first) throw new Error(`${this} has no IPv${family} address yet: connect it first`)
    return pick(first)!
  }

  /** All addresses of this node, `{ device, v4, v6 }` per port. */
  addresses(): { device: string; v4: string | undefined; v6: string | undefined }[] {
    return this.ports.map((p) => ({ device: p.device, v4: p.v4, v6: p.v6 }))
  }

  /** Ping another node (its address facing this one) or a literal address, from inside this namespace. */
  ping(target: LabNode | string, options: PingOptions & { family?: 4 | 6 } = {}): Promise<PingResult> {
    const [to, from] = this.pingEnds(target, options.family)
    return ping(this.ns, to, { ...options, from })
  }

  /**
   * Ping several nodes or addresses of one family at once, from one socket
   * (see pingEach): results in the order of `targets`.
   */
  pingEach(
    targets: readonly (LabNode | string)[],
    options: Omit<PingOptions, 'from'> & { family?: 4 | 6 } = {},
  ): Promise<PingResult[]> {
    const ends = targets.map((t) => this.pingEnds(t, options.family))
    return pingEach(
      this.ns,
      ends.map(([to]) => to),
      { ...options, from: ends.map(([, from]) => from) },
    )
  }

  /** The address a ping to `target` goes to, and this node named with its address facing it. */
  private pingEnds(target: LabNode | string, family?: 4 | 6): [to: string, from: string] {
    const to = typeof target === 'string' ? target : target.address(this, family ?? 4)
    const mine = this.address(
      typeof target === 'string' ? undefined : target,
      family ?? (to.includes(':') ? 6 : 4),
    )
    return [to, `${this.name} (${mine})`]
  }

  /**
   * Run a program here to completion, like `ip netns exec`. Killed with the
   * lab (destroy, the signal teardown, a reset) if it is still running then.
   */
  async exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return await collect(this.track(spawnForExec(this.netns, argv, this.keyLogged(options))), options)
  }

  /** Start a long-running program here; it is killed when the lab is destroyed. */
  spawn(argv: readonly string[], options?: SpawnOptions): NetnsProcess {
    const p = this.track(spawnIn(this.netns, argv, this.keyLogged(options)))
    this.history.push(p)
    return p
  }

  /**
   * Have programs started here from now on write their TLS session keys
   * (`SSLKEYLOGFILE`, honoured by curl, NSS, BoringSSL, Go's crypto/tls with
   * the variable set...) to a file the lab owns, so a capture can carry
   * them and Wireshark decrypts their TLS. The lab's capture turns it on;
   * returns the file (made by the first program that logs a key).
   */
  logTlsKeys(): string {
    this.tlsKeyLog ??= join(tempDir(), `nslab-tls-${this.netns}.keylog`)
    return this.tlsKeyLog
  }

  /** The TLS key log of programs started here (see logTlsKeys), if it is on. */
  get tlsKeyLogFile(): string | undefined {
    return this.tlsKeyLog
  }

  /** `options` with SSLKEYLOGFILE set while keys are logged (unless the caller set it). */
  private keyLogged<O extends SpawnOptions>(options: O | undefined): O | undefined {
    if (!this.tlsKeyLog || (options?.env && 'SSLKEYLOGFILE' in options.env)) return options
    // Named in the lab's record (removed with it, or by gc) once a program may write it.
    if (!this.tlsKeyLogOwned) {
      this.ownPath(this.tlsKeyLog)
      this.tlsKeyLogOwned = true
    }
    const env = { ...(options?.env ?? process.env), SSLKEYLOGFILE: this.tlsKeyLog }
    return Object.assign({}, options, { env })
  }

  private track(p: NetnsProcess): NetnsProcess {
    this.startedProcesses = true
    this.processes.add(p)
    if (this.timeline) recordProcess(this.timeline, this.name, p)
    void p.exited.then(
      () => this.processes.delete(p),
      () => this.processes.delete(p),
    )
    return p
  }

  /** Processes started with spawn() or exec() and still running. */
  get running(): NetnsProcess[] {
    return [...this.processes]
  }

  /**
   * True once a process was started here (its children may still be inside
   * the namespace after it ended: teardown then looks for them in /proc).
   */
  get hasStartedProcesses(): boolean {
    return this.startedProcesses
  }

  /**
   * Name a file or directory made for this node outside its namespace (a
   * tunnel's work directory, a daemon's control socket) in the lab's record
   * before making it: the lab's teardown removes it, and so does `nslab gc`
   * when this process dies first. Its name must start with `nslab-` (or be a
   * wireguard-go socket `wg*.sock`).
   */
  ownPath(path: string): void {
    this.paths?.addPath(path)
  }

  /** The maker removed a path named with ownPath(). */
  disownPath(path: string): void {
    this.paths?.removePath(path)
  }

  /** A TCP server whose socket lives in this namespace, used from the calling thread. */
  async listen(
    options: ListenOptions = {},
    onConnection?: (socket: net.Socket) => void,
  ): Promise<net.Server> {
    const server = await listenIn(this.ns, options, onConnection)
    this.closers.add(server)
    server.once('close', () => this.closers.delete(server))
    return server
  }

  /** A TCP connection made from this namespace. */
  async connect(options: ConnectOptions): Promise<net.Socket> {
    const socket = await connectIn(this.ns, options)
    this.closers.add(socket)
    socket.once('close', () => this.closers.delete(socket))
    return socket
  }

  /** A UDP socket bound in this namespace. */
  bindUdp(options: UdpOptions = {}): dgram.Socket {
    const socket = bindUdpIn(this.ns, options)
    this.closers.add(socket)
    socket.once('close', () => this.closers.delete(socket))
    return socket
  }

  /**
   * Run a self-contained function on a worker thread living in this
   * namespace (Node's own net/dgram/http work there; use literal addresses,
   * not dns.lookup). The worker is reused across calls.
   */
  run<A extends unknown[], R>(fn: (...args: A) => R | Promise<R>, ...args: A): Promise<Awaited<R>> {
    this.runtime ??= new NetnsRuntime(this.ns)
    return this.runtime.run(fn, ...args)
  }

  private closeSockets(): void {
    for (const c of this.closers) {
      try {
        if ('destroy' in c) c.destroy()
        else c.close()
      } catch {
        // already closed
      }
    }
    this.closers.clear()
  }

  /**
   * Close this process's handles to the node (sockets, workers, netlink, the
   * namespace fd), leaving the namespace and its processes: what a lab kept
   * up (`nslab up`) or torn down (after stopAll) does last.
   */
  async release(): Promise<void> {
    this.closeSockets()
    await this.runtime?.close()
    this.runtime = undefined
    this.netlink.close()
    this.ns.close()
  }

  /**
   * Run `fn` when the lab tears this node down, before its processes are
   * killed (last registered, first run), for things started here that need
   * more than a SIGKILL (a daemon's temp files). Returns a function that
   * unregisters it, for owners that stop early.
   */
  onStop(fn: () => Promise<void>): () => void {
    this.cleanups.push(fn)
    return () => {
      const i = this.cleanups.indexOf(fn)
      if (i >= 0) this.cleanups.splice(i, 1)
    }
  }

  /** Stop everything this node started: cleanups (onStop), sockets, processes, workers. The lab's teardown and reset call it. */
  async stopAll(): Promise<void> {
    const errors: unknown[] = []
    for (const fn of this.cleanups.splice(0).reverse()) await fn().catch((err: unknown) => errors.push(err))
    this.closeSockets()
    const procs = [...this.processes]
    for (const p of procs) p.kill('SIGKILL')
    await Promise.allSettled(procs.map((p) => p.exited))
    await this.runtime?.close()
    this.runtime = undefined
    if (errors.length > 0) throw new AggregateError(errors, `${this}: ${errors.length} cleanup(s) failed`)
  }
}

/** Longest line of process output a timeline keeps whole; longer ones are cut there. */
const MAX_LINE = 512

/**
 * Put a process's life on the timeline: its start, every line it writes
 * (stdout and stderr, split on newlines, a last partial line at exit) and
 * its exit status.
 */
function recordProcess(timeline: Timeline, node: string, p: NetnsProcess): void {
  const cmd = p.argv.join(' ')
  timeline.record({ kind: 'lab', node, title: `${node}: started ${cmd}` })
  const partial = { stdout: '', stderr: '' }
  const line = (stream: 'stdout' | 'stderr', text: string): void => {
    timeline.record({
      kind: 'output',
      node,
      title: `${node} ${stream === 'stderr' ? 'err' : 'out'}| ${text.length > MAX_LINE ? `${text.slice(0, MAX_LINE)}…` : text}`,
      detail: cmd,
    })
  }
  p.on('output', (stream: 'stdout' | 'stderr', chunk: Buffer) => {
    const lines = (partial[stream] + chunk.toString()).split('\n')
    partial[stream] = lines.pop()!
    if (partial[stream].length > 64 * MAX_LINE) {
      line(stream, partial[stream])
      partial[stream] = ''
    }
    for (const l of lines) line(stream, l)
  })
  p.on('exit', (code: number | null, signal: string | null) => {
    for (const stream of ['stdout', 'stderr'] as const) if (partial[stream]) line(stream, partial[stream])
    timeline.record({
      kind: 'lab',
      node,
      title: `${node}: ${cmd} exited ${signal ? `on ${signal}` : `with ${code}`}`,
    })
  })
}
