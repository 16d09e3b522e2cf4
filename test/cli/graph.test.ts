/**
 * `nslab graph`: a shipped scenario with tunnels drawn as Mermaid, DOT and
 * Graphviz SVG, and a running lab read back from the kernel (kinds, veth
 * pairs with the lab's link ids, addresses, MTU, impairment, NAT, a
 * tunnel, a link taken down drawn as down), once and with --watch.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import '../../harness/vpn/index.js' // registers the tunnel drivers
import { kernelFeatures } from '../../harness/lab/features.js'
import { Lab } from '../../harness/lab/lab.js'
import type { LabModel } from '../../harness/lab/model.js'
import { labTopology } from '../../harness/trace/lab-topology.js'
import { nslab } from '../support/cli.js'

const SCENARIO = 'scenarios/wireguard-overlapping-sites.yaml'

/** Element ids in an SVG (character references decoded). */
function svgIds(svg: string): Set<string> {
  return new Set(
    [...svg.matchAll(/ id="([^"]*)"/g)].map((m) =>
      m[1]!.replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n))).replace(/&quot;/g, '"'),
    ),
  )
}

describe('nslab graph FILE', () => {
  it('draws the scenario with its tunnels: SVG from Graphviz, DOT, Mermaid', async () => {
    const svg = await nslab(['graph', SCENARIO, '-f', 'svg'])
    expect(svg.code, svg.stderr).toBe(0)
    expect(svg.stdout.startsWith('<svg ')).toBe(true)
    const ids = svgIds(svg.stdout)
    for (const id of [
      'node-hub',
      'node-lan2',
      'link-hub--site1#0',
      'link-lan2--site2#0',
      'tunnel-t1',
      'tunnel-t2',
    ])
      expect(ids, id).toContain(id)
    expect(svg.stdout).toContain('100.64.31.2/24')

    const dot = await nslab(['graph', SCENARIO, '-f', 'dot'])
    expect(dot.code, dot.stderr).toBe(0)
    expect(dot.stdout).toMatch(
      /"hub" -- "site1" \[id="tunnel-t1", class="tunnel wireguard state-up".*style=dashed/,
    )

    const mermaid = await nslab(['graph', SCENARIO])
    expect(mermaid.code, mermaid.stderr).toBe(0)
    expect(mermaid.stdout).toContain('n_hub -.-|wireguard t1| n_site1')
  })

  it('says what is wrong with a target that is neither a file nor a lab, and with a bad format', async () => {
    const r = await nslab(['graph', 'no/such/file.yaml'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('"no/such/file.yaml" is neither a file nor a lab id')
    const f = await nslab(['graph', SCENARIO, '-f', 'png'])
    expect(f.code).toBe(2)
    expect(f.stderr).toContain('unknown format "png"')
  })
})

describe('nslab graph LAB', () => {
  const labs: Lab[] = []
  afterAll(async () => {
    for (const l of labs) await l.destroy()
  })

  async function newLab(): Promise<{ lab: Lab; model: LabModel }> {
    // gr + 4 hex: this file's labs, told apart from other tests' at a glance in nslab ls.
    const lab = await Lab.create({ id: `gr${randomBytes(2).toString('hex')}` })
    labs.push(lab)
    return { lab, model: (lab as unknown as { model: LabModel }).model }
  }

  it('reads a running lab from the kernel: the ids, addresses and kinds labTopology gives, MTU, impairment, NAT, a tunnel, a link down', async () => {
    const { lab, model } = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    const r = await lab.addRouter('r')
    const sw = await lab.addSwitch('sw')
    const c = await lab.addHost('c')
    await lab.connect(a, r, { mtu: 1400 })
    await lab.connect(a, r) // a second, parallel link
    await lab.connect(r, sw)
    await lab.connect(c, sw)
    await lab.connect(r, b)
    // netem where the kernel has it, else tbf (this container's kernel has no sch_netem).
    const { netem, tbf } = await kernelFeatures()
    const impairment = netem ? { delay: 20 } : tbf ? { rate: 10e6 } : undefined
    const impaired = netem ? 'delay 20ms' : 'rate 10Mbit'
    if (impairment) await lab.impair(r, b, impairment, { direction: 'forward' })
    await lab.nat(r, b)
    await lab.tunnel(a, c, { type: 'wireguard', subnet: '100.64.77.0/24' })
    await lab.linkDown(a, r) // the first a--r link

    const dot = await nslab(['graph', lab.id, '-f', 'dot'])
    expect(dot.code, dot.stderr).toBe(0)
    const expected = labTopology(model)
    expect(expected.links.map((l) => l.id).sort()).toEqual([
      'a--r#0',
      'a--r#1',
      'b--r#0',
      'c--sw#0',
      'r--sw#0',
    ])
    for (const n of expected.nodes)
      expect(dot.stdout).toContain(`[id="node-${n.name}", class="node ${n.kind}"`)
    for (const l of expected.links) {
      expect(dot.stdout).toContain(`id="link-${l.id}"`)
      for (const e of [l.a, l.b])
        expect(dot.stdout).toContain(
          `${e.node} ${e.device}${e.addresses.length ? `: ${e.addresses.join('  ')}` : ''}`,
        )
    }
    expect(dot.stdout).toMatch(/id="link-a--r#0", class="link state-down", label=<.*mtu 1400 · DOWN>/)
    expect(dot.stdout).toMatch(/id="link-a--r#1", class="link state-up"/)
    if (impairment) {
      expect(expected.links.find((l) => l.id === 'b--r#0')!.impairment).toBe(`r→b: ${impaired}`)
      expect(dot.stdout).toMatch(
        new RegExp(
          `id="link-b--r#0", class="link nat state-impaired", label=<.*r→b: ${impaired}.*NAT: r masquerades towards b`,
        ),
      )
    } else
      expect(dot.stdout).toMatch(
        /id="link-b--r#0", class="link nat state-up", label=<.*NAT: r masquerades towards b/,
      )
    expect(dot.stdout).toMatch(
      /"a" -- "c" \[id="tunnel-wireguard-a-c", class="tunnel wireguard state-up", label=<<B>wireguard wireguard-a-c<\/B><BR\/>a \S+: 100\.64\.77\.1\/24<BR\/>c \S+: 100\.64\.77\.2\/24>/,
    )

    const svg = await nslab(['graph', lab.id, '-f', 'svg'])
    expect(svg.code, svg.stderr).toBe(0)
    const ids = svgIds(svg.stdout)
    for (const id of [
      ...expected.nodes.map((n) => `node-${n.name}`),
      ...expected.links.map((l) => `link-${l.id}`),
      ...expected.tunnels.map((t) => `tunnel-${t.id}`),
    ])
      expect(ids, id).toContain(id)
  }, 60_000)

  it('--watch draws again when a link changes', async () => {
    const { lab } = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    let flipped = false
    let downs = 0
    const run = await nslab(['graph', lab.id, '-f', 'mermaid', '--watch'], {
      timeoutMs: 30_000,
      onStdout: (text, kill) => {
        if (!flipped && text.includes('n_a ---')) {
          flipped = true
          void lab.linkDown(a, b)
        }
        downs = text.split('\n').filter((l) => l.includes(', down|')).length
        if (downs > 0) kill('SIGINT')
      },
    })
    expect(run.signal ?? run.code, run.stderr).not.toBe('SIGKILL')
    expect(downs).toBe(1)
    expect(run.stdout.match(/^graph LR$/gm)).toHaveLength(2)
  }, 40_000)

  it('names a lab that does not exist', async () => {
    const r = await nslab(['graph', 'zz99'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/zz99/)
  })
})
