/**
 * One AF_PACKET socket born inside a namespace, reading every frame of that
 * namespace (or of one device) in both directions through a TPACKET_V3 ring.
 *
 * Why the ring and not recvmmsg: the kernel writes frames straight into
 * memory we share with it (mmap), grouped in blocks; one poll wake-up hands
 * over a whole block of frames, each with its device (sockaddr_ll after the
 * frame header), direction (sll_pkttype PACKET_OUTGOING) and a nanosecond
 * timestamp (tp_sec/tp_nsec), with no syscall per frame and no msghdr,
 * iovec and cmsg structs to lay out through koffi. The cost is latency: a
 * block is handed over when it is full or when its retire timer
 * (tp_retire_blk_tov) fires, hence `flush()`.
 *
 * The socket is created with protocol 0 (it receives nothing), given its
 * ring, and only then bound to ETH_P_ALL, so no frame lands in the ordinary
 * receive queue that nobody reads. The fd is non-blocking and watched by the
 * event loop (koffi.node.poll through harness/sys), unreferenced: a capture
 * never keeps the process alive.
 */
import { Buffer } from 'node:buffer'
import { readFileSync } from 'node:fs'
import { type Netns, type NetnsRef, resolveNetns, socketIn, withNetns } from '../netns/index.js'
import {
  AF_PACKET,
  ETH_P_ALL,
  type FdWatcher,
  MAP_SHARED,
  type PollEvents,
  type Mapping,
  PACKET_RX_RING,
  PACKET_STATISTICS,
  PACKET_VERSION,
  PROT_READ,
  PROT_WRITE,
  SIOCGIFINDEX,
  SIOCGIFNAME,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOL_PACKET,
  SysError,
  TPACKET_V3,
  TP_STATUS_KERNEL,
  TP_STATUS_USER,
  SOL_SOCKET,
  SO_ERROR,
  SO_RCVBUFFORCE,
  SO_TIMESTAMPNS,
  StampedReceiver,
  bind,
  close,
  closeInBackground,
  getsockoptBuffer,
  errnoValue,
  getsockoptInt,
  ioctlBuffer,
  mmap,
  setsockopt,
  setsockoptInt,
  sockaddrLl,
  watchFd,
} from '../sys/index.js'

/** A frame copied out of the ring. */
export interface Frame {
  /** Interface index in the socket's namespace. */
  ifindex: number
  /** Kernel timestamp: seconds and nanoseconds since the epoch. */
  sec: number
  nsec: number
  /** The captured bytes (a copy: the ring's memory goes back to the kernel). */
  data: Buffer
  /** The frame's length on the wire (more than data.length when it was cut). */
  length: number
  /** sll_pkttype: PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3, OUTGOING 4. */
  type: number
  /**
   * sll_hatype, the device's ARPHRD_* type: 1 (Ethernet) and 772 (loopback)
   * frames start with an Ethernet header, tun devices' (WireGuard, 0xfffe)
   * with the IP header. Absent in frames made by hand.
   */
  hatype?: number
  /** sll_protocol (host order): the EtherType, or for an nlmon device the netlink family. */
  protocol?: number
}

export interface PacketSocketOptions {
  netns: NetnsRef
  /**
   * How frames are read. 'ring' (default): a TPACKET_V3 ring shared with the
   * kernel, no syscall per frame, for heavy traffic; installing it waits out
   * an RCU grace period (about 8 ms here). 'recv': one recvfrom per frame,
   * nothing to install, so a socket is ready at once: what an always-on lab
   * capture uses.
   */
  mode?: 'ring' | 'recv'
  /**
   * Socket receive buffer for 'recv' (default 16 MiB): what the kernel holds
   * while nobody reads (memory is taken only by frames queued). With 4 MiB a
   * 64 MiB TCP transfer across a veth pair (about 1 GB/s here) lost frames
   * within the read delay; with 16 MiB none, read at once or 5 ms later.
   */
  receiveBuffer?: number
  /** A device name or index; default: every device of the namespace. */
  device?: string | number
  /** Ring block size in bytes: a power-of-two number of pages (default 256 KiB). */
  blockSize?: number
  /** Ring blocks (default 8: a 2 MiB ring). */
  blocks?: number
  /** Milliseconds after which the kernel hands over a block that is not full (default 8). */
  retireMs?: number
  /**
   * 'recv' mode: how long after the first frame of a quiet spell the queue
   * is read (default 5 ms; 0 reads at once). The frames wait in the
   * socket's receive buffer and are read in one batch, one wake-up instead
   * of one per burst; a short test that passes is often over before its
   * frames were read at all, and they go with the socket. A read that finds
   * the queue busy (heavy traffic) reads at once from then on, until the
   * traffic is light again. flush() reads at once whatever is queued.
   */
  readDelayMs?: number
  /** Called with each frame as it is read, on the event loop. */
  onFrame: (frame: Frame) => void
  /** Called when reading fails (the poll callback must not throw). */
  onError?: (err: Error) => void
}

