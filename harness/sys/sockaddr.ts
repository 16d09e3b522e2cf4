import { isIPv4, isIPv6 } from 'node:net'
import { AF_INET, AF_INET6, AF_NETLINK } from './constants.js'

/** struct sockaddr_nl: family, pad, port id, multicast groups bitmap. */
export function sockaddrNl(pid = 0, groups = 0): Buffer {
  const b = Buffer.alloc(12)
  b.writeUInt16LE(AF_NETLINK, 0)
  b.writeUInt32LE(pid >>> 0, 4)
  b.writeUInt32LE(groups >>> 0, 8)
  return b
}

/** struct sockaddr_in / sockaddr_in6 for a literal address and port. */
export function sockaddrIp(address: string, port = 0, scopeId = 0): Buffer {
  if (isIPv4(address)) {
    const b = Buffer.alloc(16)
    b.writeUInt16LE(AF_INET, 0)
    b.writeUInt16BE(port, 2)
    address.split('.').forEach((o, i) => b.writeUInt8(Number(o), 4 + i))
    return b
  }
  if (isIPv6(address)) {
    const b = Buffer.alloc(28)
    b.writeUInt16LE(AF_INET6, 0)
    b.writeUInt16BE(port, 2)
    ipv6Bytes(address).copy(b, 8)
    b.writeUInt32LE(scopeId, 24)
    return b
  }
  throw new TypeError(`not a literal IP address: ${JSON.stringify(address)}`)
}

/** Decode a sockaddr_in/in6 into address text and port. */
export function parseSockaddrIp(b: Buffer): { family: 4 | 6; address: string; port: number } {
  const family = b.readUInt16LE(0)
  if (family === AF_INET && b.length >= 8) {
    return { family: 4, address: [...b.subarray(4, 8)].join('.'), port: b.readUInt16BE(2) }
  }
  if (family === AF_INET6 && b.length >= 24) {
    const words: string[] = []
    for (let i = 0; i < 8; i++) words.push(b.readUInt16BE(8 + i * 2).toString(16))
    return { family: 6, address: compressIpv6(words), port: b.readUInt16BE(2) }
  }
  throw new TypeError(`not an IPv4/IPv6 sockaddr (family ${family}, ${b.length} bytes)`)
}

function ipv6Bytes(address: string): Buffer {
  let text = address
  const out = Buffer.alloc(16)
  // Embedded IPv4 tail (::ffff:1.2.3.4).
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  let tail: number[] = []
  if (v4?.[1]) {
    const o = v4[1].split('.').map(Number)
    tail = [((o[0] ?? 0) << 8) | (o[1] ?? 0), ((o[2] ?? 0) << 8) | (o[3] ?? 0)]
    text = text.slice(0, -v4[1].length) + '0:0'
  }
  const [head, rest] = text.split('::') as [string, string | undefined]
  const h = head ? head.split(':') : []
  const r = rest === undefined ? [] : rest ? rest.split(':') : []
  const zeros = rest === undefined ? 0 : 8 - h.length - r.length
  const words = [...h, ...Array<string>(zeros).fill('0'), ...r].map((w) => parseInt(w, 16))
  if (tail.length) words.splice(6, 2, ...tail)
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2))
  return out
}

function compressIpv6(words: string[]): string {
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (words[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && words[j] === '0') j++
    if (j - i > bestLen && j - i > 1) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  if (bestStart < 0) return words.join(':')
  return `${words.slice(0, bestStart).join(':')}::${words.slice(bestStart + bestLen).join(':')}`
}
