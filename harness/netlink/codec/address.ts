/**
 * Link-layer (MAC) address text <-> wire bytes. IP text has its own home, harness/util/ip.ts,
 * which the codec imports.
 */
import { Buffer } from 'node:buffer'
import { InvalidAddressError } from '../../util/ip.js'

/**
 * MAC text (six 1- or 2-digit hex groups separated by `:` or `-`, any case) to 6 bytes.
 */
export function macToBytes(text: string): Buffer {
  const parts = text.split(/[:-]/)
  if (parts.length !== 6)
    throw new InvalidAddressError(text, 'a MAC address has six hex groups separated by ":"')
  const out = Buffer.alloc(6)
  parts.forEach((part, i) => {
    if (!/^[0-9a-fA-F]{1,2}$/.test(part)) {
      throw new InvalidAddressError(text, `${JSON.stringify(part)} is not one or two hex digits`)
    }
    out[i] = parseInt(part, 16)
  })
  return out
}

/**
 * Link-layer address bytes as `ip` prints them: lowercase two-digit hex joined by `:`. Any length
 * is accepted (Ethernet has 6, InfiniBand 20, some tunnels 4 or 0).
 */
export function bytesToMac(bytes: Uint8Array): string {
  let text = ''
  for (let i = 0; i < bytes.length; i++) text += (i === 0 ? '' : ':') + HEX2[bytes[i]!]
  return text
}

/** '00'..'ff' by byte value. */
const HEX2 = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))
