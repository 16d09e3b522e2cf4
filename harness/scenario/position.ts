/**
 * Where a document path sits in the YAML source: the node's line and column
 * (or, for a key that should be there but is not, its parent's), and for an
 * unknown key, the key itself.
 */
import {
  type Document,
  type LineCounter,
  type Pair,
  type YAMLMap,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
} from 'yaml'
import type { DocPath } from './diagnostics.js'

type Node = { range?: [number, number, number] | null } | null | undefined

// A map's pairs by key, built once per map: locating every problem of a map
// with thousands of keys stays linear.
const byKey = new WeakMap<YAMLMap, Map<string, Pair>>()

function pairOf(node: YAMLMap, key: string): Pair | undefined {
  let index = byKey.get(node)
  if (!index) {
    index = new Map()
    for (const p of node.items)
      if (isPair(p) && isScalar(p.key) && !index.has(String(p.key.value))) index.set(String(p.key.value), p)
    byKey.set(node, index)
  }
  return index.get(key)
}

function child(node: unknown, key: string | number): unknown {
  if (isMap(node)) return pairOf(node, String(key))?.value
  if (isSeq(node) && typeof key === 'number') return node.items[key]
  return undefined
}

function keyNode(node: unknown, key: string): unknown {
  if (!isMap(node)) return undefined
  return pairOf(node, key)?.key
}

export function locate(
  doc: Document,
  counter: LineCounter,
  path: DocPath,
  unknownKey?: string,
): { line: number; column: number } {
  let node: unknown = doc.contents
  let found: unknown = node
  for (const p of path) {
    node = child(node, p)
    if (!isNode(node)) break
    found = node
  }
  if (unknownKey !== undefined && found === node) {
    const k = keyNode(found, unknownKey)
    if (isNode(k)) found = k
  }
  const offset = (found as Node)?.range?.[0] ?? 0
  const pos = counter.linePos(offset)
  return { line: pos.line, column: pos.col }
}
