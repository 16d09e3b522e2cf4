/**
 * OpenVPN configuration files for a lab tunnel: a TLS server in end a that
 * pushes routes, DNS and (full tunnel) redirect-gateway, and a client in
 * end b that, like NetworkManager's plugin, applies nothing itself
 * (--ifconfig-noexec, --route-noexec) and hands everything to an --up script.
 */
import type { Pki } from './pki.js'
import type { CheckedOptions } from './options.js'
import { hostAddress, netmask, parseSubnet4 } from './subnet.js'

export function serverConfig(o: CheckedOptions, pki: Pki, device: string, ccdDir: string): string {
  const lines = [
    `dev ${device}`,
    'dev-type tun',
    'proto udp',
    `local ${o.endpoint}`,
    `lport ${o.port}`,
    `server ${o.subnet.network} ${netmask(o.subnet.prefixLen)}`,
    'topology subnet',
    `client-config-dir ${ccdDir}`,
    `ca ${pki.ca}`,
    `cert ${pki.server.cert}`,
    `key ${pki.server.key}`,
    'dh none',
    'verb 3',
  ]
  if (o.mtu !== undefined) lines.push(`tun-mtu ${o.mtu}`)
  for (const r of o.routes) {
    const s = parseSubnet4(r)
    lines.push(`push "route ${s.network} ${netmask(s.prefixLen)}"`)
  }
  for (const ns of o.dns?.nameservers ?? []) lines.push(`push "dhcp-option DNS ${ns}"`)
  const [domain, ...search] = o.dns?.search ?? []
  if (domain) lines.push(`push "dhcp-option DOMAIN ${domain}"`)
  for (const s of search) lines.push(`push "dhcp-option DOMAIN-SEARCH ${s}"`)
  if (o.mode === 'full') lines.push('push "redirect-gateway def1"')
  return lines.join('\n') + '\n'
}

/** The client-config-dir entry that pins the client to .2, so a restarted client gets its address back. */
export function clientCcd(o: CheckedOptions): string {
  return `ifconfig-push ${hostAddress(o.subnet, 2)} ${netmask(o.subnet.prefixLen)}\n`
}

export function clientConfig(o: CheckedOptions, pki: Pki, device: string, upScript: string): string {
  const client = pki.clients[0]!
  const lines = [
    'client',
    `dev ${device}`,
    'dev-type tun',
    'proto udp',
    `remote ${o.endpoint} ${o.port}`,
    'nobind',
    `ca ${pki.ca}`,
    `cert ${client.cert}`,
    `key ${client.key}`,
    'remote-cert-tls server',
    `verify-x509-name ${pki.server.name} name`,
    'explicit-exit-notify 1',
    'script-security 2',
    `up ${upScript}`,
    'ifconfig-noexec',
    'route-noexec',
    'verb 3',
  ]
  if (o.mtu !== undefined) lines.push(`tun-mtu ${o.mtu}`)
  return lines.join('\n') + '\n'
}

/** The --up script: dump the whole environment OpenVPN gives it, NUL-separated. */
export function upScript(envFile: string): string {
  return `#!/bin/sh\nexec env -0 > '${envFile}'\n`
}
