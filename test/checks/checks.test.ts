/**
 * Checks on the real kernel, beyond their results: a check leaves no socket,
 * timer or worker of its own behind, whether it passed, failed or timed out;
 * the reachability matrix retries a silent pair before calling it
 * unreachable; and ping counts every reply the network delivered, even when
 * they all arrive before it reads one.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Lab, type LabNode } from '../../harness/index.js'
import {
  replyBuffer,
  httpCheck,
  type MatrixHost,
  type MatrixOptions,
  matrixDiff,
  pathMtu,
  reachabilityMatrix,
  tcpEcho,
  tcpThroughput,
  udpEcho,
} from '../../harness/checks/index.js'

const labs: Lab[] = []
afterEach(async () => {
  for (const lab of labs.splice(0)) await lab.destroy()
})

async function pair(): Promise<{ lab: Lab; a: LabNode; b: LabNode }> {
  const lab = await Lab.create()
  labs.push(lab)
  const [a, b] = await lab.addHosts('a', 'b')
  await lab.connect(a, b)
  return { lab, a, b }
}

/** Add nftables rules (one `nft` script) in a node's namespace. */
async function nft(node: LabNode, script: string): Promise<void> {
  const r = await node.exec(['nft', script], { timeout: 10_000 })
  if (r.code !== 0) throw new Error(`nft in ${node.name} failed: ${r.stderr}`)
}

/** What keeps this process's event loop alive now (sockets, servers, timers, workers...). */
function resources(): string[] {
  return process.getActiveResourcesInfo()
}

/** What is open now beyond `baseline` (by kind and count): what a check left behind. */
function leftSince(baseline: string[]): string[] {
  const budget = new Map<string, number>()
  for (const r of baseline) budget.set(r, (budget.get(r) ?? 0) + 1)
  const extra: string[] = []
  for (const r of resources()) {
    const n = budget.get(r) ?? 0
    if (n > 0) budget.set(r, n - 1)
    else extra.push(r)
  }
  return extra.sort()
}

/**
 * What a check left open beyond `baseline`, once closing handles have closed
 * (a destroyed socket lets go of its handle a turn or two of the event loop
 * later): polls for up to `ms`, then returns what is still there.
 */
async function leftOpen(baseline: string[], ms = 1000): Promise<string[]> {
  const deadline = performance.now() + ms
  for (;;) {
    await new Promise((r) => setTimeout(r, 10))
    const extra = leftSince(baseline)
    if (extra.length === 0 || performance.now() > deadline) return extra
  }
}

