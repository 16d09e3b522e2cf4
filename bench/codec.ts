// The pure codec's rows: decoding what the kernel sent (the dump replies
// captured in test/netlink/codec/fixtures, real bytes from `ip ... show`) and
// encoding the requests the operations build. No namespace, no syscall: these
// rows measure the JavaScript alone, so a change to the codec shows here
// before it is lost in the noise of the kernel rows.
import { decodeMessages } from '../harness/netlink/codec/message.js'
import { encodeAddr } from '../harness/netlink/codec/messages/addr.js'
import { encodeLink, vethInfo } from '../harness/netlink/codec/messages/link.js'
import { encodeNeigh } from '../harness/netlink/codec/messages/neigh.js'
import { encodeRoute } from '../harness/netlink/codec/messages/route.js'
import { IFF, NUD } from '../harness/netlink/codec/constants.js'
import * as addrFixtures from '../test/netlink/codec/fixtures/addr.js'
import { bytes, type Capture } from '../test/netlink/codec/fixtures/capture.js'
import * as linkFixtures from '../test/netlink/codec/fixtures/link.js'
import * as neighFixtures from '../test/netlink/codec/fixtures/neigh.js'
import * as routeFixtures from '../test/netlink/codec/fixtures/route.js'

export type CodecKind = 'link' | 'addr' | 'route' | 'neigh'

const received = (...captures: Capture[]): Buffer[] => captures.flatMap((c) => c.received.map(bytes))

/** The kernel's dump replies per object (each buffer: several messages, then NLMSG_DONE or an ACK). */
export const DUMPS: Record<CodecKind, Buffer[]> = {
  link: received(linkFixtures.linkShowDetails),
  addr: received(addrFixtures.addrShow4, addrFixtures.addrShow6),
  route: received(routeFixtures.routeShowLocal, routeFixtures.routeShowMain, routeFixtures.routeShow6All),
  neigh: received(neighFixtures.neighShow),
}

/** How many messages one pass over a kind's dumps decodes (for the table's note). */
export function messagesPerPass(kind: CodecKind): number {
  return DUMPS[kind].reduce((n, buf) => n + decodeMessages(buf).length, 0)
}

/** Decode every dump buffer of `kind`, `rounds` times; returns a count so nothing is optimised away. */
export function decodeRounds(kind: CodecKind, rounds: number): number {
  const dumps = DUMPS[kind]
  let n = 0
  for (let r = 0; r < rounds; r++) for (const buf of dumps) n += decodeMessages(buf).length
  return n
}

/** Encode one request of each kind (a veth pair, an address, a route, a neighbour), `rounds` times. */
export function encodeRounds(rounds: number): number {
  let n = 0
  for (let r = 0; r < rounds; r++) {
    n += encodeLink({
      name: 'bench-a',
      flags: IFF.UP,
      change: IFF.UP,
      info: vethInfo({ name: 'bench-b', netns: { fd: 7 } }),
    }).length
    n += encodeAddr({ index: 2, prefixLen: 30, local: '198.18.0.1', address: '198.18.0.1' }).length
    n += encodeRoute({ dst: '198.18.2.0/24', gateway: '198.18.0.2', oif: 2, table: 254 }).length
    n += encodeNeigh({
      ifindex: 2,
      dst: 'fd00:1::2',
      lladdr: '02:00:00:00:00:02',
      state: NUD.PERMANENT,
    }).length
  }
  return n
}
