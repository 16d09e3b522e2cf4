/**
 * The only module in nslab that talks to libc. Every function here is a thin,
 * synchronous wrapper: it calls the C function on the calling thread (never on
 * koffi's async threads, which live in the root namespace), reads errno at
 * once, and throws a SysError on failure.
 */
import { Buffer } from 'node:buffer'
import koffi from 'koffi'
import { SysError } from './errors.js'
import { LOCK_NB, MSG_TRUNC as MSG_TRUNC_FLAG } from './constants.js'

const libc = koffi.load('libc.so.6')

const c = {
  unshare: libc.func('int unshare(int flags)'),
  setns: libc.func('int setns(int fd, int nstype)'),
  mount: libc.func(
    'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  ),
  umount2: libc.func('int umount2(const char *target, int flags)'),
  open: libc.func('int open(const char *path, int flags, ...)'),
  close: libc.func('int close(int fd)'),
  fcntl: libc.func('int fcntl(int fd, int cmd, ...)'),
  flock: libc.func('int flock(int fd, int operation)'),
  gettid: libc.func('int gettid(void)'),
  getpid: libc.func('int getpid(void)'),
  ioctlInt: libc.func('int ioctl(int fd, unsigned long request, ...)'),
  ioctlPtr: libc.func('int ioctl(int fd, unsigned long request, _Inout_ void *arg)'),
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  socketpair: libc.func('int socketpair(int domain, int type, int protocol, void *sv)'),
  bind: libc.func('int bind(int fd, const void *addr, uint32_t addrlen)'),
  connect: libc.func('int connect(int fd, const void *addr, uint32_t addrlen)'),
  listen: libc.func('int listen(int fd, int backlog)'),
  getsockname: libc.func('int getsockname(int fd, _Out_ void *addr, _Inout_ uint32_t *addrlen)'),
  setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
  // Plain pointers: the value and its length are Buffers the caller owns (koffi's _Out_/_Inout_
  // conversions cost more than the call itself).
  getsockopt: libc.func('int getsockopt(int fd, int level, int name, void *value, void *len)'),
  sendto: libc.func(
    'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)',
  ),
  recvfrom: libc.func(
    'intptr_t recvfrom(int fd, _Out_ void *buf, size_t len, int flags, _Out_ void *addr, _Inout_ uint32_t *addrlen)',
  ),
  // A plain void *: koffi passes a Buffer's own memory either way, and _Out_ costs extra per call.
  recv: libc.func('intptr_t recv(int fd, void *buf, size_t len, int flags)'),
  // The msghdr is laid out once by the caller (stamped-receiver.ts): three plain arguments per call.
  recvmsg: libc.func('intptr_t recvmsg(int fd, void *msg, int flags)'),
  // memset(buf, 0, 0) writes nothing and returns buf's address: how a Buffer's address is learnt.
  memset: libc.func('void *memset(void *s, int c, size_t n)'),
  mmap: libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, intptr_t offset)'),
  munmap: libc.func('int munmap(void *addr, size_t length)'),
  syscall: libc.func('long syscall(long number, ...)'),
}

function fail(syscall: string, target?: string): never {
  throw new SysError(syscall, koffi.errno(), target === undefined ? {} : { target })
}

function check(ret: number, syscall: string, target?: string): number {
  if (ret < 0) fail(syscall, target)
  return ret
}

export function unshare(flags: number): void {
  check(c.unshare(flags) as number, 'unshare')
}

export function setns(fd: number, nstype: number, target?: string): void {
  check(c.setns(fd, nstype) as number, 'setns', target)
}

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  check(c.mount(source, target, fstype, flags, data) as number, 'mount', target)
}

export function umount2(target: string, flags: number): void {
  check(c.umount2(target, flags) as number, 'umount2', target)
}

export function open(path: string, flags: number, mode = 0): number {
  return check(c.open(path, flags, 'uint32_t', mode) as number, 'open', path)
}