/** Kernel counters (PACKET_STATISTICS), summed since the socket opened. */
export interface PacketSocketStats {
  /** Frames the kernel gave this socket, dropped ones included. */
  packets: number
  /** Frames the kernel dropped because the ring was full. */
  drops: number
  /** Frames read out of the ring here. */
  read: number
}

/** A device name or index that does not exist in the namespace. */
export class CaptureDeviceError extends Error {
  override readonly name = 'CaptureDeviceError'
}

const PAGE = 4096
/** A packet socket's device went down. */
const ENETDOWN = errnoValue('ENETDOWN')
/** A frame as big as a lab link carries (MTU 65535 on lo; cut beyond, with its real length kept). */
const RECV_SNAP = 65536

let receiver: StampedReceiver | undefined
/**
 * The receiver every 'recv' socket reads with (its buffers and msghdr laid
 * out once): reads are synchronous on this thread and copy each frame out at
 * once, so one serves them all (64 KiB zeroed per socket cost as much as
 * opening it).
 */
function sharedReceiver(): StampedReceiver {
  receiver ??= new StampedReceiver(RECV_SNAP)
  return receiver
}
/** sizeof(struct tpacket3_hdr), TPACKET_ALIGN'ed: where sockaddr_ll starts in a frame. */
const TPACKET3_HDRLEN = 48
const FRAME_SIZE = 2048
/**
 * A read finding this many frames or bytes queued means heavy traffic: read
 * at once until it calms down. (A TCP transfer across a veth pair sends
 * 64 KiB GSO frames: with a threshold of 64 frames, 4 MiB waited each time
 * and the kernel dropped frames.)
 */
const BUSY_FRAMES = 16
const BUSY_BYTES = 256 << 10
const IFNAMSIZ = 16

export class PacketSocket {
  readonly fd: number
  /** The namespace, for messages. */
  readonly netns: string
  /** The device the socket is bound to, 0 for every device. */
  readonly ifindex: number
  private ring: Mapping | undefined
  private readonly blockSize: number
  private readonly blocks: number
  private readonly retireMs: number
  private next = 0
  private watcher: FdWatcher | undefined
  private readonly onFrame: (frame: Frame) => void
  private readonly onError: ((err: Error) => void) | undefined
  private readonly counters: PacketSocketStats = { packets: 0, drops: 0, read: 0 }
  private readonly names = new Map<number, string>()
  private readonly statsBuffer = Buffer.alloc(12)
  private closed = false
  private reading = false
  private readonly mode: 'ring' | 'recv'
  private readonly readDelayMs: number
  /** The last 'recv' read found the queue busy: read on every wake-up, without the delay. */
  private busy = false
  private readTimer: NodeJS.Timeout | undefined
  private released = false
  private closeNow = false
  private closing: Promise<void> | undefined
  private receiver: StampedReceiver | undefined
  /** How many of the next frames read are let go without onFrame (see discardQueued). */
  private toDiscard = 0

  private constructor(fd: number, netns: string, ifindex: number, options: PacketSocketOptions) {
    this.fd = fd
    this.netns = netns
    this.ifindex = ifindex
    this.blockSize = options.blockSize ?? 256 << 10
    this.blocks = options.blocks ?? 8
    this.retireMs = options.retireMs ?? 8
    this.onFrame = options.onFrame
    this.onError = options.onError
    this.mode = options.mode ?? 'ring'
    this.readDelayMs = this.mode === 'recv' ? (options.readDelayMs ?? 5) : 0
    if (!Number.isFinite(this.readDelayMs) || this.readDelayMs < 0)
      throw new RangeError(`readDelayMs must be a non-negative number of milliseconds`)
  }

