/**
 * The address plan: gives every link (a point-to-point segment) and every
 * switch (a shared segment) an IPv4 and an IPv6 subnet, and every member an
 * address in them, by itself. Defaults come from 198.18.0.0/15 (RFC 2544
 * benchmarking space) and fd00::/8 (unique local), so a lab cannot clash with
 * a real network. Pure: no I/O, unit- and property-tested.
 */
import { bytesToIp, ipToBytes, parseCidr } from '../util/ip.js'
import { TopologyError } from './errors.js'

/** The plan cannot do what was asked: one sentence saying what and what to do. */
export class PlanError extends TopologyError {
  override readonly name: string = 'PlanError'
}

/**
 * A Linux bridge takes at most this many ports (BR_MAX_PORTS in
 * net/bridge/br_private.h); adding one more fails with EXFULL.
 */
export const BRIDGE_MAX_PORTS = 1024

export interface Subnet {
  /** Network address as text. */
  network: string
  prefixLen: number
  family: 4 | 6
}

export function subnetText(s: Subnet): string {
  return `${s.network}/${s.prefixLen}`
}

function toBig(address: string): bigint {
  let v = 0n
  for (const b of ipToBytes(address)) v = (v << 8n) | BigInt(b)
  return v
}

function fromBig(v: bigint, family: 4 | 6): string {
  const len = family === 4 ? 4 : 16
  const bytes = Buffer.alloc(len)
  for (let i = len - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return bytesToIp(bytes)
}

function bits(family: 4 | 6): bigint {
  return family === 4 ? 32n : 128n
}

/** Parse `a.b.c.d/n` or `x::/n` into its network (host bits must be zero for pools). */
export function parseSubnet(text: string, what = 'subnet'): Subnet {
  let c
  try {
    c = parseCidr(text)
  } catch (err) {
    throw new PlanError(`${what} ${JSON.stringify(text)} is not an address/prefix: ${(err as Error).message}`)
  }
  const family = c.family === 10 ? 6 : 4
  const hostBits = bits(family) - BigInt(c.prefixLen)
  const v = toBig(c.address)
  const network = (v >> hostBits) << hostBits
  return { network: fromBig(network, family), prefixLen: c.prefixLen, family }
}

/** True when the two subnets share any address. */
export function overlaps(a: Subnet, b: Subnet): boolean {
  if (a.family !== b.family) return false
  const len = BigInt(Math.min(a.prefixLen, b.prefixLen))
  const shift = bits(a.family) - len
  return toBig(a.network) >> shift === toBig(b.network) >> shift
}

/** True when `address` lies inside `s`. */
export function contains(s: Subnet, address: string): boolean {
  const family = address.includes(':') ? 6 : 4
  if (family !== s.family) return false
  const shift = bits(family) - BigInt(s.prefixLen)
  return toBig(address) >> shift === toBig(s.network) >> shift
}

/** The n-th host address of a subnet (1-based: the network address itself is never given out). */
export function hostAddress(s: Subnet, n: number): string {
  const size = 1n << (bits(s.family) - BigInt(s.prefixLen))
  const usable = s.family === 4 && s.prefixLen < 31 ? size - 2n : size - 1n
  if (BigInt(n) < 1n || BigInt(n) > usable)
    throw new PlanError(`subnet ${subnetText(s)} has no host number ${n} (it holds ${usable})`)
  return fromBig(toBig(s.network) + BigInt(n), s.family)
}

/** How many hosts fit (IPv4 without network and broadcast). */
export function capacity(s: Subnet): bigint {
  const size = 1n << (bits(s.family) - BigInt(s.prefixLen))
  return s.family === 4 && s.prefixLen < 31 ? size - 2n : size - 1n
}

/** A cursor handing out aligned blocks of a pool, in order. */
class Pool {
  readonly subnet: Subnet
  private next: bigint
  private readonly end: bigint

  constructor(subnet: Subnet) {
    this.subnet = subnet
    this.next = toBig(subnet.network)
    this.end = this.next + (1n << (bits(subnet.family) - BigInt(subnet.prefixLen)))
  }

  take(prefixLen: number, forWhat: string): Subnet {
    const { family } = this.subnet
    if (prefixLen < this.subnet.prefixLen)
      throw new PlanError(
        `${forWhat} needs a /${prefixLen}, larger than the whole pool ${subnetText(this.subnet)}`,
      )
    const size = 1n << (bits(family) - BigInt(prefixLen))
    const start = ((this.next + size - 1n) / size) * size
    if (start + size > this.end)
      throw new PlanError(
        `the address plan ran out: pool ${subnetText(this.subnet)} has no free /${prefixLen} left for ${forWhat}; give the lab a larger pool (Lab.create({ ${family === 4 ? 'ipv4Pool' : 'ipv6Pool'}: ... }))`,
      )
    this.next = start + size
    return { network: fromBig(start, family), prefixLen, family }
  }
}

export interface PlanOptions {
  ipv4Pool?: string
  ipv6Pool?: string
}

export interface Segment {
  /** Who the segment is for (`a--b`, `switch sw`), for messages. */
  label: string
  v4: Subnet
  v6: Subnet
  /** Next host number to give out in this segment. */
  nextHost: number
  /** Addresses given out, per member. */
  members: Map<string, { v4: string; v6: string }>
  /** At most this many members (a switch: BRIDGE_MAX_PORTS, one bridge port each). */
  maxMembers?: number
}

/** The smallest IPv4 prefix that holds `hosts` hosts (at least /30, at most /16 by default growth). */
export function prefixForHosts(hosts: number): number {
  let len = 30
  while (len > 0 && capacity({ network: '0.0.0.0', prefixLen: len, family: 4 }) < BigInt(hosts)) len--
  return len
}

export class AddressPlan {
  private readonly v4: Pool
  private readonly v6: Pool

  constructor(options: PlanOptions = {}) {
    const v4 = parseSubnet(options.ipv4Pool ?? '198.18.0.0/15', 'ipv4Pool')
    const v6 = parseSubnet(options.ipv6Pool ?? 'fd00::/8', 'ipv6Pool')
    if (v4.family !== 4) throw new PlanError(`ipv4Pool ${subnetText(v4)} is not an IPv4 subnet`)
    if (v6.family !== 6) throw new PlanError(`ipv6Pool ${subnetText(v6)} is not an IPv6 subnet`)
    if (v6.prefixLen > 64) throw new PlanError(`ipv6Pool ${subnetText(v6)} is smaller than one /64`)
    this.v4 = new Pool(v4)
    this.v6 = new Pool(v6)
  }

  /**
   * A new segment for `hosts` members: a /30 and a /64 for a link, a larger
   * IPv4 block for a switch. Explicit subnets (`subnet`, `subnet6`) are used
   * as given, so separate parts of a lab may reuse the same private range.
   */
  segment(label: string, hosts: number, explicit: { subnet?: string; subnet6?: string } = {}): Segment {
    const v4 = explicit.subnet
      ? parseSubnet(explicit.subnet, `subnet of ${label}`)
      : this.v4.take(prefixForHosts(hosts), label)
    const v6 = explicit.subnet6
      ? parseSubnet(explicit.subnet6, `subnet6 of ${label}`)
      : this.v6.take(64, label)
    if (v4.family !== 4)
      throw new PlanError(`subnet of ${label} (${subnetText(v4)}) must be IPv4; use subnet6 for IPv6`)
    if (v6.family !== 6) throw new PlanError(`subnet6 of ${label} (${subnetText(v6)}) must be IPv6`)
    return { label, v4, v6, nextHost: 1, members: new Map() }
  }

  /**
   * A switch's segment, sized for `hosts` members: a whole number from 1 to
   * BRIDGE_MAX_PORTS, and the segment never takes more members than that.
   */
  switchSegment(label: string, hosts: number, explicit: { subnet?: string; subnet6?: string } = {}): Segment {
    if (!Number.isInteger(hosts) || hosts < 1 || hosts > BRIDGE_MAX_PORTS)
      throw new PlanError(
        `${label}: hosts must be a whole number from 1 to ${BRIDGE_MAX_PORTS} (a Linux bridge takes at most ${BRIDGE_MAX_PORTS} ports), got ${hosts}`,
      )
    const seg = this.segment(label, hosts, explicit)
    seg.maxMembers = BRIDGE_MAX_PORTS
    return seg
  }

  /**
   * Give `member` addresses in `seg`: the next free host numbers, or the
   * explicit ones (which must lie in the segment and be unused there).
   */
  assign(
    seg: Segment,
    member: string,
    explicit: { v4?: string; v6?: string } = {},
  ): { v4: string; v6: string } {
    if (seg.members.has(member)) throw new PlanError(`${member} already has an address on ${seg.label}`)
    if (seg.maxMembers !== undefined && seg.members.size >= seg.maxMembers)
      throw new PlanError(
        `${seg.label} is full: a Linux bridge takes at most ${seg.maxMembers} ports and ${member} would be port ${seg.members.size + 1}; split its members over several switches joined by a router`,
      )
    const used = new Set([...seg.members.values()].flatMap((m) => [m.v4, m.v6]))
    const pick = (family: 4 | 6, given: string | undefined): string => {
      const subnet = family === 4 ? seg.v4 : seg.v6
      if (given !== undefined) {
        const addr = given.split('/')[0]!
        if (!contains(subnet, addr))
          throw new PlanError(
            `address ${given} for ${member} is outside ${subnetText(subnet)} of ${seg.label}`,
          )
        if (used.has(addr)) throw new PlanError(`address clash: ${addr} is given twice on ${seg.label}`)
        return addr
      }
      for (;;) {
        if (BigInt(seg.nextHost) > capacity(subnet))
          throw new PlanError(
            `the address plan ran out: ${subnetText(subnet)} of ${seg.label} is full (${capacity(subnet)} hosts); give it a larger subnet`,
          )
        const addr = hostAddress(subnet, seg.nextHost)
        if (!used.has(addr)) return addr
        seg.nextHost++
      }
    }
    const v4 = pick(4, explicit.v4)
    const v6 = pick(6, explicit.v6)
    if (explicit.v4 === undefined || explicit.v6 === undefined) seg.nextHost++
    const a = { v4, v6 }
    seg.members.set(member, a)
    return a
  }

  /** Take back `member`'s addresses in `seg` (a link that could not be made). */
  release(seg: Segment, member: string): void {
    seg.members.delete(member)
  }
}
