// A small, test-only pcapng reader, written from the draft independently of
// harness/capture/pcapng.ts: it walks blocks and checks every length, the
// trailing copy of it, padding and option framing, and decodes what the
// writer puts in.
import { Buffer } from 'node:buffer'

export interface WalkedOption {
  code: number
  value: Buffer
}

export interface WalkedBlock {
  type: number
  offset: number
  body: Buffer
}

export interface Walked {
  section: { major: number; minor: number; sectionLength: bigint; options: WalkedOption[] }
  interfaces: { linkType: number; snapLength: number; options: WalkedOption[] }[]
  packets: {
    interfaceId: number
    timestamp: bigint
    captured: number
    original: number
    data: Buffer
    options: WalkedOption[]
  }[]
  names: { type: number; address: Buffer; names: string[] }[]
  secrets: { type: number; data: Buffer; options: WalkedOption[] }[]
  statistics: { interfaceId: number; timestamp: bigint; options: WalkedOption[] }[]
  blocks: WalkedBlock[]
}

function fail(msg: string): never {
  throw new Error(`pcapng walk: ${msg}`)
}

export function walkOptions(b: Buffer, at: number, end: number): WalkedOption[] {
  const out: WalkedOption[] = []
  if (at === end) return out
  for (;;) {
    if (at + 4 > end) fail(`option header at ${at} runs past the block (${end})`)
    const code = b.readUInt16LE(at)
    const len = b.readUInt16LE(at + 2)
    if (code === 0) {
      if (len !== 0) fail(`opt_endofopt with length ${len}`)
      if (at + 4 !== end) fail(`${end - at - 4} bytes after opt_endofopt`)
      return out
    }
    const padded = len + ((4 - (len % 4)) % 4)
    if (at + 4 + padded > end) fail(`option ${code} (${len} bytes) runs past the block`)
    for (let i = at + 4 + len; i < at + 4 + padded; i++) if (b[i] !== 0) fail(`non-zero padding at ${i}`)
    out.push({ code, value: Buffer.from(b.subarray(at + 4, at + 4 + len)) })
    at += 4 + padded
  }
}

export function option(options: WalkedOption[], code: number): Buffer | undefined {
  return options.find((o) => o.code === code)?.value
}

export function textOption(options: WalkedOption[], code: number): string | undefined {
  return option(options, code)?.toString('utf8')
}

export function walk(file: Buffer): Walked {
  const out: Walked = {
    section: { major: 0, minor: 0, sectionLength: 0n, options: [] },
    interfaces: [],
    packets: [],
    names: [],
    secrets: [],
    statistics: [],
    blocks: [],
  }
  let at = 0
  let sawSection = false
  while (at < file.length) {
    if (at + 12 > file.length) fail(`${file.length - at} stray bytes at ${at}`)
    const type = file.readUInt32LE(at)
    const total = file.readUInt32LE(at + 4)
    if (total % 4 !== 0 || total < 12) fail(`block at ${at}: total length ${total}`)
    if (at + total > file.length) fail(`block at ${at} (${total} bytes) runs past the file`)
    if (file.readUInt32LE(at + total - 4) !== total) fail(`block at ${at}: trailing length differs`)
    const body = file.subarray(at + 8, at + total - 4)
    out.blocks.push({ type, offset: at, body: Buffer.from(body) })
    if (!sawSection && type !== 0x0a0d0d0a) fail('the file does not start with a section header')
    switch (type) {
      case 0x0a0d0d0a: {
        sawSection = true
        if (body.readUInt32LE(0) !== 0x1a2b3c4d) fail('byte-order magic')
        out.section = {
          major: body.readUInt16LE(4),
          minor: body.readUInt16LE(6),
          sectionLength: body.readBigInt64LE(8),
          options: walkOptions(body, 16, body.length),
        }
        break
      }
      case 1:
        if (body.readUInt16LE(2) !== 0) fail('IDB reserved field')
        out.interfaces.push({
          linkType: body.readUInt16LE(0),
          snapLength: body.readUInt32LE(4),
          options: walkOptions(body, 8, body.length),
        })
        break
      case 6: {
        const captured = body.readUInt32LE(12)
        const padded = captured + ((4 - (captured % 4)) % 4)
        if (20 + padded > body.length) fail('EPB data runs past the block')
        out.packets.push({
          interfaceId: body.readUInt32LE(0),
          timestamp: (BigInt(body.readUInt32LE(4)) << 32n) | BigInt(body.readUInt32LE(8)),
          captured,
          original: body.readUInt32LE(16),
          data: Buffer.from(body.subarray(20, 20 + captured)),
          options: walkOptions(body, 20 + padded, body.length),
        })
        break
      }
      case 4: {
        let r = 0
        for (;;) {
          const rt = body.readUInt16LE(r)
          const rl = body.readUInt16LE(r + 2)
          if (rt === 0) {
            walkOptions(body, r + 4, body.length)
            break
          }
          const value = body.subarray(r + 4, r + 4 + rl)
          const alen = rt === 1 ? 4 : rt === 2 ? 16 : fail(`NRB record type ${rt}`)
          const names = value.subarray(alen).toString('utf8').split('\0')
          if (names.pop() !== '') fail('NRB names not NUL-terminated')
          out.names.push({ type: rt, address: Buffer.from(value.subarray(0, alen)), names })
          r += 4 + rl + ((4 - (rl % 4)) % 4)
        }
        break
      }
      case 10: {
        const len = body.readUInt32LE(4)
        const padded = len + ((4 - (len % 4)) % 4)
        out.secrets.push({
          type: body.readUInt32LE(0),
          data: Buffer.from(body.subarray(8, 8 + len)),
          options: walkOptions(body, 8 + padded, body.length),
        })
        break
      }
      case 5:
        out.statistics.push({
          interfaceId: body.readUInt32LE(0),
          timestamp: (BigInt(body.readUInt32LE(4)) << 32n) | BigInt(body.readUInt32LE(8)),
          options: walkOptions(body, 12, body.length),
        })
        break
      default:
        fail(`unexpected block type 0x${type.toString(16)}`)
    }
    at += total
  }
  if (!sawSection) fail('empty file')
  return out
}
