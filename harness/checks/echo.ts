/**
 * TCP, UDP and HTTP checks between two hosts: a server in one namespace (its
 * socket born there, served from this thread), a client in the other, a
 * payload that must come back. Results are data: ok, round trip, or the
 * error, naming hosts and addresses.
 */
import type dgram from 'node:dgram'
import { once } from 'node:events'
import http from 'node:http'
import type net from 'node:net'
import { Connections } from './connections.js'

export interface EchoHost<H = unknown> {
  name: string
  address(peer?: H, family?: 4 | 6): string
  listen(
    options: { port?: number; host?: string },
    onConnection?: (socket: net.Socket) => void,
  ): Promise<net.Server>
  connect(options: { port: number; host: string; timeout?: number }): Promise<net.Socket>
  bindUdp(options: { port?: number; host?: string }): dgram.Socket
  run<A extends unknown[], R>(fn: (...args: A) => R | Promise<R>, ...args: A): Promise<Awaited<R>>
}

export interface EchoResult {
  protocol: 'tcp' | 'udp' | 'http'
  from: string
  to: string
  address: string
  port: number
  ok: boolean
  /** Round trip in ms, when it worked. */
  rtt: number | undefined
  /** What went wrong (ECONNREFUSED, a timeout...), when it did not. */
  error: string | undefined
  /** TCP: the address the server saw the connection come from (a NAT's, say). */
  peerAddress?: string
}

interface CheckOptions {
  port?: number
  family?: 4 | 6
  timeout?: number
}

interface TcpOptions extends CheckOptions {
  /** Send this many bytes and expect all of them back (default: one short line). */
  bytes?: number
}

function result(
  protocol: EchoResult['protocol'],
  client: { name: string },
  server: { name: string },
  address: string,
  port: number,
  t0: number,
  error?: unknown,
): EchoResult {
  const e = error as NodeJS.ErrnoException | undefined
  return {
    protocol,
    from: client.name,
    to: server.name,
    address,
    port,
    ok: error === undefined,
    rtt: error === undefined ? performance.now() - t0 : undefined,
    error: e === undefined ? undefined : (e.code ?? e.message),
  }
}

/**
 * `client` opens a TCP connection to `server`, sends a payload (a short line,
 * or `bytes` bytes) and expects it echoed back; the result says which
 * address the server saw the connection come from.
 */
export async function tcpEcho<H extends EchoHost<H>>(
  client: H,
  server: H,
  options: TcpOptions = {},
): Promise<EchoResult> {
  const family = options.family ?? 4
  const timeout = options.timeout ?? 2000
  const address = server.address(client, family)
  let peerAddress: string | undefined
  const conns = new Connections()
  const srv = await server.listen({ port: options.port ?? 0, host: family === 6 ? '::' : '0.0.0.0' }, (s) => {
    conns.accept(s)
    peerAddress = s.remoteAddress?.replace(/^::ffff:/, '')
    s.pipe(s)
  })
  const port = (srv.address() as net.AddressInfo).port
  const t0 = performance.now()
  const label = Buffer.from(`nslab tcp echo ${client.name}->${server.name}\n`)
  const payload = options.bytes === undefined ? label : Buffer.alloc(options.bytes, label.toString())
  try {
    const sock = await client.connect({ port, host: address, timeout })
    try {
      const got = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = []
        let n = 0
        const timer = setTimeout(
          () =>
            reject(
              Object.assign(new Error(`${n} of ${payload.length} bytes echoed within ${timeout} ms`), {
                code: 'ETIMEDOUT',
              }),
            ),
          timeout,
        )
        sock.on('data', (x: Buffer) => {
          chunks.push(x)
          n += x.length
          if (n >= payload.length) {
            clearTimeout(timer)
            resolve(Buffer.concat(chunks))
          }
        })
        sock.on('error', (err) => {
          clearTimeout(timer)
          reject(err)
        })
        sock.on('end', () => {
          clearTimeout(timer)
          reject(new Error(`the server closed the connection after echoing ${n} of ${payload.length} bytes`))
        })
        sock.write(payload)
      })
      if (!got.equals(payload)) throw new Error(`echo mismatch after ${got.length} bytes`)
    } finally {
      sock.destroy()
    }
    return { ...result('tcp', client, server, address, port, t0), peerAddress }
  } catch (err) {
    return { ...result('tcp', client, server, address, port, t0, err), peerAddress }
  } finally {
    srv.close()
    conns.destroyAll()
  }
}

/** `client` sends a UDP datagram to `server` and expects it echoed back. */
export async function udpEcho<H extends EchoHost<H>>(
  client: H,
  server: H,
  options: CheckOptions = {},
): Promise<EchoResult> {
  const family = options.family ?? 4
  const address = server.address(client, family)
  const srv = server.bindUdp({ port: options.port ?? 0, host: family === 6 ? '::' : '0.0.0.0' })
  srv.on('message', (msg, rinfo) => srv.send(msg, rinfo.port, rinfo.address))
  const port = srv.address().port
  const cli = client.bindUdp({ host: family === 6 ? '::' : '0.0.0.0' })
  const t0 = performance.now()
  try {
    const payload = `nslab udp echo ${client.name}->${server.name}`
    const reply = once(cli, 'message', { signal: AbortSignal.timeout(options.timeout ?? 2000) })
    cli.send(payload, port, address)
    const [msg] = (await reply) as [Buffer]
    if (msg.toString() !== payload) throw new Error('echo mismatch')
    return result('udp', client, server, address, port, t0)
  } catch (err) {
    const e = err as Error
    return result(
      'udp',
      client,
      server,
      address,
      port,
      t0,
      e.name === 'AbortError' ? Object.assign(e, { code: 'ETIMEDOUT' }) : e,
    )
  } finally {
    srv.close()
    cli.close()
  }
}

/** `client` fetches `http://server/` (from a worker in its namespace); the server answers 200 with a body. */
export async function httpCheck<H extends EchoHost<H>>(
  client: H,
  server: H,
  options: CheckOptions = {},
): Promise<EchoResult> {
  const family = options.family ?? 4
  const address = server.address(client, family)
  const app = http.createServer((req, res) => res.end(`nslab http ${server.name} ${req.url}`))
  const conns = new Connections()
  const srv = await server.listen({ port: options.port ?? 0, host: family === 6 ? '::' : '0.0.0.0' }, (s) => {
    conns.accept(s)
    app.emit('connection', s)
  })
  const port = (srv.address() as net.AddressInfo).port
  const url = `http://${family === 6 ? `[${address}]` : address}:${port}/check`
  const t0 = performance.now()
  try {
    const body = await client.run(
      async (u: string, timeout: number) => {
        const r = await fetch(u, { signal: AbortSignal.timeout(timeout) })
        return `${r.status} ${await r.text()}`
      },
      url,
      options.timeout ?? 2000,
    )
    if (body !== `200 nslab http ${server.name} /check`) throw new Error(`unexpected response: ${body}`)
    return result('http', client, server, address, port, t0)
  } catch (err) {
    return result('http', client, server, address, port, t0, err)
  } finally {
    srv.close()
    app.close()
    conns.destroyAll()
  }
}
