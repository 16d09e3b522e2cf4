// Every rtnetlink operation cross-checked with iproute2 (`ip -j`): what nslab
// makes, `ip` sees, and what `ip` makes, nslab sees.
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  type Netns,
  addNetns,
  createTunTap,
  getSysctl,
  openNetns,
  setSysctl,
  sysctlPath,
} from '../../harness/netns/index.js'
import { Netlink, NetlinkError } from '../../harness/netlink/index.js'
import { RTM } from '../../harness/netlink/codec/constants.js'
import { encodeLink } from '../../harness/netlink/codec/messages/link.js'
import { NetlinkSocket } from '../../harness/netlink/transport/socket.js'
import { getsockname } from '../../harness/sys/index.js'
import { ip, ipJson, netnsNames } from '../support/names.js'

const name = netnsNames('nl')
const open: { close(): void }[] = []
afterEach(() => {
  for (const o of open.splice(0).reverse()) o.close()
})

function ns(): { name: string; handle: Netns; nl: Netlink } {
  const n = name()
  addNetns(n)
  const handle = openNetns(n)
  const nl = Netlink.open(handle)
  open.push(handle, nl)
  return { name: n, handle, nl }
}

interface IpLink {
  ifname: string
  ifindex: number
  mtu: number
  operstate: string
  flags: string[]
  address: string
  master?: string
  linkinfo?: { info_kind: string }
}

