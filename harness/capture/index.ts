/**
 * Capture on lab namespaces, in-process: one AF_PACKET socket born in each
 * target namespace (all its devices, or one), frames kept in a bounded
 * in-memory ring, and a pcapng file written on demand (Wireshark shows each
 * (node, device) as an interface, packet directions, node names for lab
 * addresses, and applies the decryption secrets given).
 *
 * The targets are a plain list: the Lab decides what to capture, e.g. hosts
 * and routers but not switch namespaces (which see every frame a second
 * time), unless the user asks for switch ports.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type { NetnsRef } from '../netns/index.js'
import {
  PACKET_BROADCAST,
  PACKET_HOST,
  PACKET_MULTICAST,
  PACKET_OTHERHOST,
  PACKET_OUTGOING,
} from '../sys/index.js'
import { type Frame, PacketSocket } from './packet-socket.js'
import { type WriteResult, writeBlocks } from './pcapng-file.js'
import {
  type InterfaceOptions,
  type NameRecord,
  type PacketOptions,
  type Reception,
  type SecretsOptions,
  type StatisticsOptions,
  linkTypeOf,
  packetBytes,
  pcapngBlocks,
  statisticsBlock,
} from './pcapng.js'
import { DEFAULT_RING_BYTES, PacketRing, type RingStats } from './ring.js'

export {
  CaptureDeviceError,
  type Frame,
  PacketSocket,
  type PacketSocketStats,
  deviceNames,
} from './packet-socket.js'
export { PcapngWriteError, type WriteResult, writeBlocks } from './pcapng-file.js'
export * from './pcapng.js'
export { DEFAULT_RING_BYTES, PacketRing, type RingStats } from './ring.js'
export { PcapngStream } from './stream.js'

/** Where to capture: a namespace (and optionally one device of it), and the node name to show. */
export interface CaptureTarget {
  netns: NetnsRef
  /** The node's name, the first half of interface names (`a/eth0`). */
  label: string
  /** A device name or index; default: every device of the namespace. */
  device?: string | number
}

export interface CaptureOptions {
  /** How sockets read (see PacketSocketOptions.mode): 'ring' (default) for heavy traffic, 'recv' to start at once. */
  mode?: 'ring' | 'recv'
  /** Socket receive buffer in 'recv' mode (default 16 MiB). */
  receiveBuffer?: number
  /** 'recv' mode: read light traffic this long after it began, in one batch (default 5 ms; see PacketSocketOptions). */
  readDelayMs?: number
  /** Bytes of packets kept in memory, newest first (default 8 MiB). */
  memory?: number
  /** Kernel ring per target: block size and count (default 256 KiB x 8). */
  blockSize?: number
  blocks?: number
  /** Milliseconds before the kernel hands over a block that is not full (default 8). */
  retireMs?: number
  /** Reading failed on a target (the capture goes on with the others). */
  onError?: (err: Error, target: CaptureTarget) => void
  /** Every packet as it is read (after it went into the memory ring), with its interface: for live streams. */
  onPacket?: (packet: CapturedPacket, iface: { label: string; device: string }) => void
  /** Hold packets in the memory ring (default true); false: only hand them to onPacket (a live stream keeps no copy). */
  keep?: boolean
}

/** A frame with the index of the target it was captured on. */
export interface CapturedPacket extends Frame {
  target: number
}

export interface CaptureTargetStats {
  label: string
  netns: string
  /** The bound device, or `*` for every device of the namespace. */
  device: string
  /** Kernel counters of the socket (PACKET_STATISTICS): frames seen and frames it dropped. */
  kernelPackets: number
  kernelDrops: number
  /** Frames read out of the kernel ring. */
  read: number
}

export interface CaptureStats {
  /** Frames read from the kernel, all targets. */
  read: number
  /** Frames the kernel dropped (its ring was full), all targets: loss, never hidden. */
  kernelDrops: number
  /** The memory ring: packets held now, and the oldest ones dropped to stay within its budget. */
  memory: RingStats
  targets: CaptureTargetStats[]
}

