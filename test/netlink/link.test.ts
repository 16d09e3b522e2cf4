// Link operations (harness/netlink/link.ts) cross-checked with iproute2.
import { describe, expect, it } from 'vitest'
import { createTunTap } from '../../harness/netns/index.js'
import { NetlinkError } from '../../harness/netlink/index.js'
import { ip, ipJson } from '../support/names.js'
import { type IpLink, netlinkNamespaces } from '../support/netlink.js'

const { ns } = netlinkNamespaces()

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