describe('checks leave nothing open', () => {
  it('after passing: tcp, udp, http, throughput, ping, path MTU, matrix', async () => {
    const { lab, a, b } = await pair()
    // The host's pooled worker (host.run, used by http and throughput) lives
    // with the lab by design: start it before taking the baseline.
    await a.run(() => 0)
    const baseline = resources()
    expect((await tcpEcho(a, b)).ok).toBe(true)
    expect((await tcpEcho(a, b, { bytes: 256 * 1024 })).ok).toBe(true)
    expect((await udpEcho(a, b)).ok).toBe(true)
    expect((await httpCheck(a, b)).ok).toBe(true)
    expect((await tcpThroughput(a, b, { bytes: 1_000_000 })).bytes).toBe(1_000_000)
    expect((await a.ping(b, { count: 2 })).received).toBe(2)
    expect(await pathMtu(a, b.address(a))).toBe(1500)
    expect(matrixDiff(await lab.reachability(), () => true)).toEqual([])
    expect(await leftOpen(baseline)).toEqual([])
  })

  it('after a TCP echo that stalls (data never acknowledged, so the server end never hears a FIN)', async () => {
    const { a, b } = await pair()
    await a.run(() => 0)
    // b drops every packet over 1000 bytes: the handshake passes, a 64 KiB echo stalls.
    await nft(
      b,
      'add table inet t; add chain inet t in { type filter hook input priority 0; }; add rule inet t in meta length > 1000 drop',
    )
    const baseline = resources()
    const r = await tcpEcho(a, b, { bytes: 64 * 1024, timeout: 500 })
    expect(r).toMatchObject({ ok: false, error: 'ETIMEDOUT' })
    expect(await leftOpen(baseline)).toEqual([])
  })

  it('after a throughput run that stalls, and one whose connection is refused', async () => {
    const { a, b } = await pair()
    await a.run(() => 0)
    await nft(
      b,
      'add table inet t; add chain inet t in { type filter hook input priority 0; }; add rule inet t in meta length > 1000 drop',
    )
    const baseline = resources()
    await expect(tcpThroughput(a, b, { bytes: 1_000_000, timeout: 500 })).rejects.toThrow(
      /not all 1000000 bytes arrived within 500 ms/,
    )
    expect(await leftOpen(baseline)).toEqual([])
    // Now every TCP segment to b is answered with a reset: the sender fails at once.
    await nft(b, 'flush chain inet t in; add rule inet t in meta l4proto tcp reject with tcp reset')
    await expect(tcpThroughput(a, b, { bytes: 1_000_000, timeout: 20_000 })).rejects.toThrow(/ECONNREFUSED/)
    expect(await leftOpen(baseline)).toEqual([])
  })

  it('after tcp, udp and http checks that time out across a partition', async () => {
    const { lab, a, b } = await pair()
    await a.run(() => 0)
    await lab.partition([a], [b])
    const baseline = resources()
    expect((await tcpEcho(a, b, { timeout: 300 })).ok).toBe(false)
    expect((await udpEcho(a, b, { timeout: 300 })).ok).toBe(false)
    expect((await httpCheck(a, b, { timeout: 300 })).ok).toBe(false)
    expect(await leftOpen(baseline)).toEqual([])
  })
})

describe('the reachability matrix retries silent pairs', () => {
  it('recovers a pair whose first echo request was lost, retrying only that pair', async () => {
    const { lab, a, b } = await pair()
    // b drops exactly one packet: the first echo request from a (numgen inc
    // counts the requests reaching the rule; only number 0 is dropped).
    await nft(
      b,
      `add table inet lossy; add chain inet lossy in { type filter hook input priority 0; }; add rule inet lossy in ip saddr ${a.address(b)} icmp type echo-request numgen inc mod 1000000 0 counter drop`,
    )
    const m = await lab.reachability()
    expect(matrixDiff(m, () => true)).toEqual([])
    expect(m.pairs).toEqual([
      { from: 'a', to: 'b', address: b.address(a), received: 1, sent: 2, attempts: 2, errors: [] },
      { from: 'b', to: 'a', address: a.address(b), received: 1, sent: 1, attempts: 1, errors: [] },
    ])
    // The kernel did drop one request: the retry, not luck, made the pair reachable.
    const rules = await b.exec(['nft', 'list', 'table', 'inet', 'lossy'])
    expect(rules.stdout).toMatch(/counter packets 1 /)
  })

  it.each(['a socket per source (pingEach)', 'a socket per pair'])(
    'still reports a pair that stays silent, and does not retry one the kernel refused: %s',
    async (mode) => {
      const lab = await Lab.create()
      labs.push(lab)
      const [a, b, c, d] = await lab.addHosts('a', 'b', 'c', 'd')
      const r = await lab.addRouter('r')
      for (const h of [a, b, c, d]) await lab.connect(h, r)
      // c's echo requests vanish at b (silent); d and a are partitioned (their
      // own output rules refuse the send: EPERM, an answer, not silence).
      await nft(
        b,
        `add table inet mute; add chain inet mute in { type filter hook input priority 0; }; add rule inet mute in ip saddr ${c.address(r)} icmp type echo-request drop`,
      )
      await lab.partition([a], [d])
      const matrix = (nodes: LabNode[], options: MatrixOptions) =>
        mode === 'a socket per pair'
          ? reachabilityMatrix(withoutPingEach(nodes), options)
          : reachabilityMatrix(nodes, options)
      const m = await matrix([a, b, c, d], { timeout: 200 })
      const cut = (from: string, to: string): boolean =>
        !(from === 'c' && to === 'b') && !(from === 'a' && to === 'd') && !(from === 'd' && to === 'a')
      expect(matrixDiff(m, cut)).toEqual([])
      const get = (from: string, to: string): (typeof m.pairs)[number] | undefined =>
        m.pairs.find((p) => p.from === from && p.to === to)
      expect(get('c', 'b')).toMatchObject({ received: 0, sent: 2, attempts: 2, errors: [] })
      expect(get('a', 'd')).toMatchObject({ received: 0, sent: 0, attempts: 1, errors: ['EPERM'] })
      // Every other pair answered at once: probed once.
      expect(m.pairs.filter((p) => p.attempts > 1).map((p) => `${p.from}->${p.to}`)).toEqual(['c->b'])
      // The diff says what was tried.
      expect(matrixDiff(m, () => true)).toContain(
        `c -> b (${b.address(c)}): expected reachable, got unreachable (0/2 replies in 2 rounds)`,
      )
      // retries: 0 turns the second round off.
      const once = await matrix([c, b], { timeout: 200, retries: 0 })
      expect(once.pairs.find((p) => p.from === 'c')).toMatchObject({ attempts: 1, sent: 1 })
    },
  )
})

