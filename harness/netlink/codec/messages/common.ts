/**
 * Helpers shared by the per-object message codecs: bounds checks for fixed headers and typed
 * readers/writers for address-valued attributes.
 */
import { bytesToIp, ipToBytes } from '../../../util/ip.js'
import { bytesToMac, macToBytes } from '../address.js'
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

/**
 * Bytes of an IP address for an attribute, checking that it matches `family` when one is set.
 * Given as text, or as the 4 or 16 bytes a caller already parsed (they are used as they are).
 */
export function ipBytesForFamily(ip: string | Uint8Array, family: number, what: string): Uint8Array {
  const bytes = typeof ip === 'string' ? ipToBytes(ip) : ip
  const expected = family === AF.INET ? 4 : family === AF.INET6 ? 16 : bytes.length
  if (bytes.length !== expected || (typeof ip !== 'string' && bytes.length !== 4 && bytes.length !== 16)) {
    const text = typeof ip === 'string' ? ip : `of ${ip.length} bytes`
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

/** Family of the first IP address (text or bytes) among `ips`, or `fallback` when none is given. */
export function familyOfFirst(ips: readonly (string | Uint8Array | undefined)[], fallback: number): number {
  for (const ip of ips) {
    if (ip === undefined) continue
    return (typeof ip === 'string' ? ipToBytes(ip) : ip).length === 4 ? AF.INET : AF.INET6
  }
  return fallback
}
