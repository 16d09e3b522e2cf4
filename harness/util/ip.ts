/**
 * IP address text <-> bytes, shared by the bottom layer (harness/sys: sockaddr)
 * and the netlink codec. Pure, imports nothing but node:buffer.
 *
 * Output is canonical so that it compares equal to what `ip -j` prints:
 * dotted-quad IPv4, RFC 5952 IPv6 (lowercase, no leading zeros, the longest
 * run of two or more zero groups compressed to `::`, the first such run on a
 * tie, IPv4-mapped addresses as `::ffff:a.b.c.d`). (glibc's `inet_ntop`,
 * which `ip` uses, also prints the deprecated IPv4-compatible range `::/96`
 * in dotted form, e.g. `::0.0.0.2`; we do not.)
 */

import { Buffer } from 'node:buffer'

/** Text that is not a valid IPv4/IPv6/MAC address or CIDR prefix. */
export class InvalidAddressError extends Error {
  override readonly name = 'InvalidAddressError'

  constructor(
    /** The text that was rejected. */
    readonly input: string,
    /** Why it was rejected. */
    readonly reason: string,
  ) {
    super(`invalid address ${JSON.stringify(input)}: ${reason}`)
  }
}

const IPV4_OCTET = /^(0|[1-9][0-9]{0,2})$/
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/

function parseIPv4Into(text: string, original: string, out: Uint8Array, offset: number): void {
  const parts = text.split('.')
  if (parts.length !== 4)
    throw new InvalidAddressError(original, 'an IPv4 address has four dot-separated numbers')
  parts.forEach((part, i) => {
    if (!IPV4_OCTET.test(part)) {
      throw new InvalidAddressError(
        original,
        `${JSON.stringify(part)} is not a decimal number 0..255 without leading zeros`,
      )
    }
    const value = Number(part)
    if (value > 255) throw new InvalidAddressError(original, `${part} is larger than 255`)
    out[offset + i] = value
  })
}

/** IPv4 dotted-quad text to 4 bytes. Leading zeros are rejected (`010` is ambiguous). */
export function ipv4ToBytes(text: string): Buffer {
  const out = Buffer.allocUnsafe(4) // pooled; every byte is written
  parseIPv4Into(text, text, out, 0)
  return out
}

function parseGroups(text: string, original: string): number[] {
  if (text === '') return []
  return text.split(':').map((group) => {
    if (!IPV6_GROUP.test(group)) {
      throw new InvalidAddressError(original, `${JSON.stringify(group)} is not a group of 1 to 4 hex digits`)
    }
    return parseInt(group, 16)
  })
}

/** IPv6 text (any valid RFC 4291 form, including a trailing dotted IPv4 part) to 16 bytes. */
export function ipv6ToBytes(text: string): Buffer {
  if (text.includes('%')) throw new InvalidAddressError(text, 'zone indexes (%...) are not supported')
  let body = text
  const tail: number[] = []
  if (body.includes('.')) {
    const cut = body.lastIndexOf(':')
    if (cut === -1) throw new InvalidAddressError(text, 'an IPv6 address contains colons')
    const v4 = new Uint8Array(4)
    parseIPv4Into(body.slice(cut + 1), text, v4, 0)
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
    // drop the separator before the IPv4 part, but keep a "::" ("::1.2.3.4", "64:ff9b::1.2.3.4")
    body = body.slice(0, cut + 1)
    if (!body.endsWith('::')) body = body.slice(0, -1)
  }
  const halves = body.split('::')
  if (halves.length > 2) throw new InvalidAddressError(text, '"::" may appear only once')
  let groups: number[]
  if (halves.length === 2) {
    const head = parseGroups(halves[0] ?? '', text)
    const rest = [...parseGroups(halves[1] ?? '', text), ...tail]
    const zeros = 8 - head.length - rest.length
    if (zeros < 1) throw new InvalidAddressError(text, '"::" must stand for at least one zero group')
    groups = [...head, ...new Array<number>(zeros).fill(0), ...rest]
  } else {
    groups = [...parseGroups(body, text), ...tail]
    if (groups.length !== 8) {
      throw new InvalidAddressError(
        text,
        `an IPv6 address without "::" has 8 groups, this one has ${groups.length}`,
      )
    }
  }
  const out = Buffer.allocUnsafe(16) // pooled; every byte is written
  groups.forEach((group, i) => out.writeUInt16BE(group, i * 2))
  return out
}

