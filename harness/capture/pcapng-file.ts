/**
 * Writing pcapng blocks to a file or a stream, block by block, so a failure
 * half-way (a full disk) leaves a file that readers still accept: a file is
 * cut back to the end of the last whole block it holds.
 */
import { Buffer } from 'node:buffer'
import { open } from 'node:fs/promises'
import type { Writable } from 'node:stream'

/** What was written. */
export interface WriteResult {
  /** Blocks written whole. */
  blocks: number
  bytes: number
}

/** Writing stopped part-way; the destination holds `written` whole blocks (a valid file for a path). */
export class PcapngWriteError extends Error {
  override readonly name = 'PcapngWriteError'
  readonly written: WriteResult
  constructor(message: string, written: WriteResult, cause: unknown) {
    super(message, { cause })
    this.written = written
  }
}

/** Blocks are gathered into writes of about this many bytes. */
const CHUNK = 256 << 10

/**
 * Write blocks to `dest`: a path (created or truncated) or a Writable (left
 * open). Blocks are pulled from the iterable as they are written, so a
 * generator over a large capture is never held in memory all at once.
 */
export async function writeBlocks(dest: string | Writable, blocks: Iterable<Buffer>): Promise<WriteResult> {
  return typeof dest === 'string' ? writeFile(dest, blocks) : writeStream(dest, blocks)
}

/** Gather blocks into chunks of about CHUNK bytes, remembering where each block ends. */
function* chunks(blocks: Iterable<Buffer>): Generator<{ data: Buffer; ends: number[] }> {
  let parts: Buffer[] = []
  let ends: number[] = []
  let size = 0
  for (const b of blocks) {
    parts.push(b)
    size += b.length
    ends.push(size)
    if (size >= CHUNK) {
      yield { data: parts.length === 1 ? parts[0]! : Buffer.concat(parts, size), ends }
      parts = []
      ends = []
      size = 0
    }
  }
  if (parts.length > 0) yield { data: Buffer.concat(parts, size), ends }
}

async function writeFile(path: string, blocks: Iterable<Buffer>): Promise<WriteResult> {
  let fh
  try {
    fh = await open(path, 'w')
  } catch (err) {
    throw new PcapngWriteError(
      `cannot create the capture file ${path}: ${(err as Error).message}`,
      { blocks: 0, bytes: 0 },
      err,
    )
  }
  const done: WriteResult = { blocks: 0, bytes: 0 }
  try {
    for (const chunk of chunks(blocks)) {
      let written = 0
      try {
        while (written < chunk.data.length) {
          const r = await fh.write(chunk.data, written, chunk.data.length - written, done.bytes + written)
          written += r.bytesWritten
        }
      } catch (err) {
        // Keep the whole blocks this chunk got onto the disk, cut the rest.
        for (const end of chunk.ends) {
          if (end > written) break
          done.blocks++
        }
        const kept = done.bytes + Math.max(0, ...chunk.ends.filter((e) => e <= written))
        done.bytes = kept
        let cut = ''
        try {
          await fh.truncate(kept)
        } catch (e) {
          cut = ` (and cutting it back to ${kept} bytes failed too: ${(e as Error).message}; its last block is partial)`
        }
        throw new PcapngWriteError(
          `writing the capture file ${path} failed after ${done.blocks} blocks (${kept} bytes): ${(err as Error).message}${cut}; the file keeps the blocks before the failure and Wireshark reads it`,
          { ...done },
          err,
        )
      }
      done.blocks += chunk.ends.length
      done.bytes += chunk.data.length
    }
  } finally {
    await fh.close()
  }
  return done
}

async function writeStream(stream: Writable, blocks: Iterable<Buffer>): Promise<WriteResult> {
  const done: WriteResult = { blocks: 0, bytes: 0 }
  let failure: Error | undefined
  const onError = (err: Error): void => {
    failure ??= err
  }
  stream.on('error', onError)
  try {
    for (const chunk of chunks(blocks)) {
      if (failure) break
      const ok = stream.write(chunk.data)
      if (!ok && !failure) {
        await new Promise<void>((resolve) => {
          const settle = (): void => {
            stream.off('drain', settle)
            stream.off('error', settle)
            stream.off('close', settle)
            resolve()
          }
          stream.on('drain', settle)
          stream.on('error', settle)
          stream.on('close', settle)
        })
      }
      if (failure) break
      done.blocks += chunk.ends.length
      done.bytes += chunk.data.length
    }
  } finally {
    stream.off('error', onError)
  }
  if (failure)
    throw new PcapngWriteError(
      `writing the capture to a stream failed after ${done.blocks} blocks: ${failure.message}`,
      done,
      failure,
    )
  return done
}
