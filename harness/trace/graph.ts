/**
 * A topology drawn by Graphviz: `topologyDot` writes the DOT text (pure),
 * `renderSvg` lays it out with Graphviz compiled to WebAssembly
 * (@hpcc-js/wasm-graphviz, loaded once per process on first use, about
 * 70-120 ms) and returns the <svg> element alone, ready to inline in HTML.
 *
 * Every element carries a stable id and classes, so a page can find and
 * recolour it: `node-<name>` (class `node host|router|switch`),
 * `link-<id>` (class `edge link`, plus `nat` and `state-<status>`),
 * `tunnel-<id>` (class `edge tunnel <type>`). The part after the dash is the
 * name or id itself for every name a lab accepts; other characters are
 * percent-encoded (see svgId) so no name can break the DOT or the SVG.
 *
 * The layout engine is `dot` with rankdir=LR: lab topologies are mostly
 * chains and trees (host - router - router - host, hosts on a switch), which
 * dot draws as left-to-right ranks with every edge label given room of its
 * own; neato and fdp place labels on top of edges and nodes once there are
 * more than a few links, and fdp ignores edge labels' size altogether.
 * Tunnels do not constrain the ranks (they ride over the underlay).
 */
import type { Graphviz } from '@hpcc-js/wasm-graphviz'
import type { LinkStatus, NodeKindName, TraceEnd, TraceLink, TraceTopology, TraceTunnel } from './data.js'

