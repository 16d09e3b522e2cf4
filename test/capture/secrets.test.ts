/**
 * The keys ride along: a lab's pcapng carries what Wireshark needs to read
 * inside its tunnels and TLS sessions, and tunnel devices are written as
 * raw IP, so tshark (the judge) shows the inner packets from the file alone.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { WireGuardTunnel } from '../../harness/index.js'
import { newLab } from '../vpn/support.js'
import { tsharkFields } from './tshark.js'

describe('WireGuard on the wire', () => {
  it('the capture writes a tunnel device as raw IP: Wireshark reads the inner ping on it, the outer UDP on the veth', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const t = (await lab.tunnel(a, b, { type: 'wireguard' })) as WireGuardTunnel
    lab.capture()
    const r = await a.ping(t.addresses.b, { count: 2 })
    expect(r.received).toBe(2)
    const dir = mkdtempSync(join(tmpdir(), 'nslab-wg-capture-'))
    try {
      const file = join(dir, 'wg.pcapng')
      await lab.packetCapture!.write(file)
      const inner = tsharkFields(
        file,
        ['frame.interface_name', 'ip.src', 'ip.dst', 'icmp.type'],
        `frame.interface_name == "a/${t.devices.a}" && icmp`,
      )
      expect(inner).toContainEqual([`a/${t.devices.a}`, t.addresses.a, t.addresses.b, '8'])
      expect(inner).toContainEqual([`a/${t.devices.a}`, t.addresses.b, t.addresses.a, '0'])
      const outer = tsharkFields(
        file,
        ['frame.interface_name', 'wg.type'],
        `frame.interface_name == "a/${a.ports[0]!.device}" && wg`,
      )
      expect(outer.length).toBeGreaterThanOrEqual(4)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('TLS on the wire', () => {
  it('programs started in a capturing lab log their TLS keys: Wireshark decrypts the HTTP inside, from the file alone', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    lab.capture()
    const dir = mkdtempSync(join(tmpdir(), 'nslab-tls-'))
    try {
      const key = join(dir, 'key.pem')
      const cert = join(dir, 'cert.pem')
      const made = await b.exec(
        [
          'openssl',
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-subj',
          '/CN=b',
          '-days',
          '1',
        ],
        { timeout: 30_000 },
      )
      expect(made.code).toBe(0)
      const server = b.spawn([
        'openssl',
        's_server',
        '-accept',
        '4433',
        '-cert',
        cert,
        '-key',
        key,
        '-www',
        '-quiet',
      ])
      const url = `https://${b.address(a)}:4433/`
      let got = { code: 1 as number | null, stdout: '' }
      for (let i = 0; i < 50 && got.code !== 0; i++) {
        got = await a.exec(['curl', '-sk', '--max-time', '5', url])
        if (got.code !== 0) await new Promise((r) => setTimeout(r, 100))
      }
      expect(got.code).toBe(0)
      server.kill()
      expect(a.tlsKeyLogFile).toMatch(/nslab-tls-nslab-\w+-a\.keylog$/)
      const file = join(dir, 'tls.pcapng')
      await lab.packetCapture!.write(file)
      // Decrypted from the file's own decryption secrets block: no key file given to tshark.
      const http = tsharkFields(
        file,
        ['frame.interface_name', 'http.request.method', 'http.request.uri'],
        'http.request',
      )
      expect(http).toContainEqual([`a/${a.ports[0]!.device}`, 'GET', '/'])
      const keyLog = a.tlsKeyLogFile!
      await lab.destroy()
      expect(existsSync(keyLog)).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
