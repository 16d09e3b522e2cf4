/**
 * An OpenVPN server alone in a lab host, for clients the lab does not run
 * itself (NetworkManager's openvpn plugin, a client under test): a lab PKI
 * (harness/vpn/pki.ts), a TLS server pushing routes and DNS, the client's
 * certificate files to hand out. Stopped with the host's lab.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LabNode } from '../lab/index.js'
import type { NetnsProcess } from '../netns/index.js'
import { parseSubnet, subnetText } from '../lab/plan.js'
import { createPki } from './pki.js'
import { makeWorkDir } from './workdir.js'

export interface OpenVpnServerOptions {
  /** The server's address to listen on (usually its address facing the client). */
  listen: string
  port?: number
  /** The client address pool (default 10.8.0.0/24). */
  subnet?: string
  /** Routes pushed to clients. */
  routes?: string[]
  /** DNS pushed to clients (`dhcp-option DNS` / `DOMAIN`). */
  dns?: { nameservers: string[]; search?: string[] }
}

export interface OpenVpnServer {
  /** Files a client needs: the CA, its certificate and key. */
  client: { ca: string; cert: string; key: string }
  process: NetnsProcess
  /** Kill the server: the VPN drops under its clients. */
  kill(): Promise<void>
  close(): Promise<void>
}

function mask(prefixLen: number): string {
  const m = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0
  return [24, 16, 8, 0].map((s) => (m >>> s) & 255).join('.')
}

export async function startOpenVpnServer(server: LabNode, o: OpenVpnServerOptions): Promise<OpenVpnServer> {
  const work = makeWorkDir(server)
  const dir = work.path
  try {
    const pki = await createPki(dir, 'server', ['client'])
    const pool = parseSubnet(o.subnet ?? '10.8.0.0/24', 'openvpn server subnet')
    const lines = [
      'dev tun',
      'proto udp',
      `local ${o.listen}`,
      `port ${o.port ?? 1194}`,
      'topology subnet',
      `server ${pool.network} ${mask(pool.prefixLen)}`,
      ...(o.routes ?? []).map((r) => {
        const s = parseSubnet(r, 'pushed route')
        return `push "route ${s.network} ${mask(s.prefixLen)}"`
      }),
      ...(o.dns?.nameservers ?? []).map((n) => `push "dhcp-option DNS ${n}"`),
      ...(o.dns?.search ?? []).map((d) => `push "dhcp-option DOMAIN ${d}"`),
      `ca ${pki.ca}`,
      `cert ${pki.server.cert}`,
      `key ${pki.server.key}`,
      'dh none',
      'verb 3',
      '',
    ]
    writeFileSync(join(dir, 'server.conf'), lines.join('\n'))
    const proc = server.spawn(['openvpn', '--config', join(dir, 'server.conf')])
    await new Promise<void>((resolve, reject) => {
      let out = ''
      proc.stdout.on('data', (b: Buffer) => {
        out += b.toString()
        if (out.includes('Initialization Sequence Completed')) resolve()
      })
      void proc.exited.then(() =>
        reject(
          new Error(`the OpenVPN server in ${server.name} (${subnetText(pool)}) exited: ${out.slice(-800)}`),
        ),
      )
    })
    const kill = async (): Promise<void> => {
      proc.kill('SIGKILL')
      await proc.exited
    }
    let closed = false
    const close = async (): Promise<void> => {
      if (closed) return
      closed = true
      unregister()
      await kill()
      work.remove()
    }
    const unregister = server.onStop(close)
    const client = pki.clients[0]!
    return { client: { ca: pki.ca, cert: client.cert, key: client.key }, process: proc, kill, close }
  } catch (err) {
    work.remove()
    throw err
  }
}
