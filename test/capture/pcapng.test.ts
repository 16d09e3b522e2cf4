// The pcapng writer, checked three ways: exact bytes of small blocks against
// the draft, our own walker (test/capture/walker.ts) over anything fast-check
// makes, and Wireshark's readers (tshark, capinfos) over the same files.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type InterfaceOptions,
  type NameRecord,
  type PacketOptions,
  PcapngError,
  SECRETS_TYPE,
  type SecretsOptions,
  buildPcapng,
  interfaceBlock,
  nameResolutionBlock,
  packetBlock,
  pcapngBlocks,
  secretsBlock,
  sectionHeaderBlock,
} from '../../harness/capture/pcapng.js'
import { writeBlocks } from '../../harness/capture/pcapng-file.js'
import { capinfos, tsharkFields, tsharkNamed } from './tshark.js'
import { option, textOption, walk } from './walker.js'

const dir = mkdtempSync(join(tmpdir(), 'nslab-pcapng-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let fileCount = 0
function file(bytes: Buffer): string {
  const path = join(dir, `f${fileCount++}.pcapng`)
  writeFileSync(path, bytes)
  return path
}

// Skipped (and named so in the report) where tshark is missing, e.g. the container image until it lists it.

/** Ethernet + IPv4 + ICMP echo request (type 8) or reply (type 0). */
function icmpFrame(src: string, dst: string, type = 8): Buffer {
  const eth = Buffer.from('020000000002' + '020000000001' + '0800', 'hex')
  const ip = Buffer.alloc(20)
  ip[0] = 0x45
  ip.writeUInt16BE(28, 2)
  ip[8] = 64
  ip[9] = 1
  Buffer.from(src.split('.').map(Number)).copy(ip, 12)
  Buffer.from(dst.split('.').map(Number)).copy(ip, 16)
  const icmp = Buffer.from([type, 0, 0, 0, 0, 1, 0, 1])
  return Buffer.concat([eth, ip, icmp])
}

describe('blocks, byte for byte', () => {
  it('a section header without options: magic, version 1.0, unknown section length', () => {
    expect(sectionHeaderBlock().toString('hex')).toBe(
      '0a0d0d0a' + '1c000000' + '4d3c2b1a' + '0100' + '0000' + 'ffffffffffffffff' + '1c000000',
    )
  })

  it('options are padded to 32 bits and ended by opt_endofopt', () => {
    const b = sectionHeaderBlock({ application: 'nslab' })
    // 28 bytes of header + option (4 + 5 + 3 padding) + endofopt (4)
    expect(b.length).toBe(28 + 12 + 4)
    expect(b.readUInt32LE(4)).toBe(b.length)
    expect(b.subarray(24, 40).toString('hex')).toBe(
      '0400' + '0500' + Buffer.from('nslab').toString('hex') + '000000' + '00000000',
    )
  })

  it('an interface block carries its name, description and if_tsresol 9', () => {
    const w = walk(
      Buffer.concat([sectionHeaderBlock(), interfaceBlock({ name: 'a/eth0', description: 'a ↔ b' })]),
    )
    const [i] = w.interfaces
    expect(i!.linkType).toBe(1)
    expect(i!.snapLength).toBe(262144)
    expect(textOption(i!.options, 2)).toBe('a/eth0')
    expect(textOption(i!.options, 3)).toBe('a ↔ b')
    expect(option(i!.options, 9)).toEqual(Buffer.from([9]))
  })

  it('a packet block: split 64-bit nanosecond timestamp, lengths, padded data, direction flags', () => {
    const ts = 1_796_642_646_008_000_123n
    const data = Buffer.from([1, 2, 3, 4, 5])
    const b = packetBlock({ interfaceId: 3, timestamp: ts, data, originalLength: 9, direction: 'out' })
    expect(b.readUInt32LE(0)).toBe(6)
    expect(b.readUInt32LE(8)).toBe(3)
    expect((BigInt(b.readUInt32LE(12)) << 32n) | BigInt(b.readUInt32LE(16))).toBe(ts)
    expect(b.readUInt32LE(20)).toBe(5)
    expect(b.readUInt32LE(24)).toBe(9)
    expect(b.subarray(28, 36).toString('hex')).toBe('0102030405000000')
    // epb_flags (code 2, 4 bytes) = outbound (2)
    expect(b.subarray(36, 44).toString('hex')).toBe('02000400' + '02000000')
    expect(b.readUInt32LE(b.length - 4)).toBe(b.length)
  })

  it('a name resolution block: address, NUL-terminated names, end record', () => {
    const b = nameResolutionBlock([{ address: '198.18.0.1', names: ['a'] }])
    expect(b.subarray(8, b.length - 4).toString('hex')).toBe(
      '0100' + '0600' + 'c6120001' + '6100' + '0000' + '00000000',
    )
    const w = walk(
      Buffer.concat([
        sectionHeaderBlock(),
        nameResolutionBlock([{ address: 'fd00::1', names: ['a', 'a.lab'] }]),
      ]),
    )
    expect(w.names).toEqual([
      { type: 2, address: Buffer.from('fd000000000000000000000000000001', 'hex'), names: ['a', 'a.lab'] },
    ])
  })

  it('a decryption secrets block: type, length, padded key log', () => {
    const b = secretsBlock({ type: SECRETS_TYPE.WIREGUARD_KEY_LOG, data: 'abc' })
    expect(b.readUInt32LE(0)).toBe(0x0a)
    expect(b.readUInt32LE(8)).toBe(0x57474b4c)
    expect(b.readUInt32LE(12)).toBe(3)
    expect(b.subarray(16, 20).toString('hex')).toBe('61626300')
  })

  it('bad input gets one sentence naming what is wrong', () => {
    expect(() => nameResolutionBlock([{ address: 'b', names: ['b'] }])).toThrow(
      'name resolution: "b" is not an IPv4 or IPv6 address',
    )
    expect(() =>
      buildPcapng({
        interfaces: [{ name: 'x' }],
        packets: [{ interfaceId: 1, timestamp: 0n, data: Buffer.alloc(1) }],
      }),
    ).toThrow('packet: interface id 1 is not one of the 1 interfaces of this file')
    expect(() => packetBlock({ interfaceId: 0, timestamp: -1n, data: Buffer.alloc(1) })).toThrow(PcapngError)
    expect(() => interfaceBlock({ name: 'x', description: 'd'.repeat(70000) })).toThrow(
      'interface x: if_description is 70000 bytes; a pcapng option holds at most 65535',
    )
  })
})

describe('Wireshark reads what we write', () => {
  const t0 = 1_796_642_646_000_000_000n
  const content = {
    section: { application: 'nslab 0.1.0', comment: 'lab L1, test "pings"' },
    interfaces: [
      { name: 'a/0d2c-b', description: 'a ↔ b (veth, a end)' },
      { name: 'b/0d2c-a', description: 'b ↔ a (veth, b end)' },
    ],
    names: new Map([
      ['198.18.0.1', 'a'],
      ['198.18.0.2', 'b'],
    ]),
    secrets: [
      { type: SECRETS_TYPE.TLS_KEY_LOG, data: `CLIENT_RANDOM ${'00'.repeat(32)} ${'11'.repeat(48)}\n` },
      {
        type: SECRETS_TYPE.WIREGUARD_KEY_LOG,
        data: 'LOCAL_STATIC_PRIVATE_KEY = cGFzc3dvcmRwYXNzd29yZHBhc3N3b3JkcGFzc3dvcmQ=\n',
      },
    ],
    packets: [
      {
        interfaceId: 0,
        timestamp: t0,
        data: icmpFrame('198.18.0.1', '198.18.0.2', 8),
        direction: 'out' as const,
      },
      {
        interfaceId: 1,
        timestamp: t0 + 20_000n,
        data: icmpFrame('198.18.0.1', '198.18.0.2', 8),
        direction: 'in' as const,
      },
      {
        interfaceId: 1,
        timestamp: t0 + 30_000n,
        data: icmpFrame('198.18.0.2', '198.18.0.1', 0),
        direction: 'out' as const,
      },
      {
        interfaceId: 0,
        timestamp: t0 + 50_001n,
        data: icmpFrame('198.18.0.2', '198.18.0.1', 0),
        direction: 'in' as const,
      },
    ],
    statistics: [{ interfaceId: 0, timestamp: t0 + 60_000n, received: 2, osDropped: 0, delivered: 2 }],
  }

  it('interfaces, descriptions, directions, nanosecond times and names, as tshark sees them', () => {
    const f = file(buildPcapng(content))
    expect(
      tsharkFields(f, [
        'frame.number',
        'frame.interface_name',
        'frame.interface_description',
        'frame.packet_flags_direction',
        'frame.p2p_dir',
        'icmp.type',
        'frame.time_epoch',
      ]),
    ).toEqual([
      ['1', 'a/0d2c-b', 'a ↔ b (veth, a end)', '0x00000002', '0', '8', '1796642646.000000000'],
      ['2', 'b/0d2c-a', 'b ↔ a (veth, b end)', '0x00000001', '1', '8', '1796642646.000020000'],
      ['3', 'b/0d2c-a', 'b ↔ a (veth, b end)', '0x00000002', '0', '0', '1796642646.000030000'],
      ['4', 'a/0d2c-b', 'a ↔ b (veth, a end)', '0x00000001', '1', '0', '1796642646.000050001'],
    ])
    expect(tsharkNamed(f, ['ip.src_host', 'ip.dst_host'])).toEqual([
      ['a', 'b'],
      ['a', 'b'],
      ['b', 'a'],
      ['b', 'a'],
    ])
    const info = capinfos(f)
    expect(info).toContain('Capture application: nslab 0.1.0')
    expect(info).toContain('Capture comment:     lab L1, test "pings"')
    expect(info).toContain('Number of resolved IPv4 addresses in file: 2')
    expect(info).toContain('Number of decryption secrets in file: 2')
    expect(info).toContain('Number of stat entries = 1')
  })

  it('the streaming writer gives the same bytes to a file and to a stream', async () => {
    const whole = buildPcapng(content)
    const path = join(dir, 'streamed.pcapng')
    const r = await writeBlocks(path, pcapngBlocks(content))
    expect(readFileSync(path)).toEqual(whole)
    expect(r).toEqual({ blocks: 1 + 2 + 2 + 1 + 4 + 1, bytes: whole.length })
    const sink = new PassThrough()
    const parts: Buffer[] = []
    sink.on('data', (c: Buffer) => parts.push(c))
    await writeBlocks(sink, pcapngBlocks(content))
    expect(Buffer.concat(parts)).toEqual(whole)
  })
})

describe('a disk that fills while writing', () => {
  it('stops with one sentence, and the file keeps its whole blocks, readable by tshark', () => {
    const mnt = mkdtempSync(join(dir, 'mnt-'))
    const out = join(dir, 'full.pcapng')
    const fixture = join(import.meta.dirname, 'fixtures', 'fill-disk.ts')
    // A 256 KiB tmpfs in a private mount namespace: the host's mounts stay as they were.
    const r = spawnSync(
      'unshare',
      [
        '--mount',
        'sh',
        '-ec',
        `mount -t tmpfs -o size=256k nslab-capture-test "$1"; ${process.execPath} --import tsx "$2" "$1/f.pcapng"; cp "$1/f.pcapng" "$3"`,
        'sh',
        mnt,
        fixture,
        out,
      ],
      { encoding: 'utf8' },
    )
    expect(r.stderr).toBe('')
    const said = JSON.parse(r.stdout) as {
      ok: boolean
      message: string
      written: { blocks: number; bytes: number }
    }
    expect(said.ok).toBe(false)
    expect(said.message).toMatch(
      /^writing the capture file .*\/f\.pcapng failed after \d+ blocks \(\d+ bytes\): ENOSPC: no space left on device, write; the file keeps the blocks before the failure and Wireshark reads it$/,
    )
    expect(statSync(out).size).toBe(said.written.bytes)
    const frames = tsharkFields(out, ['frame.number'])
    expect(frames.length).toBe(said.written.blocks - 2) // section header and interface
    expect(frames.length).toBeGreaterThan(100)
    expect(walk(readFileSync(out)).packets.length).toBe(frames.length)
  })
})

// --- properties -------------------------------------------------------------

const ifaceName = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,14}\/[a-z0-9][a-z0-9._@-]{0,14}$/)
const description = fc.option(
  fc
    .string({ minLength: 1, maxLength: 60, unit: 'grapheme' })
    .filter((s) => /^[\p{L}\p{N} ↔().,/-]+$/u.test(s) && s.trim() === s),
  { nil: undefined },
)
const ipv4 = fc.ipV4()
const ipv6 = fc.ipV6()
const hostName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/)

