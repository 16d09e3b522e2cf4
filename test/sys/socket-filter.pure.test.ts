/** Classic BPF programs laid out as the kernel reads them (struct sock_filter, struct sock_fprog). */
import { describe, expect, it } from 'vitest'
import { BPF, socketFilter } from '../../harness/sys/socket-filter.js'
import { DROP_LOCAL_TABLE_ROUTES } from '../../harness/netlink/transport/local-routes-filter.js'

describe('socketFilter', () => {
  it('writes each instruction as u16 code, u8 jt, u8 jf, u32 k, and a sock_fprog with their count', () => {
    const f = socketFilter([
      [BPF.LD_B_ABS, 0, 0, 20],
      [BPF.JEQ_K, 0, 1, 255],
      [BPF.RET_K, 0, 0, 0],
      [BPF.RET_K, 0, 0, 0xffffffff],
    ])
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
})
