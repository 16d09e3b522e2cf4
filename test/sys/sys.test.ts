import fc from 'fast-check'
import { canonicalIp } from '../../harness/util/ip.js'
import { describe, expect, it } from 'vitest'
import {
  AF_INET,
  AF_INET6,
  SOCK_DGRAM,
  SysError,
  close,
  errnoName,
  errnoText,
  errnoValue,
  getpid,
  getsockname,
  gettid,
  bind,
  open,
  parseSockaddrIp,
  setns,
  socket,
  sockaddrIp,
  O_RDONLY,
  CLONE_NEWNET,
} from '../../harness/sys/index.js'

describe('harness/sys', () => {
  it('turns a failing call into a typed error naming the syscall, errno and target', () => {
    let err: unknown
    try {
      open('/nonexistent/nslab', O_RDONLY)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(SysError)
    const e = err as SysError
    expect(e).toMatchObject({ syscall: 'open', errno: 2, code: 'ENOENT', target: '/nonexistent/nslab' })
    expect(e.message).toBe('ENOENT from open on /nonexistent/nslab: No such file or directory')
  })

  it('says what to do about missing privileges', () => {
    const e = new SysError('setns', 1)
    expect(e.message).toBe(
      'EPERM from setns: Operation not permitted (nslab needs CAP_SYS_ADMIN; run as root)',
    )
  })

  it('reports EBADF and EINVAL from setns on a bad fd', () => {
    expect(() => setns(987654, CLONE_NEWNET)).toThrow('EBADF from setns')
    const fd = open('/proc/self/ns/mnt', O_RDONLY)
    try {
      expect(() => setns(fd, CLONE_NEWNET)).toThrow('EINVAL from setns')
    } finally {
      close(fd)
    }
  })

  it('knows errno names both ways', () => {
    expect(errnoName(17)).toBe('EEXIST')
    expect(errnoText(101)).toBe('Network is unreachable')
    expect(errnoValue('ENETUNREACH')).toBe(101)
    expect(errnoName(4095)).toBe('E4095')
  })

  it('gettid is the main thread id (= pid) on the main thread', () => {
    expect(getpid()).toBe(process.pid)
    expect(gettid()).toBe(process.pid)
  })

  it('binds sockets to literal addresses and reads them back', () => {
    const fd = socket(AF_INET, SOCK_DGRAM, 0)
    try {
      bind(fd, sockaddrIp('127.0.0.1', 0))
      const me = parseSockaddrIp(getsockname(fd))
      expect(me.address).toBe('127.0.0.1')
      expect(me.port).toBeGreaterThan(0)
    } finally {
      close(fd)
    }
    const fd6 = socket(AF_INET6, SOCK_DGRAM, 0)
    close(fd6)
  })

  it('round-trips sockaddr_in/in6 for any address and port', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), (addr, port) => {
        const back = parseSockaddrIp(sockaddrIp(addr, port))
        expect(back.port).toBe(port)
        // The same canonical text the netlink codec prints (one implementation, harness/util/ip.ts).
        expect(back.address).toBe(canonicalIp(addr))
        expect(Buffer.compare(sockaddrIp(back.address, port), sockaddrIp(addr, port))).toBe(0)
      }),
    )
  })

  it('refuses a non-literal address', () => {
    expect(() => sockaddrIp('localhost')).toThrow('not a literal IP address')
  })
})
