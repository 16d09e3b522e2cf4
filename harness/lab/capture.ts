/**
 * Packets on a lab's links: a Capture (harness/capture) over the lab's
 * namespaces, following nodes added later, written as one pcapng where
 * every interface is `node/device` described by the link's two ends, every
 * lab address resolves to its node's name, and tunnels' keys ride along as
 * decryption secrets.
 *
 * Switch namespaces see every frame a second time (once on the port it
 * came in by, once on the port it leaves by), so they are left out unless
 * asked for (`switches: true`).
 */
import { readFileSync } from 'node:fs'
import {
  Capture,
  type CaptureOptions,
  type CaptureStats,
  type CapturedPacket,
  SECRETS_TYPE,
  type SecretsOptions,
} from '../capture/index.js'
import type { Writable } from 'node:stream'
import { requireFeature } from './features.js'
import type { LabModel } from './model.js'
import type { LabNode } from './node.js'
import type { Tunnel } from './tunnel.js'

/** When a fixture or a scenario run writes the packets: never, when it failed, or always. */
export type CaptureMode = 'off' | 'on-failure' | 'always'

export const CAPTURE_MODES: readonly CaptureMode[] = ['off', 'on-failure', 'always']

/** The mode from a string (an env variable, a CLI flag): one sentence when it is none of them. */
export function captureMode(text: string | undefined, fallback: CaptureMode): CaptureMode {
  if (text === undefined || text === '') return fallback
  if ((CAPTURE_MODES as readonly string[]).includes(text)) return text as CaptureMode
  throw new TypeError(`capture mode ${JSON.stringify(text)} must be one of ${CAPTURE_MODES.join(', ')}`)
}

export interface LabCaptureOptions {
  /** Only these nodes (default: every host and router, also those added later). */
  nodes?: readonly (LabNode | string)[]
  /** Capture in switch namespaces too (each frame then appears once more per switch port). */
  switches?: boolean
  /** Bytes of packets kept in memory, newest first (default 8 MiB); older ones are dropped and counted. */
  memory?: number
  /**
   * Read through a TPACKET_V3 ring shared with the kernel (for heavy
   * traffic: no syscall per frame) instead of one recvfrom per frame.
   * Installing a ring waits out an RCU grace period (about 8 ms per node
   * here), so the default, cheap enough to stay on, is without.
   */
  ring?: boolean
  /**
   * Also capture each node's netlink traffic (what `ip`, the lab and its
   * programs say to the kernel and hear back), through an nlmon device
   * `nlmon0` in every captured namespace: an interface of its own in the
   * file, which Wireshark dissects as rtnetlink. Needs the nlmon module (the
   * VM runner's Debian kernels have it); `await capture.ready()` says so in
   * one sentence where the kernel lacks it.
   */
  netlink?: boolean
}

/** The device `capture({ netlink: true })` makes in each captured namespace. */
export const NLMON_DEVICE = 'nlmon0'

/** A captured packet, with the node and the device it was seen on. */
export interface LabPacket extends CapturedPacket {
  node: string
  device: string
}

export interface LabCaptureResult {
  path: string
  packets: number
  interfaces: number
  /** Frames the kernel dropped because the capture could not keep up (0 means none were lost). */
  kernelDrops: number
  /** Older packets the memory ring let go to stay within its budget. */
  evicted: number
}

export class LabCapture {
  private readonly capture: Capture
  private readonly followAll: boolean

  constructor(
    private readonly model: LabModel,
    options: LabCaptureOptions = {},
    private readonly switches = options.switches ?? false,
  ) {
    this.followAll = options.nodes === undefined
    const nodes = options.nodes ? options.nodes.map((n) => model.resolve(n, 'capture node')) : model.allNodes
    const captureOptions: CaptureOptions = {
      mode: options.ring ? 'ring' : 'recv',
      ...(options.memory === undefined ? {} : { memory: options.memory }),
    }
    const wanted = nodes.filter((n) => this.wanted(n))
    this.capture = Capture.start(
      wanted.map((n) => ({ netns: n.ns, label: n.name })),
      captureOptions,
    )
    this.logKeys(wanted)
    this.netlink = options.netlink ?? false
    if (this.netlink) this.monitorNetlink(wanted)
  }

