/** A scenario's impairment settings (with units) as the Lab's Impairment (numbers). */
import type { Impairment } from '../lab/index.js'
import type { ImpairmentSpec } from './schema.js'
import { bitsPerSecond, durationMs, percent } from './units.js'

export function impairmentOf(spec: ImpairmentSpec): {
  impairment: Impairment
  direction: 'both' | 'forward' | 'reverse'
} {
  const i: Impairment = {}
  if (spec.delay !== undefined) i.delay = durationMs(spec.delay)
  if (spec.jitter !== undefined) i.jitter = durationMs(spec.jitter)
  if (spec.loss !== undefined) i.loss = percent(spec.loss)
  if (spec.rate !== undefined) i.rate = bitsPerSecond(spec.rate)
  if (spec.duplicate !== undefined) i.duplicate = percent(spec.duplicate)
  if (spec.corrupt !== undefined) i.corrupt = percent(spec.corrupt)
  if (spec.reorder !== undefined) i.reorder = percent(spec.reorder)
  return { impairment: i, direction: spec.direction ?? 'both' }
}
