import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import type net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { Lab, TopologyError, PlanError } from '../../harness/index.js'
import { listNetns } from '../../harness/index.js'
import { Netlink } from '../../harness/netlink/index.js'
import { AF_INET, SOCK_STREAM } from '../../harness/sys/index.js'
import { socketIn } from '../../harness/netns/index.js'
import { ipJson } from '../support/names.js'

const labs: Lab[] = []
afterEach(async () => {
  for (const lab of labs.splice(0)) await lab.destroy()
})
async function newLab(options?: Parameters<typeof Lab.create>[0]): Promise<Lab> {
  const lab = await Lab.create(options)
  labs.push(lab)
  return lab
}

function read(sock: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let d = ''
    sock.setEncoding('utf8')
    sock.on('data', (x: string) => (d += x))
    sock.on('end', () => resolve(d))
    sock.on('error', reject)
  })
}

describe('Lab: hosts and links', () => {
  it('the pair fixture: two hosts, a link with addresses from the plan, ping both ways on IPv4 and IPv6', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    expect(a.netns).toBe(`nslab-${lab.id}-a`)
    expect(listNetns()).toEqual(expect.arrayContaining([a.netns, b.netns]))
    expect(a.address(b)).toMatch(/^198\.1[89]\./)
    expect(a.address(b, 6)).toMatch(/^fd/)
    const r = await a.ping(b)
    expect(r).toMatchObject({ sent: 3, received: 3, loss: 0, to: b.address(a) })
    expect(r.rtt!.min).toBeGreaterThan(0)
    expect((await b.ping(a, { family: 6 })).received).toBe(3)
    // ip sees what the lab made: lo up, the veth up with both addresses.
    const links = ipJson<{ ifname: string; operstate: string; addr_info: { local: string }[] }[]>(
      '-n',
      a.netns,
      'addr',
    )
    expect(links.find((l) => l.ifname === 'lo')!.operstate).toBe('UNKNOWN')
    const dev = links.find((l) => l.ifname !== 'lo')!
    expect(dev.ifname).toBe(a.ports[0]!.device)
    expect(dev.ifname.startsWith(lab.id)).toBe(true)
    expect(dev.operstate).toBe('UP')
    expect(dev.addr_info.map((x) => x.local)).toEqual(expect.arrayContaining([a.address(b), a.address(b, 6)]))
  })

  it('a star of hosts on one switch reaches every other host', async () => {
    const lab = await newLab()
    const sw = await lab.addSwitch('sw')
    const hosts = await lab.addHosts(...Array.from({ length: 10 }, (_, i) => `h${i}`))
    for (const h of hosts) await lab.connect(h, sw)
    const addrs = hosts.map((h) => h.address(sw))
    expect(new Set(addrs).size).toBe(10)
    const results = await Promise.all(hosts.map((h, i) => h.ping(hosts[(i + 1) % 10]!, { count: 1 })))
    expect(results.map((r) => r.received)).toEqual(Array(10).fill(1))
  })

  it('routers forward, routes are computed from the topology, and nothing routes outside the lab', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    const r1 = await lab.addRouter('r1')
    const r2 = await lab.addRouter('r2')
    await lab.connect(a, r1)
    await lab.connect(r1, r2)
    await lab.connect(r2, b)
    expect((await a.ping(b)).received).toBe(3)
    expect((await b.ping(a, { family: 6 })).received).toBe(3)
    for (const n of [a, b, r1, r2]) {
      const routes = await n.netlink.listRoutes()
      expect(routes.map((r) => r.dst)).not.toContain('default')
    }
    // a reaches b's link through r1.
    const aRoutes = ipJson<{ dst: string; gateway?: string }[]>('-n', a.netns, 'route')
    expect(aRoutes).toEqual(expect.arrayContaining([expect.objectContaining({ gateway: r1.address(a) })]))
  })

  it('switches and routers mix: two LANs joined by a router', async () => {
    const lab = await newLab()
    const [sw1, sw2] = [await lab.addSwitch('lan1'), await lab.addSwitch('lan2')]
    const r = await lab.addRouter('gw')
    const [a, b, c] = await lab.addHosts('a', 'b', 'c')
    await lab.connect(a, sw1)
    await lab.connect(b, sw1)
    await lab.connect(c, sw2)
    await lab.connect(r, sw1)
    await lab.connect(r, sw2)
    expect((await a.ping(c)).received).toBe(3)
    expect((await c.ping(b, { family: 6 })).received).toBe(3)
  })

  it('the lab addresses never appear in the test process namespace', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    using here = Netlink.open()
    const mine = (await here.listAddresses()).map((x) => x.address)
    expect(mine).not.toContain(a.address(b))
    expect(mine).not.toContain(b.address(a))
  })

  it('explicit subnets and addresses, including the same private range in two separate parts', async () => {
    const lab = await newLab()
    const [a, b, c, d] = await lab.addHosts('a', 'b', 'c', 'd')
    await lab.connect(a, b, { subnet: '10.0.0.0/24', addresses: { a: { v4: '10.0.0.10' } } })
    await lab.connect(c, d, { subnet: '10.0.0.0/24' })
    expect(a.address(b)).toBe('10.0.0.10')
    // a took the first IPv6 ordinal, so b gets the second one in both families.
    expect(b.address(a)).toBe('10.0.0.2')
    expect(c.address(d)).toBe('10.0.0.1')
    expect((await a.ping(b)).received).toBe(3)
    expect((await c.ping(d)).received).toBe(3)
  })

  it('device names respect IFNAMSIZ and long host names are shortened predictably, not into a collision', async () => {
    const lab = await newLab()
    const long1 = 'a-very-long-host-name-number-one'
    const long2 = 'a-very-long-host-name-number-two'
    const [x, y, z] = await lab.addHosts(long1, long2, 'z')
    await lab.connect(z, x)
    await lab.connect(z, y)
    const names = z.ports.map((p) => p.device)
    expect(new Set(names).size).toBe(2)
    for (const n of names) expect(Buffer.byteLength(n)).toBeLessThanOrEqual(15)
    expect((await z.ping(y)).received).toBe(3)
  })

  it('two links between the same pair get distinct devices and subnets', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    await lab.connect(a, b)
    expect(a.ports.map((p) => p.device)).toHaveLength(2)
    expect(new Set(a.ports.map((p) => p.device)).size).toBe(2)
    expect(a.ports[0]!.segment.v4.network).not.toBe(a.ports[1]!.segment.v4.network)
  })
})

