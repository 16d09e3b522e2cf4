import { once } from 'node:events'
import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { addNetns, exec, openCurrentNetns, socketIn, withNetns } from '../../harness/netns/index.js'
import { AF_INET, SOCK_STREAM, bind, listen, sockaddrIp } from '../../harness/sys/index.js'
import { ip, netnsNames } from '../support/names.js'

const name = netnsNames('sock')

describe('sockets born in a namespace stay in it, whichever thread uses them', () => {
  it('a listening socket created in A and adopted on the main thread accepts connections made inside A only', async () => {
    const a = name()
    addNetns(a)
    ip('-n', a, 'link', 'set', 'lo', 'up')
    const fd = socketIn(a, AF_INET, SOCK_STREAM)
    bind(fd, sockaddrIp('127.0.0.1', 0))
    listen(fd, 16)
    const server = net.createServer((c) => c.end('hello from A\n'))
    server.listen({ fd })
    await once(server, 'listening')
    const port = (server.address() as net.AddressInfo).port
    try {
      // A client inside A reaches it...
      const inside = await exec(a, [
        'bash',
        '-c',
        `exec 3<>/dev/tcp/127.0.0.1/${port} 2>/dev/null && cat <&3 || echo refused`,
      ])
      expect(inside.stdout).toBe('hello from A\n')
      // ...while the main thread's own namespace has no such listener.
      const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
        const s = net.connect({ port, host: '127.0.0.1' })
        s.on('error', resolve)
        s.on('connect', () => resolve(Object.assign(new Error('connected'), { code: 'CONNECTED' })))
      })
      expect(err.code).toBe('ECONNREFUSED')
      // `ss` in A sees the listener; the kernel says where the socket lives.
      const ss = await exec(a, ['ss', '-Htln', `sport = :${port}`])
      expect(ss.stdout).toContain(`127.0.0.1:${port}`)
    } finally {
      server.close()
    }
  })

  it('the lazy-socket pitfall: net.connect inside withNetns lands in the wrong namespace', async () => {
    const a = name()
    addNetns(a)
    ip('-n', a, 'link', 'set', 'lo', 'up')
    // A listener on 127.0.0.1 in A only.
    const fd = socketIn(a, AF_INET, SOCK_STREAM)
    bind(fd, sockaddrIp('127.0.0.1', 0))
    listen(fd, 16)
    const server = net.createServer((c) => c.end())
    server.listen({ fd })
    await once(server, 'listening')
    const port = (server.address() as net.AddressInfo).port
    try {
      // Node opens the connect socket on a later tick, after withNetns has switched back.
      const s = withNetns(a, () => net.connect({ port, host: '127.0.0.1' }))
      const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException]
      expect(err.code).toBe('ECONNREFUSED')
      // The fix: create the fd in A, then let Node adopt and connect it.
      const cfd = socketIn(a, AF_INET, SOCK_STREAM)
      const good = new net.Socket({ fd: cfd })
      good.connect({ port, host: '127.0.0.1' })
      await once(good, 'connect')
      good.destroy()
    } finally {
      server.close()
    }
  })

  it('creating a socket in a namespace leaves the thread at home', () => {
    const a = name()
    addNetns(a)
    using home = openCurrentNetns()
    const fd = socketIn(a, AF_INET, SOCK_STREAM)
    new net.Socket({ fd }).destroy()
    using now = openCurrentNetns()
    expect(now.is(home)).toBe(true)
  })
})
