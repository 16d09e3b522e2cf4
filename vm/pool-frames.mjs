// Frames on the VM test pool's channel (vm/vitest-pool.ts on the host,
// vm/pool-agent.mjs in the guest): one byte stream over a virtio-serial port,
// carrying many workers. Plain JavaScript so the guest runs it with no build
// or loader; types in pool-frames.d.mts.
//
//   u32 LE  length of what follows (5 + payload)
//   u8      kind (FRAME)
//   u32 LE  worker id (0: the agent itself)
//   ...     payload (JSON, or v8-serialized for "message")

/** Frame kinds: host to guest below 16, guest to host from 16. */
export const FRAME = Object.freeze({
  spawn: 1,
  message: 2,
  kill: 3,
  shutdown: 4,
  ready: 16,
  reply: 17,
  stdout: 18,
  stderr: 19,
  exit: 20,
  error: 21,
})

const KINDS = new Set(Object.values(FRAME))
const HEADER = 9
/** Larger frames are refused: a desynchronised stream shows up as an absurd length. */
export const MAX_FRAME = 512 * 1024 * 1024

export class FrameError extends Error {
  name = 'FrameError'
}

/**
 * One frame's bytes.
 * @param {number} kind
 * @param {number} worker
 * @param {Uint8Array} [payload]
 * @returns {Buffer}
 */
export function encodeFrame(kind, worker, payload = Buffer.alloc(0)) {
  if (!KINDS.has(kind)) throw new FrameError(`unknown frame kind ${kind}`)
  if (!Number.isInteger(worker) || worker < 0 || worker > 0xffffffff)
    throw new FrameError(`worker id out of range: ${worker}`)
  if (payload.length + 5 > MAX_FRAME) throw new FrameError(`frame too large: ${payload.length} bytes`)
  const out = Buffer.allocUnsafe(HEADER + payload.length)
  out.writeUInt32LE(5 + payload.length, 0)
  out[4] = kind
  out.writeUInt32LE(worker, 5)
  out.set(payload, HEADER)
  return out
}

/** Reassembles frames from chunks cut anywhere. */
export class FrameReader {
  /** @type {Buffer[]} */
  #chunks = []
  #size = 0

  /**
   * Feed bytes; returns the frames they complete, in order. A malformed
   * stream (unknown kind, impossible length) throws FrameError and the
   * reader must be dropped: nothing after it can be trusted.
   * @param {Uint8Array} chunk
   * @returns {{ kind: number, worker: number, payload: Buffer }[]}
   */
  push(chunk) {
    if (chunk.length) {
      this.#chunks.push(Buffer.from(chunk)) // a copy: callers reuse their read buffers
      this.#size += chunk.length
    }
    const frames = []
    while (this.#size >= 4) {
      const head = this.#peek(4)
      const length = head.readUInt32LE(0)
      if (length < 5 || length > MAX_FRAME)
        throw new FrameError(`bad frame length ${length} (the stream is out of step or not nslab's)`)
      if (this.#size < 4 + length) break
      const frame = this.#take(4 + length)
      const kind = frame[4]
      if (!KINDS.has(kind)) throw new FrameError(`unknown frame kind ${kind}`)
      frames.push({ kind, worker: frame.readUInt32LE(5), payload: frame.subarray(HEADER) })
    }
    return frames
  }

  /** Bytes held for a frame not yet complete. */
  get pending() {
    return this.#size
  }

  /** @param {number} n */
  #peek(n) {
    if (this.#chunks[0].length < n) this.#chunks = [Buffer.concat(this.#chunks)]
    return this.#chunks[0]
  }

  /** @param {number} n */
  #take(n) {
    const all = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks)
    const frame = all.subarray(0, n)
    const rest = all.subarray(n)
    this.#chunks = rest.length ? [rest] : []
    this.#size = rest.length
    return frame
  }
}
