import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { type OpenVpnTunnel } from '../../harness/index.js'
import {
  addLoopbackAddress,
  alive,
  ipJson,
  newLab,
  routeDevice,
  tcpHello,
  twoSitesOneHub,
  type RouteJson,
} from './support.js'

describe('OpenVPN tunnels', () => {
  it('split tunnel: traffic through inner addresses, pushed routes and DNS captured from the --up environment and applied', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    await addLoopbackAddress(a, '10.50.0.1/32')
    const t = (await lab.tunnel(a, b, {
      type: 'openvpn',
      name: 'corp',
      subnet: '100.66.0.0/24',
      routes: ['10.50.0.0/24'],
      dns: { nameservers: ['10.50.0.53'], search: ['corp.example'] },
    })) as OpenVpnTunnel
    expect(t.implementation).toMatch(/^openvpn 2\.\d+/)
    expect(t.addresses).toEqual({ a: '100.66.0.1', b: '100.66.0.2' })

    // Pushed data, typed, as the client's --up script saw it.
    expect(t.pushed).toMatchObject({
      device: t.devices.b,
      localAddress: '100.66.0.2',
      prefixLen: 24,
      peer: a.address(b),
      gateway: '100.66.0.1',
      mtu: 1500,
      routes: [{ dst: '10.50.0.0/24', gateway: '100.66.0.1' }],
      dns: ['10.50.0.53'],
      domain: 'corp.example',
      redirectGateway: false,
    })

    // Traffic through the tunnel: ICMP to a's inner address and to the pushed subnet, TCP via inner addresses.
    expect((await b.ping(t.addresses.a)).received).toBe(3)
    expect((await b.ping('10.50.0.1')).received).toBe(3)
    const hello = await tcpHello(b, a, t.addresses.a)
    expect(hello).toEqual({ greeting: 'hello from a', seenFrom: t.addresses.b })

    // Split: only the pushed route goes into the tunnel; ip agrees.
    const routes = await ipJson<RouteJson[]>(b, 'route')
    expect(routes).toContainEqual(expect.objectContaining({ dst: '10.50.0.0/24', dev: t.devices.b }))
    expect(routes.map((r) => r.dst)).not.toContain('0.0.0.0/1')
    expect(await routeDevice(b, '10.50.0.1')).toBe(t.devices.b)
    expect(await routeDevice(b, '203.0.113.1').catch(() => 'unreachable')).not.toBe(t.devices.b)

    // Per-namespace DNS: what the server pushed, seen by programs run in b (not in a).
    const conf = await b.exec(['cat', '/etc/resolv.conf'])
    expect(conf.stdout).toBe('nameserver 10.50.0.53\nsearch corp.example\n')
    expect((await a.exec(['cat', '/etc/resolv.conf'])).stdout).not.toContain('10.50.0.53')
  })

  it('full tunnel: default route through the tunnel, the route to the server stays on the underlay', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    await addLoopbackAddress(a, '203.0.113.1/32')
    const t = (await lab.tunnel(a, b, { type: 'openvpn', mode: 'full' })) as OpenVpnTunnel
    expect(t.pushed.redirectGateway).toBe(true)
    expect(t.pushed.pushReply).toContain('redirect-gateway def1')
    const routes = await ipJson<RouteJson[]>(b, 'route')
    for (const half of ['0.0.0.0/1', '128.0.0.0/1'])
      expect(routes).toContainEqual(expect.objectContaining({ dst: half, dev: t.devices.b }))
    // The tunnel's own packets to a's outer address keep the underlay.
    const underlay = b.ports[0]!.device
    expect(routes).toContainEqual(expect.objectContaining({ dst: a.address(b), dev: underlay }))
    expect(await routeDevice(b, a.address(b))).toBe(underlay)
    expect(await routeDevice(b, '203.0.113.1')).toBe(t.devices.b)
    expect((await b.ping('203.0.113.1')).received).toBe(3)
    expect(await tcpHello(b, a, '203.0.113.1')).toEqual({ greeting: 'hello from a', seenFrom: t.addresses.b })
  })

  it('MTU: the tunnel MTU is pushed and set; a big DF ping fails, the same without DF is fragmented and passes', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const t = (await lab.tunnel(a, b, { type: 'openvpn', mtu: 1200 })) as OpenVpnTunnel
    expect(t.pushed.mtu).toBe(1200)
    const [link] = await ipJson<{ mtu: number }[]>(b, 'link', 'show', t.devices.b)
    expect(link!.mtu).toBe(1200)
    const df = await b.ping(t.addresses.a, { size: 1300, dontFragment: true, count: 2 })
    expect(df.received).toBe(0)
    expect(df.errors).toContain('EMSGSIZE')
    expect((await b.ping(t.addresses.a, { size: 1300, count: 2 })).received).toBe(2)
    expect((await b.ping(t.addresses.a, { size: 1100, dontFragment: true, count: 2 })).received).toBe(2)
  })

  it('the tunnel dies (client killed) and comes back: traffic stops, DNS is put back, then both return', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    lab.writeEtcFile(b, 'resolv.conf', 'nameserver 192.0.2.53\n')
    const t = (await lab.tunnel(a, b, {
      type: 'openvpn',
      dns: { nameservers: ['10.9.9.9'] },
    })) as OpenVpnTunnel
    expect((await b.ping(t.addresses.a)).received).toBe(3)
    expect((await b.exec(['cat', '/etc/resolv.conf'])).stdout).toBe('nameserver 10.9.9.9\n')

    await t.setUp(false)
    expect(t.up).toBe(false)
    expect((await b.ping(t.addresses.a, { count: 2, timeout: 300 })).received).toBe(0)
    const links = await ipJson<{ ifname: string }[]>(b, 'link')
    expect(links.map((l) => l.ifname)).not.toContain(t.devices.b)
    expect((await b.exec(['cat', '/etc/resolv.conf'])).stdout).toBe('nameserver 192.0.2.53\n')

    await t.setUp(true)
    expect((await b.ping(t.addresses.a)).received).toBe(3)
    expect(t.pushed.localAddress).toBe(t.addresses.b)
    expect((await b.exec(['cat', '/etc/resolv.conf'])).stdout).toBe('nameserver 10.9.9.9\n')
  })

  it('two client sites with the same 10.1.0.0/24 LAN, each tunnelled to one hub: no confusion', async () => {
    const { lab, hub, b, c, bl, cl } = await twoSitesOneHub()
    const tb = (await lab.tunnel(hub, b, { type: 'openvpn', routes: ['10.50.0.0/24'] })) as OpenVpnTunnel
    const tc = (await lab.tunnel(hub, c, { type: 'openvpn', routes: ['10.50.0.0/24'] })) as OpenVpnTunnel
    expect(tb.devices.a).not.toBe(tc.devices.a)
    // Each site reaches the hub's service through its own tunnel, and the hub tells them apart.
    expect(await tcpHello(b, hub, '10.50.0.1')).toEqual({
      greeting: 'hello from hub',
      seenFrom: tb.addresses.b,
    })
    expect(await tcpHello(c, hub, '10.50.0.1')).toEqual({
      greeting: 'hello from hub',
      seenFrom: tc.addresses.b,
    })
    // The same LAN address is a different host at each site.
    expect((await tcpHello(b, bl, '10.1.0.2')).greeting).toBe('hello from bl')
    expect((await tcpHello(c, cl, '10.1.0.2')).greeting).toBe('hello from cl')
    expect((await hub.ping(tb.addresses.b)).received).toBe(3)
    expect((await hub.ping(tc.addresses.b)).received).toBe(3)
  })

  it('nothing is left behind: processes, work directory, resolv.conf', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const t = (await lab.tunnel(a, b, {
      type: 'openvpn',
      dns: { nameservers: ['10.9.9.9'] },
    })) as OpenVpnTunnel
    const pids = [...a.running, ...b.running].map((p) => p.pid)
    expect(alive(pids)).toHaveLength(2)
    expect(existsSync(t.workDir)).toBe(true)
    await lab.destroy()
    expect(alive(pids)).toEqual([])
    expect(existsSync(t.workDir)).toBe(false)
    expect(existsSync(`/etc/netns/${b.netns}`)).toBe(false)
  })

  it('bad options fail before anything starts, naming the option', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    await expect(lab.tunnel(a, b, { type: 'openvpn', mode: 'half' })).rejects.toThrow(
      /mode must be split or full/,
    )
    await expect(lab.tunnel(a, b, { type: 'openvpn', routes: ['10.0.0.1/24'] })).rejects.toThrow(
      /host bits set/,
    )
    await expect(lab.tunnel(a, b, { type: 'openvpn', colour: 'red' })).rejects.toThrow(
      /unknown option "colour"/,
    )
    expect(a.running).toEqual([])
  })
})
