/**
 * What an impairment may be, checked before tc or nft run (so a bad value
 * gets one sentence, not tc's usage text). Pure: the Lab (impair.ts) and the
 * scenario validator both use it.
 */

export interface Impairment {
  /** One-way delay in ms. */
  delay?: number
  /** Delay variation in ms (needs delay). */
  jitter?: number
  /** Packet loss in percent (0-100). */
  loss?: number
  /** Rate limit, bits per second (0: none). */
  rate?: number
  /** Duplicated packets in percent. */
  duplicate?: number
  /** Corrupted packets in percent. */
  corrupt?: number
  /** Reordered packets in percent (needs delay). */
  reorder?: number
}

const FIELDS = ['delay', 'jitter', 'loss', 'rate', 'duplicate', 'corrupt', 'reorder'] as const

/**
 * tc takes rates in whole bytes per second: below 8 bit/s it reads 0 and
 * refuses the qdisc. 1 Tbit/s is far above anything a veth carries. Delays
 * above a minute are better made with a partition.
 */
export const IMPAIRMENT_LIMITS = {
  rate: { min: 8, max: 1e12 },
  delay: { min: 0, max: 60_000 },
  percent: { min: 0, max: 100 },
} as const

export interface ImpairmentProblem {
  /** The setting at fault. */
  field: string
  message: string
}

function shown(v: unknown): string {
  return typeof v === 'string'
    ? `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`
    : String(v)
}

/** Every problem with `i`, one sentence each, in the order of the fields; none: it is fine. */
export function impairmentProblems(i: Impairment): ImpairmentProblem[] {
  const out: ImpairmentProblem[] = []
  const record = i as Record<string, unknown>
  for (const key of Object.keys(record))
    if (!(FIELDS as readonly string[]).includes(key) && record[key] !== undefined)
      out.push({
        field: key,
        message: `unknown impairment ${JSON.stringify(key)}; expected one of: ${FIELDS.join(', ')}`,
      })
  for (const field of FIELDS) {
    const v = record[field]
    if (v === undefined) continue
    const add = (message: string): void => void out.push({ field, message })
    if (typeof v !== 'number') {
      add(
        `impairment ${field} must be a number (${field === 'rate' ? 'bits per second' : field === 'delay' || field === 'jitter' ? 'milliseconds' : 'percent'}), got ${shown(v)}`,
      )
      continue
    }
    if (field === 'rate') {
      const { min, max } = IMPAIRMENT_LIMITS.rate
      if (v !== 0 && !(v >= min && v <= max))
        add(
          `impairment rate must be at least ${min} bit/s (tc counts whole bytes per second) and at most 1 Tbit/s, got ${shown(v)} bit/s`,
        )
    } else if (field === 'delay' || field === 'jitter') {
      const { min, max } = IMPAIRMENT_LIMITS.delay
      if (!(v >= min && v <= max))
        add(`impairment ${field} must be a number of milliseconds from ${min} to ${max}, got ${shown(v)}`)
    } else {
      const { min, max } = IMPAIRMENT_LIMITS.percent
      if (!(v >= min && v <= max))
        add(`impairment ${field} must be a percentage from ${min} to ${max}, got ${shown(v)}`)
    }
  }
  const delayed = typeof i.delay === 'number' && i.delay > 0
  for (const field of ['jitter', 'reorder'] as const)
    if (typeof i[field] === 'number' && i[field] > 0 && !delayed && !out.some((p) => p.field === field))
      out.push({ field, message: `impairment ${field} needs a delay: give delay too` })
  return out
}

/** Throw a TypeError with the first problem of `i`, if it has one. */
export function checkImpairment(i: Impairment): void {
  const [first] = impairmentProblems(i)
  if (first) throw new TypeError(first.message)
}

function trimNumber(n: number): string {
  return String(Number(n.toFixed(3)))
}

function rateText(bps: number): string {
  if (bps >= 1e9 && bps % 1e6 === 0) return `${trimNumber(bps / 1e9)}Gbit`
  if (bps >= 1e6) return `${trimNumber(bps / 1e6)}Mbit`
  if (bps >= 1e3) return `${trimNumber(bps / 1e3)}kbit`
  return `${trimNumber(bps)}bit`
}

/** `delay 20ms jitter 5ms loss 1% rate 10Mbit` (empty for no impairment). */
export function impairmentText(i: Impairment | undefined): string {
  if (!i) return ''
  const parts: string[] = []
  if (i.delay) parts.push(`delay ${trimNumber(i.delay)}ms`)
  if (i.jitter) parts.push(`jitter ${trimNumber(i.jitter)}ms`)
  if (i.loss) parts.push(`loss ${trimNumber(i.loss)}%`)
  if (i.rate) parts.push(`rate ${rateText(i.rate)}`)
  if (i.duplicate) parts.push(`duplicate ${trimNumber(i.duplicate)}%`)
  if (i.corrupt) parts.push(`corrupt ${trimNumber(i.corrupt)}%`)
  if (i.reorder) parts.push(`reorder ${trimNumber(i.reorder)}%`)
  return parts.join(' ')
}