export function close(fd: number): void {
  check(c.close(fd) as number, 'close')
}

/**
 * Background closes running at once, at most. koffi queues at most 256
 * asynchronous calls (and throws beyond); a lab of a few hundred captured
 * nodes closes that many sockets together, so the rest wait here.
 */
const MAX_BACKGROUND_CLOSES = 64
const closesWaiting: { fd: number; resolve: () => void; reject: (err: Error) => void }[] = []
let closesRunning = 0

/**
 * close(2) on one of koffi's own threads: for fds whose release waits in
 * the kernel (a packet socket's close waits out an RCU grace period, some
 * 10-30 ms), so the event loop goes on meanwhile. Resolves once closed;
 * any number may be asked for at once (they queue).
 */
export function closeInBackground(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    closesWaiting.push({ fd, resolve, reject })
    startCloses()
  })
}

function startCloses(): void {
  while (closesRunning < MAX_BACKGROUND_CLOSES && closesWaiting.length > 0) {
    const job = closesWaiting.shift()!
    closesRunning++
    const done = (err: Error | undefined): void => {
      closesRunning--
      if (err) job.reject(err)
      else job.resolve()
      startCloses()
    }
    try {
      ;(c.close as unknown as { async: (fd: number, cb: (err: unknown, ret: number) => void) => void }).async(
        job.fd,
        (err, ret) => {
          if (err) done(err instanceof Error ? err : new Error(String(err)))
          else done(ret < 0 ? new SysError('close', koffi.errno()) : undefined)
        },
      )
    } catch {
      // koffi's queue is full of someone else's calls: close here rather than leak the fd.
      try {
        close(job.fd)
        done(undefined)
      } catch (err) {
        done(err as Error)
      }
    }
  }
}

/** Duplicate an fd (F_DUPFD_CLOEXEC), so another thread can own and close its copy. */
export function dup(fd: number): number {
  return check(c.fcntl(fd, 1030, 'int', 0) as number, 'fcntl')
}

/**
 * flock(2) on an open file (LOCK_SH, LOCK_EX, LOCK_UN, each optionally with
 * LOCK_NB). The lock belongs to the open file description: children that
 * inherit the fd hold it too, and the kernel drops it when the last copy is
 * closed, also when the holder is killed. With LOCK_NB, returns false when
 * another open file holds a conflicting lock (EWOULDBLOCK) instead of
 * throwing. Without LOCK_NB the call blocks the calling thread: never do that
 * on the event loop. EINTR is retried.
 */
export function flock(fd: number, operation: number, target?: string): boolean {
  for (;;) {
    if ((c.flock(fd, operation) as number) === 0) return true
    const errno = koffi.errno()
    if (errno === 4) continue // EINTR
    if (errno === 11 && operation & LOCK_NB) return false // EWOULDBLOCK
    throw new SysError('flock', errno, target === undefined ? {} : { target })
  }
}

/** The kernel thread id of the calling thread. */
export function gettid(): number {
  return c.gettid() as number
}

export function getpid(): number {
  return c.getpid() as number
}

/** ioctl(2) whose argument is an integer (or none); returns the result. */
export function ioctl(fd: number, request: number, arg = 0, target?: string): number {
  return check(c.ioctlInt(fd, request, 'unsigned long', arg) as number, 'ioctl', target)
}

/** ioctl(2) whose argument is a struct, passed and returned in `buf`. */
export function ioctlBuffer(fd: number, request: number, buf: Buffer, target?: string): number {
  return check(c.ioctlPtr(fd, request, buf) as number, 'ioctl', target)
}

export function socket(domain: number, type: number, protocol: number): number {
  return check(c.socket(domain, type, protocol) as number, 'socket')
}

/** Two connected sockets (socketpair(2)), e.g. AF_UNIX datagrams to test a socket filter on. */
export function socketpair(domain: number, type: number, protocol = 0): [number, number] {
  const sv = new Int32Array(2)
  check(c.socketpair(domain, type, protocol, sv) as number, 'socketpair')
  return [sv[0]!, sv[1]!]
}

