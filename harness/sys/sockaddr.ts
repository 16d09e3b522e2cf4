import { Buffer } from 'node:buffer'
import { isIPv4, isIPv6 } from 'node:net'
import { bytesToIpv4, bytesToIpv6, ipv4ToBytes, ipv6ToBytes } from '../util/ip.js'
import { AF_INET, AF_INET6, AF_NETLINK, AF_PACKET } from './constants.js'

/** struct sockaddr_nl: family, pad, port id, multicast groups bitmap. */
export function sockaddrNl(pid = 0, groups = 0): Buffer {
  const b = Buffer.alloc(12)
  b.writeUInt16LE(AF_NETLINK, 0)
  b.writeUInt32LE(pid >>> 0, 4)
  b.writeUInt32LE(groups >>> 0, 8)
  return b
}

/**
 * struct sockaddr_ll for bind(2) of a packet socket: family, protocol
 * (network order), interface index (0: every device of the namespace).
 */
export function sockaddrLl(protocol: number, ifindex = 0): Buffer {
  const b = Buffer.alloc(20)
  b.writeUInt16LE(AF_PACKET, 0)
  b.writeUInt16BE(protocol, 2)
  b.writeInt32LE(ifindex, 4)
  return b
}

/** struct sockaddr_in / sockaddr_in6 for a literal address and port. */
export function sockaddrIp(address: string, port = 0, scopeId = 0): Buffer {
  if (isIPv4(address)) {
    const b = Buffer.alloc(16)
    b.writeUInt16LE(AF_INET, 0)
    b.writeUInt16BE(port, 2)
    ipv4ToBytes(address).copy(b, 4)
    return b
  }
  if (isIPv6(address)) {
    const b = Buffer.alloc(28)
    b.writeUInt16LE(AF_INET6, 0)
    b.writeUInt16BE(port, 2)
    // A zone (fe80::1%eth0) is given as scopeId here, not in the text.
    ipv6ToBytes(address.split('%')[0]!).copy(b, 8)
    b.writeUInt32LE(scopeId, 24)
    return b
  }
  throw new TypeError(`not a literal IP address: ${JSON.stringify(address)}`)
}

/** Decode a sockaddr_in/in6 into address text and port. */
export function parseSockaddrIp(b: Buffer): { family: 4 | 6; address: string; port: number } {
  const family = b.readUInt16LE(0)
  if (family === AF_INET && b.length >= 8) {
    return { family: 4, address: bytesToIpv4(b.subarray(4, 8)), port: b.readUInt16BE(2) }
  }
  if (family === AF_INET6 && b.length >= 24) {
    return { family: 6, address: bytesToIpv6(b.subarray(8, 24)), port: b.readUInt16BE(2) }
  }
  throw new TypeError(`not an IPv4/IPv6 sockaddr (family ${family}, ${b.length} bytes)`)
}
