/** Classic BPF programs laid out as the kernel reads them (struct sock_filter, struct sock_fprog). */
import { describe, expect, it } from 'vitest'
import { BPF, type BpfInstruction, socketFilter, toEbpf } from '../../harness/sys/socket-filter.js'
import { DROP_LOCAL_TABLE_ROUTES } from '../../harness/netlink/transport/local-routes-filter.js'

/** Drop datagrams whose byte 20 is 255 (the local table), keep the rest. */
const SMALL: BpfInstruction[] = [
  [BPF.LD_B_ABS, 0, 0, 20],
  [BPF.JEQ_K, 0, 1, 255],
  [BPF.RET_K, 0, 0, 0],
  [BPF.RET_K, 0, 0, 0xffffffff],
]

describe('socketFilter', () => {
  it('writes each instruction as u16 code, u8 jt, u8 jf, u32 k, and a sock_fprog with their count', () => {
    const f = socketFilter(SMALL)
    expect(f.instructions.toString('hex')).toBe(
      '3000000014000000' + '15000001ff000000' + '0600000000000000' + '06000000ffffffff',
    )
    expect(f.fprog.readUInt16LE(0)).toBe(4)
    expect(f.fprog.readBigUInt64LE(8)).not.toBe(0n)
  })

  it('refuses a program that jumps past its end, does not end with a return, or is empty', () => {
    expect(() =>
      socketFilter([
        [BPF.JEQ_K, 2, 0, 1],
        [BPF.RET_K, 0, 0, 0],
      ]),
    ).toThrow('socket filter instruction 0 jumps past the end')
    expect(() => socketFilter([[BPF.LD_B_ABS, 0, 0, 0]])).toThrow('instruction 0 jumps past the end')
    expect(() =>
      socketFilter([
        [BPF.LD_B_ABS, 0, 0, 0],
        [BPF.LD_B_ABS, 0, 0, 0],
      ]),
    ).toThrow(/jumps past the end|must end with a return/)
    expect(() => socketFilter([])).toThrow('1..4096 instructions')
  })

  it('lays out the netlink filter that drops local-table route announcements (9 instructions)', () => {
    expect(DROP_LOCAL_TABLE_ROUTES.fprog.readUInt16LE(0)).toBe(9)
    expect(DROP_LOCAL_TABLE_ROUTES.instructions).toHaveLength(72)
  })

  it('translates to eBPF as the kernel would: r6 = the packet, loads as they are, 32-bit jumps, a ja for a false branch, r0 = k; exit', () => {
    const ebpf = toEbpf(SMALL)
    // code, dst | src << 4, s16 off, s32 imm
    expect(ebpf.toString('hex').match(/.{16}/g)).toEqual([
      'bf16000000000000', // r6 = r1
      '3000000014000000', // r0 = byte at 20
      '16000100ff000000', // if (u32)r0 == 255 goto +1 (the first return)
      '0500020000000000', // goto +2 (the second)
      'b400000000000000', // r0 = 0
      '9500000000000000', // exit
      'b4000000ffffffff', // r0 = 0xffffffff
      '9500000000000000', // exit
    ])
    expect(DROP_LOCAL_TABLE_ROUTES.ebpf).toHaveLength(13 * 8)
    expect(() =>
      toEbpf([
        [0x20, 0, 0, 0],
        [BPF.RET_K, 0, 0, 0],
      ]),
    ).toThrow('opcode 0x20 has no translation')
  })
})
