/**
 * IPv4 prefix arithmetic for tunnels: inner subnets, netmasks as OpenVPN
 * writes them, host addresses inside a subnet.
 */

export interface Subnet4 {
  /** Network address. */
  network: string
  prefixLen: number
}

export function ipToInt(ip: string): number {
  const parts = ip.split('.')
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255))
    throw new TypeError(`${JSON.stringify(ip)} is not an IPv4 address`)
  return parts.reduce((n, p) => n * 256 + Number(p), 0)
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.')
}

/** Parse `10.0.0.0/24` (host bits must be zero). */
export function parseSubnet4(cidr: string): Subnet4 {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr)
  if (!m || Number(m[2]) > 32)
    throw new TypeError(`${JSON.stringify(cidr)} is not an IPv4 subnet like 10.0.0.0/24`)
  const prefixLen = Number(m[2])
  const n = ipToInt(m[1]!)
  const size = 2 ** (32 - prefixLen)
  if (n % size !== 0)
    throw new TypeError(`${cidr} has host bits set; did you mean ${intToIp(n - (n % size))}/${prefixLen}?`)
  return { network: m[1]!, prefixLen }
}

export function netmask(prefixLen: number): string {
  return intToIp(prefixLen === 0 ? 0 : 2 ** 32 - 2 ** (32 - prefixLen))
}

export function prefixOfNetmask(mask: string): number {
  const n = ipToInt(mask)
  let len = 0
  while (len < 32 && n >= 2 ** 32 - 2 ** (31 - len)) len++
  if (netmask(len) !== mask) throw new TypeError(`${mask} is not a contiguous netmask`)
  return len
}

/** The `nth` address of a subnet (1 = first host). */
export function hostAddress(s: Subnet4, nth: number): string {
  if (nth >= 2 ** (32 - s.prefixLen) - 1)
    throw new TypeError(`${s.network}/${s.prefixLen} has no host number ${nth}`)
  return intToIp(ipToInt(s.network) + nth)
}

export function subnetText(s: Subnet4): string {
  return `${s.network}/${s.prefixLen}`
}
