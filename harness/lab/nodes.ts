/**
 * Making nodes: one named namespace each (named in the lab's record before
 * it is made), a netlink client inside it, lo up and the lab's sysctls; a
 * switch gets its bridge. Each namespace registers its own undo (stop what
 * runs there, close this process's handles, delete it) the moment it exists.
 */
import { addNetns, openNetns, setSysctls } from '../netns/index.js'
import { Netlink, NetlinkError } from '../netlink/index.js'
import { TopologyError } from './errors.js'
import { killAndDelete } from './gc.js'
import type { LabModel } from './model.js'
import { checkHostName, netnsName } from './names.js'
import { LabNode, type NodeKind } from './node.js'
import type { LabRecord } from './owner.js'
import type { UndoStack } from './undo.js'

export interface HostOptions {
  /**
   * Leave the namespace as the kernel makes it: `lo` down, no lab sysctls
   * (a fresh namespace, for showing what the kernel gives).
   */
  bare?: boolean
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

/** What making nodes needs of the lab. */
export interface NodeContext {
  model: LabModel
  undo: UndoStack
  record: LabRecord
  /** True while the whole lab is being destroyed (its record goes at the end: no per-namespace rewrite). */
  destroying(): boolean
}

/** Refuse names that are taken or unusable, before anything is made. */
export function checkNewNames(model: LabModel, names: readonly string[]): void {
  const seen = new Set<string>()
  for (const n of names) {
    checkHostName(n)
    if (model.nodes.has(n) || seen.has(n))
      throw new TopologyError(`lab ${model.id} already has a node named ${JSON.stringify(n)}`)
    seen.add(n)
  }
}

/**
 * Make `names` as nodes of `kind`. Atomic for the caller when run inside
 * undo.atomically(): a failure half-way leaves none of them.
 */
export async function createNodes(
  ctx: NodeContext,
  names: readonly string[],
  kind: NodeKind,
  options: HostOptions = {},
): Promise<LabNode[]> {
  return createNodesOf(
    ctx,
    names.map((name) => ({ name, kind, options })),
  )
}

/** A node to make: its name, kind and (for hosts) options. */
export interface NodeEntry {
  name: string
  kind: NodeKind
  options?: HostOptions
}

/**
 * Make nodes of any kinds at once (see createNodes): the namespaces one
 * after the other, then every node's lo and sysctls together (one datagram
 * per namespace).
 */
export async function createNodesOf(ctx: NodeContext, entries: readonly NodeEntry[]): Promise<LabNode[]> {
  const { model, undo, record } = ctx
  const names = entries.map((e) => e.name)
  checkNewNames(model, names)
  // Named in the record before they are made: a crash in between leaves a
  // record naming an absent namespace, never a namespace nobody owns.
  const wanted = names.map((name) => netnsName(model.id, name))
  record.addNamespaces(wanted)
  const made: LabNode[] = []
  for (const [i, name] of names.entries()) {
    const ns = wanted[i]!
    try {
      addNetns(ns)
    } catch (err) {
      // Not made (EEXIST: someone else's): never ours to delete.
      record.removeNamespaces(wanted.slice(i))
      throw err
    }
    const it: { node?: LabNode } = {} // set once the node exists; its undo is registered before
    undo.defer(`namespace ${ns}`, async () => {
      const errors: string[] = []
      const node = it.node
      if (node) {
        model.nodes.delete(node.name)
        try {
          await node.stopAll()
        } finally {
          await node.release()
        }
      }
      // Children of processes it started may still be inside (a daemon's
      // fork): look for them in /proc only then (a scan costs about 0.4 ms).
      killAndDelete([ns], errors, { killInside: node?.hasStartedProcesses ?? true })
      if (!ctx.destroying()) record.removeNamespaces([ns])
      if (errors.length > 0) throw new Error(errors.join('; '))
    })
    const handle = openNetns(ns)
    let nl: Netlink
    try {
      nl = Netlink.open(handle)
    } catch (err) {
      handle.close()
      throw err
    }
    const node = new LabNode(name, entries[i]!.kind, handle, nl, record, model.timeline)
    it.node = node
    model.nodes.set(name, node)
    model.nextIndex.set(node, 2)
    made.push(node)
  }
  await Promise.all(
    made.map(async (n, i) => {
      if (entries[i]!.options?.bare) return
      await n.netlink.setLink(1, { up: true }) // lo is always ifindex 1 (LOOPBACK_IFINDEX)
      if (n.kind !== 'switch') setSysctls(n.ns, HOST_SYSCTLS)
      if (n.kind === 'router') setSysctls(n.ns, ROUTER_SYSCTLS)
    }),
  )
  return made
}

/** Index conflicts: the kernel refuses a requested ifindex that is taken (EBUSY, or EEXIST since 6.x). */
export function indexTaken(err: unknown): boolean {
  return err instanceof NetlinkError && (err.code === 'EBUSY' || err.code === 'EEXIST')
}

/**
 * Make a device on `node` with the index the node counts to; if something
 * the lab did not make holds that index (or the name), make it without one
 * and ask the kernel which index it got. Returns the index.
 */
export async function createWithIndex(
  model: LabModel,
  node: LabNode,
  make: (index: number | undefined) => Promise<void>,
  name: string,
): Promise<number> {
  const index = model.nextIndex.get(node)!
  try {
    await make(index)
    model.nextIndex.set(node, index + 1)
    return index
  } catch (err) {
    if (!indexTaken(err)) throw err
    await make(undefined)
    const got = (await node.netlink.getLink(name)).index
    model.nextIndex.set(node, Math.max(model.nextIndex.get(node)!, got + 1))
    return got
  }
}

/** The bridge of a switch node: born up, no STP, no forward delay, no multicast snooping. */
export async function createBridge(model: LabModel, sw: LabNode): Promise<void> {
  const bridge = `${model.id}-br`
  const index = await createWithIndex(
    model,
    sw,
    (index) => sw.netlink.createBridge(bridge, { index, forwardDelay: 0, stpState: 0, mcastSnooping: false }),
    bridge,
  )
  model.bridgeIndex.set(sw, index)
  await sw.netlink.setLink(index, { up: true })
}