/** One pcapng interface: a (target, device) pair, for descriptions. */
export interface CaptureInterface {
  label: string
  netns: string
  device: string
  ifindex: number
}

export interface WritePcapngOptions {
  /** The lab's name, in the section comment. */
  lab?: string
  /** More text for the section comment (e.g. the test's name). */
  comment?: string
  /** Address → node name(s), written as a name resolution block. */
  names?: ReadonlyMap<string, string | readonly string[]> | readonly NameRecord[]
  /** Key logs (WireGuard, TLS) written as decryption secrets blocks. */
  secrets?: readonly SecretsOptions[]
  /** A description per interface (e.g. the link's two ends); keyed `label/device`, or a function. */
  descriptions?: ReadonlyMap<string, string> | ((iface: CaptureInterface) => string | undefined)
}

export interface WritePcapngResult extends WriteResult {
  packets: number
  interfaces: number
}

const RECEPTION: Record<number, Reception> = {
  [PACKET_HOST]: 'unicast',
  [PACKET_BROADCAST]: 'broadcast',
  [PACKET_MULTICAST]: 'multicast',
  [PACKET_OTHERHOST]: 'promiscuous',
}

interface Running {
  target: CaptureTarget
  socket: PacketSocket
  /** ifindex → device name, resolved when the first frame of a device is read. */
  devices: Map<number, string>
  /** ifindex → the device's ARPHRD_* type, from its first frame. */
  hatypes: Map<number, number>
}

export class Capture {
  private readonly list: CaptureTarget[]
  private readonly running: Running[] = []
  private readonly ring: PacketRing<CapturedPacket>
  private stopped = false

  private constructor(
    targets: readonly CaptureTarget[],
    private readonly options: CaptureOptions,
  ) {
    this.list = [...targets]
    this.ring = new PacketRing(options.memory ?? DEFAULT_RING_BYTES)
  }

  /** What is captured, in the order the targets were given and added. */
  get targets(): readonly CaptureTarget[] {
    return this.list
  }

  /**
   * Start capturing on every target at once: a socket is opened in each
   * namespace, and reading starts before this returns. An unknown namespace
   * or device fails the whole start (sockets already opened are closed).
   */
  static start(targets: readonly CaptureTarget[], options: CaptureOptions = {}): Capture {
    const labels = new Set<string>()
    for (const t of targets) {
      const key = `${t.label}/${t.device ?? '*'}`
      if (labels.has(key)) throw new TypeError(`capture target ${key} is listed twice`)
      labels.add(key)
    }
    const capture = new Capture(targets, options)
    try {
      targets.forEach((target, index) => capture.open(target, index, options))
    } catch (err) {
      capture.close({ now: true }) // nothing of a failed start outlives it
      throw err
    }
    return capture
  }

  private open(target: CaptureTarget, index: number, options: CaptureOptions): void {
    const devices = new Map<number, string>()
    const hatypes = new Map<number, number>()
    const ring = this.ring
    const keep = options.keep ?? true
    const running: Running = { target, devices, hatypes, socket: undefined as unknown as PacketSocket }
    running.socket = PacketSocket.open({
      netns: target.netns,
      ...(target.device === undefined ? {} : { device: target.device }),
      ...(options.blockSize === undefined ? {} : { blockSize: options.blockSize }),
      ...(options.blocks === undefined ? {} : { blocks: options.blocks }),
      ...(options.retireMs === undefined ? {} : { retireMs: options.retireMs }),
      ...(options.mode === undefined ? {} : { mode: options.mode }),
      ...(options.receiveBuffer === undefined ? {} : { receiveBuffer: options.receiveBuffer }),
      ...(options.readDelayMs === undefined ? {} : { readDelayMs: options.readDelayMs }),
      onFrame: (frame) => {
        const packet = frame as CapturedPacket
        packet.target = index
        let device = devices.get(frame.ifindex)
        if (device === undefined) {
          device = running.socket.deviceName(frame.ifindex)
          devices.set(frame.ifindex, device)
        }
        if (frame.hatype !== undefined && !hatypes.has(frame.ifindex))
          hatypes.set(frame.ifindex, frame.hatype)
        if (keep) ring.push(packet)
        options.onPacket?.(packet, { label: target.label, device })
      },
      onError: (err) => options.onError?.(err, target),
    })
    if (running.socket.ifindex !== 0)
      devices.set(running.socket.ifindex, running.socket.deviceName(running.socket.ifindex))
    this.running.push(running)
  }

