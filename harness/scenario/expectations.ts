/**
 * Expectations: each checks one thing against the running lab and returns
 * data, what was expected and what happened, naming hosts and addresses.
 */
import type net from 'node:net'
import {
  httpCheck,
  pathMtu,
  socketCrossing,
  tcpEcho,
  tcpThroughput,
  udpEcho,
  type EchoResult,
  type PingResult,
} from '../checks/index.js'
import { pidsInNetns } from '../lab/index.js'
import { netnsExists } from '../netns/index.js'
import { FALLBACK_TUNNEL_DEVICE } from '../netlink/index.js'
import type { RecordedEvent, RunContext } from './context.js'
import type { EventSpec, Expectation, MatchSpec } from './schema.js'
import { OpenVpnTunnel } from '../vpn/index.js'
import { checkPackets } from './packets.js'
import { bitsPerSecond, bytes, durationMs, formatMs, formatRate, percent } from './units.js'

export interface Outcome {
  ok: boolean
  /** What was checked, in a few words: `a reaches b (icmp)`. */
  label: string
  /** What happened: numbers, addresses, the error. */
  detail: string
}

type Spec<K extends keyof Expectation> = NonNullable<Expectation[K]>

function describeMatch(m: MatchSpec): string {
  return typeof m === 'string' ? `contains ${JSON.stringify(m)}` : JSON.stringify(m)
}

function matches(text: string, m: MatchSpec): boolean {
  if (typeof m === 'string') return text.includes(m)
  if (m.contains !== undefined && !text.includes(m.contains)) return false
  if (m.notContains !== undefined && text.includes(m.notContains)) return false
  if (m.matches !== undefined && !new RegExp(m.matches, 'm').test(text)) return false
  if (m.equals !== undefined && text.trimEnd() !== m.equals.trimEnd()) return false
  return true
}

/**
 * Why `from` cannot even try to reach `to` on this family: one of them has
 * no address of it (never connected). Such a pair is unreachable, which
 * `notReach` and `ok: false` expect; it is not an error of the scenario.
 */
function unaddressed(ctx: RunContext, from: string, to: string, family: 4 | 6): string | undefined {
  for (const name of [from, to]) {
    const n = ctx.node(name)
    if (!n.addresses().some((a) => Boolean(family === 4 ? a.v4 : a.v6)))
      return `${n} has no IPv${family} address yet: connect it first`
  }
  return undefined
}

async function reach(ctx: RunContext, e: Spec<'reach'>): Promise<{ ok: boolean; detail: string }> {
  const from = ctx.node(e.from)
  const to = ctx.node(e.to)
  const family = e.family ?? 4
  const timeout = durationMs(e.timeout ?? '1s')
  const protocol = e.protocol ?? 'icmp'
  const missing = unaddressed(ctx, e.from, e.to, family)
  if (missing) return { ok: false, detail: missing }
  if (protocol === 'icmp') {
    const r = await from.ping(to, { count: 3, interval: 50, timeout, family })
    return {
      ok: r.received > 0,
      detail: `${r.received}/${r.sent} echo replies from ${r.to}${r.errors.length ? ` (${r.errors.join(', ')})` : ''}`,
    }
  }
  const options = { port: e.port, family, timeout }
  const r: EchoResult =
    protocol === 'tcp'
      ? await tcpEcho(from, to, options)
      : protocol === 'udp'
        ? await udpEcho(from, to, options)
        : await httpCheck(from, to, options)
  return { ok: r.ok, detail: echoDetail(r) }
}

function echoDetail(r: EchoResult): string {
  const where = `${r.protocol} ${r.from} -> ${r.to} ${r.address}:${r.port}`
  return r.ok ? `${where} answered in ${formatMs(r.rtt!)}` : `${where} failed: ${r.error}`
}

function eventMatches(ctx: RunContext, r: RecordedEvent, e: EventSpec): boolean {
  if (r.node !== e.host) return false
  const ev = r.event
  const kind = e.kind === 'address' ? 'addr' : e.kind
  if (ev.kind !== kind) return false
  if (e.action && ev.action !== e.action) return false
  const device =
    e.device ??
    (e.link ? ctx.node(e.host).ports.find((p) => p.peer === ctx.node(e.link!))?.device : undefined)
  if (ev.kind === 'link') {
    if (device !== undefined && ev.link.name !== device) return false
    if (e.state && (ev.link.operstate === 'UP') !== (e.state === 'up')) return false
  }
  if (ev.kind === 'addr' && e.address !== undefined && ev.addr.address !== e.address.split('/')[0])
    return false
  if (ev.kind === 'route' && e.dst !== undefined && ev.route.dst !== e.dst) return false
  if (ev.kind === 'neigh' && e.address !== undefined && ev.neigh.address !== e.address) return false
  return true
}