  private readonly netlink: boolean
  private monitors: Promise<void>[] = []

  /** An nlmon device up in each node (after the capture socket, so its first messages are seen). */
  private monitorNetlink(nodes: readonly LabNode[]): void {
    for (const n of nodes) {
      const made = (async () => {
        await requireFeature('nlmon', `capturing the netlink traffic of ${n.name}`)
        await n.netlink.createLink(NLMON_DEVICE, 'nlmon')
        await n.netlink.setLink(NLMON_DEVICE, { up: true })
      })()
      made.catch(() => undefined) // surfaced by ready(), flush() and write()
      this.monitors.push(made)
    }
  }

  /**
   * Resolves once every capture device asked for is up (the nlmon devices
   * of `netlink: true`); rejects with one sentence when the kernel lacks them.
   */
  async ready(): Promise<void> {
    await Promise.all(this.monitors)
  }

  private wanted(n: LabNode): boolean {
    return n.kind !== 'switch' || this.switches
  }

  /** Programs on captured nodes log their TLS keys, for the file's decryption secrets. */
  private logKeys(nodes: readonly LabNode[]): void {
    for (const n of nodes) if (n.kind !== 'switch') n.logTlsKeys()
  }

  /** A node was added to the lab: capture on it too (unless the capture names its nodes). */
  follow(node: LabNode): void {
    if (this.followAll && this.wanted(node) && !this.capture.isStopped) {
      this.capture.add({ netns: node.ns, label: node.name })
      this.logKeys([node])
      if (this.netlink) this.monitorNetlink([node])
    }
  }

  stats(): CaptureStats {
    return this.capture.stats()
  }

  /**
   * The packets held, in timestamp order, each with the node it was captured
   * in (`node`) and its device's name (`device`). Call flush() first to
   * include the last few milliseconds.
   */
  packets(): LabPacket[] {
    return this.capture.packets().map((p) => ({
      ...p,
      node: this.capture.targets[p.target]!.label,
      device: this.capture.deviceOf(p) ?? `if${p.ifindex}`,
    }))
  }

  /** Read what the kernel still holds into memory (no-op once stopped). */
  async flush(): Promise<void> {
    if (!this.capture.isStopped) await this.capture.flush()
  }

  /** Forget the packets held so far (a test that passed); counters stay. */
  clear(): void {
    this.capture.clear()
  }

  /** Read what the kernel still holds, then close every socket. Idempotent. */
  async stop(): Promise<CaptureStats> {
    return this.capture.stop()
  }

  /** Close now, without a last read (teardown). Idempotent. */
  close(): void {
    this.capture.close()
  }

  /**
   * Write the packets held as one pcapng file (or stream), with the lab's
   * names and keys. Reads what the kernel still holds first. `names`: every
   * address → its node's name, when the caller has them (else made here:
   * the plan's addresses, and each node's link-local ones asked of the kernel).
   */
  async write(
    dest: string | Writable,
    options: { comment?: string; names?: ReadonlyMap<string, string> } = {},
  ): Promise<LabCaptureResult> {
    await this.ready()
    if (!this.capture.isStopped) await this.capture.flush()
    const stats = this.capture.stats()
    let names = options.names
    if (!names) {
      const made = addressNames(this.model)
      await nameLinkLocals(this.model.allNodes, made)
      names = made
    }
    const r = await this.capture.writePcapng(dest, {
      lab: this.model.id,
      ...(options.comment === undefined ? {} : { comment: options.comment }),
      names,
      secrets: [...tunnelSecrets(this.model), ...tlsKeyLogs(this.model)],
      descriptions: (iface) => describeDevice(this.model, iface.label, iface.device),
    })
    return {
      path: typeof dest === 'string' ? dest : '(stream)',
      packets: r.packets,
      interfaces: r.interfaces,
      kernelDrops: stats.kernelDrops,
      evicted: stats.memory.droppedPackets,
    }
  }
}

