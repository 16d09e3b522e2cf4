/**
 * Classic BPF socket filters (SO_ATTACH_FILTER): a program the kernel runs on
 * each datagram before queueing it, keeping it (a non-zero return) or
 * dropping it (0), so a reader never pays for what it would throw away.
 *
 * `struct sock_filter` is 8 bytes (u16 code, u8 jt, u8 jf, u32 k);
 * `struct sock_fprog` a u16 length and, 8-aligned, a pointer to them. Loads
 * (`LD_*_ABS`) read the datagram in network byte order, whatever the field's.
 */
import { SOL_SOCKET, SO_ATTACH_FILTER, SO_DETACH_FILTER } from './constants.js'
import { bufferAddress, setsockopt, setsockoptInt } from './libc.js'

/** The instructions the programs here use (linux/filter.h: class | size | mode). */
export const BPF = {
  /** A = the byte at k. */
  LD_B_ABS: 0x30,
  /** A = the big-endian u16 at k. */
  LD_H_ABS: 0x28,
  /** if (A == k) skip jt else skip jf. */
  JEQ_K: 0x15,
  /** if (A & k) skip jt else skip jf. */
  JSET_K: 0x45,
  /** return k (bytes kept; 0 drops). */
  RET_K: 0x06,
} as const

/** One instruction: [code, jt, jf, k]. */
export type BpfInstruction = readonly [code: number, jt: number, jf: number, k: number]

/** A compiled program: its instructions and the sock_fprog pointing at them (kept together, alive). */
export interface SocketFilter {
  readonly instructions: Buffer
  readonly fprog: Buffer
}

/** Lay a program out as the kernel reads it; throws on a jump past its end or a last instruction that is not a return. */
export function socketFilter(program: readonly BpfInstruction[]): SocketFilter {
  if (program.length === 0 || program.length > 4096)
    throw new RangeError('a socket filter has 1..4096 instructions')
  program.forEach(([code, jt, jf], i) => {
    // Every instruction but a return goes on to i + 1 (+ jt or jf), which must exist.
    if (code !== BPF.RET_K && i + 1 + Math.max(jt, jf) >= program.length)
      throw new RangeError(`socket filter instruction ${i} jumps past the end`)
  })
  if (program.at(-1)![0] !== BPF.RET_K) throw new RangeError('a socket filter must end with a return')
  // allocUnsafeSlow: memory of its own that never moves (the fprog holds its address).
  const instructions = Buffer.allocUnsafeSlow(program.length * 8)
  program.forEach(([code, jt, jf, k], i) => {
    instructions.writeUInt16LE(code, i * 8)
    instructions.writeUInt8(jt, i * 8 + 2)
    instructions.writeUInt8(jf, i * 8 + 3)
    instructions.writeUInt32LE(k >>> 0, i * 8 + 4)
  })
  const fprog = Buffer.alloc(16)
  fprog.writeUInt16LE(program.length, 0)
  fprog.writeBigUInt64LE(bufferAddress(instructions), 8)
  return { instructions, fprog }
}

/** Attach `filter` to a socket (replacing any filter it had); the kernel copies the program. */
export function attachSocketFilter(fd: number, filter: SocketFilter): void {
  setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, filter.fprog)
}

/** Remove the socket's filter (ENOENT when it had none). */
export function detachSocketFilter(fd: number): void {
  setsockoptInt(fd, SOL_SOCKET, SO_DETACH_FILTER, 0)
}
