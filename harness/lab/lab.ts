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
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { NETNS_ETC_DIR, addNetns, openNetns, setSysctls } from '../netns/index.js'
import { type EventSubscription, Netlink, NetlinkError, type VethOptions } from '../netlink/index.js'
import { TopologyError } from './errors.js'
import { checkHostName, deviceName, netnsName, newLabId } from './names.js'
import { LabNode, type NodeKind, type Port } from './node.js'
import { AddressPlan, type PlanOptions, type Segment, subnetText } from './plan.js'
import { type PlannedRoute, computeRoutes } from './routes.js'
import { LabRecord } from './owner.js'
import { killAndDelete, reapRecord } from './gc.js'
import { type Impairment, applyImpairment, clearImpairment } from './impair.js'
import { heal, partition } from './partition.js'
import { requireFeature } from './features.js'
import { type Tunnel, type TunnelOptions, tunnelDriver } from './tunnel.js'
import { PIN_ABOVE_PAIRS, type SegmentMember, pinNeighbours } from './neighbours.js'
import { type MatrixOptions, type ReachabilityMatrix, reachabilityMatrix } from '../checks/matrix.js'

export type Host = LabNode
export type Router = LabNode
export type Switch = LabNode

export interface LabOptions extends PlanOptions {
  /** Lab id (default: random 4 hex digits); namespaces are named `nslab-<id>-<node>`. */
  id?: string
}

export interface LinkOptions {
  /** IPv4 subnet for this link (default: the next /30 of the plan). */
  subnet?: string
  /** IPv6 subnet for this link (default: the next /64 of the plan). */
  subnet6?: string
  /** Explicit addresses per end, by node name: `{ a: { v4: '10.0.0.1' } }`. */
  addresses?: Record<string, { v4?: string; v6?: string }>
  /** MTU of both ends. */
  mtu?: number
}

export interface HostOptions {
  /**
   * Leave the namespace as the kernel makes it: `lo` down, no lab sysctls
   * (a fresh namespace, for showing what the kernel gives).
   */
  bare?: boolean
}

export interface SwitchOptions {
  /** How many members the switch must hold (sizes its IPv4 subnet; default 254). */
  hosts?: number
  subnet?: string
  subnet6?: string
}

const HOST_SYSCTLS = {
  // ICMP datagram sockets for ping() without raw sockets or a `ping` process.
  'net.ipv4.ping_group_range': '0 2147483647',
  // Lab addresses are unique by construction: no duplicate address detection,
  // so link-local addresses (used by NDP and IPv6 routing) are usable at once.
  'net.ipv6.conf.default.accept_dad': 0,
  'net.ipv6.conf.all.accept_dad': 0,
  // A link taken down keeps its IPv6 addresses, as IPv4 does (the default
  // flushes them, and a flapped link would come back without them).
  'net.ipv6.conf.all.keep_addr_on_down': 1,
}
const ROUTER_SYSCTLS = {
  'net.ipv4.ip_forward': 1,
  'net.ipv6.conf.all.forwarding': 1,
}

/** Index conflicts: the kernel refuses a requested ifindex that is taken (EBUSY, or EEXIST since 6.x). */
function indexTaken(err: unknown): boolean {
  return err instanceof NetlinkError && (err.code === 'EBUSY' || err.code === 'EEXIST')
}

/**
 * Make a device on `node` with the index the node counts to; if something
 * the lab did not make holds that index (or the name), make it without one
 * and ask the kernel which index it got. Returns the index.
 */
async function createWithIndex(
  node: LabNode,
  make: (index: number | undefined) => Promise<void>,
  name: string,
): Promise<number> {
  const index = node.internals.nextIndex
  try {
    await make(index)
    node.internals.nextIndex = index + 1
    return index
  } catch (err) {
    if (!indexTaken(err)) throw err
    await make(undefined)
    const got = (await node.netlink.getLink(name)).index
    node.internals.nextIndex = Math.max(node.internals.nextIndex, got + 1)
    return got
  }
}