/** Every lab address → the name of the node that holds it (tunnel addresses: `node.tunnel`). */
export function addressNames(model: {
  readonly allNodes: readonly LabNode[]
  readonly tunnels: readonly Tunnel[]
}): Map<string, string> {
  const names = new Map<string, string>()
  for (const n of model.allNodes)
    for (const p of n.ports) {
      if (p.v4) names.set(p.v4, n.name)
      if (p.v6) names.set(p.v6, n.name)
    }
  for (const t of model.tunnels) {
    names.set(t.addresses.a, `${t.a.name}.${t.name}`)
    names.set(t.addresses.b, `${t.b.name}.${t.name}`)
  }
  return names
}

/**
 * Each node's IPv6 link-local addresses (the kernel made them from the
 * devices' MACs, so the plan does not know them) → the node's name, asked of
 * the nodes still there: neighbour discovery, router solicitations and MLD
 * reports come from them. A node already gone keeps its addresses unnamed.
 */
export async function nameLinkLocals(nodes: readonly LabNode[], names: Map<string, string>): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      try {
        for (const a of await n.netlink.listAddresses({ family: 6 }))
          if (a.scope === 'link' && !names.has(a.address)) names.set(a.address, n.name)
      } catch {
        // released or deleted: nothing to ask
      }
    }),
  )
}

/** `a ⟷ b (b's device): 198.18.0.1/30 fd00::1/64` for a lab link; tunnels and lo named as such. */
export function describeDevice(model: LabModel, node: string, device: string): string | undefined {
  const n = model.nodes.get(node)
  if (!n) return undefined
  if (device === 'lo') return `${node}: loopback`
  if (device === NLMON_DEVICE) return `${node}: netlink messages of its namespace (nlmon)`
  const port = n.ports.find((p) => p.device === device)
  if (port) {
    const far = port.peer.ports.find((q) => q.peer === n && q.segment === port.segment)
    const addrs = [
      port.v4 && `${port.v4}/${port.segment.v4.prefixLen}`,
      port.v6 && `${port.v6}/${port.segment.v6.prefixLen}`,
    ]
      .filter(Boolean)
      .join(' ')
    return `${node} ⟷ ${port.peer.name}${far ? ` (${far.device})` : ''}${addrs ? `: ${addrs}` : ''}`
  }
  for (const t of model.tunnels) {
    if (t.a === n && t.devices.a === device)
      return `${node}: ${t.type} tunnel ${t.name} to ${t.b.name}, ${t.addresses.a}`
    if (t.b === n && t.devices.b === device)
      return `${node}: ${t.type} tunnel ${t.name} to ${t.a.name}, ${t.addresses.b}`
  }
  return undefined
}

/** The TLS session keys the lab's programs logged (SSLKEYLOGFILE, see LabNode.logTlsKeys). */
export function tlsKeyLogs(model: LabModel): SecretsOptions[] {
  return model.allNodes.flatMap((n) => {
    const file = n.tlsKeyLogFile
    let data = ''
    try {
      if (file) data = readFileSync(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    return data.trim()
      ? [
          {
            type: SECRETS_TYPE.TLS_KEY_LOG,
            data,
            comment: `TLS keys logged by programs on ${n.name} (SSLKEYLOGFILE)`,
          },
        ]
      : []
  })
}

/** The decryption secrets of the lab's tunnels. */
export function tunnelSecrets(model: LabModel): SecretsOptions[] {
  return model.tunnels.flatMap((t) =>
    (t.secrets?.() ?? []).map((s) => ({
      type: s.type === 'wireguard' ? SECRETS_TYPE.WIREGUARD_KEY_LOG : SECRETS_TYPE.TLS_KEY_LOG,
      data: s.data,
      comment: `${s.type} keys of tunnel ${t.name} (${t.a.name} ⟷ ${t.b.name})`,
    })),
  )
}
