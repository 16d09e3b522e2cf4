// The netlink transport (harness/netlink/transport/socket.ts): requests in flight,
// batching into datagrams, port ids, closing.
import { execFileSync } from 'node:child_process'
import { describe, expect, it, vi } from 'vitest'
import { Netlink, NetlinkError } from '../../harness/netlink/index.js'
import { NETLINK_OPT, RTM, RTNLGRP, SOL_NETLINK } from '../../harness/netlink/codec/constants.js'
import { decodeLink, encodeLink } from '../../harness/netlink/codec/messages/link.js'
import { NetlinkSocket } from '../../harness/netlink/transport/socket.js'
import { getsockname, getsockoptBuffer } from '../../harness/sys/index.js'
import { ip, ipJson } from '../support/names.js'
import { type IpLink, netlinkNamespaces } from '../support/netlink.js'

const { ns, keep } = netlinkNamespaces()

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
      if (first) keep(first)
      if (second) keep(second)
    }
    expect(portOf(first!)).toBe(first!.portId)
    expect(portOf(second!)).toBe(second!.portId)
    expect(second!.portId).not.toBe(first!.portId)
    expect(picks).toBe(3)
    // Answers find their way back to each.
    await first!.request(RTM.GETLINK, 0, encodeLink({ index: 1 }), { op: 'get link' })
    await second!.request(RTM.GETLINK, 0, encodeLink({ index: 1 }), { op: 'get link' })
  })

  it('groups joined for a while follow their counts in the kernel (one bind for many); a group joined for good stays', async () => {
    const a = ns()
    const sock = NetlinkSocket.open({ netns: a.handle, groups: [RTNLGRP.LINK] })
    try {
      // The kernel's own list of the socket's groups: a u32 bitmap, group g at bit g - 1.
      const listed = (): number[] => {
        const buf = Buffer.alloc(8)
        const n = getsockoptBuffer(sock.fd, SOL_NETLINK, NETLINK_OPT.LIST_MEMBERSHIPS, buf)
        const bits = n >= 4 ? buf.readUInt32LE(0) : 0
        return Array.from({ length: 32 }, (_, i) => i + 1).filter((g) => bits & (1 << (g - 1)))
      }
      const { LINK, NEIGH, IPV4_IFADDR, IPV4_ROUTE, IPV6_IFADDR, IPV6_ROUTE } = RTNLGRP
      expect(listed()).toEqual([LINK])
      const first = sock.joinFor(LINK, IPV4_IFADDR, IPV6_IFADDR, IPV4_ROUTE, IPV6_ROUTE, NEIGH)
      expect(listed()).toEqual(
        [LINK, NEIGH, IPV4_IFADDR, IPV4_ROUTE, IPV6_IFADDR, IPV6_ROUTE].sort((x, y) => x - y),
      )
      const second = sock.joinFor(NEIGH, IPV4_ROUTE)
      first()
      first() // twice: counted once
      expect(listed()).toEqual([LINK, NEIGH, IPV4_ROUTE].sort((x, y) => x - y))
      second()
      expect(listed()).toEqual([LINK]) // joined with the socket: never left by a joinFor's end
      const third = sock.joinFor(LINK)
      third()
      expect(listed()).toEqual([LINK])
      // And they hear: a link made after joining is announced on the socket.
      const heard: number[] = []
      sock.onMessage((m) => heard.push(m.header.type))
      const fourth = sock.joinFor(IPV4_IFADDR, IPV6_IFADDR)
      await a.nl.createVeth({ name: 'g0', peer: { name: 'g1' } })
      await a.nl.addAddress((await a.nl.getLink('g0')).index, '198.18.0.1/30')
      await vi.waitFor(() => expect(heard).toContain(RTM.NEWADDR))
      expect(heard).toContain(RTM.NEWLINK)
      fourth()
    } finally {
      sock.close()
    }
  })

  it('an overrun (ENOBUFS) is reported once, and what the kernel announces after it is still heard', async () => {
    const a = ns()
    // The smallest receive buffer the kernel allows, and the event loop held
    // (synchronous ip) while 30 bridges are made: far more announcements than it holds.
    const sock = NetlinkSocket.open({ netns: a.handle, groups: [RTNLGRP.LINK], receiveBuffer: 1 })
    keep(sock)
    const links: string[] = []
    const errors: string[] = []
    sock.onMessage(
      (m) => {
        if (m.header.type === RTM.NEWLINK) links.push(decodeLink(m.payload).name ?? '')
      },
      (err) => errors.push(err.message),
    )
    execFileSync('ip', ['-n', a.name, '-batch', '-'], {
      input: Array.from({ length: 30 }, (_, i) => `link add ob${i} type bridge\n`).join(''),
    })
    await vi.waitFor(() => expect(errors).toHaveLength(1))
    expect(errors[0]).toMatch(/overrun.*ENOBUFS/)
    // The kernel flagged the socket in error (POLLERR) and libuv stopped watching it:
    // the watch must have gone on, for no request will read this socket.
    ip('-n', a.name, 'link', 'add', 'late0', 'type', 'bridge')
    await vi.waitFor(() => expect(links).toContain('late0'), { timeout: 3000 })
    expect(errors).toHaveLength(1)
  })

  it('rejects pending requests when the socket closes, and refuses new ones', async () => {
    const a = ns()
    const nl = Netlink.open(a.handle)
    nl.close()
    nl.close()
    await expect(nl.listLinks()).rejects.toThrow('is closed')
  })
})