async function checkReach(ctx: RunContext, spec: Spec<'reach'>): Promise<Outcome> {
  const r = await reach(ctx, spec)
  return { label: `${spec.from} reaches ${spec.to} (${spec.protocol ?? 'icmp'})`, ...r }
}

async function checkNotReach(ctx: RunContext, spec: Spec<'notReach'>): Promise<Outcome> {
  const r = await reach(ctx, spec)
  return {
    ok: !r.ok,
    label: `${spec.from} does not reach ${spec.to} (${spec.protocol ?? 'icmp'})`,
    detail: r.detail,
  }
}

async function checkPing(ctx: RunContext, p: Spec<'ping'>): Promise<Outcome> {
  const count = p.count ?? 10
  const missing = unaddressed(ctx, p.from, p.to, p.family ?? 4)
  const r: PingResult = missing
    ? { from: p.from, to: p.to, sent: 0, received: 0, loss: 1, rtt: null, errors: [missing] }
    : await ctx.node(p.from).ping(ctx.node(p.to), {
        count,
        interval: p.interval === undefined ? 10 : durationMs(p.interval),
        size: p.size,
        dontFragment: p.dontFragment,
        family: p.family ?? 4,
        timeout: p.timeout === undefined ? undefined : durationMs(p.timeout),
      })
  const loss = r.loss * 100
  const problems: string[] = []
  if (p.loss?.max !== undefined && loss > percent(p.loss.max))
    problems.push(`loss above ${percent(p.loss.max)}%`)
  if (p.loss?.min !== undefined && loss < percent(p.loss.min))
    problems.push(`loss below ${percent(p.loss.min)}%`)
  if (p.rtt?.max !== undefined && (!r.rtt || r.rtt.avg > durationMs(p.rtt.max)))
    problems.push(`average rtt above ${durationMs(p.rtt.max)} ms`)
  if (p.rtt?.min !== undefined && (!r.rtt || r.rtt.avg < durationMs(p.rtt.min)))
    problems.push(`average rtt below ${durationMs(p.rtt.min)} ms`)
  if (!p.loss && !p.rtt && r.received === 0) problems.push('no reply')
  const rtt = r.rtt
    ? `rtt min/avg/max ${r.rtt.min.toFixed(2)}/${r.rtt.avg.toFixed(2)}/${r.rtt.max.toFixed(2)} ms`
    : 'no rtt'
  return {
    ok: problems.length === 0,
    label: `ping ${p.from} -> ${p.to} x${count}`,
    detail: `${r.received}/${count} replies from ${r.to} (${loss.toFixed(1)}% loss), ${rtt}${r.errors.length ? `, errors ${r.errors.join(', ')}` : ''}${problems.length ? `: ${problems.join('; ')}` : ''}`,
  }
}

async function checkTcp(ctx: RunContext, t: Spec<'tcp'>): Promise<Outcome> {
  const want = t.ok ?? true
  const size = t.bytes === undefined ? '' : ` ${t.bytes}`
  const label = `tcp${size} ${t.from} -> ${t.to} ${want ? 'works' : 'fails'}`
  const missing = unaddressed(ctx, t.from, t.to, t.family ?? 4)
  if (missing) return { ok: !want, label, detail: `tcp ${t.from} -> ${t.to} cannot be tried: ${missing}` }
  const r = await tcpEcho(ctx.node(t.from), ctx.node(t.to), {
    port: t.port,
    family: t.family ?? 4,
    bytes: t.bytes === undefined ? undefined : bytes(t.bytes),
    timeout: durationMs(t.timeout ?? '3s'),
  })
  let ok = r.ok === want
  let detail = echoDetail(r)
  if (t.peer !== undefined && r.ok) {
    const expected = ctx.node(t.peer).address(ctx.node(t.to), t.family ?? 4)
    if (r.peerAddress !== expected) ok = false
    detail += `; the server saw ${r.peerAddress} (expected ${expected}, ${t.peer}'s address)`
  }
  return { ok, label, detail }
}

