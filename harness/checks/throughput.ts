/**
 * TCP throughput from one host to another: the server's socket is born in
 * its namespace and drains on this thread; the client streams `bytes` from a
 * worker living in the other namespace, so both ends run concurrently.
 */
import type net from 'node:net'
import { Connections } from './connections.js'
import type { EchoHost } from './echo.js'

export interface ThroughputResult {
  from: string
  to: string
  address: string
  bytes: number
  seconds: number
  /** Goodput in bits per second, measured at the receiver. */
  bitsPerSecond: number
}

export async function tcpThroughput<H extends EchoHost<H>>(
  client: H,
  server: H,
  options: { bytes?: number; family?: 4 | 6; timeout?: number } = {},
): Promise<ThroughputResult> {
  const bytes = options.bytes ?? 8 * 1024 * 1024
  const family = options.family ?? 4
  const timeout = options.timeout ?? 60_000
  const address = server.address(client, family)
  let first = 0
  let received = 0
  let last = 0
  const conns = new Connections()
  let onConnection: (s: net.Socket) => void = () => undefined
  const srv = await server.listen({ port: 0, host: family === 6 ? '::' : '0.0.0.0' }, (s) => {
    conns.accept(s)
    onConnection(s)
  })
  const port = (srv.address() as net.AddressInfo).port
  let timer: NodeJS.Timeout | undefined
  try {
    const done = new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `throughput ${client.name} -> ${server.name}: not all ${bytes} bytes arrived within ${timeout} ms (got ${received})`,
            ),
          ),
        timeout,
      )
      onConnection = (s: net.Socket) => {
        s.on('data', (chunk: Buffer) => {
          const now = performance.now()
          if (received === 0) first = now
          received += chunk.length
          last = now
          if (received >= bytes) {
            clearTimeout(timer)
            s.end()
            resolve()
          }
        })
        s.on('error', reject)
      }
    })
    const sending = client.run(
      async (host: string, p: number, n: number, ms: number) => {
        const netmod = await import('node:net')
        await new Promise<void>((resolve, reject) => {
          // Never outlive the check: a connect or transfer that hangs is cut at the same timeout.
          const timer = setTimeout(() => s.destroy(new Error(`not done within ${ms} ms`)), ms)
          const s = netmod.connect({ host, port: p }, () => {
            const chunk = Buffer.alloc(64 * 1024)
            let left = n
            const pump = (): void => {
              while (left > 0) {
                const size = Math.min(chunk.length, left)
                left -= size
                if (!s.write(size === chunk.length ? chunk : chunk.subarray(0, size))) {
                  s.once('drain', pump)
                  return
                }
              }
              s.end()
            }
            pump()
          })
          s.on('close', () => {
            clearTimeout(timer)
            resolve()
          })
          s.on('error', reject)
        })
      },
      address,
      port,
      bytes,
      timeout,
    )
    await Promise.all([done, sending])
    const seconds = Math.max(1e-6, (last - first) / 1000)
    return {
      from: client.name,
      to: server.name,
      address,
      bytes: received,
      seconds,
      bitsPerSecond: (received * 8) / seconds,
    }
  } finally {
    clearTimeout(timer)
    srv.close()
    conns.destroyAll()
  }
}