/** bpf(2)'s number on the architectures nslab runs on (asm/unistd_64.h; generic unistd.h on arm64). */
const NR_BPF: Partial<Record<string, number>> = { x64: 321, arm64: 280 }

/**
 * bpf(2): `cmd` with its `union bpf_attr` (the caller lays it out; the kernel
 * reads attr.length bytes and takes the rest as zero). Returns what the
 * command returns (a new fd for BPF_PROG_LOAD). ENOSYS on an architecture
 * whose syscall number is not known here.
 */
export function bpf(cmd: number, attr: Buffer): number {
  const nr = NR_BPF[process.arch]
  if (nr === undefined) throw new SysError('bpf', 38 /* ENOSYS */)
  return check(Number(c.syscall(nr, 'int', cmd, 'void *', attr, 'uint', attr.length)), 'bpf')
}

export function bind(fd: number, addr: Buffer): void {
  check(c.bind(fd, addr, addr.length) as number, 'bind')
}

export function connect(fd: number, addr: Buffer): void {
  check(c.connect(fd, addr, addr.length) as number, 'connect')
}

export function listen(fd: number, backlog: number): void {
  check(c.listen(fd, backlog) as number, 'listen')
}

/**
 * Scratch space for the synchronous calls below: each call fills and reads it
 * before returning, so one per thread serves all (no allocation per call).
 */
const scratch = Buffer.alloc(128)
/** The same bytes as ints in host order (what setsockopt takes), written without Buffer's checks. */
const scratchInts = new Int32Array(scratch.buffer, scratch.byteOffset, 1)
/** A socklen_t for getsockopt's length, in and out. */
const optLength = new Uint32Array(1)

/** The socket's own address, as raw sockaddr bytes. */
export function getsockname(fd: number): Buffer {
  const len = [scratch.length]
  check(c.getsockname(fd, scratch, len) as number, 'getsockname')
  return Buffer.from(scratch.subarray(0, len[0]))
}

export function setsockopt(fd: number, level: number, name: number, value: Buffer): void {
  check(c.setsockopt(fd, level, name, value, value.length) as number, 'setsockopt')
}

export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  // An int32 goes in directly; anything else gets Buffer's RangeError.
  if ((value | 0) === value) scratchInts[0] = value
  else scratch.writeInt32LE(value, 0)
  check(c.setsockopt(fd, level, name, scratch, 4) as number, 'setsockopt')
}

/**
 * getsockopt(2) of a struct: fills `buf` (up to its length) and returns how
 * many bytes the kernel wrote.
 */
export function getsockoptBuffer(fd: number, level: number, name: number, buf: Buffer): number {
  optLength[0] = buf.length
  check(c.getsockopt(fd, level, name, buf, optLength) as number, 'getsockopt')
  return optLength[0]
}

export function getsockoptInt(fd: number, level: number, name: number): number {
  optLength[0] = 4
  check(c.getsockopt(fd, level, name, scratch, optLength) as number, 'getsockopt')
  return scratchInts[0]!
}

/**
 * sendto(2) of the first `length` bytes of `data` (default: all of it);
 * returns bytes sent, or -1 when the call would block (EAGAIN).
 */
export function sendto(
  fd: number,
  data: Buffer,
  flags: number,
  addr: Buffer | null,
  length: number = data.length,
): number {
  if (length > data.length)
    throw new RangeError(`sendto: length ${length} exceeds the ${data.length}-byte buffer`)
  const ret = Number(c.sendto(fd, data, length, flags, addr, addr ? addr.length : 0))
  if (ret < 0) {
    const errno = koffi.errno()
    if (errno === 11) return -1
    throw new SysError('sendto', errno)
  }
  return ret
}

