/**
 * zod's issues turned into sentences a scenario author can act on: the
 * branch of a union that fits the input is followed into (not "Invalid
 * input"), unknown keys get the nearest valid key, and every message keeps
 * its path so it can be placed in the file.
 */
import type { z } from 'zod'
import { type DocPath, excerpt, unknownKeyMessage } from './diagnostics.js'

export interface Problem {
  path: DocPath
  message: string
  /** For an unknown key: the key, so it can be pointed at. */
  key?: string
}

interface Def {
  type: string
  shape?: Record<string, z.ZodType>
  element?: z.ZodType
  innerType?: z.ZodType
  valueType?: z.ZodType
  items?: z.ZodType[]
  options?: z.ZodType[]
  in?: z.ZodType
}

const def = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def

function unwrap(s: z.ZodType): z.ZodType {
  for (;;) {
    const d = def(s)
    if ((d.type === 'optional' || d.type === 'nullable' || d.type === 'default') && d.innerType)
      s = d.innerType
    else if (d.type === 'pipe' && d.in) s = d.in
    else return s
  }
}

/** The schemas that may describe the value at `path` (several when a union is on the way). */
function schemasAt(root: z.ZodType, path: DocPath): z.ZodType[] {
  let current = [unwrap(root)]
  for (const p of path) {
    const next: z.ZodType[] = []
    const visit = (s: z.ZodType): void => {
      const d = def(unwrap(s))
      if (d.type === 'union') for (const o of d.options ?? []) visit(o)
      else if (d.type === 'object' && typeof p === 'string' && d.shape?.[p]) next.push(unwrap(d.shape[p]))
      else if (d.type === 'array' && typeof p === 'number' && d.element) next.push(unwrap(d.element))
      else if (d.type === 'tuple' && typeof p === 'number' && d.items?.[p]) next.push(unwrap(d.items[p]))
      else if (d.type === 'record' && d.valueType) next.push(unwrap(d.valueType))
    }
    for (const s of current) visit(s)
    current = next
  }
  return current
}

/** The keys an object at `path` may have. */
export function validKeys(root: z.ZodType, path: DocPath): string[] {
  const keys = new Set<string>()
  const visit = (s: z.ZodType): void => {
    const d = def(unwrap(s))
    if (d.type === 'union') for (const o of d.options ?? []) visit(o)
    else if (d.type === 'object') for (const k of Object.keys(d.shape ?? {})) keys.add(k)
  }
  for (const s of schemasAt(root, path)) visit(s)
  return [...keys]
}

/** What was found, in words: `string "5 parsecs"`, `number -1`, `a list of 3`, `a map`, `null`. */
export function typeName(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return `a list of ${v.length}`
  if (typeof v === 'object') return 'a map'
  if (typeof v === 'string') return `string ${excerpt(v)}`
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')
    return `${typeof v} ${String(v)}`
  return typeof v
}

function valueAt(input: unknown, path: DocPath): unknown {
  let v = input
  for (const p of path)
    v = v && typeof v === 'object' ? (v as Record<string | number, unknown>)[p] : undefined
  return v
}

type Issue = z.core.$ZodIssue

/** True when a union branch failed at its own root (wrong type or missing discriminating shape). */
function failsAtRoot(issues: readonly Issue[]): boolean {
  return issues.some(
    (i) =>
      i.path.length === 0 &&
      (i.code === 'invalid_type' || i.code === 'invalid_value' || i.code === 'invalid_union'),
  )
}

export function problemsFrom(
  root: z.ZodType,
  input: unknown,
  issues: readonly Issue[],
  base: DocPath = [],
): Problem[] {
  const out: Problem[] = []
  for (const issue of issues) {
    const path = [...base, ...(issue.path as (string | number)[])]
    const got = valueAt(input, path)
    // "expected X, got Y", or "missing "key": expected X" when there is nothing there.
    const found = (expected: string): string =>
      got === undefined
        ? `missing ${typeof path.at(-1) === 'string' ? JSON.stringify(path.at(-1)) : 'value'}: ${expected}`
        : /\bgot\b/.test(expected)
          ? expected
          : `${expected}, got ${typeName(got)}`
    if (issue.code === 'invalid_union') {
      const fitting = issue.errors.filter((branch) => !failsAtRoot(branch))
      if (fitting.length === 1) {
        for (const p of problemsFrom(root, input, fitting[0]!, path)) out.push(p) // not push(...): it may be huge
        continue
      }
      out.push({ path, message: found(issue.message) })
    } else if (issue.code === 'unrecognized_keys') {
      const valid = validKeys(root, path)
      for (const key of issue.keys) out.push({ path, key, message: unknownKeyMessage(key, valid) })
    } else if (issue.code === 'invalid_type') {
      out.push({
        path,
        message: found(issue.message.replace(/^Invalid input: /, '').replace(/, received .*$/, '')),
      })
    } else if (issue.code === 'invalid_value') {
      const options = issue.values.map((v) => JSON.stringify(v)).join(', ')
      out.push({ path, message: found(`expected one of ${options}`) })
    } else {
      out.push({ path, message: found(issue.message.replace(/^(Invalid input|Too small|Too big): /, '')) })
    }
  }
  // An unknown key already says what is wrong with its object: drop the
  // object-level "needs one of" that follows from it.
  const unknownAt = new Set(out.filter((p) => p.key !== undefined).map((p) => JSON.stringify(p.path)))
  return out.filter(
    (p) => p.key !== undefined || !unknownAt.has(JSON.stringify(p.path)) || !p.message.startsWith('a '),
  )
}