describe('links', () => {
  it('a veth pair born with each end in its own namespace, seen by ip', async () => {
    const a = ns()
    const b = ns()
    await a.nl.createVeth({ name: 'a-eth0', peer: { name: 'b-eth0', netns: { fd: b.handle.fd } } })
    const inA = ipJson<IpLink[]>('-n', a.name, '-d', 'link', 'show', 'a-eth0')[0]!
    const inB = ipJson<IpLink[]>('-n', b.name, '-d', 'link', 'show', 'b-eth0')[0]!
    expect(inA.linkinfo?.info_kind).toBe('veth')
    expect(inB.linkinfo?.info_kind).toBe('veth')
    // Each end is in exactly one namespace.
    expect(ipJson<IpLink[]>('-n', b.name, 'link').map((l) => l.ifname)).not.toContain('a-eth0')
    const ours = await a.nl.getLink('a-eth0')
    expect(ours).toMatchObject({
      name: 'a-eth0',
      kind: 'veth',
      index: inA.ifindex,
      address: inA.address,
      mtu: inA.mtu,
    })
    expect(ours.linkNetnsId).toBeDefined()
  })

  it('veth with both ends born away from the socket leaves its namespace untouched', async () => {
    const ctl = ns()
    const a = ns()
    const b = ns()
    await ctl.nl.createVeth({
      name: 'x0',
      netns: { fd: a.handle.fd },
      peer: { name: 'x0', netns: { fd: b.handle.fd } },
    })
    expect((await ctl.nl.listLinks()).map((l) => l.name)).toEqual(['lo'])
    expect((await a.nl.listLinks()).map((l) => l.name)).toEqual(['lo', 'x0'])
    expect((await b.nl.listLinks()).map((l) => l.name)).toEqual(['lo', 'x0'])
  })

  it('set up/down, MTU, MAC, name, master; ip agrees', async () => {
    const a = ns()
    await a.nl.createVeth({ name: 'v0', peer: { name: 'v1' } })
    await a.nl.createBridge('br0')
    const v0 = await a.nl.getLink('v0')
    const br = await a.nl.getLink('br0')
    await a.nl.setLink(v0.index, { up: true, mtu: 1280, address: '02:00:00:00:00:01', master: br.index })
    let seen = ipJson<IpLink[]>('-n', a.name, 'link', 'show', 'v0')[0]!
    expect(seen).toMatchObject({ mtu: 1280, address: '02:00:00:00:00:01', master: 'br0' })
    expect(seen.flags).toContain('UP')
    await a.nl.setLink(v0.index, { up: false, master: 0 })
    await a.nl.setLink(v0.index, { name: 'renamed0' })
    seen = ipJson<IpLink[]>('-n', a.name, 'link', 'show', 'renamed0')[0]!
    expect(seen.flags).not.toContain('UP')
    expect(seen.master).toBeUndefined()
    const back = await a.nl.getLink('renamed0')
    expect(back).toMatchObject({ index: v0.index, up: false, master: undefined })
  })

  it('lists what ip created, with kinds and states', async () => {
    const a = ns()
    ip('-n', a.name, 'link', 'add', 'br9', 'type', 'bridge')
    ip('-n', a.name, 'link', 'add', 'mv0', 'link', 'br9', 'type', 'macvlan', 'mode', 'bridge')
    ip('-n', a.name, 'link', 'set', 'br9', 'up')
    const links = await a.nl.listLinks()
    const theirs = ipJson<IpLink[]>('-n', a.name, 'link')
    expect(links.map((l) => [l.index, l.name])).toEqual(theirs.map((l) => [l.ifindex, l.ifname]))
    expect(links.find((l) => l.name === 'br9')).toMatchObject({ kind: 'bridge', up: true })
    expect(links.find((l) => l.name === 'mv0')).toMatchObject({ kind: 'macvlan' })
  })

  it('creates bridge, vxlan, macvlan and tun/tap devices that ip reports with their kinds', async () => {
    const a = ns()
    await a.nl.createBridge('br0')
    const br = await a.nl.getLink('br0')
    await a.nl.createMacvlan('mv0', { lower: br.index })
    await a.nl.createVxlan('vx0', { id: 42, port: 4789, local: '198.18.0.1' })
    createTunTap(a.handle, 'tun0', 'tun')
    createTunTap(a.handle, 'tap0', 'tap')
    const kinds = Object.fromEntries(
      ipJson<IpLink[]>('-n', a.name, '-d', 'link').map((l) => [l.ifname, l.linkinfo?.info_kind]),
    )
    expect(kinds).toMatchObject({ br0: 'bridge', mv0: 'macvlan', vx0: 'vxlan', tun0: 'tun', tap0: 'tun' })
    const vx = ipJson<{ linkinfo: { info_data: { id: number; port: number; local: string } } }[]>(
      '-n',
      a.name,
      '-d',
      'link',
      'show',
      'vx0',
    )[0]!
    expect(vx.linkinfo.info_data).toMatchObject({ id: 42, port: 4789, local: '198.18.0.1' })
  })

  it('moves a link by fd and by pid, taking it out of the first namespace (IFLA_NET_NS_FD, IFLA_NET_NS_PID)', async () => {
    const a = ns()
    const b = ns()
    await a.nl.createVeth({ name: 'm0', peer: { name: 'm1' } })
    await a.nl.moveLink('m0', { fd: b.handle.fd })
    expect((await a.nl.listLinks()).map((l) => l.name)).not.toContain('m0')
    expect((await b.nl.listLinks()).map((l) => l.name)).toContain('m0')
    // By pid: a process living in b's namespace.
    const { spawn } = await import('node:child_process')
    const sleeper = spawn('ip', ['netns', 'exec', b.name, 'sleep', '30'], { stdio: 'ignore' })
    try {
      await expect
        .poll(() => ip('netns', 'pids', b.name), { timeout: 5000, interval: 20 })
        .toContain(String(sleeper.pid))
      await a.nl.moveLink('m1', { pid: sleeper.pid! })
      expect((await b.nl.listLinks()).map((l) => l.name).sort()).toEqual(['lo', 'm0', 'm1'])
      expect(ipJson<IpLink[]>('-n', a.name, 'link').map((l) => l.ifname)).toEqual(['lo'])
    } finally {
      sleeper.kill('SIGKILL')
    }
  })

  it('deletes links; deleting one veth end removes both', async () => {
    const a = ns()
    const b = ns()
    await a.nl.createVeth({ name: 'd0', peer: { name: 'd1', netns: { fd: b.handle.fd } } })
    await a.nl.deleteLink('d0')
    expect(ipJson<IpLink[]>('-n', a.name, 'link').map((l) => l.ifname)).toEqual(['lo'])
    expect(ipJson<IpLink[]>('-n', b.name, 'link').map((l) => l.ifname)).toEqual(['lo'])
  })

  it("errors carry the operation, the object, the namespace and the kernel's words", async () => {
    const a = ns()
    await a.nl.createVeth({ name: 'e0', peer: { name: 'e1' } })
    const dup = await a.nl.createVeth({ name: 'e0', peer: { name: 'e2' } }).catch((e: unknown) => e)
    expect(dup).toBeInstanceOf(NetlinkError)
    expect(String(dup)).toBe(
      `NetlinkError: EEXIST: create veth link e0 in namespace ${a.name}: it already exists (left by a crashed run? run: nslab gc)`,
    )
    const kind = await a.nl.createLink('k0', 'nslab-no-such-kind').catch((e: NetlinkError) => e)
    expect(kind).toMatchObject({ code: 'EOPNOTSUPP', kernelMessage: 'Unknown device type' })
    const change = { up: true, mtu: 1400 }
    const set = a.nl.setLink(99, change).catch((e: NetlinkError) => e)
    change.mtu = 9000 // the message says what was asked
    expect(String(await set)).toBe(
      `NetlinkError: ENODEV: set up true, mtu 1400 on link #99 in namespace ${a.name}: no such device`,
    )
    expect(await set).toMatchObject({ op: 'set up true, mtu 1400 on link', object: '#99' })
    const missing = await a.nl.getLink('nosuch0').catch((e: NetlinkError) => e)
    expect(missing).toMatchObject({ code: 'ENODEV', op: 'get link', object: 'nosuch0', netns: a.name })
    const long = await a.nl
      .createVeth({ name: 'x'.repeat(16), peer: { name: 'y' } })
      .catch((e: NetlinkError) => e)
    expect(long).toBeInstanceOf(NetlinkError)
    expect((long as NetlinkError).kernelMessage).toMatch(/policy|name/i)
  })
})

