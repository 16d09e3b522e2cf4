// watchFd on a real socket: what the event loop reports when the kernel
// flags an error on the fd (POLLERR), and that watching goes on after it.
import { afterEach, describe, expect, it } from 'vitest'
import {
  AF_INET,
  MSG_DONTWAIT,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SysError,
  bind,
  close,
  connect,
  getsockname,
  parseSockaddrIp,
  recv,
  sendto,
  socket,
  sockaddrIp,
  watchFd,
  type FdWatcher,
  type PollEvents,
} from '../../harness/sys/index.js'

const fds: number[] = []
const watchers: FdWatcher[] = []
afterEach(() => {
  for (const w of watchers.splice(0)) w.close()
  for (const fd of fds.splice(0)) close(fd)
})

function udp(): { fd: number; port: number } {
  const fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)
  fds.push(fd)
  bind(fd, sockaddrIp('127.0.0.1', 0))
  return { fd, port: parseSockaddrIp(getsockname(fd)).port }
}

/** Resolves with the next callback's events (or 'none' after `ms`). */
function next(events: PollEvents[], ms = 2000): Promise<PollEvents | 'none'> {
  const seen = events.length
  return new Promise((resolve) => {
    const started = Date.now()
    const tick = (): void => {
      if (events.length > seen) resolve(events[seen]!)
      else if (Date.now() - started > ms) resolve('none')
      else setTimeout(tick, 2)
    }
    tick()
  })
}

describe('watchFd', () => {
  it('reports an error the kernel flags on the fd, and keeps watching once it is read', async () => {
    const a = udp()
    // A port nobody listens on: the kernel answers a datagram to it with an
    // ICMP port unreachable, which a connected UDP socket gets as its error.
    const gone = udp()
    close(fds.pop()!)
    connect(a.fd, sockaddrIp('127.0.0.1', gone.port))

    const events: PollEvents[] = []
    const errors: string[] = []
    const buf = Buffer.alloc(64)
    const w = watchFd(a.fd)
    watchers.push(w)
    w.start({ readable: true }, (ev) => {
      events.push(ev)
      for (;;) {
        try {
          if (recv(a.fd, buf, MSG_DONTWAIT) < 0) break
        } catch (err) {
          if (!(err instanceof SysError)) throw err
          errors.push(err.code)
        }
      }
    })

    sendto(a.fd, Buffer.from('x'), 0, null)
    const first = await next(events)
    expect(first).toMatchObject({ error: true })
    expect(errors).toEqual(['ECONNREFUSED'])

    // The kernel's poll said POLLERR and libuv stopped the handle: the
    // watcher must have started it again, so a datagram that comes later is seen.
    const b = udp()
    connect(a.fd, sockaddrIp('127.0.0.1', b.port))
    connect(b.fd, sockaddrIp('127.0.0.1', a.port))
    sendto(b.fd, Buffer.from('hello'), 0, null)
    expect(await next(events)).toMatchObject({ readable: true, error: false })
  })

  it('a watcher stopped or closed inside the error callback stays so', async () => {
    for (const how of ['stop', 'close'] as const) {
      const a = udp()
      const gone = udp()
      close(fds.pop()!)
      connect(a.fd, sockaddrIp('127.0.0.1', gone.port))
      const events: PollEvents[] = []
      const w = watchFd(a.fd)
      watchers.push(w)
      w.start({ readable: true }, (ev) => {
        events.push(ev)
        w[how]()
      })
      sendto(a.fd, Buffer.from('x'), 0, null)
      expect(await next(events)).toMatchObject({ error: true })
      // The error is still pending (nobody read it): a restarted handle would call back again at once.
      expect(await next(events, 100)).toBe('none')
    }
  })
})