  /** Open a capture socket in a namespace; it reads from the moment this returns. */
  static open(options: PacketSocketOptions): PacketSocket {
    const blockSize = options.blockSize ?? 256 << 10
    const blocks = options.blocks ?? 8
    const retireMs = options.retireMs ?? 8
    if (blockSize < PAGE || blockSize & (blockSize - 1))
      throw new RangeError(`capture ring block size ${blockSize} is not a power of two of at least ${PAGE}`)
    if (!Number.isInteger(blocks) || blocks < 2)
      throw new RangeError(`capture ring needs at least 2 blocks, got ${blocks}`)
    if (!Number.isInteger(retireMs) || retireMs < 1)
      throw new RangeError(`retireMs must be a positive integer`)
    const { ns, owned } = resolveNetns(options.netns)
    let fd = -1
    try {
      fd = socketIn(ns, AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, 0)
      const ifindex = options.device === undefined ? 0 : deviceIndex(fd, ns, options.device)
      const sock = new PacketSocket(fd, ns.label, ifindex, options)
      try {
        if (sock.mode === 'ring') sock.setUp()
        else {
          // Each frame's kernel timestamp comes with it, as a control message.
          setsockoptInt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1)
          setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, options.receiveBuffer ?? 16 << 20)
          sock.receiver = sharedReceiver()
        }
        bind(fd, sockaddrLl(ETH_P_ALL, ifindex))
        sock.watch()
      } catch (err) {
        sock.close({ now: true })
        fd = -1
        throw err
      }
      return sock
    } catch (err) {
      if (fd >= 0) close(fd)
      throw err
    } finally {
      if (owned) ns.close()
    }
  }

  private setUp(): void {
    setsockoptInt(this.fd, SOL_PACKET, PACKET_VERSION, TPACKET_V3)
    // struct tpacket_req3
    const req = Buffer.alloc(28)
    req.writeUInt32LE(this.blockSize, 0)
    req.writeUInt32LE(this.blocks, 4)
    req.writeUInt32LE(FRAME_SIZE, 8)
    req.writeUInt32LE((this.blockSize / FRAME_SIZE) * this.blocks, 12)
    req.writeUInt32LE(this.retireMs, 16)
    req.writeUInt32LE(0, 20) // tp_sizeof_priv
    req.writeUInt32LE(0, 24) // tp_feature_req_word
    setsockopt(this.fd, SOL_PACKET, PACKET_RX_RING, req)
    this.ring = mmap(this.fd, this.blockSize * this.blocks, PROT_READ | PROT_WRITE, MAP_SHARED, this.netns)
  }

  private watch(): void {
    const w = watchFd(this.fd)
    const onReadable = (ev: PollEvents): void => {
      if (ev.error) this.takeError()
      if (this.readDelayMs > 0 && !this.busy) {
        // Light traffic: read the whole queue a little later, in one batch.
        w.stop()
        this.readTimer = setTimeout(() => {
          this.readTimer = undefined
          this.readReporting()
          if (!this.closed) w.start({ readable: true }, onReadable)
        }, this.readDelayMs)
        this.readTimer.unref()
        return
      }
      this.readReporting()
    }
    w.start({ readable: true }, onReadable)
    w.unref()
    this.watcher = w
  }

  /**
   * The socket's pending error, taken (getsockopt SO_ERROR clears it, so the
   * poll stops saying POLLERR: a ring reader never calls recv, which would).
   * ENETDOWN only says the device it is bound to went down: capturing goes
   * on when it is up again. Anything else goes to onError.
   */
  private takeError(): void {
    try {
      const errno = getsockoptInt(this.fd, SOL_SOCKET, SO_ERROR)
      if (errno !== 0 && errno !== ENETDOWN)
        this.onError?.(new SysError('poll', errno, { target: this.netns }))
    } catch (err) {
      try {
        this.onError?.(err instanceof Error ? err : new Error(String(err)))
      } catch {
        // a listener's bug must not abort the process from inside the poll callback
      }
    }
  }

  /** read() from the event loop: a failure goes to onError, never out (it would abort the process). */
  private readReporting(): void {
    try {
      this.read()
    } catch (err) {
      try {
        this.onError?.(err instanceof Error ? err : new Error(String(err)))
      } catch {
        // a listener's bug must not abort the process from inside the poll callback
      }
    }
  }

  /**
   * Read every block the kernel has handed over, in ring order, and give them
   * back. Returns the frames read. Called by the event loop; callable any time.
   */
  read(): number {
    if (this.mode === 'recv') return this.readEach()
    const ring = this.ring
    if (this.closed || ring === undefined) return 0
    const bytes = ring.bytes
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const status = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2)
    let count = 0
    let total = 0
    this.reading = true
    try {
      for (let n = 0; n < this.blocks && !this.closed; n++) {
        const base = this.next * this.blockSize
        // block_desc: version, offset_to_priv, then tpacket_hdr_v1: block_status at 8.
        // Atomics: the status is read before the frames and written back after (acquire/release).
        if ((Atomics.load(status, (base + 8) >> 2) & TP_STATUS_USER) === 0) break
        const frames = view.getUint32(base + 12, true)
        let at = base + view.getUint32(base + 16, true)
        try {
          for (let i = 0; i < frames; i++) {
            const next = view.getUint32(at, true)
            count++
            if (this.toDiscard > 0) {
              // Queued before a clear(): let go, no frame built.
              this.toDiscard--
              at += next
              continue
            }
            const snap = view.getUint32(at + 12, true)
            const start = at + view.getUint16(at + 24, true) // tp_mac
            this.onFrame({
              sec: view.getUint32(at + 4, true),
              nsec: view.getUint32(at + 8, true),
              length: view.getUint32(at + 16, true),
              ifindex: view.getInt32(at + TPACKET3_HDRLEN + 4, true),
              type: bytes[at + TPACKET3_HDRLEN + 10]!,
              hatype: view.getUint16(at + TPACKET3_HDRLEN + 8, true),
              protocol: view.getUint16(at + TPACKET3_HDRLEN + 2, false),
              data: Buffer.from(bytes.subarray(start, start + snap)),
            })
            at += next
            if (this.closed) break
          }
        } finally {
          // Given back even when onFrame throws: the rest of this block is lost, never read twice.
          Atomics.store(status, (base + 8) >> 2, TP_STATUS_KERNEL)
          this.next = (this.next + 1) % this.blocks
          this.counters.read += count
          total += count
          count = 0
        }
      }
    } finally {
      this.reading = false
      // close() from inside onFrame left the unmapping to us: the loop above was still reading the ring.
      if (this.closed) this.release()
    }
    return total
  }

  /** 'recv' mode: every frame queued on the socket, one recvmsg each, stamped by the kernel. */
  private readEach(): number {
    const rx = this.receiver
    if (this.closed || rx === undefined) return 0
    let total = 0
    let bytes = 0
    this.reading = true
    try {
      while (!this.closed) {
        let size: number
        try {
          size = rx.receive(this.fd)
        } catch (err) {
          // The device it is bound to went down (or was down at bind): the kernel says so
          // once, as the socket's error; frames come again when it is up.
          if (err instanceof SysError && err.code === 'ENETDOWN') continue
          throw err
        }
        if (size < 0) break
        total++
        this.counters.read++
        bytes += size
        if (this.toDiscard > 0) {
          // Queued before a clear(): let go, no frame built.
          this.toDiscard--
          continue
        }
        // Without a stamp (timestamps off for this frame): the time it was read.
        if (rx.sec < 0) {
          const ms = Date.now()
          rx.sec = Math.floor(ms / 1000)
          rx.nsec = (ms % 1000) * 1_000_000
        }
        const from = rx.from
        // struct sockaddr_ll: family u16, protocol be16, ifindex s32, hatype u16, pkttype u8
        this.onFrame({
          sec: rx.sec,
          nsec: rx.nsec,
          length: size,
          ifindex: from.readInt32LE(4),
          hatype: from.readUInt16LE(8),
          protocol: from.readUInt16BE(2),
          type: from[10]!,
          data: Buffer.from(rx.data.subarray(0, rx.length)),
        })
      }
    } finally {
      this.reading = false
      if (this.closed) this.release()
    }
    this.busy = total >= BUSY_FRAMES || bytes >= BUSY_BYTES
    return total
  }

  /**
   * Let go of every frame the kernel has queued for this socket and it has
   * not read yet: they are dropped when read, without a frame built for any,
   * and a socket closed before its next read never reads them at all. For a
   * capture's clear(): a passing test's frames cost nothing more. Counted, not
   * timed: the kernel's counter of frames it queued (PACKET_STATISTICS: those
   * it accepted less those it dropped) less the frames read so far is how
   * many wait, and they are the next ones read (a socket's queue and a ring
   * are read in order). A frame's own timestamp would not do: the kernel
   * stamps a frame that came before timestamps were switched on machine-wide
   * when it is read.
   */
  discardQueued(): void {
    if (this.closed) return
    const { packets, drops, read } = this.stats()
    this.toDiscard = Math.max(0, packets - drops - read)
  }

  /**
   * Read everything captured until now: waits for the kernel to hand over the
   * block it is filling (its retire timer), then reads.
   */
  async flush(): Promise<void> {
    if (this.closed) return
    if (this.mode === 'recv') {
      this.read()
      return
    }
    await new Promise((resolve) => setTimeout(resolve, this.retireMs * 2 + 2))
    this.read()
  }

  /** Kernel counters so far (PACKET_STATISTICS resets on read: summed here). */
  stats(): PacketSocketStats {
    if (!this.closed) {
      // struct tpacket_stats_v3: tp_packets (drops included), tp_drops, tp_freeze_q_cnt
      getsockoptBuffer(this.fd, SOL_PACKET, PACKET_STATISTICS, this.statsBuffer)
      this.counters.packets += this.statsBuffer.readUInt32LE(0)
      this.counters.drops += this.statsBuffer.readUInt32LE(4)
    }
    return { ...this.counters }
  }

  /** The name of a device of this namespace (cached; `if<index>` once it is gone). */
  deviceName(ifindex: number): string {
    let name = this.names.get(ifindex)
    if (name === undefined) {
      name = this.closed ? `if${ifindex}` : (ifName(this.fd, ifindex) ?? `if${ifindex}`)
      this.names.set(ifindex, name)
    }
    return name
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Resolves once the fd is closed (close() hands it to another thread). */
  async whenClosed(): Promise<void> {
    await this.closing
  }

  /**
   * Stop reading and let the socket go (the fd is closed on another thread
   * unless `now`: a packet socket's close waits out RCU grace periods). The
   * counters stay readable. Idempotent.
   */
  close(options: { now?: boolean } = {}): void {
    if (options.now) this.closeNow = true
    if (this.closed) return
    try {
      this.stats()
    } catch {
      // counters are a courtesy here; closing must go on
    }
    this.closed = true
    clearTimeout(this.readTimer)
    this.readTimer = undefined
    this.watcher?.close()
    this.watcher = undefined
    // Called from onFrame, the ring is still being read: read() unmaps when it is done.
    if (!this.reading) this.release()
  }

  private release(): void {
    if (this.released) return
    this.released = true
    const ring = this.ring
    this.ring = undefined
    this.receiver = undefined
    try {
      ring?.unmap()
    } finally {
      // A packet socket's close waits out an RCU grace period or two in the
      // kernel (10-30 ms): done on another thread, the event loop goes on.
      if (this.closeNow) close(this.fd)
      else this.closing = closeInBackground(this.fd).catch((err: unknown) => this.onError?.(err as Error))
    }
  }
}