describe('addresses', () => {
  it('adds IPv4 and IPv6 addresses (IPv6 not tentative) that ip sees, and deletes them', async () => {
    const a = ns()
    await a.nl.createVeth({ name: 'v0', peer: { name: 'v1' } })
    const v0 = await a.nl.getLink('v0')
    await a.nl.setLink(v0.index, { up: true })
    await a.nl.addAddress(v0.index, '198.18.0.1/30')
    await a.nl.addAddress(v0.index, 'fd00::1/64')
    const theirs = ipJson<
      { ifname: string; addr_info: { local: string; prefixlen: number; tentative?: boolean }[] }[]
    >('-n', a.name, 'addr', 'show', 'dev', 'v0')[0]!.addr_info
    expect(theirs.map((x) => `${x.local}/${x.prefixlen}`)).toEqual(
      expect.arrayContaining(['198.18.0.1/30', 'fd00::1/64']),
    )
    expect(theirs.find((x) => x.local === 'fd00::1')?.tentative).toBeUndefined()
    const ours = await a.nl.listAddresses({ index: v0.index })
    expect(ours.filter((x) => x.scope === 'global').map((x) => x.cidr)).toEqual([
      '198.18.0.1/30',
      'fd00::1/64',
    ])
    expect(ours.every((x) => !x.tentative)).toBe(true)
    await a.nl.deleteAddress(v0.index, '198.18.0.1/30')
    expect(ip('-n', a.name, 'addr', 'show', 'dev', 'v0')).not.toContain('198.18.0.1')
  })

  it('lists addresses that ip added, per family', async () => {
    const a = ns()
    ip('-n', a.name, 'link', 'set', 'lo', 'up')
    ip('-n', a.name, 'addr', 'add', '198.19.0.9/32', 'dev', 'lo')
    const v4 = await a.nl.listAddresses({ family: 4 })
    expect(v4.map((x) => x.cidr).sort()).toEqual(['127.0.0.1/8', '198.19.0.9/32'])
    const v6 = await a.nl.listAddresses({ family: 6 })
    expect(v6.map((x) => x.cidr)).toEqual(['::1/128'])
  })
})