interface Case {
  interfaces: InterfaceOptions[]
  packets: PacketOptions[]
  names: NameRecord[]
  secrets: SecretsOptions[]
}

const caseArb: fc.Arbitrary<Case> = fc
  .uniqueArray(fc.record({ name: ifaceName, description }), {
    minLength: 1,
    maxLength: 5,
    selector: (i) => i.name,
  })
  .chain((ifaces) =>
    fc.record({
      interfaces: fc.constant(ifaces.map((i) => (i.description === undefined ? { name: i.name } : i))),
      packets: fc.array(
        fc
          .record({
            interfaceId: fc.integer({ min: 0, max: ifaces.length - 1 }),
            timestamp: fc.bigInt({ min: 0n, max: (1n << 62n) - 1n }),
            data: fc.uint8Array({ minLength: 14, maxLength: 200 }),
            extra: fc.nat({ max: 100 }),
            direction: fc.constantFrom(undefined, 'in' as const, 'out' as const),
          })
          .map(({ extra, direction, ...p }) => ({
            ...p,
            originalLength: p.data.length + extra,
            ...(direction ? { direction } : {}),
          })),
        { maxLength: 30 },
      ),
      names: fc.uniqueArray(
        fc.record({
          address: fc.oneof(ipv4, ipv6),
          names: fc.array(hostName, { minLength: 1, maxLength: 3 }),
        }),
        {
          maxLength: 8,
          selector: (n) => n.address,
        },
      ),
      secrets: fc.array(
        fc.record({
          type: fc.constantFrom(SECRETS_TYPE.TLS_KEY_LOG, SECRETS_TYPE.WIREGUARD_KEY_LOG),
          data: fc.string({ maxLength: 300 }),
        }),
        { maxLength: 3 },
      ),
    }),
  )

