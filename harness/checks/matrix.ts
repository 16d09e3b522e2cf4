/**
 * A reachability matrix: ping every ordered pair of hosts, concurrently, and
 * compare with what was expected, printing a readable diff naming hosts and
 * addresses.
 */
import type { PingResult } from './ping.js'

/** What the matrix needs of a host (a LabNode fits). */
export interface MatrixHost<H = unknown> {
  name: string
  address(peer?: H, family?: 4 | 6): string
  ping(target: H, options: { count?: number; timeout?: number; family?: 4 | 6 }): Promise<PingResult>
}

export interface MatrixOptions {
  family?: 4 | 6
  /** Echo requests per pair (default 1). */
  count?: number
  /** ms to wait for replies per pair (default 500). */
  timeout?: number
  /** Pairs probed at once (default 64). */
  concurrency?: number
}

export interface ReachabilityMatrix {
  hosts: string[]
  /** reach[i][j]: host i got at least one reply from host j (true on the diagonal). */
  reach: boolean[][]
  /** Who pinged which address. */
  pairs: { from: string; to: string; address: string; received: number; sent: number }[]
}

export async function reachabilityMatrix<H extends MatrixHost<H>>(
  hosts: readonly H[],
  options: MatrixOptions = {},
): Promise<ReachabilityMatrix> {
  const n = hosts.length
  const reach = hosts.map((_, i) => hosts.map((__, j) => i === j))
  const pairs: ReachabilityMatrix['pairs'] = []
  const jobs: (() => Promise<void>)[] = []
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue
      jobs.push(async () => {
        const from = hosts[i]!
        const to = hosts[j]!
        const r = await from.ping(to, {
          count: options.count ?? 1,
          timeout: options.timeout ?? 500,
          family: options.family ?? 4,
        })
        reach[i]![j] = r.received > 0
        pairs.push({ from: from.name, to: to.name, address: r.to, received: r.received, sent: r.sent })
      })
    }
  }
  const width = options.concurrency ?? 64
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(width, jobs.length) }, async () => {
      while (next < jobs.length) await jobs[next++]!()
    }),
  )
  pairs.sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to))
  return { hosts: hosts.map((h) => h.name), reach, pairs }
}

/** The expectation: a full matrix, or a rule per pair. */
export type Expected = boolean[][] | ((from: string, to: string) => boolean)

/** Every pair whose reachability differs from the expectation; empty when all hold. */
export function matrixDiff(actual: ReachabilityMatrix, expected: Expected): string[] {
  const out: string[] = []
  const want = (i: number, j: number): boolean =>
    typeof expected === 'function' ? expected(actual.hosts[i]!, actual.hosts[j]!) : !!expected[i]?.[j]
  actual.hosts.forEach((from, i) =>
    actual.hosts.forEach((to, j) => {
      if (i === j) return
      const got = actual.reach[i]![j]!
      if (got === want(i, j)) return
      const p = actual.pairs.find((x) => x.from === from && x.to === to)
      out.push(
        `${from} -> ${to} (${p?.address ?? '?'}): expected ${want(i, j) ? 'reachable' : 'unreachable'}, got ${got ? 'reachable' : `unreachable (${p?.received ?? 0}/${p?.sent ?? 0} replies)`}`,
      )
    }),
  )
  return out
}

/** The matrix as a table: rows ping columns; `✓` reachable, `·` not. */
export function formatMatrix(m: ReachabilityMatrix, expected?: Expected): string {
  const w = Math.max(4, ...m.hosts.map((h) => h.length))
  const head = `${''.padEnd(w)} │ ${m.hosts.map((h) => h.padEnd(w)).join(' ')}`
  const rows = m.hosts.map((from, i) => {
    const cells = m.hosts.map((to, j) => {
      if (i === j) return '─'.padEnd(w)
      const got = m.reach[i]![j]!
      const want =
        expected === undefined
          ? got
          : typeof expected === 'function'
            ? expected(from, to)
            : !!expected[i]?.[j]
      const mark = got ? '✓' : '·'
      return (got === want ? mark : `${mark}!`).padEnd(w)
    })
    return `${from.padEnd(w)} │ ${cells.join(' ')}`
  })
  return [head, '─'.repeat(head.length), ...rows].join('\n')
}
