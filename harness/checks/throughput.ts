/**
 * TCP throughput from one host to another: the server's socket is born in
 * its namespace and drains on this thread; the client streams `bytes` from a
 * worker living in the other namespace, so both ends run concurrently.
 */
import type net from 'node:net'
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
  const address = server.address(client, family)
  let first = 0
  let received = 0
  let last = 0
  let handler: (s: net.Socket) => void = () => undefined
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `throughput ${client.name} -> ${server.name}: not all ${bytes} bytes arrived within ${options.timeout ?? 60_000} ms (got ${received})`,
          ),
        ),
      options.timeout ?? 60_000,
    )
    handler = (s: net.Socket) => {
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
  const srv = await server.listen({ port: 0, host: family === 6 ? '::' : '0.0.0.0' }, (s) => handler(s))
  const port = (srv.address() as net.AddressInfo).port
  try {
    const sending = client.run(
      async (host: string, p: number, n: number) => {
        const netmod = await import('node:net')
        await new Promise<void>((resolve, reject) => {
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
          s.on('close', () => resolve())
          s.on('error', reject)
        })
      },
      address,
      port,
      bytes,
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
    srv.close()
  }
}