/** Characters kept as they are in an element id; every other one is percent-encoded (UTF-8). */
const ID_SAFE = /^[A-Za-z0-9._~:#@!$*+,;=/?()[\]{}|^-]$/

/**
 * The text of `name` inside an SVG element id: the name itself when it is
 * made of letters, digits and `._~:#@!$*+,;=/?()[]{}|^-` (every lab node
 * name, link id and tunnel name), else with the other characters (quotes,
 * backslashes, spaces, `&`, `%`, `<>`, non-ASCII) percent-encoded as UTF-8,
 * like encodeURIComponent. Graphviz would otherwise read a backslash as an
 * escape (`\N`: the node's name) and collapse spaces.
 */
export function svgIdText(name: string): string {
  let out = ''
  for (const ch of name) {
    if (ID_SAFE.test(ch)) out += ch
    else {
      const cp = ch.codePointAt(0)!
      const text = cp >= 0xd800 && cp <= 0xdfff ? '\ufffd' : ch // a lone surrogate has no UTF-8
      for (const b of new TextEncoder().encode(text))
        out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`
    }
  }
  return out
}

/** The SVG element id of a node, link or tunnel. */
export function svgId(kind: 'node' | 'link' | 'tunnel', name: string): string {
  return `${kind}-${svgIdText(name)}`
}

/** Control characters (tab, newline, return included), U+FFFE/U+FFFF and lone surrogates: none fit in XML or DOT. */
const UNFIT =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[\0-\x1f\x7f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/** `text` with every UNFIT character shown as U+FFFD (tab, newline and return as a space). */
function clean(text: string): string {
  return text.replace(UNFIT, (c) => (c === '\t' || c === '\n' || c === '\r' ? ' ' : '\ufffd'))
}

/**
 * Text for a Graphviz HTML-like label: XML-escaped, and characters XML
 * cannot hold (controls, lone surrogates, U+FFFE/U+FFFF) shown as U+FFFD.
 */
function html(text: string): string {
  return clean(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )
}

/** A DOT quoted string of text made of ID_SAFE characters and `%` (nothing to escape). */
const q = (idText: string): string => `"${idText}"`

const FONT = 'Helvetica,Arial,sans-serif'

const NODE_STYLE: Record<NodeKindName, string> = {
  host: 'shape=ellipse, fillcolor="#e9f7e9", color="#2e6b2e"',
  router: 'shape=octagon, fillcolor="#fff4d6", color="#8a5a00"',
  switch: 'shape=box, fillcolor="#e8f0ff", color="#33467a"',
}

const LINK_COLOR = '#555555'
const TUNNEL_COLOR = '#7b3fbf'

/** How a link or tunnel in each state is drawn (the class `state-<status>` lets a page restyle it). */
const STATE_STYLE: Record<LinkStatus, string> = {
  up: '',
  impaired: 'color="#e07000"',
  down: 'color="#c62828", style=dashed',
  partitioned: 'color="#c62828", style=dotted',
}

/**
 * One line per end: `a dev: 198.18.0.1/30  fd00::1/64`. One font per line:
 * Graphviz places each run of a mixed line by its own font metrics, which
 * a browser's fonts do not match (a bold name overlapped its colon).
 */
function endLines(e: TraceEnd): string[] {
  const addresses = e.addresses.map(html).join('  ')
  return [`${html(e.node)}${e.device ? ` ${html(e.device)}` : ''}${addresses ? `: ${addresses}` : ''}`]
}

function attrs(list: (string | false | undefined)[]): string {
  return list.filter(Boolean).join(', ')
}

function label(lines: string[]): string {
  return `<${lines.join('<BR/>')}>`
}

export interface TopologyDotOptions {
  /** The state of links (and tunnels) by id; absent ones are up (impaired when they carry an impairment). */
  linkState?: Record<string, LinkStatus>
}

/**
 * The topology as Graphviz DOT: nodes by kind (host ellipse, router
 * octagon, switch box), links labelled with both ends' device and
 * addresses, MTU and impairment, tunnels dashed in purple with their type
 * and inner addresses, NAT on the router's outside link (an arrow towards
 * the outside and a `NAT` line). Pure.
 */
export function topologyDot(t: TraceTopology, opts: TopologyDotOptions = {}): string {
  const nodeRef = (name: string): string => q(svgIdText(name))
  const stateOf = (id: string, impaired: boolean): LinkStatus =>
    opts.linkState?.[id] ?? (impaired ? 'impaired' : 'up')
  const lines = [
    // The graph's name is its SVG <title> only: readable, with what DOT or escString would read removed.
    `graph "${clean(t.lab).replace(/[\\"]/g, '_')}" {`,
    `  graph [rankdir=LR, nodesep=0.6, ranksep=1.1, fontname="${FONT}", bgcolor="white", pad=0.2];`,
    `  node [fontname="${FONT}", fontsize=13, style=filled, penwidth=1.5, margin="0.15,0.06"];`,
    `  edge [fontname="${FONT}", fontsize=9, penwidth=2, color="${LINK_COLOR}", fontcolor="#333333"];`,
  ]
  const known = new Set(t.nodes.map((n) => n.name))
  for (const n of t.nodes)
    lines.push(
      `  ${nodeRef(n.name)} [${attrs([
        `id=${q(svgId('node', n.name))}`,
        `class=${q(`node ${n.kind}`)}`,
        NODE_STYLE[n.kind] ?? NODE_STYLE.host,
        `label=${label([`<B>${html(n.name)}</B>`])}`,
      ])}];`,
    )
  // An end naming a node the list lacks still gets drawn (as a plain ellipse), never dropped.
  const ensure = (name: string): void => {
    if (known.has(name)) return
    known.add(name)
    lines.push(
      `  ${nodeRef(name)} [${attrs([`id=${q(svgId('node', name))}`, `class="node"`, NODE_STYLE.host, `label=${label([html(name)])}`])}];`,
    )
  }

  const natLink = new Map<TraceLink, { router: string; outside: string }>()
  const notes: { router: string; outside: string }[] = []
  for (const nat of t.nat) {
    const l = t.links.find(
      (l) =>
        (l.a.node === nat.router && l.b.node === nat.outside) ||
        (l.b.node === nat.router && l.a.node === nat.outside),
    )
    if (l && !natLink.has(l)) natLink.set(l, nat)
    else notes.push(nat)
  }

  for (const l of t.links) {
    ensure(l.a.node)
    ensure(l.b.node)
    const nat = natLink.get(l)
    const state = stateOf(l.id, Boolean(l.impairment))
    const extra = [
      l.mtu !== undefined ? `mtu ${l.mtu}` : '',
      l.impairment ? html(l.impairment) : '',
      state !== 'up' && state !== 'impaired' ? state.toUpperCase() : '',
    ]
      .filter(Boolean)
      .join(' · ')
    const text = [
      ...endLines(l.a),
      ...endLines(l.b),
      ...(extra ? [extra] : []),
      ...(nat ? [`<B>NAT: ${html(nat.router)} masquerades towards ${html(nat.outside)}</B>`] : []),
    ]
    lines.push(
      `  ${nodeRef(l.a.node)} -- ${nodeRef(l.b.node)} [${attrs([
        `id=${q(svgId('link', l.id))}`,
        `class=${q(`link${nat ? ' nat' : ''} state-${state}`)}`,
        `label=${label(text)}`,
        STATE_STYLE[state],
        nat && `dir=${nat.router === l.a.node ? 'forward' : 'back'}, arrowhead=normal, arrowtail=normal`,
      ])}];`,
    )
  }

  for (const tn of t.tunnels) lines.push(tunnelLine(tn, nodeRef, ensure, stateOf(tn.id, false)))

  notes.forEach((nat, i) => {
    ensure(nat.router)
    const note = q(`%nat-note-${i}`) // `%` then a letter: never a node's (svgIdText) name
    lines.push(
      `  ${note} [${attrs([
        `id=${q(`nat-${svgIdText(nat.router)}-${svgIdText(nat.outside)}`)}`,
        `class="nat-note"`,
        'shape=note, style=filled, fillcolor="#fffbe6", color="#8a5a00", fontsize=10',
        `label=${label([`<B>NAT: ${html(nat.router)} masquerades towards ${html(nat.outside)}</B>`])}`,
      ])}];`,
      `  ${nodeRef(nat.router)} -- ${note} [style=dotted, penwidth=1, class="nat-note"];`,
    )
  })

  lines.push('}')
  return lines.join('\n') + '\n'
}

