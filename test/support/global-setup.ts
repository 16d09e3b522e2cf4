/**
 * Vitest global setup: refuse to run unsealed, and fail the run if it leaves
 * named namespaces behind.
 */
import { readFileSync, readdirSync } from 'node:fs'

const RUN_DIR = '/run/netns'

function netnsNames(): string[] {
  try {
    return readdirSync(RUN_DIR)
  } catch {
    return []
  }
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
    const leaked = netnsNames().filter((n) => !before.has(n) && n.startsWith('nslab'))
    if (leaked.length > 0)
      throw new Error(
        `the suite left ${leaked.length} namespace(s) behind: ${leaked.join(', ')} (run: nslab gc)`,
      )
  }
}
