/**
 * A throwaway PKI for one lab tunnel: a CA, a server certificate (serverAuth)
 * and client certificates (clientAuth), EC P-256 keys, made with the
 * `openssl` CLI (node:crypto cannot issue X.509 certificates). Everything is
 * written under the given directory, which the caller owns and removes.
 */
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface CertFiles {
  /** Common name in the subject. */
  name: string
  cert: string
  key: string
}

export interface Pki {
  dir: string
  /** The CA certificate every end trusts. */
  ca: string
  server: CertFiles
  clients: CertFiles[]
}

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir, timeout: 30_000 })
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string }
    if (e.code === 'ENOENT')
      throw new Error('the `openssl` command is missing: install the Debian package openssl', { cause: err })
    throw new Error(`openssl ${args[0]} failed in ${dir}: ${(e.stderr ?? e.message).trim()}`, { cause: err })
  }
}

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

async function issue(dir: string, name: string, usage: 'serverAuth' | 'clientAuth'): Promise<CertFiles> {
  const key = join(dir, `${name}.key`)
  const csr = join(dir, `${name}.csr`)
  const cert = join(dir, `${name}.crt`)
  const ext = join(dir, `${name}.ext`)
  writeFileSync(
    ext,
    [
      'basicConstraints = CA:FALSE',
      `keyUsage = critical, digitalSignature${usage === 'serverAuth' ? ', keyAgreement' : ''}`,
      `extendedKeyUsage = ${usage}`,
      '',
    ].join('\n'),
  )
  await openssl(dir, ['req', '-new', ...NEW_KEY, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`])
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    join(dir, 'ca.crt'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    cert,
  ])
  return { name, cert, key }
}

/**
 * Make a CA, a certificate for `server` and one for each client name, in
 * `dir`. Names are plain (letters, digits, '-', '_', '.').
 */
export async function createPki(
  dir: string,
  server = 'server',
  clients: string[] = ['client'],
): Promise<Pki> {
  for (const n of [server, ...clients])
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(n))
      throw new TypeError(`certificate name ${JSON.stringify(n)} must be letters, digits, '-', '_' or '.'`)
  await openssl(dir, [
    'req',
    '-x509',
    ...NEW_KEY,
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    join(dir, 'ca.crt'),
    '-subj',
    '/CN=nslab lab CA',
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ])
  const serverCert = await issue(dir, server, 'serverAuth')
  const clientCerts: CertFiles[] = []
  // One after the other: -CAcreateserial updates one serial file.
  for (const c of clients) clientCerts.push(await issue(dir, c, 'clientAuth'))
  return { dir, ca: join(dir, 'ca.crt'), server: serverCert, clients: clientCerts }
}
