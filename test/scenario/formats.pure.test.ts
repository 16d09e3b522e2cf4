/** Units, the JSON Schema, graphs and reports: pure functions, no kernel. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseScenario } from '../../harness/scenario/load.js'
import { scenarioJsonSchema } from '../../harness/scenario/schema.js'
import { toDot, toMermaid, toSvg } from '../../harness/scenario/graph.js'
import { toJunit } from '../../harness/scenario/report.js'
import type { ScenarioReport } from '../../harness/scenario/runner.js'
import { bitsPerSecond, bytes, durationMs, percent } from '../../harness/scenario/units.js'
import { editDistance, nearest } from '../../harness/scenario/diagnostics.js'

describe('units', () => {
  it('reads durations, percentages, rates and sizes', () => {
    expect([durationMs('250ms'), durationMs('2s'), durationMs('1.5m'), durationMs(40)]).toEqual([
      250, 2000, 90_000, 40,
    ])
    expect([percent('5%'), percent(12.5)]).toEqual([5, 12.5])
    expect([bitsPerSecond('8mbit'), bitsPerSecond('500kbit'), bitsPerSecond('1Gbit')]).toEqual([
      8e6, 5e5, 1e9,
    ])
    expect([bytes('64k'), bytes('2m'), bytes(1500), bytes('1500')]).toEqual([65536, 2097152, 1500, 1500])
    expect(() => durationMs('5 parsecs')).toThrow(/not a duration \(write 500ms, 2s or 1m\)/)
    expect(() => percent('150%')).toThrow(/not a percentage/)
  })
  it('round-trips numbers written with units', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), (n) => {
        expect(durationMs(`${n}ms`)).toBe(n)
        expect(durationMs(`${n}s`)).toBe(n * 1000)
        expect(bitsPerSecond(`${n}kbit`)).toBe(n * 1000)
        expect(bytes(`${n}k`)).toBe(n * 1024)
      }),
    )
  })
  it('suggests the nearest word only when it is close', () => {
    expect(editDistance('lnk', 'link')).toBe(1)
    expect(nearest('protcol', ['protocol', 'port'])).toBe('protocol')
    expect(nearest('zzzzzz', ['reach', 'ping'])).toBeUndefined()
  })
})

describe('JSON Schema', () => {
  it('is committed as generated from the zod schemas (run: node scripts/schema.mjs)', () => {
    const committed = readFileSync(join(import.meta.dirname, '../../scenarios/scenario.schema.json'), 'utf8')
    expect(JSON.parse(committed)).toEqual(scenarioJsonSchema())
  })
  it('refuses unknown keys and wants exactly one kind per step, as the parser does', () => {
    const schema = scenarioJsonSchema() as {
      additionalProperties: boolean
      properties: {
        steps: { items: { additionalProperties: boolean; minProperties: number; maxProperties: number } }
      }
    }
    expect(schema.additionalProperties).toBe(false)
    expect(schema.properties.steps.items).toMatchObject({
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
    })
  })
})

const demo = parseScenario(
  'name: demo <1>\ntopology:\n  hosts: [a, b]\n  routers: [r1]\n  switches: [sw]\n  links:\n    - [a, r1]\n    - { between: [r1, sw], mtu: 1400, impair: { loss: 5% } }\n    - [b, sw]\n',
).scenario

describe('graph', () => {
  it('draws Mermaid and DOT with every node and link', () => {
    expect(toMermaid(demo)).toMatchInlineSnapshot(`
      "graph LR
        n_a((a))
        n_b((b))
        n_r1([r1])
        n_sw[sw]
        n_a ---|a 198.18.1.1/30, r1 198.18.1.2/30| n_r1
        n_r1 ---|r1 198.18.0.1/24, mtu 1400, loss 5%| n_sw
        n_b ---|b 198.18.0.2/24| n_sw
      "
    `)
    const dot = toDot(demo)
    expect(dot).toMatch(
      /"r1" -- "sw" \[id="link-r1--sw#0", class="link state-impaired", label=<r1: 198\.18\.0\.1\/24 {2}fd00::1\/64<BR\/>sw<BR\/>mtu 1400 · loss 5%>/,
    )
    expect(dot).toMatch(/"sw" \[id="node-sw", class="node switch", shape=box/)
  })
  it('draws an SVG laid out by Graphviz, names escaped', async () => {
    const svg = await toSvg(demo)
    expect(svg.startsWith('<svg ')).toBe(true)
    expect(svg).toContain('<title>demo &lt;1&gt;</title>')
    expect(svg.match(/class="edge link/g)).toHaveLength(3)
    expect(svg.match(/<ellipse /g)).toHaveLength(2)
  })
})

describe('JUnit XML', () => {
  const report: ScenarioReport = {
    file: 'scenarios/x.yaml',
    name: 'x <&> "y"',
    status: 'failed',
    ms: 1500,
    error: '1 of 2 expectation(s) failed',
    build: { label: 'build 2 node(s)', status: 'passed', ms: 20 },
    steps: [{ label: 'flap a--b', status: 'passed', ms: 1000 }],
    expectations: [
      { label: 'a reaches b (icmp)', status: 'passed', ms: 5, detail: '3/3' },
      { label: 'tcp a -> b works', status: 'failed', ms: 2000, detail: 'ETIMEDOUT \u0001' },
    ],
  }
  it('has a suite per scenario and a case per item, failures with their detail, escaped', () => {
    const xml = toJunit([report])
    expect(xml).toContain('<testsuites name="nslab scenarios" tests="4" failures="1"')
    expect(xml).toContain(
      '<testsuite name="x &lt;&amp;&gt; &quot;y&quot;" file="scenarios/x.yaml" tests="4" failures="1"',
    )
    expect(xml).toContain('<failure message="ETIMEDOUT ?">')
    expect(xml).not.toContain('\u0001')
    expect(xml.match(/<testcase /g)).toHaveLength(4)
    expect(xml.match(/<\/testcase>/g)).toHaveLength(4)
  })
  it('reports a scenario that needs a missing kernel feature as skipped, not failed', () => {
    const xml = toJunit([
      {
        ...report,
        status: 'missing-feature',
        error: 'needs netem',
        build: undefined,
        steps: [],
        expectations: [],
      },
    ])
    expect(xml).toContain('<skipped message="needs netem"/>')
    expect(xml).toContain('failures="0"')
  })
})
