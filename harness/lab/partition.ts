/**
 * Partitions: two groups of hosts that stop hearing each other, whatever
 * the path between them, until healed. Each host of a group gets an
 * nftables table dropping traffic from and to the other group's addresses.
 */
import { requireFeature } from './features.js'
import type { LabNode } from './node.js'

export const PARTITION_TABLE = 'nslab_partition'

function addrs(nodes: readonly LabNode[], family: 4 | 6): string[] {
  return nodes.flatMap((n) =>
    n.ports.map((p) => (family === 4 ? p.v4 : p.v6)).filter((a): a is string => !!a),
  )
}

function ruleset(others: readonly LabNode[]): string {
  const v4 = addrs(others, 4)
  const v6 = addrs(others, 6)
  const lines = [`table inet ${PARTITION_TABLE} {`]
  for (const [chain, hook, dir] of [
    ['in', 'input', 'saddr'],
    ['out', 'output', 'daddr'],
  ] as const) {
    lines.push(`  chain ${chain} {`, `    type filter hook ${hook} priority -10;`)
    if (v4.length) lines.push(`    ip ${dir} { ${v4.join(', ')} } drop`)
    if (v6.length) lines.push(`    ip6 ${dir} { ${v6.join(', ')} } drop`)
    lines.push('  }')
  }
  lines.push('}')
  return lines.join('\n') + '\n'
}

async function load(node: LabNode, text: string): Promise<void> {
  await node.exec(['nft', 'delete', 'table', 'inet', PARTITION_TABLE])
  const r = await node.exec(['nft', '-f', '-'], { input: text, timeout: 10_000 })
  if (r.code !== 0) throw new Error(`partition rules failed in ${node.netns}: ${r.stderr.trim()}`)
}

/** Cut every host of `a` off from every host of `b` (both directions). */
export async function partition(a: readonly LabNode[], b: readonly LabNode[]): Promise<void> {
  const overlap = a.filter((n) => b.includes(n))
  if (overlap.length)
    throw new TypeError(
      `a partition needs disjoint groups; ${overlap.map((n) => n.name).join(', ')} is in both`,
    )
  await requireFeature('nftables', 'a partition')
  await Promise.all([...a.map((n) => load(n, ruleset(b))), ...b.map((n) => load(n, ruleset(a)))])
}

/** Undo every partition on these hosts. */
export async function heal(nodes: readonly LabNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.exec(['nft', 'delete', 'table', 'inet', PARTITION_TABLE])))
}
