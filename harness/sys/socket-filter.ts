/**
 * Socket filters: a program the kernel runs on each datagram before queueing
 * it, keeping it (a non-zero return) or dropping it (0), so a reader never
 * pays for what it would throw away. Written in classic BPF.
 *
 * `struct sock_filter` is 8 bytes (u16 code, u8 jt, u8 jf, u32 k);
 * `struct sock_fprog` a u16 length and, 8-aligned, a pointer to them. Loads
 * (`LD_*_ABS`) read the datagram in network byte order, whatever the field's.
 *
 * Attaching a classic program (SO_ATTACH_FILTER) makes the kernel translate
 * and JIT-compile it for that socket: tens of microseconds, on every socket.
 * So a program is translated here to eBPF once, loaded once per process
 * (bpf(BPF_PROG_LOAD), a socket-filter program) and attached by its fd
 * (SO_ATTACH_BPF): a reference taken, nothing compiled. Where loading is not
 * allowed (no CAP_BPF / CAP_SYS_ADMIN, a seccomp profile refusing bpf(2), an
 * old verifier), the classic program is attached as before.
 */
import { SOL_SOCKET, SO_ATTACH_BPF, SO_ATTACH_FILTER, SO_DETACH_FILTER } from './constants.js'
import { SysError } from './errors.js'
import { bpf, bufferAddress, setsockopt, setsockoptInt } from './libc.js'

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

/** A compiled program: its instructions and the sock_fprog pointing at them (kept together, alive), and its eBPF form. */
export interface SocketFilter {
  readonly instructions: Buffer
  readonly fprog: Buffer
  /** The same program as eBPF instructions (struct bpf_insn), for loading once (see toEbpf). */
  readonly ebpf: Buffer
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
  return { instructions, fprog, ebpf: toEbpf(program) }
}

/** eBPF opcodes (linux/bpf.h) of the translation: class | op | source. */
const EBPF = {
  /** dst = src, 64-bit (BPF_ALU64 | BPF_MOV | BPF_X). */
  MOV64_X: 0xbf,
  /** dst = imm, 32-bit, zero-extended (BPF_ALU | BPF_MOV | BPF_K). */
  MOV32_K: 0xb4,
  /** pc += off (BPF_JMP | BPF_JA). */
  JA: 0x05,
  /** if ((u32)dst == imm) pc += off (BPF_JMP32 | BPF_JEQ | BPF_K). */
  JEQ32_K: 0x16,
  /** if ((u32)dst & imm) pc += off (BPF_JMP32 | BPF_JSET | BPF_K). */
  JSET32_K: 0x46,
  /** return r0 (BPF_JMP | BPF_EXIT). */
  EXIT: 0x95,
} as const

/** eBPF's classic-compatible registers: A is r0, the context (the packet) r1, kept in r6 for LD_ABS. */
const R0 = 0
const R1 = 1
const R6 = 6

/**
 * The classic program as eBPF (struct bpf_insn: u8 code, u8 dst | src << 4,
 * s16 off, s32 imm), as the kernel's own converter would write it: r6 = the
 * packet (LD_ABS reads through r6), loads as they are (the same opcodes,
 * network byte order, out of bounds returns 0), conditional jumps compared on
 * 32 bits to the true target plus a `ja` to the false one when it is not the
 * next instruction, a return as `r0 = k; exit`.
 */
export function toEbpf(program: readonly BpfInstruction[]): Buffer {
  const conditional = (code: number): boolean => code === BPF.JEQ_K || code === BPF.JSET_K
  const size = ([code, , jf]: BpfInstruction): number =>
    code === BPF.RET_K ? 2 : conditional(code) && jf !== 0 ? 2 : 1
  // Where each classic instruction starts in the eBPF program (after the one of the prologue).
  const start: number[] = []
  let n = 1
  for (const insn of program) {
    start.push(n)
    n += size(insn)
  }
  const out = Buffer.alloc(n * 8)
  let at = 0
  const emit = (code: number, dst: number, src: number, off: number, imm: number): void => {
    out.writeUInt8(code, at * 8)
    out.writeUInt8(dst | (src << 4), at * 8 + 1)
    out.writeInt16LE(off, at * 8 + 2)
    out.writeInt32LE(imm | 0, at * 8 + 4)
    at++
  }
  emit(EBPF.MOV64_X, R6, R1, 0, 0)
  program.forEach(([code, jt, jf, k], i) => {
    if (code === BPF.LD_B_ABS || code === BPF.LD_H_ABS) emit(code, 0, 0, 0, k)
    else if (code === BPF.RET_K) {
      emit(EBPF.MOV32_K, R0, 0, 0, k)
      emit(EBPF.EXIT, 0, 0, 0, 0)
    } else if (conditional(code)) {
      const op = code === BPF.JEQ_K ? EBPF.JEQ32_K : EBPF.JSET32_K
      emit(op, R0, 0, start[i + 1 + jt]! - (at + 1), k)
      if (jf !== 0) emit(EBPF.JA, 0, 0, start[i + 1 + jf]! - (at + 1), 0)
    } else
      throw new RangeError(`socket filter instruction ${i}: opcode 0x${code.toString(16)} has no translation`)
  })
  return out
}

/** bpf(2) commands and program types used here (linux/bpf.h). */
const BPF_PROG_LOAD = 5
const BPF_PROG_TYPE_SOCKET_FILTER = 1
const LICENSE = Buffer.from('GPL\0')

/** Each program's fd once loaded (or why it could not be), per process: loaded on first attach, kept. */
const loaded = new WeakMap<SocketFilter, { fd: number } | { why: string }>()

/**
 * The filter's eBPF program loaded in the kernel (once per process), or why
 * it is not: then attachSocketFilter attaches the classic program.
 */
export function sharedProgram(filter: SocketFilter): { fd: number } | { why: string } {
  let p = loaded.get(filter)
  if (p === undefined) {
    // union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns, license (the rest zero: no log).
    const attr = Buffer.alloc(48)
    attr.writeUInt32LE(BPF_PROG_TYPE_SOCKET_FILTER, 0)
    attr.writeUInt32LE(filter.ebpf.length / 8, 4)
    attr.writeBigUInt64LE(bufferAddress(filter.ebpf), 8)
    attr.writeBigUInt64LE(bufferAddress(LICENSE), 16)
    try {
      p = { fd: bpf(BPF_PROG_LOAD, attr) }
    } catch (err) {
      if (!(err instanceof SysError)) throw err
      p = { why: `bpf(BPF_PROG_LOAD) failed: ${err.message}` }
    }
    loaded.set(filter, p)
  }
  return p
}

/**
 * Attach `filter` to a socket (replacing any filter it had): its program
 * loaded once (sharedProgram), else the classic one (the kernel copies it).
 */
export function attachSocketFilter(fd: number, filter: SocketFilter): void {
  const p = sharedProgram(filter)
  if ('fd' in p) setsockoptInt(fd, SOL_SOCKET, SO_ATTACH_BPF, p.fd)
  else setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, filter.fprog)
}

/** Remove the socket's filter (ENOENT when it had none). */
export function detachSocketFilter(fd: number): void {
  setsockoptInt(fd, SOL_SOCKET, SO_DETACH_FILTER, 0)
}
