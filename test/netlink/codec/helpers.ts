/** Small helpers shared by the codec tests. */
import { decodeHeader } from '../../../harness/netlink/codec/header.js'
import { bytes, type Capture } from './fixtures/capture.js'

/**
 * The first message of a buffer, cut at its nlmsg_len. iproute2 sends dump requests as its whole
 * C request struct (e.g. 152 bytes for a 24-byte RTM_GETADDR); the kernel stops at the zero
 * nlmsg_len that follows, and so do we here.
 */
export function firstMessage(buf: Buffer): Buffer {
  return buf.subarray(0, decodeHeader(buf).length)
}

/** The `index`-th buffer `ip` sent in a capture, cut to its first message. */
export function sentMessage(capture: Capture, index: number): Buffer {
  const hex = capture.sent[index]
  if (hex === undefined) throw new Error(`${capture.command}: no sent buffer #${index}`)
  return firstMessage(bytes(hex))
}

/** The `index`-th buffer `ip` received in a capture. */
export function receivedBuffer(capture: Capture, index: number): Buffer {
  const hex = capture.received[index]
  if (hex === undefined) throw new Error(`${capture.command}: no received buffer #${index}`)
  return bytes(hex)
}

/** The payload (after the 16-byte nlmsghdr) of a single message. */
export function payloadOf(message: Buffer): Buffer {
  return message.subarray(16)
}