describe('Lab: bad topologies are refused before touching the kernel', () => {
  it('refuses duplicate names, unknown nodes, self links and bad names, changing nothing', async () => {
    const lab = await newLab()
    const [a] = await lab.addHosts('a')
    const before = listNetns()
    await expect(lab.addHosts('a')).rejects.toThrow(TopologyError)
    await expect(lab.addHosts('x', 'x')).rejects.toThrow('already has a node named "x"')
    await expect(lab.connect(a, 'ghost')).rejects.toThrow('has no such node')
    await expect(lab.connect(a, a)).rejects.toThrow('cannot connect a to itself')
    await expect(lab.addHost('bad/name')).rejects.toThrow('must be 1-64 characters')
    const other = await newLab()
    const [foreign] = await other.addHosts('a')
    await expect(lab.connect(a, foreign!)).rejects.toThrow(TopologyError)
    expect(listNetns().filter((n) => n.startsWith(lab.prefix))).toEqual(
      before.filter((n) => n.startsWith(lab.prefix)),
    )
  })

  it('refuses an address clash and an address outside the subnet', async () => {
    const lab = await newLab()
    const [a, b, c] = await lab.addHosts('a', 'b', 'c')
    await expect(
      lab.connect(a, b, {
        subnet: '10.0.0.0/24',
        addresses: { a: { v4: '10.0.0.5' }, b: { v4: '10.0.0.5' } },
      }),
    ).rejects.toThrow('address clash: 10.0.0.5 is given twice')
    await expect(
      lab.connect(a, b, { subnet: '10.0.0.0/24', addresses: { a: { v4: '10.9.0.5' } } }),
    ).rejects.toThrow('outside 10.0.0.0/24')
    await lab.connect(a, b, { subnet: '10.1.0.0/24' })
    await expect(lab.connect(a, c, { subnet: '10.1.0.0/24' })).rejects.toThrow('address clash on a')
    expect(a.ports).toHaveLength(1)
  })

  it('says so when the address plan runs out', async () => {
    const lab = await newLab({ ipv4Pool: '198.18.0.0/29' })
    const [a, b, c] = await lab.addHosts('a', 'b', 'c')
    await lab.connect(a, b)
    await lab.connect(b, c)
    await expect(lab.connect(a, c)).rejects.toThrow(PlanError)
    await expect(lab.connect(a, c)).rejects.toThrow('the address plan ran out: pool 198.18.0.0/29')
  })

  it('destroy is idempotent and leaves nothing behind', async () => {
    const lab = await Lab.create()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    a.spawn(['sleep', '30'])
    await a.run(() => 1)
    await lab.destroy()
    await lab.destroy()
    expect(listNetns().filter((n) => n.startsWith(lab.prefix))).toEqual([])
    await expect(lab.addHost('c')).rejects.toThrow('was destroyed')
  })
})

