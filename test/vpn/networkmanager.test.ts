import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { Lab } from '../../harness/index.js'
import {
  type NetworkManager,
  descendants,
  processName,
  startNetworkManager,
} from '../../harness/vpn/nm/index.js'
import { startOpenVpnServer } from '../../harness/vpn/openvpn-server.js'

const labs: Lab[] = []
afterEach(async () => {
  for (const lab of labs.splice(0)) await lab.destroy()
})

const VPN = {
  subnet: '198.19.250.0/24',
  pushRoute: '198.19.251.0/24',
  dns: '198.19.250.53',
  domain: 'corp.lab.example',
}

async function setup() {
  const lab = await Lab.create()
  labs.push(lab)
  const [client, server] = await lab.addHosts('client', 'server')
  await lab.connect(client, server)
  const ovpn = await startOpenVpnServer(server, {
    listen: server.address(client),
    subnet: VPN.subnet,
    routes: [VPN.pushRoute],
    dns: { nameservers: [VPN.dns], search: [VPN.domain] },
  })
  const nm = await startNetworkManager(client)
  return { lab, client, server, ovpn, nm }
}

function md5(path: string): string {
  return createHash('md5').update(readFileSync(path)).digest('hex')
}

/** NetworkManager's host pid: the child of `unshare --pid --fork`. */
function nmPid(nm: NetworkManager): number {
  const u = nm.process.pid!
  return Number(readFileSync(`/proc/${u}/task/${u}/children`, 'utf8').trim().split(/\s+/)[0])
}

async function routes(host: { exec: Lab['hosts'][number]['exec'] }): Promise<{ dst: string; dev: string }[]> {
  const r = await host.exec(['ip', '-j', 'route'])
  return JSON.parse(r.stdout) as { dst: string; dev: string }[]
}

