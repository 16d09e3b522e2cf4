/**
 * A picture of a scenario's topology: Mermaid and Graphviz DOT text, and a
 * self-contained SVG (nodes on a circle, switches square, routers rounded,
 * hosts round; links labelled with MTU, impairments and subnets). Pure.
 */
import type { Scenario } from './schema.js'
import { type Kind, type LinkDecl, linkDecls, nodeDecls } from './topology.js'

function linkLabel(l: LinkDecl): string {
  const parts: string[] = []
  if (l.subnet) parts.push(l.subnet)
  if (l.mtu) parts.push(`mtu ${l.mtu}`)
  if (l.impair)
    parts.push(
      Object.entries(l.impair)
        .filter(([k]) => k !== 'direction')
        .map(([k, v]) => `${k} ${String(v)}`)
        .join(' '),
    )
  return parts.join(', ')
}

const id = (name: string): string => `n_${name.replace(/[^A-Za-z0-9_]/g, '_')}`

export function toMermaid(s: Scenario): string {
  const shape: Record<Kind, (n: string) => string> = {
    host: (n) => `${id(n)}((${n}))`,
    router: (n) => `${id(n)}([${n}])`,
    switch: (n) => `${id(n)}[${n}]`,
  }
  const lines = ['graph LR']
  for (const n of nodeDecls(s)) lines.push(`  ${shape[n.kind](n.name)}`)
  for (const l of linkDecls(s)) {
    const label = linkLabel(l)
    lines.push(`  ${id(l.a)} ---${label ? `|${label.replace(/\|/g, '/')}|` : ''} ${id(l.b)}`)
  }
  for (const n of s.topology.nat ?? []) lines.push(`  %% ${n.router} masquerades towards ${n.outside}`)
  return lines.join('\n') + '\n'
}

export function toDot(s: Scenario): string {
  const shape: Record<Kind, string> = { host: 'ellipse', router: 'octagon', switch: 'box' }
  const q = (t: string): string => JSON.stringify(t)
  const lines = [
    `graph ${q(s.name ?? 'lab')} {`,
    '  layout=neato; overlap=false; node [fontname="sans-serif"];',
  ]
  for (const n of nodeDecls(s)) lines.push(`  ${q(n.name)} [shape=${shape[n.kind]}];`)
  for (const l of linkDecls(s)) {
    const label = linkLabel(l)
    lines.push(`  ${q(l.a)} -- ${q(l.b)}${label ? ` [label=${q(label)}]` : ''};`)
  }
  lines.push('}')
  return lines.join('\n') + '\n'
}

const esc = (t: string): string =>
  t.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!)

export function toSvg(s: Scenario): string {
  const nodes = nodeDecls(s)
  const size = Math.max(320, 120 + nodes.length * 50)
  const c = size / 2
  const r = size / 2 - 60
  const pos = new Map<string, { x: number; y: number }>()
  nodes.forEach((n, i) => {
    const a = (2 * Math.PI * i) / nodes.length - Math.PI / 2
    pos.set(n.name, {
      x: c + (nodes.length > 1 ? r * Math.cos(a) : 0),
      y: c + (nodes.length > 1 ? r * Math.sin(a) : 0),
    })
  })
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(s.name ?? 'nslab topology')}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ]
  for (const l of linkDecls(s)) {
    const a = pos.get(l.a)
    const b = pos.get(l.b)
    if (!a || !b) continue
    out.push(
      `<line x1="${a.x.toFixed(1)}" y1="${a.y.toFixed(1)}" x2="${b.x.toFixed(1)}" y2="${b.y.toFixed(1)}" stroke="#555" stroke-width="2"/>`,
    )
    const label = linkLabel(l)
    if (label)
      out.push(
        `<text x="${((a.x + b.x) / 2).toFixed(1)}" y="${((a.y + b.y) / 2 - 4).toFixed(1)}" text-anchor="middle" fill="#a33">${esc(label)}</text>`,
      )
  }
  for (const n of nodes) {
    const { x, y } = pos.get(n.name)!
    if (n.kind === 'switch')
      out.push(
        `<rect x="${(x - 34).toFixed(1)}" y="${(y - 16).toFixed(1)}" width="68" height="32" fill="#e8f0ff" stroke="#336"/>`,
      )
    else if (n.kind === 'router')
      out.push(
        `<rect x="${(x - 34).toFixed(1)}" y="${(y - 16).toFixed(1)}" width="68" height="32" rx="14" fill="#fff4d6" stroke="#963"/>`,
      )
    else out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="26" fill="#e9f7e9" stroke="#363"/>`)
    out.push(`<text x="${x.toFixed(1)}" y="${(y + 4).toFixed(1)}" text-anchor="middle">${esc(n.name)}</text>`)
  }
  out.push('</svg>')
  return out.join('\n') + '\n'
}