/**
 * A veth from `a` to `b`, both ends at the indexes their nodes count to (see
 * createWithIndex). Not born up: with A's end up before its IPv6 address was
 * added, routed IPv6 pings across a router went unanswered in 2 of 3 loaded
 * runs of test/lab (cause not pinned down); addresses first, then up, in one
 * datagram, never failed.
 */
async function createVethPair(a: LabNode, b: LabNode, o: VethOptions): Promise<[number, number]> {
  const ia = a.internals.nextIndex
  const ib = b.internals.nextIndex
  try {
    await a.netlink.createVeth({ ...o, index: ia, peer: { ...o.peer, index: ib } })
    a.internals.nextIndex = ia + 1
    b.internals.nextIndex = ib + 1
    return [ia, ib]
  } catch (err) {
    if (!indexTaken(err)) throw err
    await a.netlink.createVeth(o)
    const [la, lb] = await Promise.all([a.netlink.getLink(o.name), b.netlink.getLink(o.peer.name)])
    a.internals.nextIndex = Math.max(a.internals.nextIndex, la.index + 1)
    b.internals.nextIndex = Math.max(b.internals.nextIndex, lb.index + 1)
    return [la.index, lb.index]
  }
}

/** Resolve once `device` on `node` is operationally up (carrier on, qdisc attached). */
async function operUp(sub: EventSubscription, node: LabNode, device: string): Promise<void> {
  const now = await node.netlink.getLink(device)
  if (now.operstate === 'UP') return
  await sub.waitFor((ev) => ev.kind === 'link' && ev.link.name === device && ev.link.operstate === 'UP', {
    timeout: 10_000,
    what: `carrier on ${device} (operstate UP)`,
  })
}

const liveLabs = new Set<Lab>()
let signalsInstalled = false

/** On SIGINT/SIGTERM, tear down every live lab of this process, then die of the same signal. */
function installSignalCleanup(): void {
  if (signalsInstalled) return
  signalsInstalled = true
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const lab of [...liveLabs]) lab.destroySync()
      process.kill(process.pid, sig)
    })
  }
}

export class Lab {
  readonly id: string
  private readonly nodes = new Map<string, LabNode>()
  private readonly plan: AddressPlan
  private readonly switchSegments = new Map<LabNode, Segment>()
  private readonly segments: { id: string; segment: Segment }[] = []
  private installedRoutes: PlannedRoute[] = []
  private readonly natOutside = new Map<LabNode, Segment>()
  private destroyed = false
  private readonly tunnels: Tunnel[] = []
  private linkCount = new Map<string, number>()
  /** The ownership record: what this lab made, for gc if this process dies (set by create). */
  private record!: LabRecord

  private constructor(options: LabOptions) {
    this.id = options.id ?? newLabId()
    if (!/^[a-z0-9]{1,8}$/.test(this.id))
      throw new TopologyError(`lab id ${JSON.stringify(this.id)} must be 1-8 lowercase letters or digits`)
    this.plan = new AddressPlan(options)
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
        liveLabs.add(lab)
        installSignalCleanup()
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
    const n = this.nodes.get(name)
    if (!n) throw new TopologyError(`lab ${this.id} has no node named ${JSON.stringify(name)}`)
    return n
  }

  get hosts(): LabNode[] {
    return [...this.nodes.values()].filter((n) => n.kind !== 'switch')
  }

  get allNodes(): LabNode[] {
    return [...this.nodes.values()]
  }

  /** Hosts, one named namespace each, with `lo` up. `const [a, b] = await lab.addHosts('a', 'b')` */
  async addHosts<const N extends readonly string[]>(...names: N): Promise<{ [K in keyof N]: Host }> {
    return (await this.addNodes([...names], 'host')) as { [K in keyof N]: Host }
  }

  async addHost(name: string, options: HostOptions = {}): Promise<Host> {
    return (await this.addNodes([name], 'host', options))[0]!
  }

