/**
 * A minimal OpenVPN (TLS) server in a lab host for the NetworkManager tests:
 * a throwaway CA, server and client certificates made with openssl, and an
 * openvpn server pushing a route and DNS. To be replaced by harness/vpn's
 * OpenVPN driver (branch vpn-tunnels) once that is merged.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LabNode, NetnsProcess } from '../../../harness/index.js'

export interface TestOpenVpnServer {
  dir: string
  ca: string
  cert: string
  key: string
  process: NetnsProcess
  /** Kill the server (the VPN drops under the client). */
  kill(): Promise<void>
  close(): Promise<void>
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

function issue(dir: string, name: string, usage: 'serverAuth' | 'clientAuth'): void {
  openssl(
    dir,
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'].concat([
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    ]),
  )
  writeFileSync(
    join(dir, `${name}.ext`),
    `extendedKeyUsage=${usage}\nkeyUsage=digitalSignature,keyAgreement\n`,
  )
  openssl(
    dir,
    ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ]),
  )
}

export async function startTestOpenVpnServer(
  server: LabNode,
  options: { listen: string; pool: string; pushRoute: string; dns: string; domain: string },
): Promise<TestOpenVpnServer> {
  const dir = mkdtempSync(join(tmpdir(), 'nslab-ovpn-test-'))
  openssl(
    dir,
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'].concat([
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=nslab-test-ca',
    ]),
  )
  issue(dir, 'server', 'serverAuth')
  issue(dir, 'client', 'clientAuth')
  const [poolNet, poolMask] = options.pool.split(' ')
  const [routeNet, routeMask] = options.pushRoute.split(' ')
  writeFileSync(
    join(dir, 'server.conf'),
    [
      'dev tun',
      'proto udp',
      `local ${options.listen}`,
      'port 1194',
      'topology subnet',
      `server ${poolNet} ${poolMask}`,
      `push "route ${routeNet} ${routeMask}"`,
      `push "dhcp-option DNS ${options.dns}"`,
      `push "dhcp-option DOMAIN ${options.domain}"`,
      `ca ${dir}/ca.crt`,
      `cert ${dir}/server.crt`,
      `key ${dir}/server.key`,
      'dh none',
      'verb 3',
      '',
    ].join('\n'),
  )
  const proc = server.spawn(['openvpn', '--config', join(dir, 'server.conf')])
  await new Promise<void>((resolve, reject) => {
    let out = ''
    proc.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      if (out.includes('Initialization Sequence Completed')) resolve()
    })
    void proc.exited.then(() => reject(new Error(`openvpn server exited: ${out.slice(-800)}`)))
  })
  const kill = async (): Promise<void> => {
    proc.kill('SIGKILL')
    await proc.exited
  }
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    cert: join(dir, 'client.crt'),
    key: join(dir, 'client.key'),
    process: proc,
    kill,
    async close() {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
