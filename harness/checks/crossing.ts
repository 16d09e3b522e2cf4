/**
 * The socket-crossing check: a TCP socket created in one namespace and
 * connected from a thread living in another reaches its server from the
 * namespace it was born in, because a socket belongs to the namespace of
 * the thread that created it, for life, whichever thread uses it later.
 */
import type net from 'node:net'
import { type NetnsRef, listenIn, socketIn } from '../netns/index.js'
import { AF_INET, SOCK_STREAM } from '../sys/constants.js'
import { Connections } from './connections.js'

export interface CrossingOptions {
  /** The namespace the socket is born in. */
  createdIn: NetnsRef
  /** Run a self-contained function on a thread living in the namespace the socket is used from (LabNode.run). */
  runThere: <A extends unknown[], R>(fn: (...args: A) => R | Promise<R>, ...args: A) => Promise<Awaited<R>>
  /** The namespace of the server. */
  server: NetnsRef
  /** The server's IPv4 address as the socket's namespace reaches it. */
  serverAddress: string
  /** The server's port (default: any free one). */
  port?: number
  /** How long to wait for the server's answer (default 3 s). */
  timeoutMs?: number
}

export interface CrossingResult {
  /** The peer address the server saw (undefined: no connection reached it). */
  seen: string | undefined
  /** What the client read back (the server echoes the address it saw). */
  answer: string
  port: number
}

/**
 * Listen in `server`, create the socket in `createdIn`, connect it from the
 * other thread, and report the source address the server saw. Rejects when
 * the connection fails or no answer comes in time; the server, its
 * connections and the socket are closed in every case.
 */
export async function socketCrossing(o: CrossingOptions): Promise<CrossingResult> {
  let seen: string | undefined
  const conns = new Connections()
  const srv: net.Server = await listenIn(o.server, { port: o.port ?? 0, host: '0.0.0.0' }, (c) => {
    conns.accept(c)
    seen = c.remoteAddress?.replace(/^::ffff:/, '')
    c.end(`${seen}\n`)
  })
  const port = (srv.address() as net.AddressInfo).port
  try {
    const fd = socketIn(o.createdIn, AF_INET, SOCK_STREAM)
    // The fd is adopted (and closed) by the socket on the other thread.
    const answer = await o.runThere(
      async (fd: number, port: number, host: string, ms: number) => {
        const net = await import('node:net')
        return await new Promise<string>((resolve, reject) => {
          const sock = new net.Socket({ fd })
          const timer = setTimeout(() => sock.destroy(new Error(`no answer within ${ms} ms`)), ms)
          let d = ''
          sock.on('data', (x: Buffer) => (d += x.toString()))
          sock.on('end', () => resolve(d.trim()))
          sock.on('error', reject)
          sock.on('close', () => clearTimeout(timer))
          sock.connect(port, host)
        })
      },
      fd,
      port,
      o.serverAddress,
      o.timeoutMs ?? 3000,
    )
    return { seen, answer, port }
  } finally {
    srv.close()
    conns.destroyAll()
  }
}
