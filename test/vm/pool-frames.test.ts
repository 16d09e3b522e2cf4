/**
 * The VM pool's channel frames (vm/pool-frames.mjs): what one side encodes
 * the other reads back, however the byte stream is cut; a stream that is not
 * frames fails with FrameError, never a crash or a hang.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FRAME, FrameError, FrameReader, MAX_FRAME, encodeFrame } from '../../vm/pool-frames.mjs'

const kinds = Object.values(FRAME)
const frameArb = fc.record({
  kind: fc.constantFrom(...kinds),
  worker: fc.integer({ min: 0, max: 0xffffffff }),
  payload: fc.uint8Array({ maxLength: 300 }),
})

/** Cut `bytes` at the given fractions into chunks. */
function cut(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const a of [...at, bytes.length]) {
    out.push(bytes.subarray(prev, a))
    prev = a
  }
  return out
}

describe('VM pool frames', () => {
  it('lays a frame out as length, kind, worker id, payload (little-endian)', () => {
    const f = encodeFrame(FRAME.message, 7, Buffer.from('hi'))
    expect([...f]).toEqual([7, 0, 0, 0, 2, 7, 0, 0, 0, 0x68, 0x69])
  })

  it('reads back every frame, in order, however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 12 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true })),
        (frames, cuts) => {
          const stream = Buffer.concat(frames.map((f) => encodeFrame(f.kind, f.worker, f.payload)))
          const reader = new FrameReader()
          const got = cut(stream, cuts).flatMap((c) => reader.push(c))
          expect(
            got.map((g) => ({ kind: g.kind, worker: g.worker, payload: new Uint8Array(g.payload) })),
          ).toEqual(frames)
          expect(reader.pending).toBe(0)
        },
      ),
    )
  })

  it('keeps its own copy of a partial frame: the caller may reuse its read buffer', () => {
    const frame = encodeFrame(FRAME.reply, 3, Buffer.from('payload'))
    const buf = Buffer.from(frame.subarray(0, 10))
    const reader = new FrameReader()
    expect(reader.push(buf)).toEqual([])
    buf.fill(0xee) // the next read lands in the same buffer
    const [f] = reader.push(frame.subarray(10))
    expect(f?.payload.toString()).toBe('payload')
  })

  it('refuses what it cannot encode', () => {
    expect(() => encodeFrame(99, 1)).toThrow(FrameError)
    expect(() => encodeFrame(FRAME.spawn, -1)).toThrow('worker id out of range')
    expect(() => encodeFrame(FRAME.spawn, 2 ** 32)).toThrow('worker id out of range')
  })

  it('fails a stream that is not frames with FrameError, saying why', () => {
    expect(() => new FrameReader().push(Buffer.from([1, 0, 0, 0, 0]))).toThrow('bad frame length 1')
    const big = Buffer.alloc(4)
    big.writeUInt32LE(MAX_FRAME + 1)
    expect(() => new FrameReader().push(big)).toThrow(FrameError)
    expect(() => new FrameReader().push(Buffer.from([5, 0, 0, 0, 42, 0, 0, 0, 0]))).toThrow(
      'unknown frame kind 42',
    )
  })

  it('never crashes or hangs on random bytes: frames, FrameError, or waiting for more', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const reader = new FrameReader()
        try {
          for (const c of chunks) for (const f of reader.push(c)) expect(kinds).toContain(f.kind)
        } catch (e) {
          expect(e).toBeInstanceOf(FrameError)
        }
      }),
      { numRuns: 2000 },
    )
  })
})