describe('NetworkManager in a lab host, on a private D-Bus', () => {
  it('sees only its own namespace devices and can reach no bus but its private one', async () => {
    const resolvBefore = md5('/etc/resolv.conf')
    const { client, nm } = await setup()
    const devices = await nm.devices()
    const links = JSON.parse((await client.exec(['ip', '-j', 'link'])).stdout) as { ifname: string }[]
    expect(devices.map((d) => d.interface).sort()).toEqual(links.map((l) => l.ifname).sort())
    expect(devices.map((d) => d.interface)).not.toContain('eth0')
    // Managed without udev (read-only /sys), the lab's veth is an external, assumed connection: NM left its address.
    // By name: a kernel with ip_gre loaded gives every namespace gre0 and friends too, which NM leaves unmanaged.
    const veth = devices.find((d) => d.interface === client.ports[0]!.device)!
    expect(veth.managed).toBe(true)
    expect(veth.activeConnection).not.toBe('/')

    const pid = nmPid(nm)
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)
    expect(env.filter((e) => e.startsWith('DBUS_'))).toEqual([
      'DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket',
    ])
    // In NM's mount namespace the standard system bus path is the private bus's socket...
    const inside = statSync(`/proc/${pid}/root/run/dbus/system_bus_socket`)
    const priv = statSync(nm.busAddress.slice('unix:path='.length))
    expect([inside.dev, inside.ino]).toEqual([priv.dev, priv.ino])
    // ...and it runs in the client's network namespace, not the machine's.
    expect(statSync(`/proc/${pid}/ns/net`).ino).toBe(statSync(`/run/netns/${client.netns}`).ino)
    expect(readlinkSync(`/proc/${pid}/ns/net`)).not.toBe(readlinkSync('/proc/self/ns/net'))
    expect(md5('/etc/resolv.conf')).toBe(resolvBefore)
  })

  it('drives the VPN flow: AddConnection, ActivateConnection, states and Ip4Config arrive, routes come and go', async () => {
    const resolvBefore = md5('/etc/resolv.conf')
    const { client, server, ovpn, nm } = await setup()
    await nm.addOpenVpn({
      id: 'corp',
      remote: server.address(client),
      ...ovpn.client,
      neverDefault: true,
    })
    const vpn = await nm.activate('corp')
    expect(vpn.state).toBe('activated')
    expect(vpn.vpnState).toBe('activated')
    expect(vpn.events.filter((e) => e.kind === 'vpn-state').map((e) => e.value)).toContain('activated')
    expect(vpn.events.map((e) => e.kind)).toContain('ip4-config')
    expect(vpn.ip4.addresses[0]!.address).toMatch(/^198\.19\.250\./)
    expect(vpn.ip4.routes).toContainEqual(expect.objectContaining({ dest: '198.19.251.0', prefix: 24 }))
    expect(vpn.ip4.nameservers).toEqual([VPN.dns])
    expect(vpn.ip4.domains).toContain(VPN.domain)
    expect(await nm.state('corp')).toBe('activated')

    const up = await routes(client)
    const tun = up.find((r) => r.dst === '198.19.251.0/24')
    expect(tun?.dev).toMatch(/^tun/)
    expect(nm.resolvConf()).toContain(`nameserver ${VPN.dns}`)
    // Traffic goes through the tunnel to the server's end of it.
    expect((await client.ping('198.19.250.1', { count: 1 })).received).toBe(1)

    await nm.deactivate('corp')
    expect(await nm.state('corp')).toBe('deactivated')
    const down = await routes(client)
    expect(down.filter((r) => r.dst.startsWith('198.19.25'))).toEqual([])
    expect(nm.resolvConf()).not.toContain(VPN.dns)
    expect(md5('/etc/resolv.conf')).toBe(resolvBefore)
  })

  it('leaves nothing behind: processes, the bus socket, the temp dir', async () => {
    const { client, server, ovpn, nm } = await setup()
    await nm.addOpenVpn({
      id: 'corp',
      remote: server.address(client),
      ...ovpn.client,
    })
    await nm.activate('corp')
    const pids = [nm.process.pid!, ...descendants(nm.process.pid!)]
    const comms = pids.map((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim())
    expect(comms).toEqual(expect.arrayContaining(['unshare', 'NetworkManager', 'nm-openvpn-serv', 'openvpn']))
    await nm.close()
    for (const p of pids) expect(existsSync(`/proc/${p}`)).toBe(false)
    expect(existsSync(nm.dir)).toBe(false)
    expect(client.running.map((p) => p.argv[0])).toEqual([])
  })
})

describe('NetworkManager VPN bug reproduction', () => {
  it('when the VPN plugin dies, NM reports the VPN deactivated and drops its routes and DNS, but openvpn and its tun device are left behind', async () => {
    const { client, server, ovpn, nm } = await setup()
    await nm.addOpenVpn({
      id: 'corp',
      remote: server.address(client),
      ...ovpn.client,
      neverDefault: true,
    })
    await nm.activate('corp')
    const plugin = descendants(nm.process.pid!).find((p) => processName(p) === 'nm-openvpn-serv')!
    const openvpn = descendants(nm.process.pid!).find((p) => processName(p) === 'openvpn')!
    process.kill(plugin, 'SIGKILL')
    await nm.waitState('corp', 'deactivated')

    // What NM cleans up: the VPN's routes, its IPv4 address, its DNS.
    expect((await routes(client)).filter((r) => r.dst.startsWith('198.19.25'))).toEqual([])
    expect(nm.resolvConf()).not.toContain(VPN.dns)
    // What it leaves: the openvpn client it started, still running, and its tun device.
    expect(existsSync(`/proc/${openvpn}`)).toBe(true)
    expect(processName(openvpn)).toBe('openvpn')
    const links = JSON.parse((await client.exec(['ip', '-j', 'link'])).stdout) as { ifname: string }[]
    expect(links.map((l) => l.ifname)).toContain('tun0')
  })
})