describe('any sequence of interfaces, packets, names and secrets', () => {
  it('walks back to what went in', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const w = walk(buildPcapng({ section: { application: 'nslab test' }, ...c }))
        expect(w.interfaces.map((i) => textOption(i.options, 2))).toEqual(c.interfaces.map((i) => i.name))
        expect(w.interfaces.map((i) => textOption(i.options, 3))).toEqual(
          c.interfaces.map((i) => i.description),
        )
        expect(w.packets.map((p) => [p.interfaceId, p.timestamp, p.original, [...p.data]])).toEqual(
          c.packets.map((p) => [p.interfaceId, p.timestamp, p.originalLength, [...p.data]]),
        )
        expect(w.packets.map((p) => option(p.options, 2)?.readUInt32LE(0) ?? 0)).toEqual(
          c.packets.map((p) => (p.direction === 'in' ? 1 : p.direction === 'out' ? 2 : 0)),
        )
        expect(w.names.map((n) => n.names)).toEqual(c.names.map((n) => n.names))
        expect(w.secrets.map((s) => [s.type, s.data.toString('utf8')])).toEqual(
          c.secrets.map((s) => [s.type, s.data]),
        )
      }),
      { numRuns: 300 },
    )
  })

  it('tshark and capinfos read it: frame count, interfaces, directions, names, secrets', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const f = file(buildPcapng({ section: { application: 'nslab test' }, ...c }))
        const rows = tsharkFields(f, [
          'frame.interface_name',
          'frame.interface_description',
          'frame.packet_flags_direction',
          'frame.len',
          'frame.cap_len',
        ])
        expect(rows.length).toBe(c.packets.length)
        rows.forEach((row, i) => {
          const p = c.packets[i]!
          const iface = c.interfaces[p.interfaceId]!
          expect(row[0]).toBe(iface.name)
          expect(row[1]).toBe(iface.description ?? '')
          expect(row[2]).toBe(p.direction === 'in' ? '0x00000001' : p.direction === 'out' ? '0x00000002' : '')
          expect(row[3]).toBe(String(p.originalLength))
          expect(row[4]).toBe(String(p.data.length))
        })
        const info = capinfos(f)
        expect(info).toContain(`Number of interfaces in file: ${c.interfaces.length}`)
        // capinfos counts names, not addresses (an address with two names counts twice).
        const count = (v6: boolean): number =>
          c.names.filter((n) => n.address.includes(':') === v6).reduce((sum, n) => sum + n.names.length, 0)
        const v4 = count(false)
        const v6 = count(true)
        if (v4 > 0) expect(info).toContain(`Number of resolved IPv4 addresses in file: ${v4}`)
        if (v6 > 0) expect(info).toContain(`Number of resolved IPv6 addresses in file: ${v6}`)
        if (c.secrets.length > 0)
          expect(info).toContain(`Number of decryption secrets in file: ${c.secrets.length}`)
      }),
      { numRuns: 12 },
    )
  })
})
