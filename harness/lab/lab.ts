/**
 * The Lab: hosts, routers and switches in named network namespaces, linked
 * by veth pairs born in their namespaces, addressed by a plan, routed so
 * every host reaches every other, and torn down completely.
 *
 *   const lab = await Lab.create()
 *   const [a, b] = await lab.addHosts('a', 'b')
 *   await lab.connect(a, b)
 *   await a.ping(b)
 *   await lab.destroy()
 *
 * This class is the facade users program against. What a lab is made of
 * lives in model.ts; how each thing is made, in nodes.ts, links.ts,
 * routing.ts, nat.ts, neighbours.ts, impair.ts, partition.ts and tunnel.ts;
 * every step that makes something registers its undo on the lab's
 * UndoStack (undo.ts), which destroy() runs last-first.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { NETNS_ETC_DIR } from '../netns/index.js'
import { type MatrixOptions, type ReachabilityMatrix, reachabilityMatrix } from '../checks/matrix.js'
import type { CaptureStats } from '../capture/index.js'
import { LabCapture, type LabCaptureOptions } from './capture.js'
import { type SwitchOptions, type TopologySpec, buildTopology } from './build.js'
import { TopologyError } from './errors.js'
import { type Impairment, applyImpairment, clearImpairment } from './impair.js'
import { reapOwnRecord, registerLive, unregisterLive } from './lifecycle.js'
import { type LinkOptions, connect, setLinkUp, setMtu } from './links.js'
import { LabModel } from './model.js'
import { netnsName, newLabId } from './names.js'
import { addNat } from './nat.js'
import { PIN_ABOVE_PAIRS, staticNeighbours } from './neighbours.js'
import { NetlinkRecorder, recordLinkMade } from './recorder.js'
import { impairmentText } from './impairment.js'
import type { Timeline } from './timeline.js'
import type { LabNode, Port } from './node.js'
import { type HostOptions, type NodeContext, checkNewNames, createBridge, createNodes } from './nodes.js'
import { LabRecord } from './owner.js'
import { heal, partition } from './partition.js'
import type { PlanOptions } from './plan.js'
import type { PlannedRoute } from './routes.js'
import { restoreRoutes, syncRoutes } from './routing.js'
import { type Tunnel, type TunnelOptions, tunnelDriver } from './tunnel.js'
import { UndoStack } from './undo.js'

export type { HostOptions } from './nodes.js'
export type { HostSpec, LinkSpec, SwitchOptions, SwitchSpec, TopologySpec } from './build.js'
export type { LinkOptions } from './links.js'
export type { CaptureMode, LabCaptureOptions, LabCaptureResult } from './capture.js'

export type Host = LabNode
export type Router = LabNode
export type Switch = LabNode

export interface LabOptions extends PlanOptions {
  /** Lab id (default: random 4 hex digits); namespaces are named `nslab-<id>-<node>`. */
  id?: string
  /** Events the lab's timeline keeps, newest first (default 20,000; see lab.timeline). */
  timelineEvents?: number
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export class Lab {
  readonly id: string
  /**
   * What the lab is made of (nodes, ports with their links, segments,
   * routes, NAT edges, tunnels), for the layers that draw or report it
   * (harness/trace). Read it; change the lab through its methods.
   */
  readonly model: LabModel
  private readonly undo = new UndoStack()
  /** The ownership record: what this lab made, for gc if this process dies (set by create). */
  private record!: LabRecord
  private state: 'live' | 'destroying' | 'gone' = 'live'
  private packets: LabCapture | undefined
  private dropCaptureUndo: (() => void) | undefined
  private netlinkRecorder: NetlinkRecorder | undefined

  private constructor(options: LabOptions) {
    this.id = options.id ?? newLabId()
    if (!/^[a-z0-9]{1,8}$/.test(this.id))
      throw new TopologyError(`lab id ${JSON.stringify(this.id)} must be 1-8 lowercase letters or digits`)
    this.model = new LabModel(this.id, options)
  }

  /**
   * A new, empty lab with a unique prefix. Its ownership record (pid and
   * start time) is written before anything else, so `nslab gc` can reap it
   * if this process dies; SIGINT and SIGTERM tear it down on their own.
   */
  static async create(options: LabOptions = {}): Promise<Lab> {
    for (let attempt = 0; ; attempt++) {
      const lab = new Lab(options)
      const record = LabRecord.claim(lab.id, lab.prefix)
      if (record) {
        lab.record = record
        registerLive(lab)
        return lab
      }
      if (options.id !== undefined)
        throw new TopologyError(`lab id ${options.id} is already taken by another lab (see: nslab ls)`)
      if (attempt > 20) throw new Error('could not find a free lab id after 20 tries')
    }
  }

  /** The prefix of every namespace this lab makes. */
  get prefix(): string {
    return netnsName(this.id, '')
  }

  /** Nodes by name. */
  node(name: string): LabNode {
    return this.model.node(name)
  }

  /** Hosts and routers (every node that is not a switch). */
  get hosts(): LabNode[] {
    return this.model.hosts
  }

  get allNodes(): LabNode[] {
    return this.model.allNodes
  }

  /** What undoing this lab would do now, first made first (for reports and tests). */
  get pendingUndo(): readonly string[] {
    return this.undo.pending
  }

  private get nodeContext(): NodeContext {
    return {
      model: this.model,
      undo: this.undo,
      record: this.record,
      destroying: () => this.state !== 'live',
    }
  }

  private live(): void {
    if (this.state !== 'live') throw new TopologyError(`lab ${this.id} was destroyed`)
  }

  /** Hosts, one named namespace each, with `lo` up. `const [a, b] = await lab.addHosts('a', 'b')` */
  async addHosts<const N extends readonly string[]>(...names: N): Promise<{ [K in keyof N]: Host }> {
    this.live()
    const made = await this.undo.atomically(() => createNodes(this.nodeContext, names, 'host'))
    this.follow(made)
    return made as { [K in keyof N]: Host }
  }

  async addHost(name: string, options: HostOptions = {}): Promise<Host> {
    this.live()
    const [h] = await this.undo.atomically(() => createNodes(this.nodeContext, [name], 'host', options))
    this.follow([h!])
    return h!
  }

  /** A host that forwards (IPv4 and IPv6); routes are computed so hosts reach each other through it. */
  async addRouter(name: string): Promise<Router> {
    this.live()
    const [r] = await this.undo.atomically(() => createNodes(this.nodeContext, [name], 'router'))
    this.follow([r!])
    await syncRoutes(this.model)
    return r!
  }

  /** A Linux bridge in its own namespace; hosts connected to it share one subnet. */
  async addSwitch(name: string, options: SwitchOptions = {}): Promise<Switch> {
    this.live()
    checkNewNames(this.model, [name])
    const segment = this.model.plan.switchSegment(`switch ${name}`, options.hosts ?? 254, options)
    return this.undo.atomically(async () => {
      const [sw] = await createNodes(this.nodeContext, [name], 'switch')
      this.model.switchSegments.set(sw!, segment)
      this.model.segments.push({ id: `sw:${name}`, segment })
      this.undo.defer(`switch ${name} in the model`, () => {
        this.model.switchSegments.delete(sw!)
        const i = this.model.segments.findIndex((s) => s.segment === segment)
        if (i >= 0) this.model.segments.splice(i, 1)
      })
      await createBridge(this.model, sw!)
      this.follow([sw!])
      return sw!
    })
  }

  /**
   * Build a topology given as data, in batches: every namespace, then every
   * bridge, every veth pair, every end's addresses and up (one netlink
   * datagram per namespace), every carrier together, impairments and NAT,
   * and the routes once at the end. The same lab as the one awaited call per
   * node and link would make, faster. Links may name nodes the lab already
   * has. A failure half-way unwinds everything the build made. Resolves with
   * the nodes made, by name.
   *
   *   const { a, b } = await lab.build({ hosts: ['a', 'b'], routers: ['r'], links: [['a', 'r'], ['r', 'b']] })
   */
  async build(spec: TopologySpec): Promise<Record<string, LabNode>> {
    this.live()
    return this.undo.atomically(() =>
      buildTopology({ ...this.nodeContext, follow: (nodes) => this.follow(nodes) }, spec),
    )
  }

  /**
   * Capture packets on the lab's links from now on, in memory (the newest
   * `memory` bytes, 8 MiB by default): every host and router, also those
   * added later, or only `nodes`; switch namespaces only with `switches:
   * true` (they see each frame once more). `write(file)` makes one pcapng
   * with node names and tunnel keys. One capture per lab; it stops with it.
   */
  capture(options: LabCaptureOptions = {}): LabCapture {
    this.live()
    if (this.packets) throw new TopologyError(`lab ${this.id} is already capturing (lab.packetCapture)`)
    const c = new LabCapture(this.model, options)
    this.packets = c
    // Closed before the namespaces go (its sockets would keep them alive).
    this.dropCaptureUndo = this.undo.defer('packet capture', () => c.close())
    return c
  }

  /** Stop the capture (reading what the kernel still holds) and forget it, so capture() may start another. */
  async stopCapture(): Promise<CaptureStats | undefined> {
    const c = this.packets
    if (!c) return undefined
    this.packets = undefined
    this.dropCaptureUndo?.()
    try {
      return await c.stop()
    } finally {
      c.close()
    }
  }

  /** The running capture, if capture() was called. */
  get packetCapture(): LabCapture | undefined {
    return this.packets
  }

  /**
   * Everything this lab did and saw, in order, on the capture's clock: its
   * operations, the lines its processes wrote, and (once record() was
   * called, as the fixtures and `nslab run` do) the netlink announcements of
   * its namespaces. Add your own events with `lab.timeline.record(...)`; a
   * trace (harness/trace) draws it.
   */
  get timeline(): Timeline {
    return this.model.timeline
  }

  /**
   * Put the netlink announcements of every lab namespace (links, addresses,
   * routes, neighbours; nodes added later too) on the timeline, until the
   * lab is destroyed or stopRecordingNetlink(). Read on each node's own netlink socket. Idempotent.
   */
  recordNetlink(): void {
    this.live()
    if (this.netlinkRecorder) return
    const r = new NetlinkRecorder(this.model)
    this.netlinkRecorder = r
    this.undo.defer('netlink recorder', () => {
      r.close()
      if (this.netlinkRecorder === r) this.netlinkRecorder = undefined
    })
  }

  /** Stop recording netlink announcements (the lab's own operations stay on the timeline). */
  stopRecordingNetlink(): void {
    this.netlinkRecorder?.close()
    this.netlinkRecorder = undefined
  }

  private follow(nodes: readonly LabNode[]): void {
    for (const n of nodes) {
      this.model.timeline.record({
        kind: 'lab',
        node: n.name,
        title: `${n.kind} ${n.name} added`,
        detail: n.netns,
      })
      this.packets?.follow(n)
      this.netlinkRecorder?.follow(n)
    }
  }

  /**
   * Link two nodes with a veth pair, each end born in its node's namespace,
   * up, with addresses from the plan (or `options`). A node linked to a
   * switch joins the switch's subnet.
   */
  async connect(x: LabNode | string, y: LabNode | string, options: LinkOptions = {}): Promise<void> {
    this.live()
    const link = await connect(this.model, this.undo, x, y, options)
    recordLinkMade(this.model, link)
    await syncRoutes(this.model)
  }

  /**
   * Write `/etc/netns/<namespace>/<file>` for a node (`resolv.conf`,
   * `hosts`...): programs run with `node.exec`/`spawn` (and `ip netns exec`)
   * see it over `/etc/<file>`. Removed with the lab.
   */
  writeEtcFile(node: LabNode | string, file: string, content: string): void {
    const n = this.model.resolve(node, 'etc file owner')
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(file))
      throw new TopologyError(`/etc/netns file name ${JSON.stringify(file)} must be a plain file name`)
    const dir = join(NETNS_ETC_DIR, n.netns)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, file), content)
  }

  /**
   * Leave this lab up when the process exits (`nslab up`): its record is
   * marked kept, so gc leaves it alone until `nslab down ID`; this process's
   * handles, sockets and workers are released. Processes started with
   * spawn() keep running only if their output does not go to this process.
   */
  async keep(): Promise<void> {
    this.live()
    this.record.markKept()
    this.state = 'gone'
    unregisterLive(this)
    // This process's own sockets into the lab go now, not at its exit.
    this.stopRecordingNetlink()
    this.packets?.close()
    for (const n of this.model.nodes.values()) await n.release()
  }

  /** The two ends of the link between x and y (the `nth` one if there are several). */
  link(
    x: LabNode | string,
    y: LabNode | string,
    nth = 0,
  ): { a: LabNode; portA: Port; b: LabNode; portB: Port } {
    return this.model.link(x, y, nth)
  }

  /** Bring both ends of a link down (`up: false`) or up again; resolves when the kernel agrees. */
  async setLinkUp(x: LabNode | string, y: LabNode | string, up: boolean): Promise<void> {
    const { a, portA, b } = this.model.link(x, y)
    const link = portA.link
    await this.model.timeline.timed(
      {
        kind: 'lab',
        title: `link ${a.name} ⟷ ${b.name} ${up ? 'up' : 'down'}`,
        links: [link],
        linkState: { [link]: !up ? 'down' : this.model.impairedLinks.has(link) ? 'impaired' : 'up' },
      },
      async () => {
        await setLinkUp(this.model, a, b, up)
        // Taking a link down makes the kernel drop every route through it: put them back.
        if (up) await restoreRoutes(this.model, [a.name, b.name])
      },
    )
  }

  linkDown(x: LabNode | string, y: LabNode | string): Promise<void> {
    return this.setLinkUp(x, y, false)
  }

  linkUp(x: LabNode | string, y: LabNode | string): Promise<void> {
    return this.setLinkUp(x, y, true)
  }

  /** Take a link down for `downMs`, then up, `times` times (an application must survive it). */
  async flap(
    x: LabNode | string,
    y: LabNode | string,
    options: { downMs?: number; upMs?: number; times?: number } = {},
  ): Promise<void> {
    const times = options.times ?? 1
    for (let i = 0; i < times; i++) {
      await this.linkDown(x, y)
      await sleep(options.downMs ?? 200)
      await this.linkUp(x, y)
      if (i < times - 1) await sleep(options.upMs ?? 200)
    }
  }

  /** Change the MTU of both ends of a link. */
  async setMtu(x: LabNode | string, y: LabNode | string, mtu: number): Promise<void> {
    const { a, portA, b } = this.model.link(x, y)
    await this.model.timeline.timed(
      { kind: 'lab', title: `link ${a.name} ⟷ ${b.name} mtu ${mtu}`, links: [portA.link] },
      () => setMtu(this.model, x, y, mtu),
    )
  }

  /**
   * Impair a link: `direction` 'both' (default), or 'forward' (x->y, on x's
   * egress) or 'reverse' (y->x). An empty impairment clears it.
   */
  async impair(
    x: LabNode | string,
    y: LabNode | string,
    impairment: Impairment,
    options: { direction?: 'both' | 'forward' | 'reverse' } = {},
  ): Promise<void> {
    const { a, portA, b, portB } = this.model.link(x, y)
    const dir = options.direction ?? 'both'
    const text = impairmentText(impairment)
    const link = portA.link
    await this.model.timeline.timed(
      {
        kind: 'lab',
        title: text
          ? `link ${a.name} ⟷ ${b.name} impaired: ${text}${dir === 'both' ? '' : ` (${dir === 'forward' ? `${a.name} → ${b.name}` : `${b.name} → ${a.name}`})`}`
          : `link ${a.name} ⟷ ${b.name} impairment cleared`,
        links: [link],
        linkState: { [link]: text ? 'impaired' : 'up' },
      },
      async () => {
        const jobs: Promise<void>[] = []
        if (dir !== 'reverse') jobs.push(applyImpairment(a, portA, impairment))
        if (dir !== 'forward') jobs.push(applyImpairment(b, portB, impairment))
        await Promise.all(jobs)
      },
    )
    if (text) this.model.impairedLinks.add(link)
    else this.model.impairedLinks.delete(link)
  }

  /**
   * A tunnel between two nodes that already reach each other (the underlay):
   * `await lab.tunnel(a, b, { type: 'wireguard' })`. The type names a driver
   * from harness/vpn (openvpn, wireguard, ipsec...); it is stopped when the
   * lab is destroyed.
   */
  async tunnel(x: LabNode | string, y: LabNode | string, options: TunnelOptions): Promise<Tunnel> {
    this.live()
    const a = this.model.resolve(x, 'tunnel end')
    const b = this.model.resolve(y, 'tunnel end')
    if (a === b) throw new TopologyError(`cannot tunnel from ${a.name} to itself`)
    const t = await this.model.timeline.timed(
      { kind: 'lab', title: `${options.type} tunnel ${a.name} ⟷ ${b.name}` },
      () => tunnelDriver(options.type).create(a, b, options),
    )
    this.model.tunnels.push(t)
    this.model.timeline.record({
      kind: 'lab',
      title: `${t.type} tunnel ${t.name} up`,
      detail: `${a.name}/${t.devices.a} ${t.addresses.a}\n${b.name}/${t.devices.b} ${t.addresses.b}`,
      links: [t.name],
      linkState: { [t.name]: 'up' },
    })
    this.undo.defer(`tunnel ${t.name}`, () => t.destroy())
    return t
  }

  /** The tunnels made with tunnel(), in order. */
  get tunnelList(): readonly Tunnel[] {
    return this.model.tunnels
  }

  /** Cut two groups of hosts off from each other, whatever the path, until heal(). */
  async partition(
    groupA: readonly (LabNode | string)[],
    groupB: readonly (LabNode | string)[],
  ): Promise<void> {
    const a = groupA.map((n) => this.model.resolve(n, 'partition member'))
    const b = groupB.map((n) => this.model.resolve(n, 'partition member'))
    const names = (g: LabNode[]): string => g.map((n) => n.name).join(', ')
    await this.model.timeline.timed({ kind: 'lab', title: `partition {${names(a)}} | {${names(b)}}` }, () =>
      partition(a, b),
    )
  }

  /** Undo every partition. */
  async heal(): Promise<void> {
    await this.model.timeline.timed({ kind: 'lab', title: 'partitions healed' }, () => heal(this.model.hosts))
  }

  /**
   * Make `router` a NAT: traffic it forwards out through its link to
   * `outside` leaves with the router's address there (nftables masquerade),
   * and nodes on the outside get no route to the inside. Inside hosts keep
   * reaching the outside through it.
   */
  async nat(router: LabNode | string, outside: LabNode | string): Promise<void> {
    const r = this.model.resolve(router, 'NAT router')
    const o = this.model.resolve(outside, 'NAT outside')
    await this.model.timeline.timed(
      { kind: 'lab', node: r.name, title: `${r.name} NAT towards ${o.name}` },
      async () => {
        await addNat(this.model, r, o)
        await syncRoutes(this.model)
      },
    )
  }

  /**
   * Ping every ordered pair of hosts (or the given ones) and return the
   * matrix. Before probing, switch segments of more than 8 members get
   * permanent neighbour entries (see staticNeighbours: the kernel's ARP and
   * NDP tables hold about 1,024 fresh entries for the whole machine);
   * `neighbours: 'dynamic'` leaves resolution to ARP/NDP, `'static'` pins
   * every switch segment.
   */
  async reachability(
    options: MatrixOptions & { hosts?: readonly LabNode[]; neighbours?: 'auto' | 'static' | 'dynamic' } = {},
  ): Promise<ReachabilityMatrix> {
    const family = options.family ?? 4
    const hosts =
      options.hosts ?? this.model.hosts.filter((h) => h.ports.some((p) => (family === 4 ? p.v4 : p.v6)))
    const mode = options.neighbours ?? 'auto'
    if (mode !== 'dynamic') {
      const probed = new Set(hosts)
      for (const sw of this.model.switchSegments.keys()) {
        // Only segments the probe crosses: a probed host sits on them.
        if (!this.model.segmentMembers(sw).some((m) => probed.has(m.node))) continue
        await this.staticNeighbours(sw, { family, above: mode === 'static' ? 0 : PIN_ABOVE_PAIRS })
      }
    }
    return reachabilityMatrix(hosts, options)
  }

  /**
   * Give every member of switch `sw`'s segment a permanent (NUD_PERMANENT)
   * neighbour entry for every other member, from the addresses of the plan
   * and the members' MACs, when the segment has more than `above` ordered
   * pairs (default: always). The kernel's neighbour tables are shared by the
   * whole machine and refuse fresh entries past gc_thresh3 (1024, settable
   * only in the initial namespace); permanent entries do not count, so all
   * pairs of a big segment can talk at once. A link going down drops them:
   * call again after linkDown/linkUp. Returns how many entries were written.
   */
  staticNeighbours(sw: LabNode | string, options: { family?: 4 | 6; above?: number } = {}): Promise<number> {
    return staticNeighbours(this.model, sw, options)
  }

  /**
   * Put a shared topology back the way it was built: heal partitions, clear
   * impairments, bring every link up, stop processes, workers and sockets.
   * Between tests of a file that builds its lab once.
   */
  async reset(): Promise<void> {
    await this.heal()
    await Promise.all(this.model.hosts.flatMap((n) => n.ports.map((p) => clearImpairment(n, p))))
    const down = new Set<string>()
    for (const n of this.model.allNodes) {
      for (const p of n.ports) {
        const key = [n.name, p.peer.name].sort().join('--')
        if (down.has(key)) continue
        const link = await n.netlink.getLink(p.index)
        if (!link.up) {
          down.add(key)
          await this.linkUp(n, p.peer)
        }
      }
    }
    await Promise.all(this.model.allNodes.map((n) => n.stopAll()))
  }

  /** The routes the lab installed, per node (for reports and tests). */
  plannedRoutes(): readonly PlannedRoute[] {
    return this.model.installedRoutes
  }

  /**
   * Tear everything down by running the undo stack last-first: tunnels,
   * then each node (what it runs, also what its processes forked, this
   * process's handles to it, its namespace with its devices), then the
   * files the lab made outside its namespaces and its record. Only what the
   * lab made: a namespace with the lab's prefix that someone else made
   * stays. Idempotent; also after a failed build.
   */
  async destroy(): Promise<void> {
    if (this.state !== 'live') return
    this.state = 'destroying'
    const errors: Error[] = await this.undo.unwind()
    for (const p of this.record.snapshot().paths ?? []) {
      try {
        rmSync(p, { recursive: true, force: true })
      } catch (err) {
        errors.push(new Error(`remove ${p}: ${(err as Error).message}`))
      }
    }
    this.state = 'gone'
    unregisterLive(this)
    if (errors.length > 0)
      throw new AggregateError(errors, `lab ${this.id}: ${errors.length} teardown step(s) failed`)
    this.record.release()
  }

  /**
   * @internal Synchronous teardown for signal handlers: everything the
   * record names (processes inside its namespaces, the namespaces, tunnel
   * work directories and sockets), then the record, as `nslab gc` would.
   */
  destroySync(): void {
    if (this.state === 'gone') return
    this.state = 'gone'
    reapOwnRecord(this.record)
    unregisterLive(this)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy()
  }
}
