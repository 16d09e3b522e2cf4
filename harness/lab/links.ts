/**
 * Links: a veth pair born with each end in its node's namespace, addresses
 * from the plan, both ends up and carrying; link state and MTU at run time.
 */
import type { EventSubscription, VethOptions } from '../netlink/index.js'
import { TopologyError } from './errors.js'
import type { LabModel } from './model.js'
import { deviceName } from './names.js'
import type { LabNode } from './node.js'
import { indexTaken } from './nodes.js'
import { type Segment, overlaps, subnetText } from './plan.js'
import type { UndoStack } from './undo.js'

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

/**
 * A veth from `a` to `b`, both ends at the indexes their nodes count to (see
 * createWithIndex). Not born up: with A's end up before its IPv6 address was
 * added, routed IPv6 pings across a router went unanswered in 2 of 3 loaded
 * runs of test/lab (cause not pinned down); addresses first, then up, in one
 * datagram, never failed.
 */
async function createVethPair(
  model: LabModel,
  a: LabNode,
  b: LabNode,
  o: VethOptions,
): Promise<[number, number]> {
  const ia = model.nextIndex.get(a)!
  const ib = model.nextIndex.get(b)!
  try {
    await a.netlink.createVeth({ ...o, index: ia, peer: { ...o.peer, index: ib } })
    model.nextIndex.set(a, ia + 1)
    model.nextIndex.set(b, ib + 1)
    return [ia, ib]
  } catch (err) {
    if (!indexTaken(err)) throw err
    await a.netlink.createVeth(o)
    const [la, lb] = await Promise.all([a.netlink.getLink(o.name), b.netlink.getLink(o.peer.name)])
    model.nextIndex.set(a, Math.max(model.nextIndex.get(a)!, la.index + 1))
    model.nextIndex.set(b, Math.max(model.nextIndex.get(b)!, lb.index + 1))
    return [la.index, lb.index]
  }
}

/** Resolve once `device` on `node` is operationally up (carrier on, qdisc attached). */
export async function operUp(sub: EventSubscription, node: LabNode, device: string): Promise<void> {
  const now = await node.netlink.getLink(device)
  if (now.operstate === 'UP') return
  await sub.waitFor((ev) => ev.kind === 'link' && ev.link.name === device && ev.link.operstate === 'UP', {
    timeout: 10_000,
    what: `carrier on ${device} (operstate UP)`,
  })
}

/** A node may not have two links whose subnets overlap (its routing would be ambiguous). */
function checkOverlap(n: LabNode, segment: Segment): void {
  for (const p of n.ports) {
    if (p.segment === segment) continue
    if (overlaps(p.segment.v4, segment.v4) || overlaps(p.segment.v6, segment.v6))
      throw new TopologyError(
        `address clash on ${n.name}: ${segment.label} (${subnetText(segment.v4)}, ${subnetText(segment.v6)}) overlaps ${subnetText(p.segment.v4)} or ${subnetText(p.segment.v6)} of its link ${p.device}; give one of them another subnet`,
      )
  }
}

/**
 * Link two nodes (see Lab.connect). Everything is planned first, so a bad
 * request changes nothing; the addresses taken are given back if the
 * kernel then refuses. The pair needs no undo of its own: its ends live in
 * the nodes' namespaces and go with them.
 */
