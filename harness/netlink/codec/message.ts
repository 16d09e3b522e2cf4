/**
 * Whole messages: building a request (nlmsghdr + payload) and decoding any received message into
 * a discriminated union keyed by `kind`.
 */
import { NLMSG, NLM_F, RTM } from './constants.js'
import {
  NLMSG_HDRLEN,
  nlmsgAlign,
  parseMessages,
  writeHeader,
  type NlMsgHeader,
  type RawMessage,
} from './header.js'
import { decodeAddr, type AddrMessage } from './messages/addr.js'
import { decodeLink, type LinkMessage } from './messages/link.js'
import { decodeNeigh, type NeighMessage } from './messages/neigh.js'
import { decodeRoute, type RouteMessage } from './messages/route.js'
import {
  decodeDoneMessage,
  decodeErrorMessage,
  type DoneMessage,
  type NetlinkErrorMessage,
} from './nlmsgerr.js'

/** Header fields of a request; `nlmsg_len` is computed. */
export interface RequestHeader {
  type: number
  /** Default `NLM_F_REQUEST | NLM_F_ACK`. Requests to the kernel must include NLM_F_REQUEST. */
  flags?: number
  seq?: number
  /** Default 0: the kernel fills in the socket's port id. */
  pid?: number
}

/**
 * Build one complete message: nlmsghdr (with `nlmsg_len = 16 + payload.length`) followed by the
 * payload, zero-padded to a multiple of 4 so that several messages can simply be concatenated
 * into one `sendmsg` (a batch).
 */
export function encodeRequest(header: RequestHeader, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const length = NLMSG_HDRLEN + payload.length
  const buf = Buffer.alloc(nlmsgAlign(length))
  writeHeader(buf, {
    length,
    type: header.type,
    flags: header.flags ?? NLM_F.REQUEST | NLM_F.ACK,
    seq: header.seq ?? 0,
    pid: header.pid ?? 0,
  })
  buf.set(payload, NLMSG_HDRLEN)
  return buf
}

/** A received message, decoded according to its type. */
export type DecodedMessage =
  | { kind: 'link'; header: NlMsgHeader; link: LinkMessage }
  | { kind: 'addr'; header: NlMsgHeader; addr: AddrMessage }
  | { kind: 'route'; header: NlMsgHeader; route: RouteMessage }
  | { kind: 'neigh'; header: NlMsgHeader; neigh: NeighMessage }
  | { kind: 'error'; header: NlMsgHeader; error: NetlinkErrorMessage }
  | { kind: 'done'; header: NlMsgHeader; done: DoneMessage }
  | { kind: 'noop'; header: NlMsgHeader }
  | { kind: 'unknown'; header: NlMsgHeader; payload: Buffer }

/** The object family an rtnetlink message type belongs to, or undefined. */
export function messageKind(type: number): 'link' | 'addr' | 'route' | 'neigh' | undefined {
  if (type >= RTM.NEWLINK && type <= RTM.SETLINK) return 'link'
  if (type >= RTM.NEWADDR && type <= RTM.GETADDR) return 'addr'
  if (type >= RTM.NEWROUTE && type <= RTM.GETROUTE) return 'route'
  if (type >= RTM.NEWNEIGH && type <= RTM.GETNEIGH) return 'neigh'
  return undefined
}

/**
 * Decode one framed message. NEW/DEL/GET link, address, route and neighbour messages get typed
 * bodies; NLMSG_ERROR, NLMSG_DONE and NLMSG_NOOP their own kinds; anything else (including
 * NLMSG_OVERRUN) is `unknown` with the raw payload. Throws NetlinkDecodeError on malformed bytes.
 */
export function decodeMessage(raw: RawMessage): DecodedMessage {
  const { header, payload } = raw
  const base = raw.offset + NLMSG_HDRLEN
  switch (header.type) {
    case NLMSG.NOOP:
      return { kind: 'noop', header }
    case NLMSG.ERROR:
      return { kind: 'error', header, error: decodeErrorMessage(payload, header.flags, base) }
    case NLMSG.DONE:
      return { kind: 'done', header, done: decodeDoneMessage(payload, header.flags, base) }
  }
  switch (messageKind(header.type)) {
    case 'link':
      return { kind: 'link', header, link: decodeLink(payload, base) }
    case 'addr':
      return { kind: 'addr', header, addr: decodeAddr(payload, base) }
    case 'route':
      return { kind: 'route', header, route: decodeRoute(payload, base) }
    case 'neigh':
      return { kind: 'neigh', header, neigh: decodeNeigh(payload, base) }
    default:
      return { kind: 'unknown', header, payload }
  }
}

/** Split a receive buffer into messages and decode each ({@link parseMessages} + {@link decodeMessage}). */
export function decodeMessages(buf: Buffer): DecodedMessage[] {
  return parseMessages(buf).map(decodeMessage)
}