  /**
   * Capture on one more target from now on (a node added to a lab while
   * capturing). Throws for a target already captured or after stop().
   */
  add(target: CaptureTarget): void {
    if (this.stopped) throw new TypeError('this capture was stopped: start a new one')
    const key = `${target.label}/${target.device ?? '*'}`
    if (this.list.some((t) => `${t.label}/${t.device ?? '*'}` === key))
      throw new TypeError(`capture target ${key} is listed twice`)
    this.open(target, this.running.length, this.options)
    this.list.push(target)
  }

  /** Read everything captured until now (waits for the kernel's partly filled blocks). */
  async flush(): Promise<void> {
    await Promise.all(this.running.map((r) => r.socket.flush()))
  }

  /** Flush, then close every socket; the packets stay for writing. Idempotent. */
  async stop(): Promise<CaptureStats> {
    if (!this.stopped) {
      await this.flush()
      this.close()
    }
    // The sockets' fds are closed on another thread: stop() returns once they are.
    await Promise.all(this.running.map((r) => r.socket.whenClosed()))
    return this.stats()
  }

  /** Close every socket now, without a last read (sync; for teardown paths). Idempotent. */
  close(options: { now?: boolean } = {}): void {
    this.stopped = true
    let failure: unknown
    for (const r of this.running) {
      try {
        r.socket.close(options)
      } catch (err) {
        failure ??= err
      }
    }
    if (failure !== undefined) throw failure
  }

  get isStopped(): boolean {
    return this.stopped
  }

  stats(): CaptureStats {
    const targets = this.running.map((r): CaptureTargetStats => {
      const s = r.socket.stats()
      return {
        label: r.target.label,
        netns: r.socket.netns,
        device: r.socket.ifindex === 0 ? '*' : r.socket.deviceName(r.socket.ifindex),
        kernelPackets: s.packets,
        kernelDrops: s.drops,
        read: s.read,
      }
    })
    return {
      read: targets.reduce((n, t) => n + t.read, 0),
      kernelDrops: targets.reduce((n, t) => n + t.kernelDrops, 0),
      memory: this.ring.stats(),
      targets,
    }
  }

  /** The packets held, in timestamp order (frames of several namespaces interleave). */
  packets(): CapturedPacket[] {
    return this.ring.toArray().sort((a, b) => a.sec - b.sec || a.nsec - b.nsec)
  }

  /** The device a packet was captured on (`eth0`), named as it was when its device's first frame was read. */
  deviceOf(packet: CapturedPacket): string | undefined {
    return this.running[packet.target]?.devices.get(packet.ifindex)
  }

  /**
   * Forget the packets held (e.g. after a test that passed), and those the
   * kernel still queues unread: they are dropped when read, and never read
   * if the capture stops first (a passing test's lab is destroyed right
   * after). Counters stay.
   */
  clear(): void {
    for (const r of this.running) r.socket.discardQueued()
    this.ring.clear()
  }