export async function connect(
  model: LabModel,
  undo: UndoStack,
  x: LabNode | string,
  y: LabNode | string,
  options: LinkOptions = {},
): Promise<string> {
  let a = model.resolve(x, 'from')
  let b = model.resolve(y, 'to')
  if (a === b) throw new TopologyError(`cannot connect ${a.name} to itself`)
  if (a.kind === 'switch' && b.kind === 'switch')
    throw new TopologyError(`cannot connect switch ${a.name} to switch ${b.name}: put a router between them`)
  if (a.kind === 'switch') [a, b] = [b, a]
  for (const name of Object.keys(options.addresses ?? {}))
    if (name !== a.name && name !== b.name)
      throw new TopologyError(
        `addresses given for ${JSON.stringify(name)}, which is not an end of the link ${a.name}--${b.name}`,
      )

  const pairKey = [a.name, b.name].sort().join('--')
  const nth = model.linkCount.get(pairKey) ?? 0
  const devA = deviceName(model.id, b.name, nth)
  const devB = deviceName(model.id, a.name, nth)
  const onSwitch = b.kind === 'switch'
  const segment = onSwitch
    ? model.switchSegments.get(b)!
    : model.plan.segment(`link ${a.name}--${b.name}`, 2, options)
  const link = `${pairKey}#${nth}`
  const segId = onSwitch ? `sw:${b.name}` : link

  // Undo steps for a half-made link only: once made, the veth and the
  // addresses go with the namespaces (one DELLINK per link would make
  // teardown slower for nothing), so these are dropped on success.
  const halfMade: (() => void)[] = []
  await undo.atomically(async () => {
    const addrA = model.plan.assign(segment, a.name, options.addresses?.[a.name])
    halfMade.push(
      undo.defer(`address of ${a.name} on ${segment.label}`, () => model.plan.release(segment, a.name)),
    )
    checkOverlap(a, segment)
    let addrB: { v4: string; v6: string } | undefined
    if (!onSwitch) {
      addrB = model.plan.assign(segment, b.name, options.addresses?.[b.name])
      halfMade.push(
        undo.defer(`address of ${b.name} on ${segment.label}`, () => model.plan.release(segment, b.name)),
      )
      checkOverlap(b, segment)
    }
    // Watch both ends before bringing them up: the kernel attaches the qdisc
    // and lets a bridge port forward only when linkwatch turns the carrier on,
    // a moment after `up`; traffic sent before that is dropped.
    const subs = [a.netlink.subscribe(['link']), b.netlink.subscribe(['link'])]
    try {
      // Both ends get the index their node counts to: nothing to ask the
      // kernel afterwards, and A's and B's remaining requests (addresses,
      // then up) go out as one datagram each.
      const [indexA, indexB] = await createVethPair(model, a, b, {
        name: devA,
        mtu: options.mtu,
        peer: { name: devB, netns: { fd: b.ns.fd }, mtu: options.mtu },
      })
      halfMade.push(undo.defer(`veth ${devA} in ${a.netns}`, () => a.netlink.deleteLink(indexA)))
      const jobs: Promise<void>[] = [
        a.netlink.addAddress(indexA, `${addrA.v4}/${segment.v4.prefixLen}`),
        a.netlink.addAddress(indexA, `${addrA.v6}/${segment.v6.prefixLen}`),
        a.netlink.setLink(indexA, { up: true }),
      ]
      if (onSwitch) {
        jobs.push(b.netlink.setLink(indexB, { master: model.bridgeIndex.get(b)!, up: true }))
      } else {
        jobs.push(
          b.netlink.addAddress(indexB, `${addrB!.v4}/${segment.v4.prefixLen}`),
          b.netlink.addAddress(indexB, `${addrB!.v6}/${segment.v6.prefixLen}`),
          b.netlink.setLink(indexB, { up: true }),
        )
      }
      await Promise.all(jobs)
      await Promise.all([operUp(subs[0]!, a, devA), operUp(subs[1]!, b, devB)])
      const mtu = options.mtu === undefined ? {} : { mtu: options.mtu }
      a.ports.push({
        device: devA,
        link,
        index: indexA,
        peer: b,
        segment,
        v4: addrA.v4,
        v6: addrA.v6,
        ...mtu,
      })
      b.ports.push({
        device: devB,
        link,
        index: indexB,
        peer: a,
        segment,
        v4: addrB?.v4,
        v6: addrB?.v6,
        ...mtu,
      })
    } finally {
      for (const sub of subs) sub.close()
    }
  })
  for (const drop of halfMade) drop()
  model.linkCount.set(pairKey, nth + 1)
  if (!model.segments.some((s) => s.id === segId)) model.segments.push({ id: segId, segment })
  return link
}

/** Bring both ends of a link down (`up: false`) or up again; resolves when the kernel agrees. */
export async function setLinkUp(
  model: LabModel,
  x: LabNode | string,
  y: LabNode | string,
  up: boolean,
): Promise<{ a: LabNode; b: LabNode }> {
  const { a, portA, b, portB } = model.link(x, y)
  const subs = up ? [a.netlink.subscribe(['link']), b.netlink.subscribe(['link'])] : []
  try {
    await Promise.all([a.netlink.setLink(portA.index, { up }), b.netlink.setLink(portB.index, { up })])
    if (up) await Promise.all([operUp(subs[0]!, a, portA.device), operUp(subs[1]!, b, portB.device)])
  } finally {
    for (const s of subs) s.close()
  }
  return { a, b }
}

/** Change the MTU of both ends of a link. */
export async function setMtu(
  model: LabModel,
  x: LabNode | string,
  y: LabNode | string,
  mtu: number,
): Promise<void> {
  const { a, portA, b, portB } = model.link(x, y)
  await Promise.all([a.netlink.setLink(portA.index, { mtu }), b.netlink.setLink(portB.index, { mtu })])
  portA.mtu = mtu
  portB.mtu = mtu
}
