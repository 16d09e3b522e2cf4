// Capture on a real kernel: two namespaces joined by a veth pair, traffic
// across, AF_PACKET sockets born in each namespace, a pcapng file written,
// and tshark as the judge of what the file says.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { Capture, CaptureDeviceError, PacketSocket, SECRETS_TYPE } from '../../harness/capture/index.js'
import { ping } from '../../harness/checks/ping.js'
import { Netlink, setSysctl } from '../../harness/netlink/index.js'
import { type Netns, addNetns, openNetns, socketIn, withNetns } from '../../harness/netns/index.js'
import {
  AF_INET,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  bind,
  close,
  sendto,
  sockaddrIp,
} from '../../harness/sys/index.js'
import { ip, netnsNames } from '../support/names.js'
import { capinfos, tsharkFields, tsharkNamed } from './tshark.js'

const name = netnsNames('cap')
const dir = mkdtempSync(join(tmpdir(), 'nslab-capture-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const open: { close(): void }[] = []
afterEach(() => {
  for (const o of open.splice(0).reverse()) o.close()
})

interface Pair {
  a: string
  b: string
  ha: Netns
  hb: Netns
}

/** a (198.18.0.1/30 on a-eth0) ⟷ b (198.18.0.2/30 on b-eth0), lo up; IPv6 off, so the wire carries only what the test sends (and ARP). */
async function pair(): Promise<Pair> {
  const a = name()
  const b = name()
  addNetns(a)
  addNetns(b)
  const ha = openNetns(a)
  const hb = openNetns(b)
  const na = Netlink.open(ha)
  const nb = Netlink.open(hb)
  open.push(ha, hb, na, nb)
  for (const h of [ha, hb]) {
    setSysctl(h, 'net.ipv6.conf.all.disable_ipv6', 1)
    setSysctl(h, 'net.ipv6.conf.default.disable_ipv6', 1)
  }
  setSysctl(ha, 'net.ipv4.ping_group_range', '0 2147483647')
  await na.createVeth({ name: 'a-eth0', peer: { name: 'b-eth0', netns: { fd: hb.fd } } })
  const la = await na.getLink('a-eth0')
  const lb = await nb.getLink('b-eth0')
  await Promise.all([na.addAddress(la.index, '198.18.0.1/30'), nb.addAddress(lb.index, '198.18.0.2/30')])
  await Promise.all([
    na.setLink(la.index, { up: true }),
    nb.setLink(lb.index, { up: true }),
    na.setLink('lo', { up: true }),
    nb.setLink('lo', { up: true }),
  ])
  // Until the kernel's link watch has seen the carrier, the device's qdisc drops what is sent (noop):
  // a ping at once, on a busy machine, lost both requests.
  await Promise.all([operUp(na, 'a-eth0'), operUp(nb, 'b-eth0')])
  return { a, b, ha, hb }
}

async function operUp(nl: Netlink, device: string): Promise<void> {
  for (let i = 0; (await nl.getLink(device)).operstate !== 'UP'; i++) {
    if (i === 400) throw new Error(`${device} did not come up within 2 s`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function fds(): number {
  return readdirSync('/proc/self/fd').length
}

function mappings(): number {
  return readdirSync('/proc/self/map_files').length
}

describe('capture on both ends of a veth pair', () => {
  it('a ping: requests out of a and into b, replies back, kernel timestamps in order, names resolved', async () => {
    const p = await pair()
    const fdsBefore = fds()
    const mapsBefore = mappings()
    const capture = Capture.start([
      { netns: p.ha, label: 'a' },
      { netns: p.b, label: 'b' },
    ])
    expect(fds()).toBe(fdsBefore + 2)
    const t0 = BigInt(Date.now()) * 1_000_000n
    const r = await ping(p.ha, '198.18.0.2', { count: 3, interval: 10 })
    expect(r.received).toBe(3)
    const stats = await capture.stop()
    const t1 = BigInt(Date.now() + 1) * 1_000_000n
    // Closed means closed: no fd, no mapping left behind. (koffi's uv_poll_t is not listed by
    // process.getActiveResourcesInfo(), measured, so that list proves nothing here; fds and mappings do.)
    expect(fds()).toBe(fdsBefore)
    expect(mappings()).toBe(mapsBefore)
    expect(stats.kernelDrops).toBe(0)
    expect(stats.targets.map((t) => [t.label, t.device, t.kernelPackets - t.read])).toEqual([
      ['a', '*', 0],
      ['b', '*', 0],
    ])

    const file = join(dir, 'ping.pcapng')
    const w = await capture.writePcapng(file, {
      lab: 'L1',
      comment: 'test "a ping"',
      names: new Map([
        ['198.18.0.1', 'a'],
        ['198.18.0.2', 'b'],
      ]),
      descriptions: (i) => `${i.label} end of a ⟷ b (${i.device}, namespace ${i.netns})`,
      secrets: [
        { type: SECRETS_TYPE.TLS_KEY_LOG, data: `CLIENT_RANDOM ${'ab'.repeat(32)} ${'cd'.repeat(48)}\n` },
      ],
    })
    expect(w.interfaces).toBe(2)
    const info = capinfos(file)
    expect(info).toMatch(/^Capture application: nslab \d+\.\d+\.\d+$/m)
    expect(info).toContain('Capture comment:     lab L1; test "a ping"')
    expect(info).toContain('Number of decryption secrets in file: 1')
    expect(info).toContain('Number of resolved IPv4 addresses in file: 2')
    expect(info.match(/Number of stat entries = 1/g)?.length).toBe(2)
    const rows = tsharkFields(
      file,
      [
        'frame.interface_name',
        'icmp.type',
        'frame.p2p_dir',
        'frame.packet_flags_direction',
        'frame.time_epoch',
        'frame.interface_description',
      ],
      'icmp',
    )
    const count = (iface: string, type: string, dir: string): number =>
      rows.filter((row) => row[0] === iface && row[1] === type && row[3] === dir).length
    // 8 = echo request, 0 = echo reply; direction 2 = outbound, 1 = inbound.
    expect(count('a/a-eth0', '8', '0x00000002')).toBe(3)
    expect(count('b/b-eth0', '8', '0x00000001')).toBe(3)
    expect(count('b/b-eth0', '0', '0x00000002')).toBe(3)
    expect(count('a/a-eth0', '0', '0x00000001')).toBe(3)
    expect(rows.length).toBe(12)
    expect(rows[0]![5]).toBe(`a end of a ⟷ b (a-eth0, namespace ${p.a})`)
    // Kernel timestamps, nanoseconds, in order, inside the test's own window.
    const times = rows.map((row) => BigInt(row[4]!.replace('.', '')))
    expect([...times].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(times)
    expect(times[0]! >= t0 && times.at(-1)! <= t1).toBe(true)
    // Each request is seen leaving a before it reaches b.
    const reqA = rows.findIndex((row) => row[0] === 'a/a-eth0' && row[1] === '8')
    const reqB = rows.findIndex((row) => row[0] === 'b/b-eth0' && row[1] === '8')
    expect(reqA).toBeLessThan(reqB)
    // Names from our name resolution block.
    const named = tsharkNamed(
      file,
      ['frame.interface_name', 'ip.src_host', 'ip.dst_host', 'icmp.type'],
      'icmp',
    )
    expect(named.filter((n) => n[3] === '8').every((n) => n[1] === 'a' && n[2] === 'b')).toBe(true)
    expect(named.filter((n) => n[3] === '0').every((n) => n[1] === 'b' && n[2] === 'a')).toBe(true)
  })

  it('one device only, and an unknown device named in one sentence with what the namespace has', async () => {
    const p = await pair()
    expect(() => Capture.start([{ netns: p.a, label: 'a', device: 'eth9' }])).toThrow(CaptureDeviceError)
    // What the namespace has, as ip lists it (a kernel with ip_gre loaded adds gre0, gretap0, erspan0 to every namespace).
    const has = (JSON.parse(ip('-n', p.a, '-j', 'link')) as { ifname: string }[]).map((l) => l.ifname)
    expect(has).toEqual(expect.arrayContaining(['lo', 'a-eth0']))
    expect(() => Capture.start([{ netns: p.a, label: 'a', device: 'eth9' }])).toThrow(
      `cannot capture on device "eth9": namespace ${p.a} has no such device (it has: ${has.join(', ')})`,
    )
    // A failed start leaves nothing open.
    const before = fds()
    expect(() =>
      Capture.start([
        { netns: p.a, label: 'a' },
        { netns: p.b, label: 'b', device: 99 },
      ]),
    ).toThrow(`cannot capture on device index 99: namespace ${p.b} has no such device (it has: lo, b-eth0)`)
    expect(fds()).toBe(before)

    const capture = Capture.start([{ netns: p.a, label: 'a', device: 'lo' }])
    await ping(p.ha, '198.18.0.2', { count: 1 })
    await ping(p.ha, '198.18.0.1', { count: 2 }) // its own address: over lo
    await capture.stop()
    // Only lo (index 1); the kernel shows each frame there twice, leaving (4) and arriving (0), as tcpdump does.
    const frames = capture.packets().map((x) => [x.ifindex, x.type, x.data[14 + 20]])
    const once = [
      [1, 4, 8],
      [1, 0, 8],
      [1, 4, 0],
      [1, 0, 0],
    ]
    expect(frames).toEqual([...once, ...once])
  })
})

/** Both ends captured in 'recv' mode, read only when flushed: what the kernel queues stays there. */
function unreadCapture(p: Pair): Capture {
  return Capture.start(
    [
      { netns: p.ha, label: 'a' },
      { netns: p.hb, label: 'b' },
    ],
    { mode: 'recv', readDelayMs: 60_000 },
  )
}

describe("'recv' mode: light traffic read later in one batch", () => {
  it('frames wait in the kernel until the delay or a flush; clear() drops those still queued too', async () => {
    const p = await pair()
    const capture = unreadCapture(p)
    try {
      expect((await ping(p.ha, '198.18.0.2', { count: 2, interval: 10 })).received).toBe(2)
      // Not read yet: the frames are queued in the kernel (its counter says they arrived).
      let stats = capture.stats()
      expect(stats.read).toBe(0)
      expect(stats.targets.every((t) => t.kernelPackets > 0)).toBe(true)
      const cleared = Date.now()
      capture.clear()
      await capture.flush()
      stats = capture.stats()
      expect(stats.read).toBeGreaterThanOrEqual(8) // 2 requests and 2 replies, seen on both ends
      expect(capture.packets()).toEqual([])
      expect((await ping(p.ha, '198.18.0.2', { count: 1 })).received).toBe(1)
      await capture.flush()
      const after = capture.packets()
      const icmp = after.filter((x) => x.data.length >= 34 && x.data[23] === 1)
      expect(icmp).toHaveLength(4) // the request and the reply, on a and on b
      for (const x of after) expect(x.sec * 1000 + x.nsec / 1e6).toBeGreaterThanOrEqual(cleared - 1)
    } finally {
      await capture.stop()
    }
  })

  it('clear() reads nothing: what it let go is never read when the capture closes next (a passing test)', async () => {
    const p = await pair()
    const capture = unreadCapture(p)
    expect((await ping(p.ha, '198.18.0.2', { count: 1 })).received).toBe(1)
    capture.clear()
    expect(capture.stats().read).toBe(0)
    capture.close()
    const stats = await capture.stop() // closed already: no last read, only the sockets' closing awaited
    expect(stats.read).toBe(0)
    expect(stats.targets.every((t) => t.kernelPackets > 0)).toBe(true) // they were there to read
  })

  it('the ring: clear() drops the frames of blocks the kernel hands over later, keeps what came after', async () => {
    const p = await pair()
    // The block being filled is handed over after 500 ms: the pings' frames are still the kernel's at clear().
    const capture = Capture.start([{ netns: p.ha, label: 'a' }], { mode: 'ring', retireMs: 500 })
    try {
      expect((await ping(p.ha, '198.18.0.2', { count: 2, interval: 10 })).received).toBe(2)
      capture.clear()
      expect((await ping(p.ha, '198.18.0.2', { count: 1 })).received).toBe(1)
      await capture.flush()
      const icmp = capture.packets().filter((x) => x.data.length >= 34 && x.data[23] === 1)
      expect(icmp).toHaveLength(2) // the last request and its reply, none of the first two pings
      expect(capture.stats().read).toBeGreaterThanOrEqual(6)
    } finally {
      await capture.stop()
    }
  })

  it('keep: false hands every packet to onPacket and holds none (a live stream)', async () => {
    const p = await pair()
    let seen = 0
    const capture = Capture.start([{ netns: p.ha, label: 'a' }], {
      mode: 'recv',
      keep: false,
      onPacket: () => seen++,
    })
    try {
      expect((await ping(p.ha, '198.18.0.2', { count: 2, interval: 10 })).received).toBe(2)
      await capture.flush()
      expect(seen).toBeGreaterThanOrEqual(4)
      expect(capture.packets()).toEqual([])
    } finally {
      await capture.stop()
    }
  })

  it('a read that finds the queue busy reads at once from then on: a flood is read as it comes', async () => {
    const p = await pair()
    const capture = Capture.start(
      [
        { netns: p.ha, label: 'a', device: 'a-eth0' },
        { netns: p.hb, label: 'b', device: 'b-eth0' },
      ],
      { mode: 'recv', readDelayMs: 5, memory: 64 << 20 },
    )
    const sent = await flood(p, 20_000, 100, 250)
    const stats = await capture.stop()
    expect(sent).toBe(20_000)
    expect(stats.kernelDrops).toBe(0)
    for (const t of stats.targets) expect(t.read).toBe(t.kernelPackets)
  })
})

describe('a socket whose reader misbehaves', () => {
  it('a frame callback that throws loses the rest of that block, never reads a frame twice, and reports', async () => {
    const p = await pair()
    const seen: number[] = []
    const errors: string[] = []
    let thrown = false
    const sock = PacketSocket.open({
      netns: p.a,
      device: 'a-eth0',
      onFrame: (f) => {
        if (f.data.length !== 142) return
        const n = f.data.readUInt32BE(42)
        seen.push(n)
        if (n === 10 && !thrown) {
          thrown = true
          throw new Error('listener bug')
        }
      },
      onError: (e) => errors.push(e.message),
    })
    try {
      await flood(p, 100, 100, 100)
      await sock.flush()
      expect(errors).toEqual(['listener bug'])
      expect(new Set(seen).size).toBe(seen.length)
      expect(seen[0]).toBe(0)
    } finally {
      sock.close()
    }
  })

  it('closing the socket from inside its own frame callback unmaps only after the read is done', async () => {
    const p = await pair()
    let frames = 0
    const sock: PacketSocket = PacketSocket.open({
      netns: p.a,
      device: 'a-eth0',
      onFrame: () => {
        frames++
        sock.close()
      },
    })
    await flood(p, 50, 100, 50)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(sock.isClosed).toBe(true)
    expect(frames).toBe(1)
    expect(sock.read()).toBe(0)
  })
})

/** Send `count` UDP datagrams of `size` bytes from a to b, `burst` at a time, the event loop turning between bursts. */
async function flood(p: Pair, count: number, size: number, burst: number): Promise<number> {
  const rx = socketIn(p.hb, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK)
  bind(rx, sockaddrIp('198.18.0.2', 9000))
  const tx = socketIn(p.ha, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK)
  const to = sockaddrIp('198.18.0.2', 9000)
  const payload = Buffer.alloc(size, 0x5a)
  let sent = 0
  try {
    while (sent < count) {
      for (let i = 0; i < burst && sent < count; i++) {
        payload.writeUInt32BE(sent, 0)
        if (sendto(tx, payload, 0, to) < 0) break
        sent++
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
  } finally {
    close(tx)
    close(rx)
  }
  return sent
}

describe('keeping up, and saying when it does not', () => {
  it('a flood of UDP datagrams in bursts: every frame read, the kernel drops none', async () => {
    const p = await pair()
    const capture = Capture.start(
      [
        { netns: p.a, label: 'a', device: 'a-eth0' },
        { netns: p.b, label: 'b', device: 'b-eth0' },
      ],
      { memory: 64 << 20 },
    )
    const start = performance.now()
    const sent = await flood(p, 20_000, 100, 250)
    const stats = await capture.stop()
    const ms = performance.now() - start
    const udp = (label: string): number =>
      capture
        .packets()
        .filter((x) => capture.targets[x.target]!.label === label && x.data.length === 14 + 20 + 8 + 100)
        .length
    console.log(
      `flood: ${sent} datagrams in ${ms.toFixed(0)} ms (${Math.round(sent / (ms / 1000))}/s); ` +
        `read ${stats.read}, kernel drops ${stats.kernelDrops}, memory drops ${stats.memory.droppedPackets}`,
    )
    expect(sent).toBe(20_000)
    expect(stats.kernelDrops).toBe(0)
    expect(udp('a')).toBe(sent)
    expect(udp('b')).toBe(sent)
    for (const t of stats.targets) expect(t.read).toBe(t.kernelPackets)
  })

  it('a ring too small for a burst the event loop never interrupts: the drops are counted, not hidden', async () => {
    const p = await pair()
    const capture = Capture.start([{ netns: p.a, label: 'a', device: 'a-eth0' }], {
      blockSize: 4096,
      blocks: 2,
    })
    const sent = await flood(p, 2000, 100, 2000)
    const stats = await capture.stop()
    const t = stats.targets[0]!
    console.log(
      `small ring: ${sent} sent, kernel saw ${t.kernelPackets}, read ${t.read}, dropped ${t.kernelDrops}`,
    )
    expect(t.kernelDrops).toBeGreaterThan(0)
    expect(t.read + t.kernelDrops).toBe(t.kernelPackets)
    expect(t.kernelPackets).toBeGreaterThanOrEqual(sent)
  })

  it('bounded memory: the newest packets stay, the oldest are dropped and counted', async () => {
    const p = await pair()
    const capture = Capture.start([{ netns: p.a, label: 'a', device: 'a-eth0' }], { memory: 64 << 10 })
    await flood(p, 3000, 100, 250)
    const stats = await capture.stop()
    expect(stats.memory.bytes).toBeLessThanOrEqual(64 << 10)
    expect(stats.memory.droppedPackets + stats.memory.packets).toBe(stats.read)
    const seq = capture
      .packets()
      .filter((x) => x.data.length === 142)
      .map((x) => x.data.readUInt32BE(42))
    expect(seq.at(-1)).toBe(2999)
    expect(seq[0]).toBeGreaterThan(0)
  })
})

describe('a device that goes down', () => {
  for (const mode of ['recv', 'ring'] as const) {
    it(`${mode}: a capture bound to it reads on through the kernel's one-time ENETDOWN, and sees the traffic once it is up`, async () => {
      const p = await pair()
      const errors: Error[] = []
      const capture = Capture.start([{ netns: p.a, label: 'a', device: 'a-eth0' }], {
        mode,
        onError: (err) => errors.push(err),
      })
      open.push(capture)
      using na = Netlink.open(p.ha)
      await na.setLink('a-eth0', { up: false })
      // The socket is in error now (POLLERR): read at once (recv), or left to the event loop (ring).
      if (mode === 'recv') await capture.flush()
      else await new Promise((resolve) => setTimeout(resolve, 20))
      await na.setLink('a-eth0', { up: true })
      await operUp(na, 'a-eth0')
      const r = await ping(p.ha, '198.18.0.2', { count: 2, interval: 10 })
      expect(r.received).toBe(2)
      // Read by the event loop's watch (no flush): it went on after the error.
      const echoes = (): number =>
        capture.packets().filter((x) => x.data.length >= 34 && x.data[23] === 1).length
      await vi.waitFor(() => expect(echoes()).toBeGreaterThanOrEqual(4), { timeout: 2000 })
      expect(errors).toEqual([])
    })
  }
})

describe('closing', () => {
  it('a capture on many targets closes every socket, more than the FFI can queue at once', async () => {
    // Each packet socket's close waits out an RCU grace period, so closes run
    // off the event loop; the FFI queues at most 256 such calls, and a lab of
    // a few hundred nodes closes that many sockets at once.
    const ns = name()
    addNetns(ns)
    const h = openNetns(ns)
    const nl = Netlink.open(h)
    open.push(h, nl)
    await nl.setLink('lo', { up: true })
    const sockets = 300
    const capture = Capture.start(
      Array.from({ length: sockets }, (_, i) => ({ netns: h, label: `t${i}`, device: 'lo' })),
      { mode: 'recv' },
    )
    const packetSockets = (): number =>
      withNetns(h, () => readFileSync('/proc/thread-self/net/packet', 'utf8'))
        .trim()
        .split('\n')
        .slice(1).length
    expect(packetSockets()).toBe(sockets)
    const before = fds()
    const stats = await capture.stop() // resolves once every fd is closed
    expect(stats.targets).toHaveLength(sockets)
    expect(packetSockets()).toBe(0)
    expect(fds()).toBe(before - sockets)
  }, 60_000)
})