  /**
   * Write `/etc/netns/<namespace>/<file>` for a node (`resolv.conf`,
   * `hosts`...): programs run with `node.exec`/`spawn` (and `ip netns exec`)
   * see it over `/etc/<file>`. Removed with the lab.
   */
  writeEtcFile(node: LabNode | string, file: string, content: string): void {
    const n = this.resolve(node, 'etc file owner')
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
    if (this.destroyed) throw new TopologyError(`lab ${this.id} was destroyed`)
    this.record.markKept()
    this.destroyed = true
    liveLabs.delete(this)
    for (const n of this.nodes.values()) await n.release()
  }

  /** A host that forwards (IPv4 and IPv6); routes are computed so hosts reach each other through it. */
  async addRouter(name: string): Promise<Router> {
    const [r] = await this.addNodes([name], 'router')
    await this.syncRoutes()
    return r!
  }

  /** A Linux bridge in its own namespace; hosts connected to it share one subnet. */
  async addSwitch(name: string, options: SwitchOptions = {}): Promise<Switch> {
    this.checkNew([name])
    const segment = this.plan.segment(`switch ${name}`, options.hosts ?? 254, options)
    const [sw] = await this.addNodes([name], 'switch')
    this.switchSegments.set(sw!, segment)
    this.segments.push({ id: `sw:${name}`, segment })
    const bridge = this.bridgeName()
    const index = await createWithIndex(
      sw!,
      (index) =>
        sw!.netlink.createBridge(bridge, { index, forwardDelay: 0, stpState: 0, mcastSnooping: false }),
      bridge,
    )
    sw!.internals.bridgeIndex = index
    await sw!.netlink.setLink(index, { up: true })
    return sw!
  }

  private bridgeName(): string {
    return `${this.id}-br`
  }

  private checkNew(names: string[]): void {
    if (this.destroyed) throw new TopologyError(`lab ${this.id} was destroyed`)
    const seen = new Set<string>()
    for (const n of names) {
      checkHostName(n)
      if (this.nodes.has(n) || seen.has(n))
        throw new TopologyError(`lab ${this.id} already has a node named ${JSON.stringify(n)}`)
      seen.add(n)
    }
  }

  private async addNodes(names: string[], kind: NodeKind, options: HostOptions = {}): Promise<LabNode[]> {
    this.checkNew(names)
    const made: LabNode[] = []
    // Named in the record before they are made: a crash in between leaves a
    // record naming an absent namespace, never a namespace nobody owns.
    const wanted = names.map((name) => netnsName(this.id, name))
    this.record.addNamespaces(wanted)
    try {
      for (const [i, name] of names.entries()) {
        const ns = wanted[i]!
        try {
          addNetns(ns)
        } catch (err) {
          // Not made (EEXIST: someone else's): never ours to delete.
          this.record.removeNamespaces(wanted.slice(i))
          throw err
        }
        let handle
        let nl
        try {
          handle = openNetns(ns)
          nl = Netlink.open(handle)
        } catch (err) {
          handle?.close()
          killAndDelete([ns], [])
          this.record.removeNamespaces([ns])
          throw err
        }
        const node = new LabNode(name, kind, ns, { handle, nl, nextIndex: 2 }, this.record)
        this.nodes.set(name, node)
        made.push(node)
      }
      await Promise.all(
        made.map(async (n) => {
          if (options.bare) return
          await n.netlink.setLink(1, { up: true }) // lo is always ifindex 1 (LOOPBACK_IFINDEX)
          if (n.kind !== 'switch') setSysctls(n.internals.handle, HOST_SYSCTLS)
          if (n.kind === 'router') setSysctls(n.internals.handle, ROUTER_SYSCTLS)
        }),
      )
    } catch (err) {
      const errors: string[] = []
      for (const n of made) await this.removeNode(n).catch((e: unknown) => errors.push(String(e)))
      killAndDelete(
        made.map((n) => n.netns),
        errors,
      )
      this.record.removeNamespaces(made.map((n) => n.netns))
      throw err
    }
    return made
  }

