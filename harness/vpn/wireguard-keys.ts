/**
 * WireGuard keys without a `wg genkey` process: Curve25519 key pairs from
 * node:crypto, in the base64 form `wg` reads and prints.
 */
import { generateKeyPairSync } from 'node:crypto'

export interface WgKeyPair {
  privateKey: string
  publicKey: string
}

const b64 = (url: string): string => Buffer.from(url, 'base64url').toString('base64')

export function wgKeyPair(): WgKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519')
  const priv = privateKey.export({ format: 'jwk' })
  const pub = publicKey.export({ format: 'jwk' })
  return { privateKey: b64(priv.d!), publicKey: b64(pub.x!) }
}
