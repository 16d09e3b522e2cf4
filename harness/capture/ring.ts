/**
 * A bounded in-memory ring of captured packets: it keeps the newest ones
 * within a byte budget, drops the oldest to make room, and counts what it
 * dropped, so a capture can stay on for a whole suite in constant memory.
 */

/** Default budget: 8 MiB of packets per capture (per lab). */
export const DEFAULT_RING_BYTES = 8 << 20

/** What a packet costs beyond its bytes: its record, its Buffer, their headers (an estimate). */
export const PACKET_OVERHEAD = 160

export interface RingStats {
  /** Packets held now, and their cost in bytes (data plus overhead). */
  packets: number
  bytes: number
  /** Packets dropped to make room (the oldest first), and their cost. */
  droppedPackets: number
  droppedBytes: number
}

export class PacketRing<T extends { data: Uint8Array }> {
  readonly limit: number
  private items: (T | undefined)[] = []
  private head = 0
  private size = 0
  private used = 0
  private droppedPackets = 0
  private droppedBytes = 0

  constructor(limit: number = DEFAULT_RING_BYTES) {
    if (!Number.isFinite(limit) || limit < 0)
      throw new RangeError(`capture memory limit ${limit} is not a byte count`)
    this.limit = limit
  }

  /** Add a packet, dropping the oldest until it fits (a packet larger than the whole budget is dropped itself). */
  push(item: T): void {
    const cost = item.data.length + PACKET_OVERHEAD
    if (cost > this.limit) {
      this.droppedPackets++
      this.droppedBytes += cost
      return
    }
    while (this.used + cost > this.limit) this.shift()
    if (this.size === this.items.length) this.grow()
    this.items[(this.head + this.size) % this.items.length] = item
    this.size++
    this.used += cost
  }

  private shift(): void {
    const item = this.items[this.head]!
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.items.length
    this.size--
    const cost = item.data.length + PACKET_OVERHEAD
    this.used -= cost
    this.droppedPackets++
    this.droppedBytes += cost
  }

  private grow(): void {
    const bigger: (T | undefined)[] = new Array(Math.max(64, this.items.length * 2))
    for (let i = 0; i < this.size; i++) bigger[i] = this.items[(this.head + i) % this.items.length]
    this.items = bigger
    this.head = 0
  }

  /** The packets held, oldest first. */
  toArray(): T[] {
    const out: T[] = new Array(this.size)
    for (let i = 0; i < this.size; i++) out[i] = this.items[(this.head + i) % this.items.length]!
    return out
  }

  get length(): number {
    return this.size
  }

  stats(): RingStats {
    return {
      packets: this.size,
      bytes: this.used,
      droppedPackets: this.droppedPackets,
      droppedBytes: this.droppedBytes,
    }
  }

  /** Forget every packet (the drop counters stay). */
  clear(): void {
    this.items = []
    this.head = 0
    this.size = 0
    this.used = 0
  }
}