  private resolve(node: LabNode | string, role: string): LabNode {
    const name = typeof node === 'string' ? node : node.name
    const n = this.nodes.get(name)
    if (!n || (typeof node !== 'string' && n !== node))
      throw new TopologyError(
        `cannot connect ${role} ${JSON.stringify(name)}: lab ${this.id} has no such node`,
      )
    return n
  }

  /**
   * Link two nodes with a veth pair, each end born in its node's namespace,
   * up, with addresses from the plan (or `options`). A node linked to a
   * switch joins the switch's subnet.
   */
  async connect(x: LabNode | string, y: LabNode | string, options: LinkOptions = {}): Promise<void> {
    if (this.destroyed) throw new TopologyError(`lab ${this.id} was destroyed`)
    let a = this.resolve(x, 'from')
    let b = this.resolve(y, 'to')
    if (a === b) throw new TopologyError(`cannot connect ${a.name} to itself`)
    if (a.kind === 'switch' && b.kind === 'switch')
      throw new TopologyError(
        `cannot connect switch ${a.name} to switch ${b.name}: put a router between them`,
      )
    if (a.kind === 'switch') [a, b] = [b, a]
    for (const name of Object.keys(options.addresses ?? {}))
      if (name !== a.name && name !== b.name)
        throw new TopologyError(
          `addresses given for ${JSON.stringify(name)}, which is not an end of the link ${a.name}--${b.name}`,
        )

    // Plan everything first: a bad request changes nothing.
    const pairKey = [a.name, b.name].sort().join('--')
    const nth = this.linkCount.get(pairKey) ?? 0
    const devA = deviceName(this.id, b.name, nth)
    const devB = deviceName(this.id, a.name, nth)
    let segment: Segment
    let segId: string
    if (b.kind === 'switch') {
      segment = this.switchSegments.get(b)!
      segId = `sw:${b.name}`
    } else {
      segment = this.plan.segment(`link ${a.name}--${b.name}`, 2, options)
      segId = `${pairKey}#${nth}`
    }
    const addrA = this.plan.assign(segment, a.name, options.addresses?.[a.name])
    const addrB =
      b.kind === 'switch' ? undefined : this.plan.assign(segment, b.name, options.addresses?.[b.name])
    this.checkOverlap(a, segment)
    if (b.kind !== 'switch') this.checkOverlap(b, segment)

    const nlA = a.netlink
    // Watch both ends before bringing them up: the kernel attaches the qdisc
    // and lets a bridge port forward only when linkwatch turns the carrier on,
    // a moment after `up`; traffic sent before that is dropped.
    const subs = [nlA.subscribe(['link']), b.netlink.subscribe(['link'])]
    try {
      // Both ends get the index their node counts to: nothing to ask the
      // kernel afterwards, and A's and B's remaining requests (addresses,
      // then up) go out as one datagram each.
      const [indexA, indexB] = await createVethPair(a, b, {
        name: devA,
        mtu: options.mtu,
        peer: { name: devB, netns: { fd: b.internals.handle.fd }, mtu: options.mtu },
      })
      try {
        const jobs: Promise<void>[] = [
          nlA.addAddress(indexA, `${addrA.v4}/${segment.v4.prefixLen}`),
          nlA.addAddress(indexA, `${addrA.v6}/${segment.v6.prefixLen}`),
          nlA.setLink(indexA, { up: true }),
        ]
        if (b.kind === 'switch') {
          jobs.push(b.netlink.setLink(indexB, { master: b.internals.bridgeIndex!, up: true }))
        } else {
          jobs.push(
            b.netlink.addAddress(indexB, `${addrB!.v4}/${segment.v4.prefixLen}`),
            b.netlink.addAddress(indexB, `${addrB!.v6}/${segment.v6.prefixLen}`),
            b.netlink.setLink(indexB, { up: true }),
          )
        }
        await Promise.all(jobs)
        await Promise.all([operUp(subs[0]!, a, devA), operUp(subs[1]!, b, devB)])
        a.ports.push({ device: devA, index: indexA, peer: b, segment, v4: addrA.v4, v6: addrA.v6 })
        b.ports.push({ device: devB, index: indexB, peer: a, segment, v4: addrB?.v4, v6: addrB?.v6 })
      } catch (err) {
        await nlA.deleteLink(devA).catch(() => undefined)
        segment.members.delete(a.name)
        segment.members.delete(b.name)
        throw err
      }
    } finally {
      for (const sub of subs) sub.close()
    }
    this.linkCount.set(pairKey, nth + 1)
    if (!this.segments.some((s) => s.id === segId)) this.segments.push({ id: segId, segment })
    await this.syncRoutes()
  }