async function checkUdp(ctx: RunContext, u: Spec<'udp'>): Promise<Outcome> {
  const want = u.ok ?? true
  const label = `udp ${u.from} -> ${u.to} ${want ? 'works' : 'fails'}`
  const missing = unaddressed(ctx, u.from, u.to, u.family ?? 4)
  if (missing) return { ok: !want, label, detail: `udp ${u.from} -> ${u.to} cannot be tried: ${missing}` }
  const r = await udpEcho(ctx.node(u.from), ctx.node(u.to), {
    port: u.port,
    family: u.family ?? 4,
    timeout: durationMs(u.timeout ?? '2s'),
  })
  return { ok: r.ok === want, label, detail: echoDetail(r) }
}

async function checkExec(ctx: RunContext, x: Spec<'exec'>): Promise<Outcome> {
  const timeout = durationMs(x.timeout ?? '30s')
  const r = await ctx.node(x.host).exec(x.cmd, { timeout, signal: ctx.signal })
  const problems: string[] = []
  const code = x.code ?? 0
  if (r.timedOut)
    problems.push(
      `did not finish within ${timeout} ms: stopped it and every process it started (${r.signal})`,
    )
  else if (r.code !== code) problems.push(`exit code ${r.code ?? r.signal} (expected ${code})`)
  if (x.stdout !== undefined && !matches(r.stdout, x.stdout))
    problems.push(`stdout does not match ${describeMatch(x.stdout)}`)
  if (x.stderr !== undefined && !matches(r.stderr, x.stderr))
    problems.push(`stderr does not match ${describeMatch(x.stderr)}`)
  const out = (s: string): string => JSON.stringify(s.length > 400 ? `${s.slice(0, 400)}...` : s)
  return {
    ok: problems.length === 0,
    label: `${x.host}: ${x.cmd.join(' ')}`,
    detail: problems.length
      ? `${problems.join('; ')}; stdout ${out(r.stdout)}, stderr ${out(r.stderr)}`
      : `exit ${r.code}`,
  }
}

async function checkEvent(ctx: RunContext, ev: Spec<'event'>): Promise<Outcome> {
  // The kernel may still be delivering it to our recorder (a change the
  // lab already waited for on its own socket): wait for it, briefly.
  const deadline = performance.now() + durationMs(ev.timeout ?? '2s')
  let hit = ctx.events.find((r) => eventMatches(ctx, r, ev))
  while (!hit && performance.now() < deadline) {
    await ctx.nextEvent(deadline - performance.now())
    hit = ctx.events.find((r) => eventMatches(ctx, r, ev))
  }
  const seen = ctx.events.filter((r) => r.node === ev.host).length
  return {
    ok: hit !== undefined,
    label: `event in ${ev.host}: ${JSON.stringify({ ...ev, host: undefined, timeout: undefined })}`,
    detail: hit
      ? `seen: ${hit.event.kind} ${hit.event.action}`
      : `not among the ${seen} event(s) ${ev.host} saw`,
  }
}

async function checkSession(ctx: RunContext, spec: Spec<'session'>): Promise<Outcome> {
  const s = ctx.sessions.get(spec.name)!
  const alive = await sessionAlive(s)
  return {
    ok: alive.ok === spec.alive,
    label: `session ${spec.name} ${spec.alive ? 'alive' : 'broken'}`,
    detail: alive.detail,
  }
}

async function checkThroughput(ctx: RunContext, t: Spec<'throughput'>): Promise<Outcome> {
  try {
    const r = await tcpThroughput(ctx.node(t.from), ctx.node(t.to), {
      bytes: t.bytes === undefined ? undefined : bytes(t.bytes),
      timeout: durationMs(t.timeout ?? '60s'),
    })
    const problems: string[] = []
    if (t.min !== undefined && r.bitsPerSecond < bitsPerSecond(t.min))
      problems.push(`below ${formatRate(bitsPerSecond(t.min))}`)
    if (t.max !== undefined && r.bitsPerSecond > bitsPerSecond(t.max))
      problems.push(`above ${formatRate(bitsPerSecond(t.max))}`)
    return {
      ok: problems.length === 0,
      label: `throughput ${t.from} -> ${t.to}`,
      detail: `${formatRate(r.bitsPerSecond)} (${r.bytes} bytes in ${r.seconds.toFixed(2)} s)${problems.length ? `: ${problems.join('; ')}` : ''}`,
    }
  } catch (err) {
    return { ok: false, label: `throughput ${t.from} -> ${t.to}`, detail: (err as Error).message }
  }
}

