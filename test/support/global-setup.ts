/**
 * Vitest global setup: refuse to run unsealed, and fail the run if it leaves
 * named namespaces behind. Another suite may run on the same machine at the
 * same time, so a namespace counts as leaked only when whoever made it is
 * dead: a lab whose owner record names a dead process, or a test namespace
 * (`nslab-t<pid>-...`) whose pid is gone.
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

/** True when the namespace's maker still runs (so it is not ours to call leaked). */
function ownedByLiveProcess(name: string): boolean {
  const test = /^nslab-t([0-9a-z]+)-/.exec(name)
  if (test) return alive(parseInt(test[1]!, 36))
  const lab = /^nslab-([0-9a-f]+)-/.exec(name)
  if (lab) {
    try {
      const r = JSON.parse(readFileSync(`${OWNER_DIR}/${lab[1]}.json`, 'utf8')) as {
        pid: number
        startTime: number
      }
      return alive(r.pid, r.startTime)
    } catch {
      return false
    }
  }
  return false
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
    const leaked = netnsNames().filter(
      (n) => !before.has(n) && n.startsWith('nslab') && !ownedByLiveProcess(n),
    )
    if (leaked.length > 0)
      throw new Error(
        `the suite left ${leaked.length} namespace(s) behind: ${leaked.join(', ')} (run: nslab gc)`,
      )
  }
}