  /** A node may not have two links whose subnets overlap (its routing would be ambiguous). */
  private checkOverlap(n: LabNode, segment: Segment): void {
    for (const p of n.ports) {
      if (p.segment === segment) continue
      const clash =
        subnetText(p.segment.v4) === subnetText(segment.v4) ||
        subnetText(p.segment.v6) === subnetText(segment.v6)
      if (clash) {
        segment.members.delete(n.name)
        throw new TopologyError(
          `address clash on ${n.name}: ${segment.label} would reuse ${subnetText(segment.v4)}, already on its link ${p.device}; give one of them another subnet`,
        )
      }
    }
  }

  /** Install the routes the topology implies (only when it has routers), removing stale ones. */
  private async restoreRoutes(nodes: string[]): Promise<void> {
    await Promise.all(
      this.installedRoutes
        .filter((r) => nodes.includes(r.node))
        .map((r) => this.node(r.node).netlink.replaceRoute({ dst: r.dst, gateway: r.gateway })),
    )
  }

  private async syncRoutes(): Promise<void> {
    if (!this.hosts.some((n) => n.kind === 'router')) return
    const want = computeRoutes(
      this.hosts.map((n) => ({ name: n.name, router: n.kind === 'router' })),
      this.segments.map(({ id, segment }) => ({
        id,
        v4: subnetText(segment.v4),
        v6: subnetText(segment.v6),
        members: segment.members,
      })),
      new Map(
        [...this.natOutside].map(([r, seg]) => [r.name, this.segments.find((x) => x.segment === seg)!.id]),
      ),
    )
    const key = (r: PlannedRoute): string => `${r.node}|${r.dst}|${r.gateway}`
    const have = new Set(this.installedRoutes.map(key))
    const wantKeys = new Set(want.map(key))
    const stale = this.installedRoutes.filter((r) => !wantKeys.has(key(r)))
    const fresh = want.filter((r) => !have.has(key(r)))
    await Promise.all(
      stale.map((r) =>
        this.node(r.node)
          .netlink.deleteRoute({ dst: r.dst, gateway: r.gateway })
          .catch(() => undefined),
      ),
    )
    await Promise.all(
      fresh.map((r) => this.node(r.node).netlink.replaceRoute({ dst: r.dst, gateway: r.gateway })),
    )
    this.installedRoutes = want
  }

  /** The two ends of the link between x and y (the `nth` one if there are several). */
  link(
    x: LabNode | string,
    y: LabNode | string,
    nth = 0,
  ): { a: LabNode; portA: Port; b: LabNode; portB: Port } {
    const a = this.resolve(x, 'from')
    const b = this.resolve(y, 'to')
    const portsA = a.ports.filter((p) => p.peer === b)
    const portA = portsA[nth]
    if (!portA)
      throw new TopologyError(
        `there is no link ${a.name}--${b.name}${nth ? ` number ${nth}` : ''} in lab ${this.id}`,
      )
    const portB = b.ports.filter((p) => p.peer === a)[nth]!
    return { a, portA, b, portB }
  }

