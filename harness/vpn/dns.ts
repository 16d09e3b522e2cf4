/**
 * Per-namespace DNS from a tunnel: `/etc/netns/<ns>/resolv.conf`, which
 * programs run in the node (node.exec, `ip netns exec`) see over
 * /etc/resolv.conf. What was there before comes back when the tunnel goes
 * down, as NetworkManager does with a VPN's DNS.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { NETNS_ETC_DIR } from '../netns/index.js'

export interface TunnelDns {
  nameservers: string[]
  /** Search domains (the first is OpenVPN's DOMAIN). */
  search?: string[]
}

export function resolvConf(dns: TunnelDns): string {
  const lines = dns.nameservers.map((n) => `nameserver ${n}`)
  if (dns.search?.length) lines.push(`search ${dns.search.join(' ')}`)
  return lines.join('\n') + '\n'
}

/** Write the tunnel's resolv.conf for `netns`; the returned function puts back what was there. */
export function installResolvConf(netns: string, dns: TunnelDns): () => void {
  const dir = join(NETNS_ETC_DIR, netns)
  const file = join(dir, 'resolv.conf')
  const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined
  mkdirSync(dir, { recursive: true })
  writeFileSync(file, resolvConf(dns))
  let restored = false
  return () => {
    if (restored) return
    restored = true
    if (!existsSync(dir)) return
    if (before === undefined) rmSync(file, { force: true })
    else writeFileSync(file, before)
  }
}
