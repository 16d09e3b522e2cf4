/**
 * Helpers shared by the per-object message codecs: bounds checks for fixed headers and typed
 * readers/writers for address-valued attributes.
 */
import { bytesToIp, bytesToMac, ipToBytes, macToBytes } from '../address.js'
import type { Attribute } from '../attributes.js'
import { AF } from '../constants.js'
import { NetlinkDecodeError, NetlinkEncodeError } from '../errors.js'

/** Throw unless `payload` holds at least the `size`-byte fixed header `name` (e.g. `ifinfomsg`). */
export function requireFixedHeader(payload: Buffer, size: number, baseOffset: number, name: string): void {
  if (payload.length < size) {
    throw new NetlinkDecodeError(
      baseOffset,
      'truncated-payload',
      `${name} at offset ${baseOffset} needs ${size} bytes but the payload has only ${payload.length}`,
    )
  }
}

/**
 * Read an IP address attribute. For `AF_INET`/`AF_INET6` the value must be exactly 4/16 bytes;
 * for other families (bridge fdb entries) either length is accepted.
 */
export function readIpAttr(attr: Attribute, family: number, what: string): string {
  const len = attr.value.length
  const expected = family === AF.INET ? [4] : family === AF.INET6 ? [16] : [4, 16]
  if (!expected.includes(len)) {
    throw new NetlinkDecodeError(
      attr.offset,
      'bad-address-length',
      `${what} at offset ${attr.offset} has ${len} address bytes; expected ${expected.join(' or ')}`,
    )
  }
  return bytesToIp(attr.value)
}

/** Read a link-layer address attribute as lowercase colon-separated hex (any length). */
export function readMacAttr(attr: Attribute): string {
  return bytesToMac(attr.value)
}

/** True for the two families whose addresses this codec turns into text. */
export function isIpFamily(family: number): boolean {
  return family === AF.INET || family === AF.INET6
}

/** Bytes of IP text for an attribute, checking that it matches `family` when one is set. */
export function ipBytesForFamily(text: string, family: number, what: string): Buffer {
  const bytes = ipToBytes(text)
  const expected = family === AF.INET ? 4 : family === AF.INET6 ? 16 : bytes.length
  if (bytes.length !== expected) {
    throw new NetlinkEncodeError(`${what} ${text} does not match address family ${family}`)
  }
  return bytes
}

/** Bytes of a link-layer address: MAC text, or raw bytes passed through. */
export function linkAddressBytes(address: string | Uint8Array): Uint8Array {
  return typeof address === 'string' ? macToBytes(address) : address
}

/** Throw unless `value` is an integer in `min..max` (for fixed-header fields). */
export function checkField(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new NetlinkEncodeError(`${what} must be an integer in ${min}..${max}, got ${value}`)
  }
  return value
}

/** Family of the first IP text among `texts`, or `fallback` when none is given. */
export function familyOfFirst(texts: readonly (string | undefined)[], fallback: number): number {
  for (const text of texts) if (text !== undefined) return ipToBytes(text).length === 4 ? AF.INET : AF.INET6
  return fallback
}
