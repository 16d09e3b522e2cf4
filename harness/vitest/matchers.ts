/**
 * Network matchers for Vitest: toReach, toPing, toHaveRoute, toHaveAddress.
 * Failure messages say which hosts, which addresses, and what the kernel
 * reported.
 */
import { httpCheck, tcpEcho, udpEcho } from '../checks/echo.js'
import type { LabNode } from '../lab/node.js'

export interface ReachOptions {
  /** icmp (default), tcp, udp or http. */
  protocol?: 'icmp' | 'tcp' | 'udp' | 'http'
  /** Port for tcp/udp/http (default: any free one). */
  port?: number
  /** Echo requests for icmp (default 3); at least one reply passes. */
  count?: number
  family?: 4 | 6
  /** ms to wait (default 1000). */
  timeout?: number
}

interface MatcherResult {
  pass: boolean
  message: () => string
}

function isNode(x: unknown): x is LabNode {
  return typeof x === 'object' && x !== null && 'netns' in x && 'ports' in x && 'netlink' in x
}

function label(n: LabNode): string {
  return `${n.name} [${n.netns}]`
}

function hasAddress(n: LabNode, family: 4 | 6): boolean {
  return n.addresses().some((a) => Boolean(family === 4 ? a.v4 : a.v6))
}

async function routesOf(n: LabNode): Promise<string> {
  try {
    const rs = await n.netlink.listRoutes()
    return rs.map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}`).join('; ') || '(none)'
  } catch (err) {
    return `(routes unavailable: ${(err as Error).message})`
  }
}

export async function toReach(
  this: { isNot: boolean },
  from: unknown,
  to: unknown,
  options: ReachOptions = {},
): Promise<MatcherResult> {
  if (!isNode(from) || !isNode(to))
    throw new TypeError('toReach: expect(host).toReach(otherHost) takes lab hosts')
  const protocol = options.protocol ?? 'icmp'
  const family = options.family ?? 4
  let pass: boolean
  let detail: string
  const unaddressed = [from, to].find((n) => !hasAddress(n, family))
  if (unaddressed) {
    // Never connected (or not on this family): nothing to send from or to, so unreachable.
    pass = false
    detail = `${unaddressed} has no IPv${family} address yet: connect it first`
  } else if (protocol === 'icmp') {
    const count = options.count ?? 3
    const r = await from.ping(to, { count, family, timeout: options.timeout ?? 1000 })
    pass = r.received > 0
    detail = `ping ${r.from} -> ${to.name} (${r.to}): ${r.received}/${count} replies${r.sent < count ? ` (${count - r.sent} not sent)` : ''}${r.errors.length ? `, kernel said ${r.errors.join(', ')}` : ''}`
  } else {
    const check = protocol === 'tcp' ? tcpEcho : protocol === 'udp' ? udpEcho : httpCheck
    const r = await check(from, to, { port: options.port, family, timeout: options.timeout ?? 1000 })
    pass = r.ok
    detail = `${protocol} ${from.name} -> ${to.name} (${r.address}:${r.port}): ${r.ok ? `ok in ${r.rtt?.toFixed(2)} ms` : r.error}`
  }
  const routes = pass ? '' : `\nroutes in ${from.name}: ${await routesOf(from)}`
  return {
    pass,
    message: () =>
      `expected ${label(from)} ${this.isNot ? 'not ' : ''}to reach ${label(to)} over ${protocol}/IPv${family}\n${detail}${routes}`,
  }
}

export async function toPing(
  this: { isNot: boolean },
  from: unknown,
  to: unknown,
  options: Omit<ReachOptions, 'protocol'> = {},
): Promise<MatcherResult> {
  return toReach.call(this, from, to, { ...options, protocol: 'icmp' })
}

export async function toHaveRoute(
  this: { isNot: boolean },
  node: unknown,
  dst: string,
  options: { via?: string; table?: number } = {},
): Promise<MatcherResult> {
  if (!isNode(node)) throw new TypeError('toHaveRoute: expect(host).toHaveRoute(dst) takes a lab host')
  const routes = await node.netlink.listRoutes({ table: options.table ?? 254 })
  const hit = routes.find((r) => r.dst === dst && (options.via === undefined || r.gateway === options.via))
  const list = routes.map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}`).join('\n  ') || '(none)'
  return {
    pass: hit !== undefined,
    message: () =>
      `expected ${label(node)} ${this.isNot ? 'not ' : ''}to have a route to ${dst}${options.via ? ` via ${options.via}` : ''}; its routes:\n  ${list}`,
  }
}

export async function toHaveAddress(
  this: { isNot: boolean },
  node: unknown,
  address: string,
): Promise<MatcherResult> {
  if (!isNode(node)) throw new TypeError('toHaveAddress: expect(host).toHaveAddress(addr) takes a lab host')
  const addrs = await node.netlink.listAddresses()
  const want = address.includes('/') ? address : undefined
  const hit = addrs.find((a) => (want ? a.cidr === want : a.address === address))
  return {
    pass: hit !== undefined,
    message: () =>
      `expected ${label(node)} ${this.isNot ? 'not ' : ''}to have address ${address}; it has: ${addrs.map((a) => a.cidr).join(', ') || '(none)'}`,
  }
}

export const matchers = { toReach, toPing, toHaveRoute, toHaveAddress }

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- must match Vitest's own declaration
  interface Matchers<T = any> {
    /** Host reaches another host (ICMP by default; tcp, udp or http with `protocol`). */
    toReach(target: LabNode, options?: ReachOptions): Promise<T>
    /** Host gets at least one ICMP echo reply from another host. */
    toPing(target: LabNode, options?: Omit<ReachOptions, 'protocol'>): Promise<T>
    /** Host has a route to `dst` (a prefix like 198.18.0.0/30, or `default`), optionally via a gateway. */
    toHaveRoute(dst: string, options?: { via?: string; table?: number }): Promise<T>
    /** Host has this address (with or without /prefix). */
    toHaveAddress(address: string): Promise<T>
  }
}
