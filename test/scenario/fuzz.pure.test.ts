/**
 * Fuzzing scenario files: whatever the text, parseScenario returns a
 * scenario or throws a ScenarioError whose every message is placed in the
 * file and says what it expected and what it found. Never another error (a
 * RangeError from a stack overflow, an InvalidAddressError, a TypeError),
 * never "undefined" in a message, never a hang: structure-aware mutations of
 * every file in scenarios/, text mutations, and nesting bombs. A few seconds
 * here; `npm run fuzz` runs them (and the netlink decoder's) much longer.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { ScenarioError } from '../../harness/scenario/diagnostics.js'
import { parseScenario } from '../../harness/scenario/load.js'
import { FUZZ_TIMEOUT, fuzzRuns } from '../support/fuzz.js'

const dir = join(import.meta.dirname, '../../scenarios')
const texts = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => readFileSync(join(dir, f), 'utf8'))
const seeds = texts.map((t) => parse(t) as unknown)

/** Parse; a ScenarioError's diagnostics must all be good ones. Anything else thrown fails the property. */
function check(text: string): void {
  try {
    parseScenario(text, 'f.yaml')
  } catch (err) {
    if (!(err instanceof ScenarioError)) throw err
    expect(err.diagnostics.length).toBeGreaterThan(0)
    for (const d of err.diagnostics) {
      expect(d.message.length, d.message).toBeGreaterThan(0)
      expect(d.message).not.toMatch(/undefined|\[object |Maximum call stack|NaN undefined/)
      // Placed in the file, but for the one problem that has no place: the size.
      if (!/^a scenario file is at most /.test(d.message)) expect(d.line, d.message).toBeGreaterThanOrEqual(1)
      expect(d.column).toBeGreaterThanOrEqual(0)
    }
    expect(err.message.split('\n').length).toBeLessThanOrEqual(51)
  }
}

const noUndefined = (t: string): boolean => !t.includes('undefined')

/** Values that have broken validators before, and plain random ones. */
const value: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    '1.2.3',
    '10.0.0.0/33',
    '10.0.0.1/24',
    'fd00::1::2',
    '::',
    '(',
    '[',
    '',
    ' ',
    '${a.addr.zz}',
    '${}',
    '${a.',
    '1bit',
    '0ms',
    '101%',
    '-1',
    'default',
    'a',
    'r1',
    'sw',
  ),
  fc.constantFrom(-1, 0, 0.5, 1, 1025, 65536, 1e300, -0, Number.NaN, Infinity, -Infinity, true, false, null),
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ maxLength: 20 }),
)

type Op = { at: number; kind: 'replace' | 'delete' | 'wrap' | 'add' | 'dup'; value: unknown; key: string }

const op: fc.Arbitrary<Op> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('replace', 'delete', 'wrap', 'add', 'dup'),
  value,
  key: fc.oneof(
    fc.constantFrom('between', 'host', 'hosts', 'subnet', 'impair', 'x'),
    fc.string({ maxLength: 8 }),
  ),
})

/** Every (container, key) in a JSON-like tree, found without recursion. */
function slots(root: unknown): { parent: Record<string | number, unknown>; key: string | number }[] {
  const out: { parent: Record<string | number, unknown>; key: string | number }[] = []
  const stack = [root]
  while (stack.length) {
    const v = stack.pop()
    if (v === null || typeof v !== 'object') continue
    const o = v as Record<string | number, unknown>
    for (const k of Array.isArray(v) ? v.keys() : Object.keys(o)) {
      out.push({ parent: o, key: k })
      stack.push(o[k])
    }
  }
  return out
}