describe('routes', () => {
  it('adds, replaces, lists and deletes routes: gateway, device, table, metric, blackhole, unreachable', async () => {
    const a = ns()
    await a.nl.createVeth({ name: 'r0', peer: { name: 'r1' } })
    const r0 = await a.nl.getLink('r0')
    await a.nl.setLink(r0.index, { up: true })
    await a.nl.addAddress(r0.index, '198.18.0.1/30')
    await a.nl.addAddress(r0.index, 'fd00::1/64')
    await a.nl.addRoute({ dst: '198.18.10.0/24', gateway: '198.18.0.2', metric: 50 })
    await a.nl.addRoute({ dst: '198.18.11.0/24', oif: r0.index })
    await a.nl.addRoute({ dst: '198.18.12.0/24', type: 'blackhole' })
    await a.nl.addRoute({ dst: '198.18.13.0/24', type: 'unreachable' })
    await a.nl.addRoute({ dst: 'fd00:1::/64', gateway: 'fd00::2' })
    await a.nl.addRoute({ dst: '198.18.14.0/24', gateway: '198.18.0.2', table: 1000 })
    const theirs = ipJson<{ dst: string; gateway?: string; dev?: string; metric?: number; type?: string }[]>(
      '-n',
      a.name,
      'route',
    )
    expect(theirs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ dst: '198.18.10.0/24', gateway: '198.18.0.2', dev: 'r0', metric: 50 }),
        expect.objectContaining({ dst: '198.18.11.0/24', dev: 'r0' }),
        expect.objectContaining({ dst: '198.18.12.0/24', type: 'blackhole' }),
        expect.objectContaining({ dst: '198.18.13.0/24', type: 'unreachable' }),
      ]),
    )
    expect(
      ipJson<{ dst: string }[]>('-n', a.name, 'route', 'show', 'table', '1000').map((r) => r.dst),
    ).toEqual(['198.18.14.0/24'])
    expect(ipJson<{ dst: string; gateway: string }[]>('-n', a.name, '-6', 'route')).toEqual(
      expect.arrayContaining([expect.objectContaining({ dst: 'fd00:1::/64', gateway: 'fd00::2' })]),
    )
    const ours = await a.nl.listRoutes({ family: 4 })
    expect(ours.find((r) => r.dst === '198.18.10.0/24')).toMatchObject({
      gateway: '198.18.0.2',
      metric: 50,
      oif: r0.index,
    })
    expect(ours.find((r) => r.dst === '198.18.12.0/24')).toMatchObject({ type: 'blackhole' })
    expect((await a.nl.listRoutes({ table: 1000 })).map((r) => r.dst)).toEqual(['198.18.14.0/24'])

    await a.nl.replaceRoute({ dst: '198.18.10.0/24', gateway: '198.18.0.2', metric: 50, mtu: 1300 })
    expect(ip('-n', a.name, 'route', 'show', '198.18.10.0/24')).toContain('mtu 1300')
    await expect(a.nl.addRoute({ dst: '198.18.10.0/24', gateway: '198.18.0.2', metric: 50 })).rejects.toThrow(
      'EEXIST',
    )
    await a.nl.deleteRoute({ dst: '198.18.10.0/24', gateway: '198.18.0.2', metric: 50 })
    expect(ip('-n', a.name, 'route', 'show', '198.18.10.0/24')).toBe('')
  })

  it('adds a default route and reads one that ip added', async () => {
    const a = ns()
    await a.nl.createVeth({ name: 'g0', peer: { name: 'g1' } })
    const g0 = await a.nl.getLink('g0')
    await a.nl.setLink(g0.index, { up: true })
    await a.nl.addAddress(g0.index, '198.18.0.1/30')
    await a.nl.addRoute({ dst: 'default', gateway: '198.18.0.2' })
    expect(
      ipJson<{ dst: string; gateway: string }[]>('-n', a.name, 'route', 'show', 'default')[0],
    ).toMatchObject({
      dst: 'default',
      gateway: '198.18.0.2',
    })
    ip('-n', a.name, 'route', 'add', '198.18.20.0/24', 'via', '198.18.0.2', 'metric', '7')
    expect((await a.nl.listRoutes({ family: 4 })).find((r) => r.dst === '198.18.20.0/24')).toMatchObject({
      metric: 7,
    })
    expect((await a.nl.listRoutes({ family: 4 })).find((r) => r.dst === 'default')).toMatchObject({
      gateway: '198.18.0.2',
    })
  })
})

