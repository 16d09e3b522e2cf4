/**
 * Topology pictures: the DOT text (pure), Graphviz's SVG of it (the wasm,
 * for real: every node, link and tunnel id present, labels with the
 * addresses), DOT injection by names (fast-check), and the adapters from a
 * Lab model, a scenario and what the kernel holds. No namespaces.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LabModel } from '../../harness/lab/model.js'
import { LabNode, type Port } from '../../harness/lab/node.js'
import type { Tunnel } from '../../harness/lab/tunnel.js'
import type { Netlink } from '../../harness/netlink/index.js'
import type { Netns } from '../../harness/netns/index.js'
import { loadScenario, scenarioTopology } from '../../harness/scenario/index.js'
import type { TraceTopology } from '../../harness/trace/data.js'
import { renderSvg, svgId, svgIdText, topologyDot, topologyMermaid } from '../../harness/trace/graph.js'
import {
  type KernelNamespace,
  kernelTopology,
  natDevicesOf,
  qdiscImpairment,
} from '../../harness/trace/kernel-topology.js'
import {
  impairmentText,
  labTopology,
  linkOfDevice,
  tunnelOfDevice,
} from '../../harness/trace/lab-topology.js'

const root = join(import.meta.dirname, '../..')

/** XML character references and the five entities, decoded. */
function xmlText(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|quot|amp|lt|gt|apos);/gi, (_, e: string) =>
    e.startsWith('#')
      ? String.fromCodePoint(
          e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10),
        )
      : { quot: '"', amp: '&', lt: '<', gt: '>', apos: "'" }[e.toLowerCase()]!,
  )
}

/** Every element id in an SVG, decoded. */
function svgIds(svg: string): Set<string> {
  return new Set([...svg.matchAll(/ id="([^"]*)"/g)].map((m) => xmlText(m[1]!)))
}

/** The classes of the element with `id`. */
function classOf(svg: string, id: string): string | undefined {
  for (const m of svg.matchAll(/<g id="([^"]*)" class="([^"]*)"/g))
    if (xmlText(m[1]!) === id) return xmlText(m[2]!)
  return undefined
}

/** All text the SVG shows, decoded (non-breaking spaces as spaces). */
function svgText(svg: string): string {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)]
    .map((m) => xmlText(m[1]!).replace(/\u00a0/g, ' '))
    .join('\n')
}

function idsOf(t: TraceTopology): string[] {
  return [
    ...t.nodes.map((n) => svgId('node', n.name)),
    ...t.links.map((l) => svgId('link', l.id)),
    ...t.tunnels.map((x) => svgId('tunnel', x.id)),
  ]
}

const topo: TraceTopology = {
  lab: 'ab12',
  nodes: [
    { name: 'a', kind: 'host' },
    { name: 'r', kind: 'router' },
    { name: 'sw', kind: 'switch' },
    { name: 'c', kind: 'host' },
    { name: 'out', kind: 'host' },
  ],
  links: [
    {
      id: 'a--r#0',
      a: { node: 'a', device: 'ab12-r', addresses: ['198.18.0.1/30', 'fd00::1/64'] },
      b: { node: 'r', device: 'ab12-a', addresses: ['198.18.0.2/30', 'fd00::2/64'] },
      mtu: 1400,
      impairment: 'delay 20ms',
    },
    {
      id: 'a--r#1',
      a: { node: 'a', device: 'ab12-r.1', addresses: ['198.18.0.5/30'] },
      b: { node: 'r', device: 'ab12-a.1', addresses: ['198.18.0.6/30'] },
    },
    {
      id: 'r--sw#0',
      a: { node: 'r', device: 'ab12-sw', addresses: ['198.18.1.1/24'] },
      b: { node: 'sw', device: 'ab12-r', addresses: [] },
    },
    {
      id: 'c--sw#0',
      a: { node: 'c', device: 'ab12-sw', addresses: ['198.18.1.2/24'] },
      b: { node: 'sw', device: 'ab12-c', addresses: [] },
    },
    {
      id: 'out--r#0',
      a: { node: 'out', device: 'ab12-r', addresses: ['203.0.113.2/30'] },
      b: { node: 'r', device: 'ab12-out', addresses: ['203.0.113.1/30'] },
    },
  ],
  tunnels: [
    {
      id: 't1',
      type: 'wireguard',
      a: { node: 'a', device: 'wgab120a', addresses: ['100.64.0.1/24'] },
      b: { node: 'c', device: 'wgab120b', addresses: ['100.64.0.2/24'] },
    },
  ],
  nat: [{ router: 'r', outside: 'out' }],
}