function tunnelLine(
  tn: TraceTunnel,
  nodeRef: (name: string) => string,
  ensure: (name: string) => void,
  state: LinkStatus,
): string {
  ensure(tn.a.node)
  ensure(tn.b.node)
  const text = [`<B>${html(tn.type)} ${html(tn.id)}</B>`, ...endLines(tn.a), ...endLines(tn.b)]
  if (state !== 'up') text.push(`<B>${state}</B>`)
  return `  ${nodeRef(tn.a.node)} -- ${nodeRef(tn.b.node)} [${attrs([
    `id=${q(svgId('tunnel', tn.id))}`,
    `class=${q(`tunnel ${svgIdText(tn.type)} state-${state}`)}`,
    `label=${label(text)}`,
    `style=dashed, constraint=false, color="${TUNNEL_COLOR}", fontcolor="${TUNNEL_COLOR}"`,
    state === 'down' || state === 'partitioned' ? 'color="#c62828", style=dotted' : '',
  ])}];`
}

const mermaidId = (name: string): string => `n_${svgIdText(name).replace(/[^A-Za-z0-9_]/g, '_')}`
/** Text inside a Mermaid shape or edge label: no characters Mermaid reads as syntax. */
const mermaidText = (t: string): string => t.replace(/[|"()[\]{}<>#;`\n\r]/g, '/')

/** The topology as Mermaid flowchart text (links solid, tunnels dotted, NAT as a comment). Pure. */
export function topologyMermaid(t: TraceTopology, opts: TopologyDotOptions = {}): string {
  const shape: Record<NodeKindName, (id: string, text: string) => string> = {
    host: (id, text) => `${id}((${text}))`,
    router: (id, text) => `${id}([${text}])`,
    switch: (id, text) => `${id}[${text}]`,
  }
  const lines = ['graph LR']
  for (const n of t.nodes)
    lines.push(`  ${(shape[n.kind] ?? shape.host)(mermaidId(n.name), mermaidText(n.name))}`)
  for (const l of t.links) {
    const state = opts.linkState?.[l.id]
    const parts = [
      ...[l.a, l.b].filter((e) => e.addresses[0]).map((e) => `${e.node} ${e.addresses[0]}`),
      l.mtu !== undefined ? `mtu ${l.mtu}` : '',
      l.impairment ?? '',
      state && state !== 'up' ? state : '',
    ].filter(Boolean)
    const text = mermaidText(parts.join(', '))
    lines.push(`  ${mermaidId(l.a.node)} ---${text ? `|${text}|` : ''} ${mermaidId(l.b.node)}`)
  }
  for (const tn of t.tunnels)
    lines.push(`  ${mermaidId(tn.a.node)} -.-|${mermaidText(`${tn.type} ${tn.id}`)}| ${mermaidId(tn.b.node)}`)
  for (const n of t.nat)
    lines.push(`  %% ${mermaidText(n.router)} masquerades towards ${mermaidText(n.outside)}`)
  return lines.join('\n') + '\n'
}

type GraphvizInstance = Graphviz

let graphviz: Promise<GraphvizInstance> | undefined

/** Graphviz's WebAssembly, loaded on first use and kept for the process. */
export function loadGraphviz(): Promise<GraphvizInstance> {
  graphviz ??= import('@hpcc-js/wasm-graphviz')
    .then((m) => m.Graphviz.load())
    .catch((err: unknown) => {
      graphviz = undefined // a later call may try again
      throw err
    })
  return graphviz
}

/** An error Graphviz raised laying out a graph (the DOT is kept for the report). */
export class GraphvizError extends Error {
  override readonly name = 'GraphvizError'
  constructor(
    message: string,
    readonly dot: string,
  ) {
    super(message)
  }
}

/**
 * Lay out DOT text with Graphviz (`dot` unless `engine` says otherwise) and
 * return the <svg> element (no XML prolog, doctype or comments before it),
 * ready to inline in HTML. Graphviz's <title> elements stay: browsers show
 * them as tooltips.
 */
export async function renderSvg(
  dot: string,
  options: { engine?: 'dot' | 'neato' | 'fdp' | 'circo' | 'twopi' } = {},
): Promise<string> {
  const g = await loadGraphviz()
  let svg: string
  try {
    svg = g.layout(dot, 'svg', options.engine ?? 'dot')
  } catch (err) {
    throw new GraphvizError(`Graphviz could not lay out the graph: ${(err as Error).message}`, dot)
  }
  const start = svg.indexOf('<svg')
  if (start < 0) throw new GraphvizError('Graphviz returned no <svg> element', dot)
  return svg.slice(start)
}
