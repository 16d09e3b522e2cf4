/**
 * The units scenario files write values in: durations (`500ms`, `2s`,
 * `1m`; a bare number is milliseconds), percentages (`5%` or `5`), rates
 * (`8mbit`, `500kbit`, `1gbit`; a bare number is bits per second) and sizes
 * (`64k`, `2m`, `1500`; bytes). Pure: text in, number out.
 */

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m)$/
const PERCENT = /^(\d+(?:\.\d+)?)\s*%$/
const RATE = /^(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)$/i
const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|ki|kib|m|mb|mi|mib)?$/i

export const DURATION_PATTERN = DURATION.source
export const PERCENT_PATTERN = PERCENT.source
export const RATE_PATTERN = RATE.source
export const SIZE_PATTERN = SIZE.source

/** Milliseconds from `250ms`, `2s`, `1.5m` or a number of milliseconds. */
export function durationMs(v: number | string): number {
  if (typeof v === 'number') return v
  const m = DURATION.exec(v.trim())
  if (!m) throw new TypeError(`${JSON.stringify(v)} is not a duration (write 500ms, 2s or 1m)`)
  const n = Number(m[1])
  return m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000
}

/** A percentage 0-100 from `5%` or `5`. */
export function percent(v: number | string): number {
  const n = typeof v === 'number' ? v : Number(PERCENT.exec(v.trim())?.[1] ?? NaN)
  if (!Number.isFinite(n) || n < 0 || n > 100)
    throw new TypeError(`${JSON.stringify(v)} is not a percentage (write 5% or a number 0-100)`)
  return n
}

/** Bits per second from `8mbit`, `500kbit`, `1gbit`, `64000bit` or a number. */
export function bitsPerSecond(v: number | string): number {
  if (typeof v === 'number') return v
  const m = RATE.exec(v.trim())
  if (!m) throw new TypeError(`${JSON.stringify(v)} is not a rate (write 8mbit, 500kbit or 1gbit)`)
  const scale = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[m[2]!.toLowerCase() as 'bit']
  return Number(m[1]) * scale
}

/** Bytes from `64k`, `2m`, `1500` (k and m are 1024 and 1024², as `dd` and `ip` read them). */
export function bytes(v: number | string): number {
  if (typeof v === 'number') return v
  const m = SIZE.exec(v.trim())
  if (!m) throw new TypeError(`${JSON.stringify(v)} is not a size (write 1500, 64k or 2m)`)
  const unit = (m[2] ?? 'b').toLowerCase()[0]
  return Math.round(Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1))
}

/** Human text for a rate in bits per second: `7.91 Mbit/s`. */
export function formatRate(bps: number): string {
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(2)} Gbit/s`
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mbit/s`
  if (bps >= 1e3) return `${(bps / 1e3).toFixed(1)} kbit/s`
  return `${bps.toFixed(0)} bit/s`
}

/** Human text for milliseconds: `850 ms`, `2.4 s`. */
export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`
}