describe('sockets across namespaces and threads: a socket stays in the namespace it was born in', () => {
  it('listen/connect/bindUdp: sockets born in a host namespace, used on the main thread', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const server = await a.listen({ port: 7000 }, (s) => s.end(`hello from ${a.name}\n`))
    const sock = await b.connect({ port: 7000, host: a.address(b) })
    expect(sock.remoteAddress).toBe(a.address(b))
    expect(sock.localAddress).toBe(b.address(a))
    expect(await read(sock)).toBe('hello from a\n')
    // The kernel agrees on where the sockets live.
    const ss = await a.exec(['ss', '-Htln', 'sport = :7000'])
    expect(ss.stdout).toContain(':7000')
    server.close()

    const u1 = a.bindUdp({ port: 9000 })
    const u2 = b.bindUdp({ host: b.address(a) })
    const got = once(u1, 'message')
    u2.send('ping over udp', 9000, a.address(b))
    const [msg, rinfo] = (await got) as [Buffer, { address: string }]
    expect(msg.toString()).toBe('ping over udp')
    expect(rinfo.address).toBe(`::ffff:${b.address(a)}`)
    u1.close()
    u2.close()
  })

  it('bindUdp: the default socket is dual-stack, IPv4 and IPv6 destinations both arrive', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const v4 = a.bindUdp({ host: '0.0.0.0', port: 9100 })
    const v6 = a.bindUdp({ host: '::', port: 9106 })
    const sock = b.bindUdp({ port: 0 })
    const arrives = async (server: typeof v4, to: string): Promise<{ text: string; from: string }> => {
      const got = once(server, 'message', { signal: AbortSignal.timeout(2000) })
      const port = server.address().port
      const sent = new Promise<number>((resolve, reject) =>
        sock.send(`to ${to}`, port, to, (err, n) => (err ? reject(err) : resolve(n))),
      )
      expect(await sent).toBe(`to ${to}`.length)
      const [msg, rinfo] = (await got) as [Buffer, { address: string }]
      return { text: msg.toString(), from: rinfo.address }
    }
    // The kernel takes the IPv4 destination through b's IPv4 route, from b's IPv4 address.
    expect(await arrives(v4, a.address(b))).toEqual({ text: `to ${a.address(b)}`, from: b.address(a) })
    expect(await arrives(v6, a.address(b, 6))).toEqual({
      text: `to ${a.address(b, 6)}`,
      from: b.address(a, 6),
    })
    // dgram's long form (offset, length) too, and an IPv4-mapped destination from an IPv4 socket.
    const got4 = once(v4, 'message', { signal: AbortSignal.timeout(2000) })
    sock.send(Buffer.from('xx-long-form'), 3, 9, 9100, a.address(b))
    expect(((await got4) as [Buffer])[0].toString()).toBe('long-form')
    const mapped = once(v4, 'message', { signal: AbortSignal.timeout(2000) })
    b.bindUdp({ host: '0.0.0.0' }).send('mapped', 9100, `::ffff:${a.address(b)}`)
    expect(((await mapped) as [Buffer])[0].toString()).toBe('mapped')
    // The same goes for a connected default socket.
    const connected = b.bindUdp()
    connected.connect(9100, a.address(b))
    await once(connected, 'connect')
    const got = once(v4, 'message', { signal: AbortSignal.timeout(2000) })
    connected.send('connected')
    expect(((await got) as [Buffer])[0].toString()).toBe('connected')
  })

  it('bindUdp: a send to the family the socket cannot reach throws, naming both', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const v4 = b.bindUdp({ address: '0.0.0.0' })
    expect(v4.address().address).toBe('0.0.0.0')
    expect(() => v4.send('x', 9100, a.address(b, 6))).toThrow(
      `cannot send to IPv6 address ${a.address(b, 6)} from a UDP socket bound to 0.0.0.0 (IPv4 only) in ${b.netns}`,
    )
    const v6only = b.bindUdp({ ipv6Only: true })
    expect(() => v6only.send('x', 9100, a.address(b))).toThrow(
      `cannot send to IPv4 address ${a.address(b)} from a UDP socket bound to :: with ipv6Only (IPv6 only) in ${b.netns}`,
    )
    const v6 = b.bindUdp({ host: b.address(a, 6) })
    expect(() => v6.send('x', 9100, a.address(b))).toThrow(/cannot send to IPv4 address .* \(IPv6 only\)/)
    expect(() => v6.send('x', 9100, 'a.example')).toThrow(/not a literal IP address/)
    expect(() => b.bindUdp({ host: '0.0.0.0', ipv6Only: true })).toThrow(/ipv6Only needs an IPv6 address/)
  })

  it('a socket created in A and used from a worker living in B still sends through A', async () => {
    const lab = await newLab()
    const [a, s, lonely] = await lab.addHosts('a', 's', 'lonely')
    await lab.connect(a, s)
    // lonely has no link at all: anything it creates cannot reach s.
    const server = await s.listen({ port: 7100 }, (c) => c.end('served\n'))
    const fd = socketIn(a.netns, AF_INET, SOCK_STREAM)
    const viaA = await lonely.run(
      async (fd: number, host: string) => {
        const net = await import('node:net')
        return await new Promise<string>((resolve, reject) => {
          const sock = new net.Socket({ fd })
          let d = ''
          sock.setEncoding('utf8')
          sock.on('data', (x: string) => (d += x))
          sock.on('end', () => resolve(`${sock.localAddress} ${d}`))
          sock.on('error', reject)
          sock.connect({ port: 7100, host })
        })
      },
      fd,
      s.address(a),
    )
    expect(viaA).toBe(`${a.address(s)} served\n`)
    // A socket the worker creates itself lives in lonely's namespace: no route.
    const own = await lonely.run(async (host: string) => {
      const net = await import('node:net')
      return await new Promise<string>((resolve) => {
        const sock = net.connect({ port: 7100, host })
        sock.on('connect', () => resolve('connected'))
        sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
      })
    }, s.address(a))
    expect(own).toBe('ENETUNREACH')
    server.close()
  })

  it('run() executes on a pooled worker inside the namespace: net works, errors come back', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const server = await a.listen({ port: 7200 }, (c) => c.end('x'))
    const tid1 = await b.run(() => process.pid)
    const tid2 = await b.run(() => process.pid)
    expect(tid1).toBe(tid2)
    const ifaces = await b.run(async () => {
      const os = await import('node:os')
      return Object.keys(os.networkInterfaces()).sort()
    })
    expect(ifaces).toEqual(expect.arrayContaining(['lo', b.ports[0]!.device]))
    await expect(
      b.run(() => {
        throw new RangeError('bad thing')
      }),
    ).rejects.toThrow('in namespace ' + b.netns + ': bad thing')
    server.close()
  })

  it('the dns pitfall: c-ares (dns.Resolver) runs in the worker namespace, so it reaches a lab DNS server', async () => {
    const lab = await newLab()
    const [client, dnsHost] = await lab.addHosts('client', 'dns')
    await lab.connect(client, dnsHost)
    // A tiny DNS responder in the lab: answers every A query with 198.18.99.99.
    const udp = dnsHost.bindUdp({ port: 5353 })
    udp.on('message', (q: Buffer, rinfo) => {
      const header = Buffer.from(q.subarray(0, 12))
      header.writeUInt16BE(0x8180, 2)
      header.writeUInt16BE(1, 6)
      const question = q.subarray(12)
      const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 99, 99])
      udp.send(Buffer.concat([header, question, answer]), rinfo.port, rinfo.address)
    })
    const resolved = await client.run(async (server: string) => {
      const dns = await import('node:dns')
      const r = new dns.promises.Resolver({ timeout: 2000, tries: 1 })
      r.setServers([`${server}:5353`])
      return r.resolve4('service.lab')
    }, dnsHost.address(client))
    expect(resolved).toEqual(['198.18.99.99'])
    udp.close()
  })
})

describe('processes', () => {
  it('exec and spawn run in the host; spawned processes die with the lab', async () => {
    const lab = await Lab.create()
    try {
      const [a, b] = await lab.addHosts('a', 'b')
      await lab.connect(a, b)
      const r = await a.exec(['ip', '-j', 'addr'])
      expect(r.stdout).toContain(a.address(b))
      const p = a.spawn(['sh', '-c', 'echo started; exec sleep 60'])
      const pid = await p.started
      await new Promise((res) => p.stdout.once('data', res))
      expect(p.output().stdout).toBe('started\n')
      await lab.destroy()
      expect(() => process.kill(pid, 0)).toThrow()
      expect(readFileSync('/proc/self/status', 'utf8')).toBeTruthy()
    } finally {
      await lab.destroy()
    }
  })
})