async function checkPmtu(ctx: RunContext, p: Spec<'pmtu'>): Promise<Outcome> {
  const from = ctx.node(p.from)
  const to = ctx.node(p.to).address(from)
  const mtu = await pathMtu(from, to, { max: Math.max(p.equals ?? 0, p.max ?? 0, 1500) })
  const ok =
    (p.equals === undefined || mtu === p.equals) &&
    (p.min === undefined || mtu >= p.min) &&
    (p.max === undefined || mtu <= p.max)
  return { ok, label: `path MTU ${p.from} -> ${p.to}`, detail: `${mtu} bytes to ${to}` }
}

async function checkDevices(ctx: RunContext, d: Spec<'devices'>): Promise<Outcome> {
  // Fallback tunnel devices (gre0, sit0...) appear in every namespace once
  // their module is loaded: the kernel's, not the scenario's.
  const links = (await ctx.node(d.host).netlink.listLinks()).filter(
    (l) => !FALLBACK_TUNNEL_DEVICE.test(l.name),
  )
  const names = links.map((l) => l.name)
  const problems: string[] = []
  if (d.only && [...d.only].sort().join() !== [...names].sort().join())
    problems.push(`expected exactly ${d.only.join(', ')}`)
  for (const n of d.has ?? []) if (!names.includes(n)) problems.push(`no ${n}`)
  for (const n of d.lacks ?? []) if (names.includes(n)) problems.push(`${n} is there`)
  for (const n of d.up ?? []) if (!links.find((l) => l.name === n)?.up) problems.push(`${n} is not up`)
  for (const n of d.down ?? [])
    if (links.find((l) => l.name === n)?.up !== false) problems.push(`${n} is not down`)
  return {
    ok: problems.length === 0,
    label: `devices of ${d.host}`,
    detail: `${links.map((l) => `${l.name} ${l.up ? 'up' : 'down'}`).join(', ')}${problems.length ? `: ${problems.join('; ')}` : ''}`,
  }
}

async function checkNetns(ctx: RunContext, n: Spec<'netns'>): Promise<Outcome> {
  const node = ctx.node(n.host)
  const exists = netnsExists(node.netns)
  const pids = pidsInNetns(node.netns).filter((p) => p !== process.pid)
  const ok =
    (n.exists === undefined || exists === n.exists) &&
    (n.processes === undefined || pids.length === n.processes)
  return {
    ok,
    label: `namespace ${node.netns}`,
    detail: `${exists ? 'exists' : 'does not exist'}, ${pids.length} process(es) in it${pids.length ? `: ${pids.join(' ')}` : ''}`,
  }
}

async function checkTunnel(ctx: RunContext, x: Spec<'tunnel'>): Promise<Outcome> {
  const { tunnel, up } = ctx.tunnel(x.name)
  const problems: string[] = []
  if (x.up !== undefined && up !== x.up) problems.push(`it is ${up ? 'up' : 'down'}`)
  if (x.implementation !== undefined && !matches(tunnel.implementation, x.implementation))
    problems.push(`implementation ${tunnel.implementation} does not match ${describeMatch(x.implementation)}`)
  let pushed = ''
  if (x.pushedRoutes !== undefined || x.pushedDns !== undefined) {
    if (!(tunnel instanceof OpenVpnTunnel) || !up)
      problems.push('nothing was pushed (not an OpenVPN tunnel that is up)')
    else {
      const p = tunnel.pushed
      const routes = p.routes.map((r) => r.dst)
      pushed = `; pushed routes ${routes.join(', ') || '(none)'}, DNS ${p.dns.join(', ') || '(none)'}`
      if (x.pushedRoutes && [...x.pushedRoutes].sort().join() !== [...routes].sort().join())
        problems.push(`pushed routes are not exactly ${x.pushedRoutes.join(', ')}`)
      if (x.pushedDns && x.pushedDns.join() !== p.dns.join())
        problems.push(`pushed DNS is not exactly ${x.pushedDns.join(', ')}`)
    }
  }
  return {
    ok: problems.length === 0,
    label: `tunnel ${x.name}`,
    detail: `${tunnel.type} ${tunnel.a.name}->${tunnel.b.name} via ${tunnel.implementation}, ${up ? 'up' : 'down'}${pushed}${problems.length ? `: ${problems.join('; ')}` : ''}`,
  }
}

