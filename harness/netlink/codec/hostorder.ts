/**
 * Host byte order, in one place.
 *
 * Netlink headers and most attribute values are in the byte order of the host that sends them
 * ("host order"); only a few values (ports, some tunnel keys) are in network order (big-endian) and
 * are marked as such. nslab runs on x86-64 and arm64 Linux, both little-endian, so host order is
 * little-endian. Every host-order read and write in the codec goes through these helpers; porting
 * to a big-endian host means changing {@link HOST_IS_LITTLE_ENDIAN} only.
 *
 * The helpers do not check bounds: callers check lengths first and raise a NetlinkDecodeError.
 */

/** True on every platform nslab supports (x86-64, arm64). */
export const HOST_IS_LITTLE_ENDIAN = true

export function readHostU16(buf: Buffer, offset: number): number {
  return HOST_IS_LITTLE_ENDIAN ? buf.readUInt16LE(offset) : buf.readUInt16BE(offset)
}

export function readHostU32(buf: Buffer, offset: number): number {
  return HOST_IS_LITTLE_ENDIAN ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset)
}

export function readHostS32(buf: Buffer, offset: number): number {
  return HOST_IS_LITTLE_ENDIAN ? buf.readInt32LE(offset) : buf.readInt32BE(offset)
}

export function readHostU64(buf: Buffer, offset: number): bigint {
  return HOST_IS_LITTLE_ENDIAN ? buf.readBigUInt64LE(offset) : buf.readBigUInt64BE(offset)
}

export function writeHostU16(buf: Buffer, value: number, offset: number): void {
  if (HOST_IS_LITTLE_ENDIAN) buf.writeUInt16LE(value, offset)
  else buf.writeUInt16BE(value, offset)
}

export function writeHostU32(buf: Buffer, value: number, offset: number): void {
  if (HOST_IS_LITTLE_ENDIAN) buf.writeUInt32LE(value, offset)
  else buf.writeUInt32BE(value, offset)
}

export function writeHostS32(buf: Buffer, value: number, offset: number): void {
  if (HOST_IS_LITTLE_ENDIAN) buf.writeInt32LE(value, offset)
  else buf.writeInt32BE(value, offset)
}

export function writeHostU64(buf: Buffer, value: bigint, offset: number): void {
  if (HOST_IS_LITTLE_ENDIAN) buf.writeBigUInt64LE(value, offset)
  else buf.writeBigUInt64BE(value, offset)
}

/*
 * Unchecked writes for the paths that run per request (message and attribute headers, fixed
 * headers, integer attributes): plain byte stores instead of Buffer's write methods, which check
 * offset and range through a few calls each (most of the cost in code V8 has not optimised). Only
 * for values and offsets the caller has checked: an out-of-range value is cut to its low bits, and
 * a store past the end is dropped, not refused.
 */

export function putHostU16(buf: Uint8Array, value: number, offset: number): void {
  if (HOST_IS_LITTLE_ENDIAN) {
    buf[offset] = value
    buf[offset + 1] = value >>> 8
  } else {
    buf[offset] = value >>> 8
    buf[offset + 1] = value
  }
}

/** A u32, or an s32 (the same four bytes). */
export function putHostU32(buf: Uint8Array, value: number, offset: number): void {
  if (HOST_IS_LITTLE_ENDIAN) {
    buf[offset] = value
    buf[offset + 1] = value >>> 8
    buf[offset + 2] = value >>> 16
    buf[offset + 3] = value >>> 24
  } else {
    buf[offset] = value >>> 24
    buf[offset + 1] = value >>> 16
    buf[offset + 2] = value >>> 8
    buf[offset + 3] = value
  }
}

/*
 * Unchecked reads, the counterparts of the put* writes: byte loads for offsets the caller has
 * checked to lie inside `buf` (a load past the end reads as 0, it does not throw).
 */

export function peekHostU16(buf: Uint8Array, offset: number): number {
  return HOST_IS_LITTLE_ENDIAN
    ? buf[offset]! | (buf[offset + 1]! << 8)
    : (buf[offset]! << 8) | buf[offset + 1]!
}

export function peekHostS32(buf: Uint8Array, offset: number): number {
  return HOST_IS_LITTLE_ENDIAN
    ? buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24)
    : (buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!
}

export function peekHostU32(buf: Uint8Array, offset: number): number {
  return peekHostS32(buf, offset) >>> 0
}
