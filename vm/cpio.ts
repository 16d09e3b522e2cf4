/**
 * A minimal cpio archive writer in the "newc" format the kernel unpacks as an
 * initramfs: directories, regular files and symlinks, no compression.
 */

export interface CpioEntry {
  /** Path inside the archive, without a leading slash: "bin/busybox". */
  path: string
  type: 'dir' | 'file' | 'symlink'
  /** Permission bits (0o755). */
  mode: number
  /** File contents, or the link target of a symlink. */
  data?: Buffer | string
}

const TYPE_BITS = { dir: 0o040000, file: 0o100000, symlink: 0o120000 } as const

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0')
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4
}

function header(ino: number, mode: number, size: number, nameLen: number): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  return '070701' + [ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, nameLen, 0].map(hex8).join('')
}

function record(ino: number, name: string, mode: number, data: Buffer): Buffer[] {
  const nameBuf = Buffer.from(`${name}\0`)
  const head = Buffer.from(header(ino, mode, data.length, nameBuf.length), 'ascii')
  return [
    head,
    nameBuf,
    Buffer.alloc(pad4(head.length + nameBuf.length)),
    data,
    Buffer.alloc(pad4(data.length)),
  ]
}

/** The archive's bytes: the entries in order, then the TRAILER!!! record. */
export function cpioArchive(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = []
  let ino = 1
  for (const e of entries) {
    if (e.path.startsWith('/') || e.path === '') throw new TypeError(`cpio path must be relative: ${e.path}`)
    const data = e.type === 'dir' ? Buffer.alloc(0) : Buffer.from(e.data ?? '')
    parts.push(...record(ino++, e.path, TYPE_BITS[e.type] | (e.mode & 0o7777), data))
  }
  parts.push(...record(0, 'TRAILER!!!', 0, Buffer.alloc(0)))
  return Buffer.concat(parts)
}