describe('topologyDot', () => {
  it('gives every element its id and classes, nodes their shape, links and tunnels their labels', () => {
    const dot = topologyDot(topo, { linkState: { 'a--r#1': 'down' } })
    expect(dot).toContain('"r" [id="node-r", class="node router", shape=octagon')
    expect(dot).toContain('"sw" [id="node-sw", class="node switch", shape=box')
    expect(dot).toContain('"a" [id="node-a", class="node host", shape=ellipse')
    expect(dot).toContain(
      '"a" -- "r" [id="link-a--r#0", class="link state-impaired", label=<a ab12-r: 198.18.0.1/30  fd00::1/64<BR/>r ab12-a: 198.18.0.2/30  fd00::2/64<BR/>mtu 1400 · delay 20ms>',
    )
    expect(dot).toMatch(
      /id="link-a--r#1", class="link state-down", label=<.*DOWN>, color="#c62828", style=dashed/,
    )
    expect(dot).toMatch(
      /"out" -- "r" \[id="link-out--r#0", class="link nat state-up", label=<.*<B>NAT: r masquerades towards out<\/B>>, dir=back/,
    )
    expect(dot).toMatch(
      /"a" -- "c" \[id="tunnel-t1", class="tunnel wireguard state-up", label=<<B>wireguard t1<\/B><BR\/>a wgab120a: 100\.64\.0\.1\/24<BR\/>c wgab120b: 100\.64\.0\.2\/24>, style=dashed, constraint=false/,
    )
  })
  it('writes a NAT towards a node it has no link to as a note', () => {
    const dot = topologyDot({ ...topo, nat: [{ router: 'r', outside: 'c' }] })
    expect(dot).toContain('class="nat-note"')
    expect(dot).toContain('NAT: r masquerades towards c')
  })
  it('writes Mermaid with tunnels dotted and link states', () => {
    const m = topologyMermaid(topo, { linkState: { 'a--r#1': 'down' } })
    expect(m).toContain('n_r([r])')
    expect(m).toContain('n_a ---|a 198.18.0.5/30, r 198.18.0.6/30, down| n_r')
    expect(m).toContain('n_a -.-|wireguard t1| n_c')
    expect(m).toContain('%% r masquerades towards out')
  })
})

describe('svgIdText', () => {
  it('leaves every name a lab accepts as it is', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/), (name) => {
        expect(svgIdText(name)).toBe(name)
      }),
    )
    expect(svgIdText('a--b#0')).toBe('a--b#0')
    expect(svgIdText('sw:lan')).toBe('sw:lan')
  })
  it('is one-to-one: decodeURIComponent gives the name back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (name) => {
        const id = svgIdText(name)
        expect(id).toMatch(/^[!-~]*$/)
        expect(id).not.toMatch(/["\\&<> ]/)
        expect(decodeURIComponent(id)).toBe(name)
      }),
    )
    expect(svgIdText('a "b"\\{c}')).toBe('a%20%22b%22%5C{c}')
  })
})