describe('neighbours', () => {
  it('adds, lists and deletes permanent entries, cross-checked with ip neigh', async () => {
    const a = ns()
    await a.nl.createVeth({ name: 'n0', peer: { name: 'n1' } })
    const n0 = await a.nl.getLink('n0')
    await a.nl.setLink(n0.index, { up: true })
    await a.nl.addNeighbour({ index: n0.index, address: '198.18.0.2', lladdr: '02:00:00:00:00:02' })
    expect(
      ipJson<{ dst: string; lladdr: string; state: string[] }[]>('-n', a.name, 'neigh')[0],
    ).toMatchObject({
      dst: '198.18.0.2',
      lladdr: '02:00:00:00:00:02',
      state: ['PERMANENT'],
    })
    ip(
      '-n',
      a.name,
      'neigh',
      'add',
      'fd00::2',
      'lladdr',
      '02:00:00:00:00:03',
      'dev',
      'n0',
      'nud',
      'permanent',
    )
    const ours = await a.nl.listNeighbours()
    expect(ours.map((n) => [n.address, n.lladdr, n.state])).toEqual(
      expect.arrayContaining([
        ['198.18.0.2', '02:00:00:00:00:02', ['permanent']],
        ['fd00::2', '02:00:00:00:00:03', ['permanent']],
      ]),
    )
    await a.nl.deleteNeighbour({ index: n0.index, address: '198.18.0.2' })
    expect(ip('-n', a.name, 'neigh')).not.toContain('198.18.0.2')
  })
})

describe('sysctl per namespace', () => {
  it('reads and writes net.* in one namespace only', () => {
    const a = ns()
    const b = ns()
    setSysctl(a.handle, 'net.ipv4.ip_forward', 1)
    expect(getSysctl(a.handle, 'net.ipv4.ip_forward')).toBe('1')
    expect(getSysctl(b.handle, 'net.ipv4.ip_forward')).toBe('0')
    expect(ip('netns', 'exec', a.name, 'sysctl', '-n', 'net.ipv4.ip_forward').trim()).toBe('1')
    setSysctl(a.name, 'net.ipv4.conf.all.rp_filter', 2)
    expect(getSysctl(a.name, 'net.ipv4.conf.all.rp_filter')).toBe('2')
    setSysctl(a.name, 'net.ipv6.conf.all.disable_ipv6', 1)
    expect(getSysctl(a.name, 'net.ipv6.conf.all.disable_ipv6')).toBe('1')
  })

  it('refuses keys that are not per-namespace network settings', () => {
    expect(() => sysctlPath('kernel.hostname')).toThrow('not a per-namespace network setting')
    expect(() => sysctlPath('net.ipv4..ip_forward')).toThrow()
    expect(() => sysctlPath('net/../kernel/hostname')).toThrow()
  })
})

