/**
 * Errors raised by the netlink codec.
 *
 * Decoding untrusted bytes must never crash the process with an unexpected error type: every
 * decoder in this package throws {@link NetlinkDecodeError} and nothing else. Encoding mistakes made
 * by the caller (a u8 that does not fit, an attribute longer than 64 KiB) throw
 * {@link NetlinkEncodeError}; malformed address text throws {@link InvalidAddressError}.
 */

/** Short machine-readable codes for decode failures. */
export type NetlinkDecodeReason =
  | 'truncated-header'
  | 'bad-length'
  | 'truncated-payload'
  | 'truncated-attribute'
  | 'bad-attribute-length'
  | 'bad-attribute-value'
  | 'bad-address-length'
  | 'bad-error-message'

/** Bytes that do not form a valid netlink message, with the byte offset where decoding stopped. */
export class NetlinkDecodeError extends Error {
  override readonly name = 'NetlinkDecodeError'

  constructor(
    /** Byte offset in the decoded input where the problem was found. */
    readonly offset: number,
    /** Short code naming the problem, e.g. `'bad-attribute-length'`. */
    readonly reason: NetlinkDecodeReason,
    /** Human-readable explanation (without the `netlink:` prefix, which is added here). */
    detail: string,
  ) {
    super(`netlink: ${detail}`)
  }
}

/** A request could not be encoded because a caller-supplied value does not fit the wire format. */
export class NetlinkEncodeError extends Error {
  override readonly name = 'NetlinkEncodeError'

  constructor(message: string) {
    super(`netlink: ${message}`)
  }
}

/** Text that is not a valid IPv4/IPv6/MAC address or CIDR prefix (shared with harness/util/ip.ts). */
export { InvalidAddressError } from '../../util/ip.js'