describe('renderSvg (Graphviz wasm)', () => {
  it('returns the <svg> element alone with every id, the addresses in the labels, states as classes', async () => {
    const svg = await renderSvg(topologyDot(topo, { linkState: { 'a--r#1': 'down' } }))
    expect(svg.startsWith('<svg ')).toBe(true)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(svg).not.toContain('<?xml')
    expect(svg).not.toContain('<!DOCTYPE')
    const ids = svgIds(svg)
    for (const id of idsOf(topo)) expect(ids, id).toContain(id)
    expect(classOf(svg, 'link-a--r#1')).toBe('edge link state-down')
    expect(classOf(svg, 'tunnel-t1')).toBe('edge tunnel wireguard state-up')
    expect(classOf(svg, 'node-r')).toBe('node node router')
    const text = svgText(svg)
    for (const l of [...topo.links, ...topo.tunnels])
      for (const e of [l.a, l.b]) for (const a of e.addresses) expect(text).toContain(a)
    expect(text).toContain('NAT: r masquerades towards out')
    expect(text).toContain('mtu 1400 · delay 20ms')
  })

  it('lays out whatever the names are: quotes, backslashes, braces, HTML, controls never break the DOT', async () => {
    const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 })
    const tricky = fc.constantFrom(
      '"',
      '\\',
      '\\"',
      '{',
      '}',
      '<b>',
      '&amp;',
      '\\N',
      '\n',
      ']',
      ';',
      '--',
      '%',
      ' ',
    )
    const anyName = fc.oneof(
      name,
      fc.array(fc.oneof(tricky, name), { minLength: 1, maxLength: 4 }).map((p) => p.join('')),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(anyName, { minLength: 2, maxLength: 5 }),
        anyName,
        fc.array(anyName, { minLength: 3, maxLength: 3 }),
        async (names, lab, [device, address, type]) => {
          const t: TraceTopology = {
            lab,
            nodes: names.map((name, i) => ({ name, kind: (['host', 'router', 'switch'] as const)[i % 3]! })),
            links: names.slice(1).map((n, i) => ({
              id: `${names[i]}--${n}#${i}`,
              a: { node: names[i]!, device: device!, addresses: [address!] },
              b: { node: n, device: device!, addresses: [] },
              mtu: 1400,
              impairment: type!,
            })),
            tunnels: [
              {
                id: `${type}${lab}`,
                type: type!,
                a: { node: names[0]!, device: device!, addresses: [address!] },
                b: { node: names[1]!, device: device!, addresses: [address!] },
              },
            ],
            nat: [{ router: names[0]!, outside: names[1]! }],
          }
          const svg = await renderSvg(topologyDot(t, { linkState: { [t.links[0]!.id]: 'down' } }))
          const ids = svgIds(svg)
          for (const id of idsOf(t)) expect(ids).toContain(id)
        },
      ),
      { numRuns: Number(process.env.NSLAB_FUZZ_RUNS ?? 150) },
    )
  }, 120_000)

  it('draws every shipped scenario, tunnels and NAT included', async () => {
    const files = readdirSync(join(root, 'scenarios')).filter((f) => f.endsWith('.yaml'))
    expect(files.length).toBeGreaterThan(20)
    let tunnels = 0
    for (const f of files) {
      const t = scenarioTopology(loadScenario(join(root, 'scenarios', f)).scenario)
      const svg = await renderSvg(topologyDot(t))
      const ids = svgIds(svg)
      for (const id of idsOf(t)) expect(ids, `${f}: ${id}`).toContain(id)
      tunnels += t.tunnels.length
    }
    expect(tunnels).toBeGreaterThanOrEqual(9)
  })
})

describe('scenarioTopology', () => {
  it('gives the addresses the plan would, ids as the lab counts them, tunnels with their inner addresses', () => {
    const t = scenarioTopology(
      loadScenario(join(root, 'scenarios/wireguard-overlapping-sites.yaml')).scenario,
    )
    expect(t.links.map((l) => l.id)).toEqual([
      'hub--site1#0',
      'hub--site2#0',
      'lan1--site1#0',
      'lan2--site2#0',
    ])
    expect(t.links[0]!.a).toEqual({ node: 'hub', device: '', addresses: ['198.18.0.1/30', 'fd00::1/64'] })
    expect(t.links[2]!.b.addresses).toEqual(['10.1.0.2/24', 'fd00:0:0:2::2/64'])
    expect(t.tunnels).toEqual([
      {
        id: 't1',
        type: 'wireguard',
        a: { node: 'hub', device: '', addresses: ['100.64.31.1/24'] },
        b: { node: 'site1', device: '', addresses: ['100.64.31.2/24'] },
      },
      {
        id: 't2',
        type: 'wireguard',
        a: { node: 'hub', device: '', addresses: ['100.64.32.1/24'] },
        b: { node: 'site2', device: '', addresses: ['100.64.32.2/24'] },
      },
    ])
    const nat = scenarioTopology(loadScenario(join(root, 'scenarios/nat-private-network.yaml')).scenario)
    expect(nat.nat).toEqual([{ router: 'gw', outside: 'server' }])
  })
})

