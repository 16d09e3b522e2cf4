/**
 * Address text <-> wire bytes: IPv4 (4 bytes), IPv6 (16 bytes), MAC (6 bytes), CIDR prefixes.
 *
 * IP text itself is parsed and printed by harness/util/ip.ts (shared with harness/sys's
 * sockaddr code; re-exported here): canonical, so that it compares equal to what `ip -j`
 * prints. MAC addresses come out as lowercase colon-separated hex.
 */
import { Buffer } from 'node:buffer'
import {
  InvalidAddressError,
  bytesToIp,
  bytesToIpv4,
  bytesToIpv6,
  canonicalIp,
  ipToBytes,
  ipv4ToBytes,
  ipv6ToBytes,
} from '../../util/ip.js'
import { AF } from './constants.js'

export { bytesToIp, bytesToIpv4, bytesToIpv6, canonicalIp, ipToBytes, ipv4ToBytes, ipv6ToBytes }

/** `AF.INET` or `AF.INET6`. */
export type IpFamily = typeof AF.INET | typeof AF.INET6

/** A parsed CIDR prefix. */
export interface Cidr {
  family: IpFamily
  /** Canonical text of the address part (host bits are kept, as `ip addr add` keeps them). */
  address: string
  prefixLen: number
  /** Wire bytes of the address (4 or 16). */
  bytes: Buffer
}

/** The address family of IP text (`AF.INET6` if it has a colon), after validating it. */
export function ipFamily(text: string): IpFamily {
  return ipToBytes(text).length === 4 ? AF.INET : AF.INET6
}

/** Byte length of an address of `family`. */
export function familyAddressLength(family: IpFamily): 4 | 16 {
  return family === AF.INET ? 4 : 16
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
  const family: IpFamily = bytes.length === 4 ? AF.INET : AF.INET6
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

/**
 * MAC text (six 1- or 2-digit hex groups separated by `:` or `-`, any case) to 6 bytes.
 */
export function macToBytes(text: string): Buffer {
  const parts = text.split(/[:-]/)
  if (parts.length !== 6)
    throw new InvalidAddressError(text, 'a MAC address has six hex groups separated by ":"')
  const out = Buffer.alloc(6)
  parts.forEach((part, i) => {
    if (!/^[0-9a-fA-F]{1,2}$/.test(part)) {
      throw new InvalidAddressError(text, `${JSON.stringify(part)} is not one or two hex digits`)
    }
    out[i] = parseInt(part, 16)
  })
  return out
}

/**
 * Link-layer address bytes as `ip` prints them: lowercase two-digit hex joined by `:`. Any length
 * is accepted (Ethernet has 6, InfiniBand 20, some tunnels 4 or 0).
 */
export function bytesToMac(bytes: Uint8Array): string {
  let text = ''
  for (let i = 0; i < bytes.length; i++) text += (i === 0 ? '' : ':') + HEX2[bytes[i]!]
  return text
}

/** '00'..'ff' by byte value. */
const HEX2 = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))