/** The same nodes as matrix hosts without pingEach: the matrix falls back to a socket per pair. */
function withoutPingEach(nodes: readonly LabNode[]): PlainHost[] {
  const plain = nodes.map((node): PlainHost => ({
    name: node.name,
    node,
    address: (peer, family) => node.address(peer?.node, family),
    ping: (target, options) => node.ping(target.node, options),
  }))
  return plain
}

interface PlainHost extends MatrixHost<PlainHost> {
  node: LabNode
}

describe('pingEach: one socket, several targets', () => {
  it('answers per target, in their order, with the errors of each (a send the kernel refused)', async () => {
    const lab = await Lab.create()
    labs.push(lab)
    const [a, b, c] = await lab.addHosts('a', 'b', 'c')
    const r = await lab.addRouter('r')
    for (const h of [a, b, c]) await lab.connect(h, r)
    await lab.partition([a], [c]) // a's own output rules refuse what goes to c: EPERM
    const [tob, toc, far] = await a.pingEach([b, c, '198.51.100.7'], { count: 2, timeout: 300 })
    expect(tob).toMatchObject({ to: b.address(a), sent: 2, received: 2, loss: 0, errors: [] })
    expect(tob!.from).toBe(`a (${a.address(b)})`)
    expect(toc).toMatchObject({ to: c.address(a), sent: 0, received: 0, errors: ['EPERM'] })
    expect(far).toMatchObject({ to: '198.51.100.7', sent: 0, received: 0 }) // no route in the lab
    expect(far!.errors).toEqual(['ENETUNREACH'])
    await expect(a.pingEach(['198.18.0.1', 'fd00::1'])).rejects.toThrow('one ping socket speaks one family')
    await expect(a.pingEach([b, c], { count: 40_000 })).rejects.toThrow(
      '40000 requests to each of 2 addresses exceed the 65535 sequence numbers of one socket',
    )
  })
})

describe('ping never loses replies of its own', () => {
  it('a burst of 1000 echo requests sent before any reply is read: all 1000 replies counted', async () => {
    // Sent in one synchronous loop, so every reply waits in the socket's receive buffer; the
    // default buffer held 256 of them here (138 on Debian's 7.3 kernel, whose skbs cost more).
    const { a, b } = await pair()
    const r = await a.ping(b, { count: 1000, timeout: 3000 })
    expect(r.received).toBe(1000)
    expect(replyBuffer(1000, 56)).toBeGreaterThan(1000 * 1536)
  })
})
