/**
 * A reachability matrix: ping every ordered pair of hosts, concurrently, and
 * compare with what was expected, printing a readable diff naming hosts and
 * addresses. A pair that stays silent (no reply, no error from the kernel)
 * is probed again, with a longer wait, before it counts as unreachable: one
 * echo lost on a loaded machine must not make a false "unreachable".
 */
import type { PingResult } from './ping.js'
import { MAX_REQUESTS } from './ping.js'

/** What the matrix needs of a host (a LabNode fits). */
export interface MatrixHost<H = unknown> {
  name: string
  address(peer?: H, family?: 4 | 6): string
  ping(target: H, options: MatrixPingOptions): Promise<PingResult>
  /**
   * Ping several peers at once from one socket (see pingEach in ping.ts),
   * results in their order. When the hosts have it, the matrix probes each
   * source's pairs together: one socket per source, not one per pair.
   */
  pingEach?(targets: readonly H[], options: MatrixPingOptions): Promise<PingResult[]>
}

/** What the matrix asks of each ping. */
export interface MatrixPingOptions {
  count?: number
  timeout?: number
  family?: 4 | 6
}

export interface MatrixOptions {
  family?: 4 | 6
  /** Echo requests per pair and round (default 1). */
  count?: number
  /** ms to wait for replies per pair (default 500). */
  timeout?: number
  /**
   * Pairs probed at once (default 64 with a socket per pair; 1024 when the
   * hosts ping a source's peers from one socket, pingEach).
   */
  concurrency?: number
  /**
   * Further rounds for the pairs still silent, each waiting twice as long as
   * the one before (default 1; 0: none). Only silent pairs are probed again:
   * a matrix where every pair answers takes one round, and a pair the kernel
   * refused (EPERM from a firewall, ENETUNREACH...) is not retried.
   */
  retries?: number
  /** ms to wait in the first retry round (default twice `timeout`). */
  retryTimeout?: number
}

export interface MatrixPair {
  from: string
  to: string
  /** The address pinged. */
  address: string
  /** Replies and requests sent, over all rounds. */
  received: number
  sent: number
  /** Rounds this pair was probed in (more than 1: it was silent at first). */
  attempts: number
  /** Errors the kernel reported for this pair (EPERM, ENETUNREACH...), over all rounds. */
  errors: string[]
}

export interface ReachabilityMatrix {
  hosts: string[]
  /** reach[i][j]: host i got at least one reply from host j (true on the diagonal). */
  reach: boolean[][]
  /** Who pinged which address, and what came back. */
  pairs: MatrixPair[]
}

/** Run `jobs` with at most `width` at once. */
async function pool(jobs: readonly (() => Promise<void>)[], width: number): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(width, jobs.length) }, async () => {
      while (next < jobs.length) await jobs[next++]!()
    }),
  )
}

export async function reachabilityMatrix<H extends MatrixHost<H>>(
  hosts: readonly H[],
  options: MatrixOptions = {},
): Promise<ReachabilityMatrix> {
  const count = options.count ?? 1
  const family = options.family ?? 4
  const timeout = options.timeout ?? 500
  const together = hosts.length > 0 && hosts.every((h) => h.pingEach !== undefined)
  const width = options.concurrency ?? (together ? 1024 : 64)
  type Probe = { i: number; j: number; pair: MatrixPair }
  const probes: Probe[] = []
  hosts.forEach((from, i) =>
    hosts.forEach((to, j) => {
      if (i === j) return
      probes.push({
        i,
        j,
        pair: { from: from.name, to: to.name, address: '', received: 0, sent: 0, attempts: 0, errors: [] },
      })
    }),
  )
  const note = ({ pair }: Probe, r: PingResult): void => {
    pair.address = r.to
    pair.received += r.received
    pair.sent += r.sent
    pair.attempts++
    for (const e of r.errors) if (!pair.errors.includes(e)) pair.errors.push(e)
  }
  const onePerPair = (todo: readonly Probe[], wait: number): Promise<void> =>
    pool(
      todo.map(
        (p) => async () => note(p, await hosts[p.i]!.ping(hosts[p.j]!, { count, timeout: wait, family })),
      ),
      width,
    )
  // A source's pairs together (a socket each, its sequence numbers permitting), as many sources
  // at once as keep about `width` pairs in flight.
  const bySource = (todo: readonly Probe[], wait: number): Promise<void> => {
    const batches: Probe[][] = []
    const per = Math.max(1, Math.floor(MAX_REQUESTS / Math.max(1, count)))
    for (const p of todo) {
      const last = batches.at(-1)
      if (last && last[0]!.i === p.i && last.length < per) last.push(p)
      else batches.push([p])
    }
    const sources = Math.max(1, Math.floor(width / Math.max(1, todo.length / batches.length)))
    return pool(
      batches.map((batch) => async () => {
        const rs = await hosts[batch[0]!.i]!.pingEach!(
          batch.map((p) => hosts[p.j]!),
          { count, timeout: wait, family },
        )
        batch.forEach((p, k) => note(p, rs[k]!))
      }),
      sources,
    )
  }
  const round = together ? bySource : onePerPair
  const silent = (todo: readonly Probe[]): Probe[] =>
    todo.filter(({ pair }) => pair.received === 0 && pair.errors.length === 0)

  await round(probes, timeout)
  let wait = options.retryTimeout ?? 2 * timeout
  let todo = silent(probes)
  for (let k = 0; k < (options.retries ?? 1) && todo.length > 0; k++) {
    await round(todo, wait)
    todo = silent(todo)
    wait *= 2
  }

  const reach = hosts.map((_, i) => hosts.map((__, j) => i === j))
  for (const { i, j, pair } of probes) reach[i]![j] = pair.received > 0
  const pairs = probes.map((p) => p.pair)
  pairs.sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to))
  return { hosts: hosts.map((h) => h.name), reach, pairs }
}

/** The expectation: a full matrix, or a rule per pair. */
export type Expected = boolean[][] | ((from: string, to: string) => boolean)

function unanswered(p: MatrixPair | undefined): string {
  if (!p) return 'not probed'
  const rounds = p.attempts > 1 ? ` in ${p.attempts} rounds` : ''
  const errors = p.errors.length ? `; the kernel said ${p.errors.join(', ')}` : ''
  return `${p.received}/${p.sent} replies${rounds}${errors}`
}

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
        `${from} -> ${to} (${p?.address ?? '?'}): expected ${want(i, j) ? 'reachable' : 'unreachable'}, got ${got ? 'reachable' : `unreachable (${unanswered(p)})`}`,
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