export interface Received {
  /** Bytes copied into the buffer (at most its size). */
  length: number
  /** The datagram's real size (MSG_TRUNC), which can exceed `length`. */
  size: number
  /** Raw sockaddr of the sender. */
  from: Buffer
}

/** recvfrom(2); returns null when nothing is queued (EAGAIN). */
export function recvfrom(fd: number, buf: Buffer, flags: number): Received | null {
  const from = Buffer.alloc(128)
  const len = [from.length]
  const ret = Number(c.recvfrom(fd, buf, buf.length, flags, from, len))
  if (ret < 0) {
    const errno = koffi.errno()
    if (errno === 11) return null
    throw new SysError('recvfrom', errno)
  }
  return { length: Math.min(ret, buf.length), size: ret, from: from.subarray(0, len[0]) }
}

/**
 * recv(2) of one datagram into `buf` with MSG_TRUNC, so the result is the
 * datagram's real size (larger than `buf` when it was cut). Returns -1 when
 * nothing is queued (EAGAIN). No sender address: cheaper than recvfrom.
 */
export function recv(fd: number, buf: Buffer, flags: number): number {
  const ret = Number(c.recv(fd, buf, buf.length, flags | MSG_TRUNC_FLAG))
  if (ret < 0) {
    const errno = koffi.errno()
    if (errno === 11) return -1
    throw new SysError('recv', errno)
  }
  return ret
}

/**
 * recvmsg(2) with a msghdr laid out by the caller in `msg` (its pointers
 * made with bufferAddress). Returns the byte count, or -1 when nothing is
 * queued (EAGAIN).
 */
export function recvmsg(fd: number, msg: Buffer, flags: number): number {
  const ret = Number(c.recvmsg(fd, msg, flags))
  if (ret < 0) {
    const errno = koffi.errno()
    if (errno === 11) return -1
    throw new SysError('recvmsg', errno)
  }
  return ret
}

/**
 * The address of a Buffer's memory, for structures that point at it (a
 * msghdr). Valid while the Buffer lives: keep it referenced. Use buffers
 * from Buffer.allocUnsafeSlow (their memory is their own and never moves).
 */
export function bufferAddress(buf: Buffer): bigint {
  return koffi.address(c.memset(buf, 0, 0))
}

/**
 * A shared memory mapping of a file descriptor (mmap(2) with MAP_SHARED), read
 * and written through `bytes`, a view onto the mapped memory itself (no copy).
 *
 * The view is valid only until `unmap()`. Touching mapped memory after munmap
 * crashes the process, and koffi's external ArrayBuffers cannot be detached
 * (measured: a transfer neither detaches nor fails cleanly). So the owner
 * must keep every typed array over this memory private, drop them before
 * unmapping, and copy out whatever must outlive the mapping.
 */
export class Mapping {
  readonly length: number
  private pointer: unknown
  private view: Uint8Array | undefined

  constructor(pointer: unknown, length: number) {
    this.pointer = pointer
    this.length = length
    this.view = new Uint8Array(koffi.view(pointer, length))
  }

  /** The mapped bytes; throws once unmapped. */
  get bytes(): Uint8Array {
    if (this.view === undefined) throw new TypeError('the memory mapping was unmapped')
    return this.view
  }

  get mapped(): boolean {
    return this.view !== undefined
  }

  /** munmap(2). Idempotent. */
  unmap(): void {
    if (this.view === undefined) return
    this.view = undefined
    const pointer = this.pointer
    this.pointer = null
    check(c.munmap(pointer, this.length) as number, 'munmap')
  }
}

/** mmap(2) of `length` bytes of `fd` at offset 0, shared. */
export function mmap(fd: number, length: number, prot: number, flags: number, target?: string): Mapping {
  const pointer = c.mmap(null, length, prot, flags, fd, 0)
  // MAP_FAILED is (void *)-1.
  if (pointer === null || koffi.address(pointer) === 0xffffffffffffffffn) fail('mmap', target)
  return new Mapping(pointer, length)
}
