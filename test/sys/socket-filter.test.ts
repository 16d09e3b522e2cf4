// Socket filters on the real kernel, which runs them: the eBPF translation
// (loaded once, attached by its fd) must keep and drop exactly the datagrams
// the classic program does, and a program the verifier refuses still filters
// through the classic attach. AF_UNIX datagrams through a socketpair: the
// receiving end runs the filter and drops silently.
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { NLM_F, RTM, RT_TABLE } from '../../harness/netlink/codec/constants.js'
import { DROP_LOCAL_TABLE_ROUTES } from '../../harness/netlink/transport/local-routes-filter.js'
import {
  AF_UNIX,
  BPF,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOL_SOCKET,
  SO_ATTACH_FILTER,
  type SocketFilter,
  attachSocketFilter,
  close,
  recv,
  sendto,
  setsockopt,
  sharedProgram,
  socketFilter,
  socketpair,
} from '../../harness/sys/index.js'

const fds: number[] = []
afterEach(() => {
  for (const fd of fds.splice(0)) close(fd)
})

/** A datagram socketpair whose receiving end is filtered by `attach`; `kept(d)` says whether `d` got through. */
function filtered(attach: (fd: number) => void): (datagram: Buffer) => boolean {
  const [tx, rx] = socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK)
  fds.push(tx, rx)
  attach(rx)
  const buf = Buffer.alloc(256)
  return (d) => {
    sendto(tx, d, 0, null)
    return recv(rx, buf, 0) >= 0 // dropped: nothing queued (EAGAIN)
  }
}

const classic = (f: SocketFilter) => (fd: number) => setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, f.fprog)

/** nlmsghdr + rtmsg as the kernel announces a route, cut to `length` bytes. */
function announcement(type: number, flags: number, table: number, length: number): Buffer {
  const b = Buffer.alloc(28)
  b.writeUInt32LE(28, 0)
  b.writeUInt16LE(type, 4)
  b.writeUInt16LE(flags, 6)
  b[16] = 2 // AF_INET
  b[20] = table
  return b.subarray(0, length)
}

describe('socket filters on the kernel', () => {
  it('the local-table route filter loads once as eBPF and keeps and drops what the classic program does', () => {
    const shared = sharedProgram(DROP_LOCAL_TABLE_ROUTES)
    expect(shared).toHaveProperty('fd')
    expect(sharedProgram(DROP_LOCAL_TABLE_ROUTES)).toBe(shared) // loaded once
    const viaClassic = filtered(classic(DROP_LOCAL_TABLE_ROUTES))
    const viaShared = filtered((fd) => attachSocketFilter(fd, DROP_LOCAL_TABLE_ROUTES))
    // The cases the filter is for, with what the kernel must answer.
    const cases: [Buffer, boolean][] = [
      [announcement(RTM.NEWROUTE, 0, RT_TABLE.LOCAL, 28), false],
      [announcement(RTM.DELROUTE, 0, RT_TABLE.LOCAL, 28), false],
      [announcement(RTM.NEWROUTE, NLM_F.MULTI, RT_TABLE.LOCAL, 28), true], // a dump's part
      [announcement(RTM.NEWROUTE, 0, RT_TABLE.MAIN, 28), true],
      [announcement(RTM.NEWADDR, 0, RT_TABLE.LOCAL, 28), true],
      [announcement(RTM.NEWROUTE, 0, RT_TABLE.LOCAL, 20), false], // too short to read the table: dropped by both
    ]
    for (const [d, keep] of cases) {
      expect(viaClassic(d)).toBe(keep)
      expect(viaShared(d)).toBe(keep)
    }
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constantFrom(RTM.NEWROUTE, RTM.DELROUTE, RTM.NEWADDR, RTM.NEWLINK),
          fc.integer({ min: 0, max: 0xffff }),
        ),
        fc.integer({ min: 0, max: 0xffff }),
        fc.oneof(fc.constantFrom(RT_TABLE.LOCAL, RT_TABLE.MAIN), fc.integer({ min: 0, max: 255 })),
        fc.integer({ min: 0, max: 28 }),
        (type, flags, table, length) => {
          const d = announcement(type, flags, table, length)
          expect(viaShared(d)).toBe(viaClassic(d))
        },
      ),
      { numRuns: 500 },
    )
  })

  it('a program the verifier refuses (unreachable code) says why, and filters through the classic attach', () => {
    const dropAll = socketFilter([
      [BPF.RET_K, 0, 0, 0],
      [BPF.RET_K, 0, 0, 0xffffffff], // never reached: classic BPF allows it, the eBPF verifier does not
    ])
    const p = sharedProgram(dropAll)
    expect(p).toHaveProperty('why')
    expect((p as { why: string }).why).toMatch(/^bpf\(BPF_PROG_LOAD\) failed: .*EINVAL/)
    const kept = filtered((fd) => attachSocketFilter(fd, dropAll))
    expect(kept(Buffer.from('anything'))).toBe(false)
    expect(filtered(() => undefined)(Buffer.from('anything'))).toBe(true) // the pair itself delivers
  })
})