describe('labTopology', () => {
  /** A model with nodes and ports as links.ts makes them, without namespaces. */
  function fakeLab(): LabModel {
    const model = new LabModel('ab12')
    const node = (name: string, kind: 'host' | 'router' | 'switch'): LabNode => {
      const n = new LabNode(
        name,
        kind,
        { name: `nslab-ab12-${name}`, label: name } as unknown as Netns,
        {} as Netlink,
      )
      model.nodes.set(name, n)
      return n
    }
    const [a, r, sw, c] = [node('a', 'host'), node('r', 'router'), node('sw', 'switch'), node('c', 'host')]
    const lan = model.plan.switchSegment('switch sw', 254)
    model.switchSegments.set(sw, lan)
    model.segments.push({ id: 'sw:sw', segment: lan })
    const link = (x: LabNode, y: LabNode, nth: number, extra: Partial<Port> = {}): void => {
      const onSwitch = y.kind === 'switch'
      const seg = onSwitch ? lan : model.plan.segment(`link ${x.name}--${y.name}`, 2)
      const ax = model.plan.assign(seg, x.name)
      const ay = onSwitch ? undefined : model.plan.assign(seg, y.name)
      const suffix = nth ? `.${nth}` : ''
      x.ports.push({
        device: `ab12-${y.name}${suffix}`,
        link: `${[x.name, y.name].sort().join('--')}#${nth}`,
        index: 2 + x.ports.length,
        peer: y,
        segment: seg,
        ...ax,
        ...extra,
      })
      y.ports.push({
        device: `ab12-${x.name}${suffix}`,
        link: `${[x.name, y.name].sort().join('--')}#${nth}`,
        index: 2 + y.ports.length,
        peer: x,
        segment: seg,
        v4: ay?.v4,
        v6: ay?.v6,
        ...(extra.mtu ? { mtu: extra.mtu } : {}),
      })
      if (!onSwitch) model.segments.push({ id: `${[x.name, y.name].sort().join('--')}#${nth}`, segment: seg })
    }
    link(r, a, 0, { mtu: 1400, impairment: { delay: 20, loss: 1 } })
    link(a, r, 1)
    link(r, sw, 0)
    link(c, sw, 0)
    model.natOutside.set(r, lan)
    model.tunnels.push({
      name: 'wireguard-a-c',
      type: 'wireguard',
      implementation: 'kernel',
      a,
      b: c,
      devices: { a: 'wgab120a', b: 'wgab120b' },
      addresses: { a: '100.64.0.1', b: '100.64.0.2' },
      setUp: () => Promise.resolve(),
      destroy: () => Promise.resolve(),
    } satisfies Tunnel)
    return model
  }

  it('has a link per veth, switch ports included, with the ids of the model’s segments', () => {
    const model = fakeLab()
    const t = labTopology(model)
    expect(t.nodes).toEqual([
      { name: 'a', kind: 'host' },
      { name: 'r', kind: 'router' },
      { name: 'sw', kind: 'switch' },
      { name: 'c', kind: 'host' },
    ])
    expect(t.links.map((l) => l.id).sort()).toEqual(['a--r#0', 'a--r#1', 'c--sw#0', 'r--sw#0'])
    for (const s of model.segments.filter((s) => !s.id.startsWith('sw:')))
      expect(t.links.map((l) => l.id)).toContain(s.id)
    const first = t.links.find((l) => l.id === 'a--r#0')!
    expect(first).toEqual({
      id: 'a--r#0',
      a: { node: 'a', device: 'ab12-r', addresses: ['198.18.1.2/30', 'fd00:0:0:1::2/64'] },
      b: { node: 'r', device: 'ab12-a', addresses: ['198.18.1.1/30', 'fd00:0:0:1::1/64'] },
      mtu: 1400,
      impairment: 'r→a: delay 20ms loss 1%',
    })
    expect(t.links.find((l) => l.id === 'c--sw#0')!.b).toEqual({
      node: 'sw',
      device: 'ab12-c',
      addresses: [],
    })
    expect(t.nat).toEqual([{ router: 'r', outside: 'sw' }])
    expect(t.tunnels).toEqual([
      {
        id: 'wireguard-a-c',
        type: 'wireguard',
        a: { node: 'a', device: 'wgab120a', addresses: ['100.64.0.1'] },
        b: { node: 'c', device: 'wgab120b', addresses: ['100.64.0.2'] },
      },
    ])
  })

  it('maps every captured device to its link (or tunnel)', () => {
    const model = fakeLab()
    const ids = new Set(labTopology(model).links.map((l) => l.id))
    for (const n of model.allNodes)
      for (const p of n.ports) {
        const id = linkOfDevice(model, n.name, p.device)
        expect(ids).toContain(id)
      }
    expect(linkOfDevice(model, 'a', 'ab12-r.1')).toBe('a--r#1')
    expect(linkOfDevice(model, 'r', 'ab12-a.1')).toBe('a--r#1')
    expect(linkOfDevice(model, 'sw', 'ab12-c')).toBe('c--sw#0')
    expect(linkOfDevice(model, 'a', 'lo')).toBeUndefined()
    expect(linkOfDevice(model, 'nobody', 'x')).toBeUndefined()
    expect(tunnelOfDevice(model, 'c', 'wgab120b')).toBe('wireguard-a-c')
    expect(tunnelOfDevice(model, 'c', 'wgab120a')).toBeUndefined()
  })

  it('writes impairments as tc reads them', () => {
    expect(
      impairmentText({ delay: 20, jitter: 5, loss: 0.5, rate: 10e6, duplicate: 1, corrupt: 2, reorder: 3 }),
    ).toBe('delay 20ms jitter 5ms loss 0.5% rate 10Mbit duplicate 1% corrupt 2% reorder 3%')
    expect(impairmentText({ rate: 1e9 })).toBe('rate 1Gbit')
    expect(impairmentText({ rate: 64_000 })).toBe('rate 64kbit')
    expect(impairmentText({})).toBe('')
  })
})