function mutate(seed: unknown, ops: Op[]): unknown {
  const doc = structuredClone(seed)
  for (const o of ops) {
    const all = slots(doc)
    if (all.length === 0) break
    const { parent, key } = all[o.at % all.length]!
    if (o.kind === 'replace') parent[key] = o.value
    else if (o.kind === 'wrap') parent[key] = [parent[key]]
    else if (o.kind === 'dup')
      parent[key] = Array.isArray(parent[key]) ? [...parent[key], ...parent[key]] : parent[key]
    else if (o.kind === 'add') {
      const target = parent[key]
      if (target && typeof target === 'object' && !Array.isArray(target))
        (target as Record<string, unknown>)[o.key] = o.value
      else if (Array.isArray(target)) target.push(o.value)
    } else if (Array.isArray(parent)) parent.splice(Number(key), 1)
    else delete parent[key]
  }
  return doc
}

describe('scenario fuzzing', { timeout: FUZZ_TIMEOUT }, () => {
  it('has every scenario file as a seed, each valid', () => {
    expect(seeds.length).toBeGreaterThanOrEqual(12)
    for (const t of texts) expect(() => parseScenario(t)).not.toThrow()
  })

  it('places every problem when any one key or item of any scenario is deleted, or any text made bad', () => {
    // Every slot of every file: deleted, and a string replaced by a bad address, subnet or
    // regular expression in turn. JSON is YAML, and much quicker to write than YAML.
    const bad = ['1.2.3', '(', '10.0.0.0/33']
    let runs = 0
    for (const seed of seeds) {
      const all = slots(seed)
      all.forEach(({ parent, key }, at) => {
        const ops: Op[] = [{ at, kind: 'delete', value: null, key: '' }]
        if (typeof parent[key] === 'string') ops.push({ at, kind: 'replace', value: bad[at % 3], key: '' })
        if (typeof parent[key] === 'number') ops.push({ at, kind: 'replace', value: -1, key: '' })
        for (const o of ops) {
          check(JSON.stringify(mutate(seed, [o]), null, 1))
          runs++
        }
      })
    }
    expect(runs).toBeGreaterThan(2000)
  })

  it('places every problem of a structurally mutated scenario, naming what it found (property)', () => {
    fc.assert(
      fc.property(fc.nat(seeds.length - 1), fc.array(op, { minLength: 1, maxLength: 4 }), (i, ops) => {
        const text = stringify(mutate(seeds[i], ops))
        fc.pre(noUndefined(text))
        check(text)
      }),
      fuzzRuns(400),
    )
  })

  it('never crashes on random or mutated text (property)', () => {
    const seed = texts[0]!
    const mutated = fc
      .tuple(fc.nat(seed.length), fc.nat(40), fc.string({ maxLength: 12 }))
      .map(([at, cut, ins]) => seed.slice(0, at) + ins + seed.slice(Math.min(seed.length, at + cut)))
    fc.assert(
      fc.property(
        fc.oneof(
          mutated,
          fc.string({ maxLength: 300 }),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (text) => {
          fc.pre(noUndefined(text))
          check(text)
        },
      ),
      fuzzRuns(1000),
    )
  })

  it('refuses nesting bombs of every shape with one placed sentence, whatever their depth (property)', () => {
    const shapes: Record<string, (n: number) => string> = {
      flow: (n) => `topology: ${'['.repeat(n)}${']'.repeat(n)}`,
      flowMap: (n) => `topology: ${'{a: '.repeat(n)}1${'}'.repeat(n)}`,
      dashes: (n) => `topology:\n  hosts:\n    ${'- '.repeat(n)}a`,
      keys: (n) => `topology: { hosts: [a] }\nsteps:\n${'? '.repeat(n)}x`,
      indent: (n) =>
        `topology: { hosts: [a] }\nx:\n${Array.from({ length: n }, (_, i) => `${' '.repeat(i + 1)}k${i}:`).join('\n')} 1`,
      unclosed: (n) => `topology: ${'['.repeat(n)}`,
    }
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(shapes)), fc.integer({ min: 1, max: 5000 }), (shape, n) => {
        const text = shapes[shape]!(shape === 'indent' ? Math.min(n, 600) : n)
        check(text)
        if (n > 70 && shape !== 'unclosed')
          expect(() => parseScenario(text, 'f.yaml')).toThrow(/nested more than 64 levels deep/)
      }),
      fuzzRuns(150),
    )
  })
})