/** SIOCGIFNAME on the socket: answered in the socket's own namespace. */
function ifName(fd: number, ifindex: number): string | undefined {
  const ifr = Buffer.alloc(40)
  ifr.writeInt32LE(ifindex, IFNAMSIZ)
  try {
    ioctlBuffer(fd, SIOCGIFNAME, ifr)
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENODEV') return undefined
    throw err
  }
  const end = ifr.indexOf(0)
  return ifr.toString('utf8', 0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end)
}

/** The devices of a namespace, from /proc/thread-self/net/dev read inside it. */
export function deviceNames(netns: NetnsRef): string[] {
  const text = withNetns(netns, () => readFileSync('/proc/thread-self/net/dev', 'utf8'))
  return text
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter((n) => n !== '')
}

function unknownDevice(ns: Netns, device: string | number): CaptureDeviceError {
  let has: string
  try {
    has = deviceNames(ns).join(', ')
  } catch {
    has = 'unknown'
  }
  const what = typeof device === 'number' ? `device index ${device}` : `device ${JSON.stringify(device)}`
  return new CaptureDeviceError(
    `cannot capture on ${what}: namespace ${ns.label} has no such device (it has: ${has})`,
  )
}

/** Resolve a device name or index in the socket's namespace (SIOCGIFINDEX / SIOCGIFNAME). */
function deviceIndex(fd: number, netns: Netns, device: string | number): number {
  if (typeof device === 'number') {
    if (!Number.isInteger(device) || device <= 0 || ifName(fd, device) === undefined)
      throw unknownDevice(netns, device)
    return device
  }
  const name = Buffer.from(device, 'utf8')
  if (name.length === 0 || name.length >= IFNAMSIZ || name.includes(0)) throw unknownDevice(netns, device)
  const ifr = Buffer.alloc(40)
  name.copy(ifr, 0)
  try {
    ioctlBuffer(fd, SIOCGIFINDEX, ifr)
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENODEV') throw unknownDevice(netns, device)
    throw err
  }
  return ifr.readInt32LE(IFNAMSIZ)
}
