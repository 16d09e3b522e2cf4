/**
 * pcapng as a live stream (`nslab capture LAB HOST | wireshark -k -i -`):
 * the section header and the name block first, then each packet as it comes,
 * an interface block written just before the first packet of each
 * (node, device), as pcapng allows anywhere before it is used.
 */
import type { Writable } from 'node:stream'
import {
  PACKET_BROADCAST,
  PACKET_HOST,
  PACKET_MULTICAST,
  PACKET_OTHERHOST,
  PACKET_OUTGOING,
} from '../sys/index.js'
import type { Frame } from './packet-socket.js'
import {
  type NameRecord,
  type Reception,
  interfaceBlock,
  linkTypeOf,
  packetBytes,
  nameResolutionBlock,
  packetBlock,
  sectionHeaderBlock,
} from './pcapng.js'

const RECEPTION: Record<number, Reception> = {
  [PACKET_HOST]: 'unicast',
  [PACKET_BROADCAST]: 'broadcast',
  [PACKET_MULTICAST]: 'multicast',
  [PACKET_OTHERHOST]: 'promiscuous',
}

export interface StreamOptions {
  application?: string
  comment?: string
  names?: readonly NameRecord[]
  /** A description per interface name (`node/device`). */
  describe?: (name: string) => string | undefined
}

export class PcapngStream {
  private readonly ids = new Map<string, number>()
  /** Packets written so far. */
  count = 0

  constructor(
    private readonly out: Writable,
    options: StreamOptions = {},
  ) {
    this.describe = options.describe
    out.write(
      sectionHeaderBlock({
        ...(options.application === undefined ? {} : { application: options.application }),
        os: 'Linux',
        ...(options.comment === undefined ? {} : { comment: options.comment }),
      }),
    )
    if (options.names && options.names.length > 0) out.write(nameResolutionBlock(options.names))
  }

  private readonly describe: ((name: string) => string | undefined) | undefined

  /** Write one packet (and its interface block the first time). Returns false when the stream wants a pause. */
  write(frame: Frame, iface: { label: string; device: string }): boolean {
    const name = `${iface.label}/${iface.device}`
    let id = this.ids.get(name)
    if (id === undefined) {
      id = this.ids.size
      this.ids.set(name, id)
      const description = this.describe?.(name)
      this.out.write(
        interfaceBlock({
          name,
          ...(description ? { description } : {}),
          os: 'Linux',
          linkType: linkTypeOf(frame.hatype),
        }),
      )
    }
    const data = packetBytes(linkTypeOf(frame.hatype), frame)
    const out = frame.type === PACKET_OUTGOING
    const reception = RECEPTION[frame.type]
    this.count++
    return this.out.write(
      packetBlock({
        interfaceId: id,
        timestamp: BigInt(frame.sec) * 1_000_000_000n + BigInt(frame.nsec),
        data,
        originalLength: frame.length + data.length - frame.data.length,
        direction: out ? 'out' : 'in',
        ...(out || reception === undefined ? {} : { reception }),
      }),
    )
  }
}
