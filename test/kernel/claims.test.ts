/**
 * The kernel-behaviour suite: what nslab relies on the kernel to do with
 * network namespaces (sockets, threads, lifetimes, devices, identity),
 * stated as tests and run on every kernel (the host's with `npm test`, a
 * VM's with `npm run test:vm`). Each test is named after its claim; the reporter
 * (reporter.ts) writes pass/fail per claim to reports/kernel/<uname -r>.json.
 */
import { once } from 'node:events'
import dgram from 'node:dgram'
import { mkdirSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { FALLBACK_TUNNEL_DEVICE, Netlink } from '../../harness/netlink/index.js'
import {
  NetnsRuntime,
  addNetns,
  deleteNetns,
  exec,
  openCurrentNetns,
  openNetns,
  openNetnsOfPid,
  openNetnsPath,
  socketIn,
  spawnIn,
  withNetns,
} from '../../harness/netns/index.js'
import { AF_INET, SOCK_DGRAM, bind, close, ioctl, sockaddrIp } from '../../harness/sys/index.js'
import { ip, ipJson, netnsNames } from '../support/names.js'
import { recordKernel } from './where.js'

recordKernel()

const name = netnsNames('kc')
const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

/** A named namespace and a netlink handle in it, both removed after the test. */
function ns(): { name: string; nl: Netlink } {
  const n = name()
  addNetns(n)
  const nl = Netlink.open(n)
  cleanup.push(() => nl.close())
  return { name: n, nl }
}

const SIOCGSKNS = 0x894c
let seq = 0
/** A link name unique in the suite's shared (sealed) namespace. */
const hereName = () => `kc${process.pid.toString(36)}x${seq++}`.slice(0, 15)

/**
 * Fallback devices that tunnel modules (ip_gre, ipip, sit, ip6_tunnel, ip_vti...) add to every
 * new namespace once loaded, unless net.core.fb_tunnels_only_for_init_net says otherwise: with the
 * feature probes loading them, a "new namespace" is lo plus these.
 */
const FALLBACK = FALLBACK_TUNNEL_DEVICE
const own = (names: string[]) => names.filter((n) => !FALLBACK.test(n))

/** Inode of the network namespace a thread of this process is in. */
function nsInode(link: string): string {
  return readlinkSync(link).replace(/^net:\[(\d+)\]$/, '$1')
}

describe('claims about network namespaces', () => {
  it('a socket stays bound to the namespace it was created in, whatever thread uses it', async () => {
    const a = ns()
    ip('-n', a.name, 'link', 'set', 'lo', 'up')
    const fd = socketIn(a.name, AF_INET, SOCK_DGRAM) // made on this thread while it visited a
    const sockNsFd = ioctl(fd, SIOCGSKNS) // the kernel says where the socket lives
    using sockNs = openNetnsPath(`/proc/self/fd/${sockNsFd}`)
    close(sockNsFd)
    using aNs = openNetns(a.name)
    expect(sockNs.is(aNs)).toBe(true)
    bind(fd, sockaddrIp('127.0.0.1', 0))
    const sock = dgram.createSocket({ type: 'udp4' })
    cleanup.push(() => sock.close())
    sock.bind({ fd }) // used from the main thread, which is home
    const port = sock.address().port
    const got = once(sock, 'message')
    // A datagram sent inside a reaches it; the sender's 127.0.0.1 is a's loopback.
    await exec(a.name, ['bash', '-c', `echo hi > /dev/udp/127.0.0.1/${port}`])
    expect(String((await got)[0])).toBe('hi\n')
  })

  it('the namespace is a per-thread setting: threads of one process can be in different namespaces', async () => {
    const a = ns()
    const rt = new NetnsRuntime(a.name)
    cleanup.push(() => rt.close())
    const workerIno = await rt.run(async () => {
      const fs = await import('node:fs')
      return fs.readlinkSync('/proc/thread-self/ns/net')
    })
    using aNs = openNetns(a.name)
    expect(workerIno).toBe(`net:[${aNs.id.ino}]`)
    expect(readlinkSync('/proc/thread-self/ns/net')).not.toBe(workerIno)
  })

  it('setns moves only the calling thread', () => {
    const a = ns()
    using aNs = openNetns(a.name)
    const home = nsInode('/proc/thread-self/ns/net')
    const tids = readdirSync('/proc/self/task')
    expect(tids.length).toBeGreaterThan(1)
    const seen = withNetns(aNs, () =>
      tids.map((t) => [t, nsInode(`/proc/self/task/${t}/ns/net`)] as const).filter(([, ino]) => ino !== home),
    )
    expect(seen).toEqual([[String(process.pid), String(aNs.id.ino)]]) // the main thread, and no other
  })

  it('a namespace lives while a process, an open fd or a bind mount holds it, and disappears after', async () => {
    await using here = {
      nl: Netlink.open(),
      async [Symbol.asyncDispose]() {
        this.nl.close()
      },
    }
    // A veth with one end in the namespace and the other here: the kernel deletes
    // both when the namespace dies, so the end here shows whether it lives.
    const alive = async (peer: string) => (await here.nl.listLinks()).some((l) => l.name === peer)
    for (const holder of ['process', 'fd', 'bind mount'] as const) {
      const n = name()
      addNetns(n)
      const peer = hereName()
      const nsFd = openNetns(n)
      await here.nl.createVeth({ name: peer, peer: { name: 'eth0', netns: { fd: nsFd.fd } } })
      const proc = holder === 'process' ? spawnIn(n, ['sleep', '60']) : undefined
      if (proc) await proc.started
      if (holder !== 'bind mount') deleteNetns(n) // the name no longer holds it
      if (holder !== 'fd') nsFd.close()
      expect(await alive(peer), holder).toBe(true)
      if (holder === 'process') proc!.kill('SIGKILL')
      if (holder === 'fd') nsFd.close()
      if (holder === 'bind mount') deleteNetns(n)
      // The kernel tears namespaces down asynchronously (cleanup_net).
      await expect.poll(() => alive(peer), { timeout: 20_000, interval: 50 }).toBe(false)
    }
  })

  it('a named namespace lives with no process in it', async () => {
    const a = ns()
    await a.nl.createVeth({ name: 'v0', peer: { name: 'v1' } })
    expect(ip('netns', 'pids', a.name).trim()).toBe('')
    a.nl.close()
    using again = Netlink.open(a.name)
    expect(own((await again.listLinks()).map((l) => l.name)).sort()).toEqual(['lo', 'v0', 'v1'])
  })

  it("a new namespace has only lo, and it is down (besides loaded tunnel modules' fallback devices)", async () => {
    const a = ns()
    const links = (await a.nl.listLinks()).filter((l) => !FALLBACK.test(l.name))
    expect(links.map((l) => [l.name, l.up])).toEqual([['lo', false]])
    const theirs = ipJson<{ ifname: string; operstate: string }[]>('-n', a.name, 'link')
    expect(theirs.filter((l) => !FALLBACK.test(l.ifname))).toMatchObject([
      { ifname: 'lo', operstate: 'DOWN' },
    ])
  })

  it('a device lives in exactly one namespace, and moving it takes it out of the other', async () => {
    const a = ns()
    const b = ns()
    await a.nl.createVeth({ name: 'm0', peer: { name: 'm1' } })
    using bNs = openNetns(b.name)
    await a.nl.moveLink('m0', { fd: bNs.fd })
    const names = (n: string) => own(ipJson<{ ifname: string }[]>('-n', n, 'link').map((l) => l.ifname))
    expect(names(a.name)).toEqual(['lo', 'm1'])
    expect(names(b.name)).toEqual(['lo', 'm0'])
  })

  it('IFLA_NET_NS_FD and IFLA_NET_NS_PID both move links', async () => {
    const a = ns()
    const b = ns()
    await a.nl.createVeth({ name: 'f0', peer: { name: 'p0' } })
    using bNs = openNetns(b.name)
    await a.nl.moveLink('f0', { fd: bNs.fd })
    const sleeper = spawnIn(b.name, ['sleep', '60'])
    cleanup.push(() => sleeper.kill('SIGKILL'))
    await a.nl.moveLink('p0', { pid: await sleeper.started })
    expect(own((await b.nl.listLinks()).map((l) => l.name)).sort()).toEqual(['f0', 'lo', 'p0'])
  })

  it('namespaces compare for identity by device and inode of their ns file', async () => {
    const a = ns()
    const st = statSync(`/run/netns/${a.name}`, { bigint: true })
    const sleeper = spawnIn(a.name, ['sleep', '60'])
    cleanup.push(() => sleeper.kill('SIGKILL'))
    using byPid = openNetnsOfPid(await sleeper.started)
    expect(byPid.id).toEqual({ dev: st.dev, ino: st.ino })
    using home = openCurrentNetns()
    expect(home.is(byPid)).toBe(false)
  })

  it("`ip netns exec` shows the namespace's own /sys and /etc/netns/NAME files", async () => {
    const a = ns()
    const etc = `/etc/netns/${a.name}`
    mkdirSync(etc, { recursive: true })
    cleanup.push(() => rmSync(etc, { recursive: true, force: true }))
    writeFileSync(`${etc}/hosts`, '198.18.0.1 only-in-a\n')
    await a.nl.createVeth({ name: 'sys0', peer: { name: 'sys1' } })
    const devices = ipJson<{ ifname: string }[]>('-n', a.name, 'link')
      .map((l) => l.ifname)
      .sort()
    expect(devices).toContain('sys0')
    for (const run of [
      (argv: string[]) => ip('netns', 'exec', a.name, ...argv), // iproute2 itself
      async (argv: string[]) => (await exec(a.name, argv)).stdout, // nslab's exec
    ]) {
      // Its devices, as `ip link` lists them there (bonding_masters is a file the bonding module adds).
      const sys = (await run(['ls', '/sys/class/net']))
        .split('\n')
        .filter((f) => f && f !== 'bonding_masters')
      expect(sys.sort()).toEqual(devices)
      expect(await run(['cat', '/etc/hosts'])).toBe('198.18.0.1 only-in-a\n')
    }
  })

  it("netlink sockets see only their own namespace's events", async () => {
    const a = ns()
    const b = ns()
    const sub = b.nl.subscribe(['link'])
    cleanup.push(() => sub.close())
    await a.nl.createVeth({ name: 'a0', peer: { name: 'a1' } }) // in a: b must not hear of it
    await b.nl.createVeth({ name: 'b0', peer: { name: 'b1' } })
    const seen: string[] = []
    await sub.waitFor((e) => e.kind === 'link' && (seen.push(e.link.name), e.link.name === 'b1'), {
      timeout: 5000,
    })
    expect(seen.filter((n) => n.startsWith('a'))).toEqual([])
  })
})