  /** Bring both ends of a link down (`up: false`) or up again; resolves when the kernel agrees. */
  async setLinkUp(x: LabNode | string, y: LabNode | string, up: boolean): Promise<void> {
    const { a, portA, b, portB } = this.link(x, y)
    const subs = up ? [a.netlink.subscribe(['link']), b.netlink.subscribe(['link'])] : []
    try {
      await Promise.all([a.netlink.setLink(portA.index, { up }), b.netlink.setLink(portB.index, { up })])
      if (up) {
        await Promise.all([operUp(subs[0]!, a, portA.device), operUp(subs[1]!, b, portB.device)])
        // Taking a link down makes the kernel drop every route through it;
        // put back the lab's routes on both ends (replace is idempotent).
        await this.restoreRoutes([a.name, b.name])
      }
    } finally {
      for (const s of subs) s.close()
    }
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
      await new Promise((r) => setTimeout(r, options.downMs ?? 200))
      await this.linkUp(x, y)
      if (i < times - 1) await new Promise((r) => setTimeout(r, options.upMs ?? 200))
    }
  }

  /** Change the MTU of both ends of a link. */
  async setMtu(x: LabNode | string, y: LabNode | string, mtu: number): Promise<void> {
    const { a, portA, b, portB } = this.link(x, y)
    await Promise.all([a.netlink.setLink(portA.index, { mtu }), b.netlink.setLink(portB.index, { mtu })])
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
    const { a, portA, b, portB } = this.link(x, y)
    const dir = options.direction ?? 'both'
    const jobs: Promise<void>[] = []
    if (dir !== 'reverse') jobs.push(applyImpairment(a, portA, impairment))
    if (dir !== 'forward') jobs.push(applyImpairment(b, portB, impairment))
    await Promise.all(jobs)
  }

  /**
   * A tunnel between two nodes that already reach each other (the underlay):
   * `await lab.tunnel(a, b, { type: 'wireguard' })`. The type names a driver
   * from harness/vpn (openvpn, wireguard, ipsec...); it is stopped when the
   * lab is destroyed.
   */
  async tunnel(x: LabNode | string, y: LabNode | string, options: TunnelOptions): Promise<Tunnel> {
    if (this.destroyed) throw new TopologyError(`lab ${this.id} was destroyed`)
    const a = this.resolve(x, 'tunnel end')
    const b = this.resolve(y, 'tunnel end')
    if (a === b) throw new TopologyError(`cannot tunnel from ${a.name} to itself`)
    const t = await tunnelDriver(options.type).create(a, b, options)
    this.tunnels.push(t)
    return t
  }

  /** The tunnels made with tunnel(), in order. */
  get tunnelList(): readonly Tunnel[] {
    return this.tunnels
  }

  /** Cut two groups of hosts off from each other, whatever the path, until heal(). */
  async partition(
    groupA: readonly (LabNode | string)[],
    groupB: readonly (LabNode | string)[],
  ): Promise<void> {
    await partition(
      groupA.map((n) => this.resolve(n, 'partition member')),
      groupB.map((n) => this.resolve(n, 'partition member')),
    )
  }

  /**
   * Make `router` a NAT: traffic it forwards out through its link to
   * `outside` leaves with the router's address there (nftables masquerade),
   * and nodes on the outside get no route to the inside. Inside hosts keep
   * reaching the outside through it.
   */
  async nat(router: LabNode | string, outside: LabNode | string): Promise<void> {
    const { a: r, portA } = this.link(router, outside)
    if (r.kind !== 'router') throw new TopologyError(`${r.name} is not a router: only routers can NAT`)
    await requireFeature('nftables', `NAT on ${r.name}`)
    const rules = [
      'table inet nslab_nat {',
      '  chain post {',
      '    type nat hook postrouting priority srcnat;',
      `    oifname "${portA.device}" masquerade`,
      '  }',
      '}',
      '',
    ].join('\n')
    const res = await r.exec(['nft', '-f', '-'], { input: rules, timeout: 10_000 })
    if (res.code !== 0) throw new Error(`NAT rules failed in ${r.netns}: ${res.stderr.trim()}`)
    this.natOutside.set(r, portA.segment)
    await this.syncRoutes()
  }

  /** Undo every partition. */
  async heal(): Promise<void> {
    await heal(this.hosts)
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
    const hosts = options.hosts ?? this.hosts.filter((h) => h.ports.some((p) => (family === 4 ? p.v4 : p.v6)))
    const mode = options.neighbours ?? 'auto'
    if (mode !== 'dynamic') {
      const probed = new Set(hosts)
      for (const sw of this.switchSegments.keys()) {
        // Only segments the probe crosses: a probed host sits on them.
        if (!this.segmentMembers(sw).some((m) => probed.has(m.node))) continue
        await this.staticNeighbours(sw, { family, above: mode === 'static' ? 0 : PIN_ABOVE_PAIRS })
      }
    }
    return reachabilityMatrix(hosts, options)
  }

  /** Every node linked to switch `sw`, with its port there. */
  private segmentMembers(sw: LabNode): SegmentMember[] {
    return this.allNodes.flatMap((node) =>
      node.ports.filter((port) => port.peer === sw).map((port) => ({ node, port })),
    )
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
  async staticNeighbours(
    sw: LabNode | string,
    options: { family?: 4 | 6; above?: number } = {},
  ): Promise<number> {
    const node = this.resolve(sw, 'switch')
    if (node.kind !== 'switch') throw new TopologyError(`${node.name} is not a switch`)
    const members = this.segmentMembers(node)
    if (members.length * (members.length - 1) <= (options.above ?? 0)) return 0
    return pinNeighbours(members, options.family ?? 4)
  }

  /**
   * Put a shared topology back the way it was built: heal partitions, clear
   * impairments, bring every link up, stop processes, workers and sockets.
   * Between tests of a file that builds its lab once.
   */
  async reset(): Promise<void> {
    await this.heal()
    await Promise.all(this.hosts.flatMap((n) => n.ports.map((p) => clearImpairment(n, p))))
    const down = new Set<string>()
    for (const n of this.allNodes) {
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
    await Promise.all(this.allNodes.map((n) => n.stopAll()))
  }

  /** The routes the lab installed, per node (for reports and tests). */
  plannedRoutes(): readonly PlannedRoute[] {
    return this.installedRoutes
  }

  /** Stop what a node runs and close this process's handles to it (its namespace is deleted by the caller). */
  private async removeNode(n: LabNode): Promise<void> {
    this.nodes.delete(n.name)
    try {
      await n.stopAll()
    } finally {
      n.internals.nl.close()
      n.internals.handle.close()
    }
  }

  /**
   * Tear everything down: tunnels, processes (also what they started),
   * workers, sockets, netlink handles, every namespace the lab made (their
   * devices go with them), the files it made outside them, and its record.
   * Only what the lab made: a namespace with the lab's prefix that someone
   * else made stays. Idempotent; also after a failed build.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    const errors: unknown[] = []
    for (const t of this.tunnels.splice(0).reverse())
      await t.destroy().catch((err: unknown) => errors.push(err))
    const nodes = [...this.nodes.values()]
    const startedProcesses = nodes.some((n) => n.hasStartedProcesses)
    await Promise.all(nodes.map((n) => this.removeNode(n).catch((err: unknown) => errors.push(err))))
    const record = this.record.snapshot()
    const failures: string[] = []
    // Children of the processes it started may still be inside (a daemon's
    // fork): look for them in /proc only then (a scan costs about 0.4 ms).
    killAndDelete(record.namespaces ?? [], failures, { killInside: startedProcesses })
    for (const p of record.paths ?? []) {
      try {
        rmSync(p, { recursive: true, force: true })
      } catch (err) {
        failures.push(`remove ${p}: ${(err as Error).message}`)
      }
    }
    errors.push(...failures.map((f) => new Error(f)))
    liveLabs.delete(this)
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
    if (this.destroyed) return
    this.destroyed = true
    const report = { reaped: [], live: [], kept: [], errors: [] }
    reapRecord(this.record.snapshot(), report)
    liveLabs.delete(this)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy()
  }
}
