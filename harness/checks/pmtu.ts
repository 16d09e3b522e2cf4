/**
 * A path-MTU probe: the largest packet that crosses the path unfragmented,
 * found by binary search with Don't Fragment pings. A smaller MTU further
 * along comes back as ICMP "fragmentation needed" (or IPv6 "packet too
 * big"); the kernel records it and the next large send fails with EMSGSIZE,
 * so black holes (where those ICMP messages are dropped) show up as sizes
 * that neither work nor fail fast.
 */
import type { NetnsRef } from '../netns/index.js'
import { ping } from './ping.js'

/** Largest IP packet (header included) that reaches `to` from `ns`, between `min` and `max`. */
export async function pathMtu(
  ns: NetnsRef | { ns: NetnsRef },
  to: string,
  options: { min?: number; max?: number; timeout?: number } = {},
): Promise<number> {
  const ref = typeof ns === 'object' && 'ns' in ns ? ns.ns : ns
  const v6 = to.includes(':')
  const header = v6 ? 48 : 28 // IP + ICMP headers
  let lo = options.min ?? (v6 ? 1280 : 68)
  let hi = options.max ?? 9000
  const fits = async (mtu: number): Promise<boolean> => {
    // Twice: the first try may only teach the kernel the path MTU.
    for (let i = 0; i < 2; i++) {
      const r = await ping(ref, to, {
        count: 1,
        size: mtu - header,
        dontFragment: true,
        timeout: options.timeout ?? 300,
      })
      if (r.received > 0) return true
    }
    return false
  }
  if (!(await fits(lo)))
    throw new Error(`no packet of ${lo} bytes reaches ${to}: the path is down, not narrow`)
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (await fits(mid)) lo = mid
    else hi = mid - 1
  }
  return lo
}
