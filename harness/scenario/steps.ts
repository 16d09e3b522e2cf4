/**
 * Steps: each changes the running lab (or checks it, for `expect` and
 * `wait`) and returns what it did in a few words. A step that cannot do
 * what it says throws, and the run stops there.
 */
import { startOpenVpnServer } from '../vpn/openvpn-server.js'
import { isIP } from 'node:net'
import { setSysctl } from '../netns/index.js'
import type { RunContext } from './context.js'
import { type Outcome, checkExpectation } from './expectations.js'
import { impairmentOf } from './impairment.js'
import { startProcess } from './process.js'
import type { Step } from './schema.js'
import { durationMs } from './units.js'

export class StepFailed extends Error {
  constructor(
    message: string,
    readonly outcomes: Outcome[] = [],
  ) {
    super(message)
    this.name = 'StepFailed'
  }
}

export interface StepResult {
  label: string
  /** Checks made by `expect` and `wait` steps. */
  outcomes: Outcome[]
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A few words naming a step, for reports. */
export function stepLabel(step: Step): string {
  const [kind, value] = Object.entries(step).find(([, v]) => v !== undefined)!
  const v = value as Record<string, unknown>
  switch (kind) {
    case 'run':
      return `run in ${String(v.host)}: ${(v.cmd as string[]).join(' ')}`
    case 'start':
      return `start ${String(v.name)} in ${String(v.host)}`
    case 'link':
    case 'flap':
    case 'mtu':
    case 'impair':
      return `${kind} ${(v.between as string[]).join('--')}${kind === 'link' ? ` ${String(v.state)}` : ''}${kind === 'mtu' ? ` ${String(v.mtu)}` : ''}`
    case 'partition':
      return `partition ${(value as string[][]).map((g) => g.join(',')).join(' | ')}`
    case 'tunnel':
      return `tunnel ${String(v.name)} ${String(v.state)}`
    case 'heal':
      return 'heal partitions'
    case 'sleep':
      return `sleep ${String(value)}`
    case 'mark':
      return `mark ${String(value)}`
    case 'expect':
      return `check ${(value as unknown[]).length} expectation(s)`
    case 'wait':
      return 'wait until a condition holds'
    default:
      return `${kind} ${Object.values(v)
        .filter((x) => typeof x === 'string')
        .join(' ')}`
  }
}

type StepSpec<K extends keyof Step> = NonNullable<Step[K]>

async function runCommand(ctx: RunContext, r: StepSpec<'run'>): Promise<void> {
  const timeout = durationMs(r.timeout ?? '60s')
  const res = await ctx.node(r.host).exec(r.cmd, { timeout, signal: ctx.signal })
  const stderr = JSON.stringify(res.stderr.slice(-400))
  if (res.timedOut)
    throw new StepFailed(
      `${r.cmd.join(' ')} in ${r.host} did not finish within ${timeout} ms (timeout: ${r.timeout ?? '60s'}): stopped it and every process it started (${res.signal ?? `exit ${res.code}`}); stderr: ${stderr}`,
    )
  const want = r.code ?? 0
  if (res.code !== want)
    throw new StepFailed(
      `${r.cmd.join(' ')} in ${r.host} exited with ${res.code ?? res.signal}, expected ${want}; stderr: ${stderr}`,
    )
}

async function stopStep(ctx: RunContext, s: StepSpec<'stop'>): Promise<void> {
  const p = ctx.processes.get(s.name)!
  p.proc.kill('SIGTERM')
  await p.proc.exited
  ctx.processes.delete(s.name)
}

async function impairStep(ctx: RunContext, i: StepSpec<'impair'>): Promise<void> {
  const { between, ...spec } = i
  const { impairment, direction } = impairmentOf(spec)
  await ctx.lab.impair(between[0], between[1], impairment, { direction })
}

async function sysctlStep(ctx: RunContext, s: StepSpec<'sysctl'>): Promise<void> {
  const node = ctx.node(s.host)
  for (const [k, v] of Object.entries(s.set)) setSysctl(node.ns, k, v)
}

async function routeStep(ctx: RunContext, r: StepSpec<'route'>): Promise<void> {
  const node = ctx.node(r.host)
  const via =
    r.via === undefined
      ? undefined
      : isIP(r.via) !== 0
        ? r.via
        : ctx.node(r.via).address(node, r.to.includes(':') ? 6 : 4)
  const spec = { dst: r.to, gateway: via, type: r.type }
  const action = r.action ?? 'replace'
  if (action === 'add') await node.netlink.addRoute(spec)
  else if (action === 'replace') await node.netlink.replaceRoute(spec)
  else await node.netlink.deleteRoute(spec)
}

async function moveStep(ctx: RunContext, m: StepSpec<'move'>): Promise<void> {
  const to = ctx.node(m.to)
  await ctx.node(m.from).netlink.moveLink(m.device, { fd: to.ns.fd })
}

async function sessionStep(ctx: RunContext, s: StepSpec<'session'>): Promise<void> {
  const server = ctx.node(s.to)
  const client = ctx.node(s.from)
  const srv = await server.listen({ port: s.port ?? 0, host: '0.0.0.0' }, (c) => {
    ctx.serverSockets.add(c)
    c.on('error', () => undefined)
    c.pipe(c)
  })
  const port = (srv.address() as { port: number }).port
  const sock = await client.connect({ port, host: server.address(client), timeout: 3000 })
  sock.on('error', () => undefined) // a broken session is reported by `session` expectations
  ctx.sessions.set(s.name, sock)
}

async function tunnelStep(ctx: RunContext, s: StepSpec<'tunnel'>): Promise<void> {
  const t = ctx.tunnel(s.name)
  const up = s.state === 'up'
  await t.tunnel.setUp(up)
  t.up = up
}

async function expectStep(ctx: RunContext, expectations: StepSpec<'expect'>): Promise<Outcome[]> {
  const outcomes: Outcome[] = []
  for (const e of expectations) outcomes.push(await checkExpectation(ctx, e))
  const failed = outcomes.filter((o) => !o.ok)
  if (failed.length)
    throw new StepFailed(`${failed.length} of ${outcomes.length} expectation(s) failed`, outcomes)
  return outcomes
}

async function waitStep(ctx: RunContext, w: StepSpec<'wait'>): Promise<Outcome[]> {
  const timeout = durationMs(w.timeout ?? '10s')
  const deadline = performance.now() + timeout
  for (;;) {
    const o = await checkExpectation(ctx, w.until)
    if (o.ok) return [o]
    if (performance.now() >= deadline)
      throw new StepFailed(`gave up after ${timeout} ms waiting until: ${o.label}`, [o])
    // Re-check when the kernel reports a change, or every 200 ms for conditions it does not announce.
    await ctx.nextEvent(Math.min(200, deadline - performance.now()))
  }
}

/**
 * What each kind of step does; `expect` and `wait` return their checks. The
 * type makes every kind the schema knows need an entry here.
 */
const STEPS: { [K in keyof Step]-?: (ctx: RunContext, spec: StepSpec<K>) => Promise<Outcome[] | void> } = {
  run: runCommand,
  start: (ctx, s) => startProcess(ctx, s.host, s).then(() => undefined),
  stop: stopStep,
  link: (ctx, l) => ctx.lab.setLinkUp(l.between[0], l.between[1], l.state === 'up'),
  flap: (ctx, f) =>
    ctx.lab.flap(f.between[0], f.between[1], { downMs: durationMs(f.down ?? '500ms'), times: f.times }),
  mtu: (ctx, m) => ctx.lab.setMtu(m.between[0], m.between[1], m.mtu),
  impair: impairStep,
  partition: (ctx, p) => ctx.lab.partition(p[0], p[1]),
  heal: (ctx) => ctx.lab.heal(),
  sysctl: sysctlStep,
  route: routeStep,
  move: moveStep,
  session: sessionStep,
  tunnel: tunnelStep,
  nm: nmStep,
  sleep: (_ctx, d) => sleep(durationMs(d)),
  mark: async (ctx, name) => ctx.setMark(name),
  expect: expectStep,
  wait: waitStep,
}

export async function runStep(ctx: RunContext, raw: Step): Promise<StepResult> {
  const step = ctx.bind(raw)
  const label = stepLabel(raw)
  for (const kind of Object.keys(STEPS) as (keyof Step)[]) {
    const spec = step[kind]
    if (spec === undefined) continue
    const run = STEPS[kind] as (ctx: RunContext, spec: unknown) => Promise<Outcome[] | void>
    return { label, outcomes: (await run(ctx, spec)) ?? [] }
  }
  throw new TypeError(`no step in ${JSON.stringify(raw)}`)
}

/** Drive a host's NetworkManager the way nmcli would: over its private D-Bus. */
async function nmStep(ctx: RunContext, o: NonNullable<Step['nm']>): Promise<void> {
  const nm = ctx.nm.get(o.host)!
  switch (o.action) {
    case 'add-openvpn': {
      const server = ctx.node(o.server!)
      const host = ctx.node(o.host)
      const remote = server.address(host)
      const ovpn = await startOpenVpnServer(server, {
        listen: remote,
        subnet: o.subnet,
        routes: o.routes,
        dns: o.dns ? { nameservers: o.dns, search: o.domain ? [o.domain] : undefined } : undefined,
      })
      await nm.addOpenVpn({ id: o.vpn, remote, ...ovpn.client, neverDefault: true })
      return
    }
    case 'activate':
      await nm.activate(o.vpn)
      return
    case 'deactivate':
      await nm.deactivate(o.vpn)
      return
    case 'kill-plugin':
      nm.killVpnPlugin()
      return
  }
}