describe('transport', () => {
  it('keeps many requests in flight at once on one socket', async () => {
    const a = ns()
    const names = Array.from({ length: 64 }, (_, i) => `p${i}`)
    await Promise.all(names.map((n) => a.nl.createVeth({ name: n, peer: { name: `${n}x` } })))
    const links = await Promise.all(names.map((n) => a.nl.getLink(n)))
    expect(new Set(links.map((l) => l.index)).size).toBe(64)
    expect((await a.nl.listLinks()).length).toBe(1 + 128)
  })

  it('sends requests made together as one datagram; each is answered on its own', async () => {
    const a = ns()
    const before = a.nl.socket.stats
    const results = await Promise.allSettled([
      a.nl.createBridge('br0', { index: 7 }),
      a.nl.addAddress(7, '198.18.0.1/24'),
      a.nl.addAddress(99, '198.18.1.1/24'), // no such link: fails alone
      a.nl.setLink(7, { up: true }),
    ])
    const after = a.nl.socket.stats
    expect(after.requests - before.requests).toBe(4)
    expect(after.datagrams - before.datagrams).toBe(1)
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(NetlinkError)
    const br = ipJson<IpLink[]>('-n', a.name, 'link', 'show', 'br0')[0]!
    expect(br.ifindex).toBe(7)
    expect(br.flags).toContain('UP')
    expect(ip('-n', a.name, '-br', 'addr', 'show', 'br0')).toContain('198.18.0.1/24')
  })

  it('a veth gets the ifindexes asked for, born up on this end; a taken index is refused', async () => {
    const a = ns()
    const b = ns()
    await a.nl.createVeth({
      name: 'v0',
      index: 5,
      up: true,
      peer: { name: 'v1', index: 9, netns: { fd: b.handle.fd } },
    })
    const inA = ipJson<IpLink[]>('-n', a.name, 'link', 'show', 'v0')[0]!
    const inB = ipJson<IpLink[]>('-n', b.name, 'link', 'show', 'v1')[0]!
    expect([inA.ifindex, inB.ifindex]).toEqual([5, 9])
    expect(inA.flags).toContain('UP')
    expect(inB.flags).not.toContain('UP')
    // EBUSY on older kernels (register_netdevice), EEXIST on 6.18
    const taken = await a.nl
      .createVeth({ name: 'v2', index: 5, peer: { name: 'v3' } })
      .catch((e: unknown) => e)
    expect(taken).toBeInstanceOf(NetlinkError)
    expect(['EBUSY', 'EEXIST']).toContain((taken as NetlinkError).code)
  })

  it('a loop of awaited requests still lets the event loop turn (timers run)', async () => {
    const a = ns()
    let fired = false
    setTimeout(() => (fired = true), 1)
    let sent = 0
    // Answers resolve on microtasks; without a yield now and then this loop would starve the timer.
    while (!fired && sent < 20_000) {
      await a.nl.setLink(1, { up: true })
      sent++
    }
    expect(fired).toBe(true)
  })

  it('each socket binds a port id of its own, the one getsockname reports; a taken one is skipped', async () => {
    const a = ns()
    const portOf = (s: NetlinkSocket): number => getsockname(s.fd).readUInt32LE(4)
    // The same random pick twice: the second socket finds the port taken (EADDRINUSE) and picks again.
    const random = vi.spyOn(Math, 'random').mockReturnValueOnce(0.5).mockReturnValueOnce(0.5)
    let first: NetlinkSocket | undefined
    let second: NetlinkSocket | undefined
    let picks = 0
    try {
      first = NetlinkSocket.open({ netns: a.handle })
      second = NetlinkSocket.open({ netns: a.handle })
    } finally {
      picks = random.mock.calls.length
      random.mockRestore()
      if (first) open.push(first)
      if (second) open.push(second)
    }
    expect(portOf(first!)).toBe(first!.portId)
    expect(portOf(second!)).toBe(second!.portId)
    expect(second!.portId).not.toBe(first!.portId)
    expect(picks).toBe(3)
    // Answers find their way back to each.
    await first!.request(RTM.GETLINK, 0, encodeLink({ index: 1 }), { op: 'get link' })
    await second!.request(RTM.GETLINK, 0, encodeLink({ index: 1 }), { op: 'get link' })
  })

  it('rejects pending requests when the socket closes, and refuses new ones', async () => {
    const a = ns()
    const nl = Netlink.open(a.handle)
    nl.close()
    nl.close()
    await expect(nl.listLinks()).rejects.toThrow('is closed')
  })
})
