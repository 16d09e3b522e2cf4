import { afterEach, describe, expect, it } from 'vitest'
import { type Netns, addNetns, openNetns } from '../../harness/netns/index.js'
import { EventTimeoutError, Netlink, type NetlinkEvent } from '../../harness/netlink/index.js'
import { ip, netnsNames } from '../support/names.js'

const name = netnsNames('ev')
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

describe('events', () => {
  it('sees links, addresses and routes appear and go, made by ip', async () => {
    const a = ns()
    const sub = a.nl.subscribe(['link', 'addr', 'route'])
    open.push(sub)
    ip('-n', a.name, 'link', 'add', 'ev0', 'type', 'veth', 'peer', 'name', 'ev1')
    ip('-n', a.name, 'link', 'set', 'ev0', 'up')
    ip('-n', a.name, 'addr', 'add', '198.18.0.1/30', 'dev', 'ev0')
    ip('-n', a.name, 'link', 'del', 'ev0')
    const link = await sub.waitFor((e) => e.kind === 'link' && e.action === 'new' && e.link.name === 'ev0', {
      timeout: 5000,
    })
    expect(link.kind).toBe('link')
    const addr = await sub.waitFor((e) => e.kind === 'addr' && e.addr.cidr === '198.18.0.1/30', {
      timeout: 5000,
    })
    expect(addr).toMatchObject({ action: 'new' })
    const gone = await sub.waitFor((e) => e.kind === 'link' && e.action === 'del' && e.link.name === 'ev0', {
      timeout: 5000,
    })
    expect(gone.kind).toBe('link')
  })

  it('only sees its own namespace', async () => {
    const a = ns()
    const b = ns()
    const sub = a.nl.subscribe(['link'])
    open.push(sub)
    ip('-n', b.name, 'link', 'add', 'other0', 'type', 'veth', 'peer', 'name', 'other1')
    ip('-n', a.name, 'link', 'add', 'mine0', 'type', 'veth', 'peer', 'name', 'mine1')
    const seen: string[] = []
    await sub.waitFor(
      (e) => {
        if (e.kind === 'link') seen.push(e.link.name)
        return e.kind === 'link' && e.link.name === 'mine1'
      },
      { timeout: 5000 },
    )
    expect(seen.some((n) => n.startsWith('other'))).toBe(false)
  })

  it('iterates events as an async iterator', async () => {
    const a = ns()
    const sub = a.nl.subscribe(['link'])
    open.push(sub)
    await a.nl.createVeth({ name: 'it0', peer: { name: 'it1' } })
    const names: string[] = []
    for await (const ev of sub) {
      if (ev.kind === 'link') names.push(ev.link.name)
      if (names.includes('it0') && names.includes('it1')) break
    }
    expect(names).toEqual(expect.arrayContaining(['it0', 'it1']))
  })

  it('waitFor times out with a sentence naming what and where', async () => {
    const a = ns()
    const sub = a.nl.subscribe(['link'])
    open.push(sub)
    const err = await sub
      .waitFor((e: NetlinkEvent) => e.kind === 'link' && e.link.name === 'never', {
        timeout: 50,
        what: 'link never',
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(EventTimeoutError)
    expect(String(err)).toContain(`no link never in namespace ${a.name} within 50 ms`)
  })

  it('waitFor stops when aborted', async () => {
    const a = ns()
    const sub = a.nl.subscribe(['link'])
    open.push(sub)
    const c = new AbortController()
    const p = sub.waitFor(() => false, { signal: c.signal })
    c.abort()
    await expect(p).rejects.toThrow('aborted')
  })
})

describe('watchMessages on a client socket', () => {
  it("hears the announcements of the client's own changes, stamped with its requests' seq, and requests still resolve", async () => {
    const a = ns()
    const seen: { type: number; family: number; seq: number }[] = []
    const w = a.nl.watchMessages(['addr', 'route'], (m) =>
      seen.push({ type: m.header.type, family: m.payload[0]!, seq: m.header.seq }),
    )
    open.push(w)
    await a.nl.setLink(1, { up: true })
    // IPv4 announces with the request's seq and port id (rtmsg_ifa); IPv6 with seq 0.
    await a.nl.addAddress(1, '198.18.9.1/24')
    await a.nl.addAddress(1, 'fd00:9::1/64')
    await a.nl.addRoute({ dst: '198.18.10.0/24', oif: 1 })
    // A dump on the same socket still gets its answer, not the listener.
    const before = seen.length
    const addrs = await a.nl.listAddresses()
    expect(addrs.map((x) => x.cidr)).toEqual(expect.arrayContaining(['198.18.9.1/24', 'fd00:9::1/64']))
    // (lo coming up announced 127.0.0.1/8 too, with seq 0.)
    expect(seen.filter((s) => s.type === 20 && s.family === 2 && s.seq !== 0)).toHaveLength(1)
    expect(seen.some((s) => s.type === 20 && s.family === 10)).toBe(true)
    expect(seen.some((s) => s.type === 24)).toBe(true) // RTM_NEWROUTE
    expect(seen.slice(before).filter((s) => s.type === 20)).toEqual([])
    w.close()
    const after = seen.length
    await a.nl.addAddress(1, '198.18.11.1/24')
    expect(seen.length).toBe(after)
  })

  it('skipLocalTableRoutes: the kernel drops its local-table route announcements before queueing them, dumps still list them', async () => {
    const a = ns()
    /** Route announcements heard: table and destination length. */
    const routes = (seen: { type: number; payload: Buffer }[]) =>
      seen
        .filter((m) => m.type === 24)
        .map((m) => ({ table: m.payload[4]!, dstLen: m.payload[1]!, family: m.payload[0]! }))
    const filtered: { type: number; payload: Buffer }[] = []
    const all: { type: number; payload: Buffer }[] = []
    const w = a.nl.watchMessages(
      ['addr', 'route'],
      (m) => filtered.push({ type: m.header.type, payload: Buffer.from(m.payload) }),
      undefined,
      { skipLocalTableRoutes: true },
    )
    open.push(w)
    // Another socket in the namespace, without the filter, hears everything: the reference.
    const other = Netlink.open(a.handle)
    open.push(other)
    const w2 = other.watchMessages(['addr', 'route'], (m) =>
      all.push({ type: m.header.type, payload: Buffer.from(m.payload) }),
    )
    open.push(w2)
    await a.nl.setLink(1, { up: true })
    await a.nl.addAddress(1, '198.18.9.1/24')
    await a.nl.addAddress(1, 'fd00:9::1/64')
    await a.nl.addRoute({ dst: '198.18.10.0/24', oif: 1 })
    // The dump on the filtered socket still has the local table (its parts carry NLM_F_MULTI).
    // IPv6's local route comes from the kernel's DAD worker, after the request: wait for it.
    let local: string[] = []
    for (let i = 0; i < 100 && !local.includes('fd00:9::1/128'); i++) {
      if (i) await new Promise((r) => setTimeout(r, 20))
      local = (await a.nl.listRoutes({ table: 255 })).map((r) => r.dst)
    }
    expect(local).toEqual(expect.arrayContaining(['198.18.9.1/32', '198.18.9.255/32', 'fd00:9::1/128']))
    // Announced before the dump could see them: read by the next request on each socket.
    await a.nl.listRoutes()
    await other.listRoutes()
    expect(routes(all).some((r) => r.table === 255)).toBe(true)
    expect(routes(filtered).filter((r) => r.table === 255)).toEqual([])
    // Every main-table announcement still came, and every address one.
    expect(routes(filtered)).toEqual(routes(all).filter((r) => r.table !== 255))
    expect(filtered.filter((m) => m.type === 20)).toHaveLength(all.filter((m) => m.type === 20).length)
    // Closed: the filter is gone with it; the socket hears local routes again.
    w.close()
    const again: number[] = []
    const w3 = a.nl.watchMessages(['route'], (m) => again.push(m.payload[4]!))
    open.push(w3)
    await a.nl.addAddress(1, '198.18.12.1/24')
    await a.nl.listRoutes()
    expect(again).toContain(255)
  })
})