describe('kernelTopology', () => {
  const link = (
    index: number,
    name: string,
    peerIndex: number | undefined,
    extra: Partial<KernelNamespace['links'][number]> = {},
  ): KernelNamespace['links'][number] => ({
    index,
    name,
    kind: 'veth',
    mtu: 1500,
    up: true,
    operstate: 'UP',
    master: undefined,
    linkIndex: peerIndex,
    ...extra,
  })
  const addr = (index: number, cidr: string): KernelNamespace['addresses'][number] => ({
    index,
    cidr,
    scope: cidr.startsWith('fe80') ? 'link' : 'global',
    family: cidr.includes(':') ? 6 : 4,
  })
  const ns = (node: string, o: Partial<KernelNamespace>): KernelNamespace => ({
    node,
    forwarding: false,
    links: [link(1, 'lo', undefined, { kind: undefined, operstate: 'UNKNOWN' })],
    addresses: [],
    qdiscs: [],
    natDevices: [],
    ...o,
  })

  it('pairs veths by index and name (two pairs with the same indexes), finds kinds, NAT, impairments, tunnels, states', () => {
    const spaces: KernelNamespace[] = [
      ns('a', {
        links: [link(2, 'ab12-r', 2), link(3, 'ab12-r.1', 3, { up: false, operstate: 'DOWN' })],
        addresses: [
          addr(2, 'fd00::1/64'),
          addr(2, '198.18.0.1/30'),
          addr(2, 'fe80::1/64'),
          addr(3, '198.18.0.5/30'),
        ],
        qdiscs: ['qdisc netem 8001: dev ab12-r root refcnt 2 limit 100000 delay 20ms loss 1%'],
      }),
      ns('r', {
        forwarding: true,
        links: [
          link(2, 'ab12-a', 2),
          link(3, 'ab12-a.1', 3, { operstate: 'LOWERLAYERDOWN' }),
          link(4, 'ab12-sw', 2),
        ],
        addresses: [addr(2, '198.18.0.2/30'), addr(3, '198.18.0.6/30'), addr(4, '198.18.1.1/24')],
        qdiscs: ['qdisc netem 8001: dev ab12-a root refcnt 2 limit 100000 delay 20ms loss 1%'],
        natDevices: ['ab12-sw'],
      }),
      ns('sw', {
        links: [
          link(5, 'ab12-br', undefined, { kind: 'bridge' }),
          link(2, 'ab12-r', 4, { master: 5 }),
          link(3, 'ab12-c', 2, { master: 5 }),
        ],
      }),
      ns('c', {
        links: [
          link(2, 'ab12-sw', 3, { mtu: 1400 }),
          link(3, 'wgab120b', undefined, { kind: 'wireguard', operstate: 'UNKNOWN', mtu: 1420 }),
        ],
        addresses: [addr(2, '198.18.1.2/24'), addr(3, '100.64.0.2/24')],
        qdiscs: ['qdisc tbf 8002: dev ab12-sw root refcnt 2 rate 10Mbit burst 1600b lat 200ms'],
      }),
      ns('a2', {
        links: [link(2, 'wgab120a', undefined, { kind: 'wireguard', up: false, operstate: 'DOWN' })],
        addresses: [addr(2, '100.64.0.1/24')],
      }),
    ]
    const { topology: t, linkState } = kernelTopology('ab12', spaces)
    expect(t.nodes.map((n) => `${n.name}:${n.kind}`)).toEqual([
      'a:host',
      'r:router',
      'sw:switch',
      'c:host',
      'a2:host',
    ])
    expect(t.links.map((l) => l.id)).toEqual(['a--r#0', 'a--r#1', 'c--sw#0', 'r--sw#0'])
    expect(t.links[0]).toEqual({
      id: 'a--r#0',
      a: { node: 'a', device: 'ab12-r', addresses: ['198.18.0.1/30', 'fd00::1/64'] },
      b: { node: 'r', device: 'ab12-a', addresses: ['198.18.0.2/30'] },
      impairment: 'delay 20ms loss 1%',
    })
    expect(t.links[2]).toMatchObject({ mtu: 1400, impairment: 'c→sw: rate 10Mbit' })
    expect(linkState).toEqual({ 'a--r#1': 'down', 'wireguard-a2-c': 'down' })
    expect(t.nat).toEqual([{ router: 'r', outside: 'sw' }])
    expect(t.tunnels).toEqual([
      {
        id: 'wireguard-a2-c',
        type: 'wireguard',
        a: { node: 'a2', device: 'wgab120a', addresses: ['100.64.0.1/24'] },
        b: { node: 'c', device: 'wgab120b', addresses: ['100.64.0.2/24'] },
      },
    ])
  })

  it('reads tc and nft text', () => {
    expect(
      qdiscImpairment(
        [
          'qdisc noqueue 0: dev lo root refcnt 2',
          'qdisc netem 8003: dev x root refcnt 9 limit 1000 delay 20ms  5ms seed 42 rate 1Mbit',
        ],
        'x',
      ),
    ).toBe('delay 20ms 5ms rate 1Mbit')
    expect(
      qdiscImpairment(['qdisc netem 8003: dev y root refcnt 9 limit 1000 delay 1ms'], 'x'),
    ).toBeUndefined()
    expect(
      natDevicesOf('table inet nslab_nat {\n chain post {\n  oifname "ab12-out" masquerade\n }\n}'),
    ).toEqual(['ab12-out'])
  })
})
