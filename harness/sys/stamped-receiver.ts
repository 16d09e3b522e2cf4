/**
 * Datagrams with the kernel's receive timestamp, one recvmsg(2) each: the
 * socket has SO_TIMESTAMPNS on, and the timestamp arrives as a control
 * message (SCM_TIMESTAMPNS) beside the datagram and its sender's address.
 * The msghdr, its iovec and the buffers they point at are laid out once,
 * so a call passes three integers (no struct marshalled per frame, and one
 * system call where recvfrom + ioctl(SIOCGSTAMPNS) took two).
 *
 * Layouts are LP64 Linux (x86_64, aarch64):
 *   struct msghdr  { void *name; socklen_t namelen; struct iovec *iov; size_t iovlen;
 *                    void *control; size_t controllen; int flags; }          56 bytes
 *   struct iovec   { void *base; size_t len; }                              16 bytes
 *   struct cmsghdr { size_t len; int level; int type; } then the data       16 bytes
 */
import { Buffer } from 'node:buffer'
import { SOL_SOCKET } from './constants.js'
import { bufferAddress, recvmsg } from './libc.js'

/** SO_TIMESTAMPNS (= SCM_TIMESTAMPNS, the control message's type). */
export const SO_TIMESTAMPNS = 35
/** recvmsg flag: return the datagram's real length even when it was cut. */
const MSG_TRUNC = 0x20

const NAME_SIZE = 128
const CONTROL_SIZE = 256

export class StampedReceiver {
  /** The datagram's bytes (the first `length` of them). */
  readonly data: Buffer
  /** The sender's address (sockaddr; sockaddr_ll on a packet socket). */
  readonly from: Buffer
  /** Bytes of the datagram in `data` after receive(). */
  length = 0
  /** The kernel's timestamp of the last datagram (CLOCK_REALTIME); -1 when it came without one. */
  sec = -1
  nsec = 0
  private readonly control: Buffer
  private readonly iov: Buffer
  private readonly msg: Buffer

  constructor(size: number) {
    this.data = Buffer.allocUnsafeSlow(size)
    this.from = Buffer.allocUnsafeSlow(NAME_SIZE)
    this.control = Buffer.allocUnsafeSlow(CONTROL_SIZE)
    this.iov = Buffer.allocUnsafeSlow(16)
    this.msg = Buffer.allocUnsafeSlow(56).fill(0)
    this.iov.writeBigUInt64LE(bufferAddress(this.data), 0)
    this.iov.writeBigUInt64LE(BigInt(size), 8)
    this.msg.writeBigUInt64LE(bufferAddress(this.from), 0)
    this.msg.writeBigUInt64LE(bufferAddress(this.iov), 16)
    this.msg.writeBigUInt64LE(1n, 24)
    this.msg.writeBigUInt64LE(bufferAddress(this.control), 32)
  }

  /**
   * Receive one datagram (non-blocking: pass MSG_DONTWAIT or use a
   * non-blocking fd). Returns its real size (more than `length` when it was
   * cut to `data`), or -1 when nothing is queued.
   */
  receive(fd: number, flags = 0): number {
    const msg = this.msg
    msg.writeUInt32LE(NAME_SIZE, 8) // namelen, in and out
    msg.writeUInt32LE(CONTROL_SIZE, 40) // controllen (a size_t: its high half stays 0)
    const size = recvmsg(fd, msg, flags | MSG_TRUNC)
    if (size < 0) return -1
    this.length = Math.min(size, this.data.length)
    this.readStamp(msg.readUInt32LE(40))
    return size
  }

  /** The SCM_TIMESTAMPNS among the control messages, if the kernel sent one. */
  private readStamp(controlLength: number): void {
    const c = this.control
    this.sec = -1
    this.nsec = 0
    let at = 0
    while (at + 16 <= controlLength) {
      const len = Number(c.readBigUInt64LE(at))
      if (len < 16 || at + len > controlLength) return
      if (c.readInt32LE(at + 8) === SOL_SOCKET && c.readInt32LE(at + 12) === SO_TIMESTAMPNS && len >= 32) {
        this.sec = Number(c.readBigInt64LE(at + 16))
        this.nsec = Number(c.readBigInt64LE(at + 24))
        return
      }
      at += (len + 7) & ~7
    }
  }
}