  /**
   * Write what is held as one pcapng file: to a path (a full disk leaves the
   * blocks written so far, a valid file) or to a stream (left open). Call
   * flush() or stop() first to include the last few milliseconds.
   */
  async writePcapng(dest: string | Writable, options: WritePcapngOptions = {}): Promise<WritePcapngResult> {
    const packets = this.packets()
    // One interface per (target, device), in target order, then device index order.
    const ids = new Map<string, number>()
    const interfaces: InterfaceOptions[] = []
    const firstOfTarget = new Map<number, number>()
    this.running.forEach((r, target) => {
      for (const [ifindex, device] of [...r.devices].sort((a, b) => a[0] - b[0])) {
        const iface: CaptureInterface = { label: r.target.label, netns: r.socket.netns, device, ifindex }
        const name = `${iface.label}/${device}`
        const description = describe(options.descriptions, iface, name)
        if (!firstOfTarget.has(target)) firstOfTarget.set(target, interfaces.length)
        ids.set(`${target}:${ifindex}`, interfaces.length)
        interfaces.push({
          name,
          ...(description === undefined ? {} : { description }),
          os: 'Linux',
          linkType: linkTypeOf(r.hatypes.get(ifindex)),
        })
      }
    })
    const written = new Map<number, number>()
    const runningNow = this.running
    function* records(): Generator<PacketOptions> {
      for (const p of packets) {
        const interfaceId = ids.get(`${p.target}:${p.ifindex}`)!
        written.set(p.target, (written.get(p.target) ?? 0) + 1)
        const data = packetBytes(linkTypeOf(runningNow[p.target]?.hatypes.get(p.ifindex)), p)
        const out = p.type === PACKET_OUTGOING
        const reception = RECEPTION[p.type]
        yield {
          interfaceId,
          timestamp: BigInt(p.sec) * 1_000_000_000n + BigInt(p.nsec),
          data,
          // A cooked header added in front counts on the wire too.
          originalLength: p.length + data.length - p.data.length,
          direction: out ? 'out' : 'in',
          ...(out || reception === undefined ? {} : { reception }),
        }
      }
    }
    const stats = this.stats()
    const memory = stats.memory
    const now = BigInt(Date.now()) * 1_000_000n
    const running = this.running
    function* statistics(): Generator<StatisticsOptions> {
      for (const [target, interfaceId] of firstOfTarget) {
        const t = stats.targets[target]!
        yield {
          interfaceId,
          timestamp: now,
          received: t.kernelPackets,
          osDropped: t.kernelDrops,
          delivered: written.get(target) ?? 0,
          comment:
            `kernel counters of the capture socket in ${running[target]!.socket.netns} ` +
            `(${t.device === '*' ? 'every device' : t.device}): ${t.kernelPackets} frames, ${t.kernelDrops} dropped by the kernel` +
            (memory.droppedPackets > 0
              ? `; the capture kept the newest packets in memory and dropped ${memory.droppedPackets} older ones (all targets)`
              : ''),
        }
      }
    }
    const section = {
      application: `nslab ${nslabVersion()}`,
      os: 'Linux',
      comment: [options.lab === undefined ? undefined : `lab ${options.lab}`, options.comment]
        .filter((s) => s !== undefined)
        .join('; '),
    }
    function* blocks(): Generator<Buffer> {
      const all = pcapngBlocks({
        section: section.comment === '' ? { application: section.application, os: section.os } : section,
        interfaces,
        ...(options.names === undefined ? {} : { names: options.names }),
        ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
        packets: records(),
      })
      yield* all
      // Statistics after the packets, counted as they were written.
      for (const st of statistics()) yield statisticsBlock(st)
    }
    const result = await writeBlocks(dest, blocks())
    return { ...result, packets: packets.length, interfaces: interfaces.length }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}

function describe(
  descriptions: WritePcapngOptions['descriptions'],
  iface: CaptureInterface,
  name: string,
): string | undefined {
  if (descriptions === undefined) return undefined
  if (typeof descriptions === 'function') return descriptions(iface)
  return descriptions.get(name)
}

let version: string | undefined

/** nslab's own version, from the package.json above this file (source or dist). */
function nslabVersion(): string {
  if (version !== undefined) return version
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
        if (pkg.name === 'nslab' && pkg.version) return (version = pkg.version)
      } catch {
        // not ours; keep looking
      }
    }
    const up = dirname(dir)
    if (up === dir) return (version = '0.0.0')
    dir = up
  }
}