async function checkNm(ctx: RunContext, x: Spec<'nm'>): Promise<Outcome> {
  const nm = ctx.nm.get(x.host)!
  const state = await nm.state(x.vpn)
  const problems: string[] = []
  if (state !== x.state) problems.push(`state ${state}, expected ${x.state}`)
  const ip4 = state === 'activated' ? await nm.vpnIp4(x.vpn) : undefined
  const routes = (ip4?.routes ?? []).map((r) => `${r.dest}/${r.prefix}`).sort()
  if (x.routes && routes.join() !== [...x.routes].sort().join())
    problems.push(`routes ${routes.join(', ') || 'none'}, expected ${x.routes.join(', ')}`)
  const ns = ip4?.nameservers ?? []
  if (x.nameservers && ns.join() !== x.nameservers.join())
    problems.push(`nameservers ${ns.join(', ') || 'none'}, expected ${x.nameservers.join(', ')}`)
  return {
    ok: problems.length === 0,
    label: `NetworkManager in ${x.host}: ${x.vpn} ${x.state}`,
    detail: problems.length
      ? problems.join('; ')
      : `${state}${ip4 ? `, routes ${routes.join(', ') || 'none'}, nameservers ${ns.join(', ') || 'none'}` : ''}`,
  }
}

/**
 * One check per kind of expectation. The type makes every kind the schema
 * knows need a check here; the order is the order they are looked for in.
 */
const CHECKS: { [K in keyof Expectation]-?: (ctx: RunContext, spec: Spec<K>) => Promise<Outcome> } = {
  reach: checkReach,
  notReach: checkNotReach,
  ping: checkPing,
  tcp: checkTcp,
  udp: checkUdp,
  exec: checkExec,
  event: checkEvent,
  session: checkSession,
  throughput: checkThroughput,
  pmtu: checkPmtu,
  devices: checkDevices,
  netns: checkNetns,
  tunnel: checkTunnel,
  socket: expectSocketCrossing,
  packets: checkPackets,
  nm: checkNm,
}

/** Check one expectation; `e` already has its `${...}` references bound. */
export async function checkExpectation(ctx: RunContext, e: Expectation): Promise<Outcome> {
  for (const kind of Object.keys(CHECKS) as (keyof Expectation)[]) {
    const spec = e[kind]
    if (spec !== undefined)
      return (CHECKS[kind] as (ctx: RunContext, spec: unknown) => Promise<Outcome>)(ctx, spec)
  }
  throw new TypeError(`no expectation in ${JSON.stringify(e)}`)
}

async function sessionAlive(s: net.Socket): Promise<{ ok: boolean; detail: string }> {
  if (s.destroyed) return { ok: false, detail: 'the socket was closed' }
  const payload = `nslab session ${Date.now()}\n`
  try {
    const got = await new Promise<string>((resolve, reject) => {
      let d = ''
      const timer = setTimeout(() => cleanup(reject, new Error('no echo within 3 s')), 3000)
      const onData = (x: Buffer): void => {
        d += x.toString()
        if (d.includes(payload)) cleanup(resolve, d)
      }
      const onError = (err: Error): void => cleanup(reject, err)
      function cleanup<T>(fn: (v: T) => void, v: T): void {
        clearTimeout(timer)
        s.off('data', onData)
        s.off('error', onError)
        fn(v)
      }
      s.on('data', onData)
      s.on('error', onError)
      s.write(payload)
    })
    return { ok: got.includes(payload), detail: 'the session echoed a line' }
  } catch (err) {
    return {
      ok: false,
      detail: `the session is broken: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    }
  }
}

/**
 * A TCP socket created in `createdIn`'s namespace, connected from a worker
 * thread living in `usedFrom`'s: the server in `to` must see it come from
 * createdIn's address, because a socket belongs to the namespace it was born in.
 */
async function expectSocketCrossing(ctx: RunContext, s: Spec<'socket'>): Promise<Outcome> {
  const created = ctx.node(s.createdIn)
  const user = ctx.node(s.usedFrom)
  const server = ctx.node(s.to)
  const label = `socket born in ${s.createdIn}, used from a thread in ${s.usedFrom}, reaches ${s.to} as ${s.createdIn}`
  const host = server.address(created)
  try {
    const { seen, answer, port } = await socketCrossing({
      createdIn: created.ns,
      runThere: (fn, ...args) => user.run(fn, ...args),
      server: server.ns,
      serverAddress: host,
      port: s.port,
    })
    const expected = created.address(server)
    return {
      ok: seen === expected && answer === expected,
      label,
      detail: `the server at ${host}:${port} saw ${seen ?? 'nothing'} (${s.createdIn}'s address is ${expected}, ${s.usedFrom}'s is ${user.address(server)})`,
    }
  } catch (err) {
    return {
      ok: false,
      label,
      detail: `connect from ${s.usedFrom}'s thread failed: ${(err as Error).message}`,
    }
  }
}
