import { existsSync, readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { type WireGuardTunnel, WG_SOCKET_DIR, tunnelKernelFeatures } from '../../harness/index.js'
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

const sockets = (t: WireGuardTunnel): string[] =>
  existsSync(WG_SOCKET_DIR)
    ? readdirSync(WG_SOCKET_DIR).filter((f) => f.startsWith(t.devices.a.slice(0, -1)))
    : []

describe('WireGuard tunnels', () => {
  it('the implementation follows the kernel probe: the module when present, wireguard-go otherwise', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const t = (await lab.tunnel(a, b, { type: 'wireguard' })) as WireGuardTunnel
    const { wireguard } = await tunnelKernelFeatures()
    expect(t.implementation).toBe(wireguard ? 'kernel' : 'wireguard-go')
    const [link] = await ipJson<{ linkinfo?: { info_kind: string } }[]>(b, '-d', 'link', 'show', t.devices.b)
    if (wireguard) expect(link!.linkinfo?.info_kind).toBe('wireguard')
    else {
      expect(link!.linkinfo?.info_kind).toBe('tun')
      expect(sockets(t).sort()).toEqual([`${t.devices.a}.sock`, `${t.devices.b}.sock`])
    }
    // `wg` sees the peer with the key we generated, in each namespace.
    const show = await b.exec(['wg', 'show', t.devices.b, 'peers'])
    expect(show.stdout.trim()).toBe(t.publicKeys.a)
  })

  it('split tunnel: ping and TCP via inner addresses, only the given routes through the tunnel, DNS in b', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    await addLoopbackAddress(a, '10.50.0.1/32')
    const t = (await lab.tunnel(a, b, {
      type: 'wireguard',
      subnet: '100.70.0.0/24',
      routes: ['10.50.0.0/24'],
      dns: { nameservers: ['10.50.0.53'], search: ['corp.example'] },
    })) as WireGuardTunnel
    expect(t.addresses).toEqual({ a: '100.70.0.1', b: '100.70.0.2' })
    expect((await b.ping(t.addresses.a)).received).toBe(3)
    expect((await a.ping(t.addresses.b)).received).toBe(3)
    expect((await b.ping('10.50.0.1')).received).toBe(3)
    expect(await tcpHello(b, a, t.addresses.a)).toEqual({ greeting: 'hello from a', seenFrom: t.addresses.b })
    const routes = await ipJson<RouteJson[]>(b, 'route')
    expect(routes).toContainEqual(expect.objectContaining({ dst: '10.50.0.0/24', dev: t.devices.b }))
    expect(routes.map((r) => r.dst)).not.toContain('0.0.0.0/1')
    expect(await routeDevice(b, '10.50.0.1')).toBe(t.devices.b)
    expect((await b.exec(['cat', '/etc/resolv.conf'])).stdout).toBe(
      'nameserver 10.50.0.53\nsearch corp.example\n',
    )
  })

  it('full tunnel: default route through the tunnel, the endpoint stays on the underlay', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    await addLoopbackAddress(a, '203.0.113.1/32')
    const t = (await lab.tunnel(a, b, { type: 'wireguard', mode: 'full' })) as WireGuardTunnel
    const routes = await ipJson<RouteJson[]>(b, 'route')
    for (const half of ['0.0.0.0/1', '128.0.0.0/1'])
      expect(routes).toContainEqual(expect.objectContaining({ dst: half, dev: t.devices.b }))
    const underlay = b.ports[0]!.device
    expect(routes).toContainEqual(expect.objectContaining({ dst: a.address(b), dev: underlay }))
    expect(await routeDevice(b, a.address(b))).toBe(underlay)
    expect(await routeDevice(b, '203.0.113.1')).toBe(t.devices.b)
    expect(await tcpHello(b, a, '203.0.113.1')).toEqual({ greeting: 'hello from a', seenFrom: t.addresses.b })
    const allowed = await b.exec(['wg', 'show', t.devices.b, 'allowed-ips'])
    expect(allowed.stdout).toContain('0.0.0.0/0')
  })

  it('MTU: a big DF ping fails, the same without DF is fragmented and passes', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const t = (await lab.tunnel(a, b, { type: 'wireguard', mtu: 1280 })) as WireGuardTunnel
    const [link] = await ipJson<{ mtu: number }[]>(b, 'link', 'show', t.devices.b)
    expect(link!.mtu).toBe(1280)
    const df = await b.ping(t.addresses.a, { size: 1400, dontFragment: true, count: 2 })
    expect(df.received).toBe(0)
    expect(df.errors).toContain('EMSGSIZE')
    expect((await b.ping(t.addresses.a, { size: 1400, count: 2 })).received).toBe(2)
    expect((await b.ping(t.addresses.a, { size: 1200, dontFragment: true, count: 2 })).received).toBe(2)
  })

  it('the tunnel dies and comes back: traffic stops, then returns', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const t = (await lab.tunnel(a, b, { type: 'wireguard' })) as WireGuardTunnel
    expect((await b.ping(t.addresses.a)).received).toBe(3)
    await t.setUp(false)
    expect(t.up).toBe(false)
    expect((await a.ping(t.addresses.b, { count: 2, timeout: 300 })).received).toBe(0)
    const links = await ipJson<{ ifname: string }[]>(b, 'link')
    expect(links.map((l) => l.ifname)).not.toContain(t.devices.b)
    if (t.implementation === 'wireguard-go') expect(sockets(t)).toEqual([`${t.devices.a}.sock`])
    await t.setUp(true)
    // a speaks first: the restarted b must already have replaced a's old session.
    expect((await a.ping(t.addresses.b)).received).toBe(3)
    expect((await b.ping(t.addresses.a)).received).toBe(3)
  })

  it('two sites with the same 10.1.0.0/24 LAN, each tunnelled to one hub: no confusion', async () => {
    const { lab, hub, b, c, bl, cl } = await twoSitesOneHub()
    const tb = (await lab.tunnel(hub, b, { type: 'wireguard', routes: ['10.50.0.0/24'] })) as WireGuardTunnel
    const tc = (await lab.tunnel(hub, c, { type: 'wireguard', routes: ['10.50.0.0/24'] })) as WireGuardTunnel
    expect(await tcpHello(b, hub, '10.50.0.1')).toEqual({
      greeting: 'hello from hub',
      seenFrom: tb.addresses.b,
    })
    expect(await tcpHello(c, hub, '10.50.0.1')).toEqual({
      greeting: 'hello from hub',
      seenFrom: tc.addresses.b,
    })
    expect((await tcpHello(b, bl, '10.1.0.2')).greeting).toBe('hello from bl')
    expect((await tcpHello(c, cl, '10.1.0.2')).greeting).toBe('hello from cl')
  })

  it('nothing is left behind: processes, control sockets, devices, work directory', async () => {
    const lab = await newLab()
    const [a, b] = await lab.addHosts('a', 'b')
    await lab.connect(a, b)
    const t = (await lab.tunnel(a, b, { type: 'wireguard' })) as WireGuardTunnel
    const pids = [...a.running, ...b.running].map((p) => p.pid)
    expect(alive(pids)).toHaveLength(t.implementation === 'wireguard-go' ? 2 : 0)
    await lab.destroy()
    expect(alive(pids)).toEqual([])
    expect(sockets(t)).toEqual([])
    expect(existsSync(t.workDir)).toBe(false)
  })
})
