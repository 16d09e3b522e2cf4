/**
 * Vitest global setup: refuse to run unsealed, and fail the run if it leaves
 * named namespaces behind. Another suite may run on the same machine at the
 * same time, so a namespace counts as leaked only when no live process
 * owns it: no record of a live lab names it, and it is not a test's own
 * `ip netns add` namespace (`nslab-t<pid>-...`) whose pid still runs.
 */
import { readFileSync, readdirSync } from 'node:fs'

const RUN_DIR = '/run/netns'
const OWNER_DIR = '/run/nslab/labs'

function netnsNames(): string[] {
  try {
    return readdirSync(RUN_DIR)
  } catch {
    return []
  }
}

function alive(pid: number, startTime?: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    if (startTime === undefined) return true
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) === startTime
  } catch {
    return false
  }
}

/** Namespaces named by the records of labs whose owner still runs (another suite's, say). */
function namedByLiveRecords(): Set<string> {
  const out = new Set<string>()
  let files: string[] = []
  try {
    files = readdirSync(OWNER_DIR).filter((f) => f.endsWith('.json') && !f.startsWith('.'))
  } catch {
    return out
  }
  for (const f of files) {
    try {
      const r = JSON.parse(readFileSync(`${OWNER_DIR}/${f}`, 'utf8')) as {
        pid: number
        startTime: number
        prefix: string
        namespaces?: string[]
      }
      if (!alive(r.pid, r.startTime)) continue
      for (const n of r.namespaces ?? netnsNames().filter((n) => n.startsWith(r.prefix))) out.add(n)
    } catch {
      // released meanwhile, or not a record
    }
  }
  return out
}

/** True when the namespace's maker still runs (so it is not ours to call leaked). */
function ownedByLiveProcess(name: string, live: Set<string>): boolean {
  // Made by a test with `ip netns add` (test/support/names.ts): `nslab-t<pid>-`.
  const test = /^nslab-t([0-9a-z]+)-/.exec(name)
  if (test && alive(parseInt(test[1]!, 36))) return true
  return live.has(name)
}

function isSealed(): boolean {
  const ifaces = readFileSync('/proc/thread-self/net/dev', 'utf8')
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter(Boolean)
  return ifaces.every((i) => i === 'lo')
}

export default function setup(): () => void {
  if (!isSealed() && process.env.NSLAB_ALLOW_UNSEALED !== '1') {
    throw new Error(
      'The nslab suite runs inside a sealed network namespace so lab traffic can never leave the machine. ' +
        'Run it with `npm test` (or `node scripts/sealed.mjs -- vitest run ...`); set NSLAB_ALLOW_UNSEALED=1 only for pure unit tests.',
    )
  }
  const before = new Set(netnsNames())
  return () => {
    const live = namedByLiveRecords()
    const leaked = netnsNames().filter(
      (n) => !before.has(n) && n.startsWith('nslab') && !ownedByLiveProcess(n, live),
    )
    if (leaked.length > 0)
      throw new Error(
        `the suite left ${leaked.length} namespace(s) behind: ${leaked.join(', ')} (run: nslab gc)`,
      )
  }
}