/** Canonical text of 4 bytes. */
export function bytesToIpv4(bytes: Uint8Array): string {
  if (bytes.length !== 4)
    throw new InvalidAddressError(hex(bytes), `an IPv4 address has 4 bytes, not ${bytes.length}`)
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`
}

/** RFC 5952 canonical text of 16 bytes. */
export function bytesToIpv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) {
    throw new InvalidAddressError(hex(bytes), `an IPv6 address has 16 bytes, not ${bytes.length}`)
  }
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0))
  // IPv4-mapped ::ffff:a.b.c.d (RFC 5952 section 5)
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytesToIpv4(bytes.subarray(12))}`
  }
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const text = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':')
  if (bestLen < 2) return text(groups)
  return `${text(groups.slice(0, bestStart))}::${text(groups.slice(bestStart + bestLen))}`
}

/** IPv4 or IPv6 text to bytes (4 or 16); IPv6 is recognised by its colon. */
export function ipToBytes(text: string): Buffer {
  return text.includes(':') ? ipv6ToBytes(text) : ipv4ToBytes(text)
}

/** Canonical text of a 4- or 16-byte address. */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytesToIpv4(bytes)
  if (bytes.length === 16) return bytesToIpv6(bytes)
  throw new InvalidAddressError(hex(bytes), `an IP address has 4 or 16 bytes, not ${bytes.length}`)
}

/** Canonical form of IP text: `canonicalIp('FD00:0::01')` is `'fd00::1'`. */
export function canonicalIp(text: string): string {
  return bytesToIp(ipToBytes(text))
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

// ------------------------------------------------------------------ prefixes

/** The address families of IP text, as the kernel numbers them (AF_INET, AF_INET6). */
const AF_INET = 2
const AF_INET6 = 10

/** AF_INET (2) or AF_INET6 (10). */
export type IpFamily = typeof AF_INET | typeof AF_INET6

/** A parsed CIDR prefix. */
export interface Cidr {
  family: IpFamily
  /** Canonical text of the address part (host bits are kept, as `ip addr add` keeps them). */
  address: string
  prefixLen: number
  /** Wire bytes of the address (4 or 16). */
  bytes: Buffer
}

/** The address family of IP text (`AF_INET6` if it has a colon), after validating it. */
export function ipFamily(text: string): IpFamily {
  return ipToBytes(text).length === 4 ? AF_INET : AF_INET6
}

/** Byte length of an address of `family`. */
export function familyAddressLength(family: IpFamily): 4 | 16 {
  return family === AF_INET ? 4 : 16
}

/**
 * Parse `address/prefixLen` (IPv4 or IPv6). Without `/len` the prefix is the full address
 * length (32 or 128), as `ip` does. The prefix is decimal, 0..32 or 0..128.
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/')
  const addressText = slash === -1 ? text : text.slice(0, slash)
  let bytes: Buffer
  try {
    bytes = ipToBytes(addressText)
  } catch (err) {
    // name the whole prefix the caller wrote, not just its address part
    if (err instanceof InvalidAddressError) throw new InvalidAddressError(text, err.reason)
    throw err
  }
  const family: IpFamily = bytes.length === 4 ? AF_INET : AF_INET6
  const max = bytes.length * 8
  let prefixLen = max
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1)
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) {
      throw new InvalidAddressError(
        text,
        `prefix length ${JSON.stringify(prefixText)} is not a decimal number`,
      )
    }
    prefixLen = Number(prefixText)
    if (prefixLen > max)
      throw new InvalidAddressError(text, `prefix length ${prefixLen} is larger than ${max}`)
  }
  return { family, address: bytesToIp(bytes), prefixLen, bytes }
}

/** `address/prefixLen` in canonical form. */
export function formatCidr(cidr: { address: string; prefixLen: number }): string {
  return `${canonicalIp(cidr.address)}/${cidr.prefixLen}`
}
