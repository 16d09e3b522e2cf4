/** `wg setconf` files for the two ends of a lab tunnel. */

export interface WgPeerConfig {
  publicKey: string
  allowedIps: string[]
  endpoint?: string
}

export function wgConfig(privateKey: string, listenPort: number, peer: WgPeerConfig): string {
  const lines = ['[Interface]', `PrivateKey = ${privateKey}`, `ListenPort = ${listenPort}`, '', '[Peer]']
  lines.push(`PublicKey = ${peer.publicKey}`, `AllowedIPs = ${peer.allowedIps.join(', ')}`)
  if (peer.endpoint) lines.push(`Endpoint = ${peer.endpoint}`)
  return lines.join('\n') + '\n'
}
