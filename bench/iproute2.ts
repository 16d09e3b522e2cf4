/** iproute2 (`ip`) as the benchmark drives and checks it: one process per call. */
import { spawnSync } from 'node:child_process'

/** Run `ip ARGS...` and wait for it; throws with ip's own message when it fails. */
export function ip(args: readonly string[]): string {
  const r = spawnSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
  if (r.error) throw new Error(`could not run ip ${args.join(' ')}: ${r.error.message}`)
  if (r.status !== 0)
    throw new Error(
      `ip ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.trim() || r.stdout.trim()}`,
    )
  return r.stdout
}

/** `ip -V`, e.g. "iproute2-6.1.0"; undefined when ip is missing. */
export function ipVersion(): string | undefined {
  const r = spawnSync('ip', ['-V'], { encoding: 'utf8' })
  if (r.error || r.status !== 0) return undefined
  return /iproute2-[\w.]+/.exec(r.stdout)?.[0] ?? r.stdout.trim()
}

/**
 * Names `ip netns list` prints (its lines look like "NAME" or "NAME (id: 3)").
 * Retried: it fails ("Peer netns reference is invalid") when some other
 * namespace vanishes while it lists.
 */
export function ipNetnsList(): string[] {
  let out = ''
  for (let attempt = 1; ; attempt++) {
    try {
      out = ip(['netns', 'list'])
      break
    } catch (err) {
      if (attempt >= 5) throw err
    }
  }
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean)
}

interface IpAddrInfo {
  family: string
  local: string
  prefixlen: number
}
interface IpLink {
  ifname: string
  flags: string[]
  addr_info?: IpAddrInfo[]
}

/**
 * Check, with `ip -n NS -j addr`, that one end of the benchmark's veth pair is
 * there: lo up, the veth end up with carrier and holding `cidr`. Returns the
 * problems found (empty when all is well).
 */
export function checkVethEnd(netns: string, ifname: string, cidr: string): string[] {
  const links = JSON.parse(ip(['-n', netns, '-j', 'addr', 'show'])) as IpLink[]
  const problems: string[] = []
  const lo = links.find((l) => l.ifname === 'lo')
  if (!lo?.flags.includes('UP')) problems.push(`${netns}: lo is not up`)
  const end = links.find((l) => l.ifname === ifname)
  if (!end) return [...problems, `${netns}: no ${ifname}`]
  for (const f of ['UP', 'LOWER_UP'])
    if (!end.flags.includes(f)) problems.push(`${netns}: ${ifname} lacks ${f} (flags ${end.flags.join(',')})`)
  const [address, prefix] = cidr.split('/')
  const has = (end.addr_info ?? []).some(
    (a) => a.family === 'inet' && a.local === address && a.prefixlen === Number(prefix),
  )
  if (!has) problems.push(`${netns}: ${ifname} does not hold ${cidr}`)
  return problems
}
