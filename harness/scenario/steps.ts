/**
 * Steps: each changes the running lab (or checks it, for `expect` and
 * `wait`) and returns what it did in a few words. A step that cannot do
 * what it says throws, and the run stops there.
 */
import { startOpenVpnServer } from '../vpn/openvpn-server.js'
import { isIP } from 'node:net'
import { setSysctl } from '../netlink/index.js'
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

export async function runStep(ctx: RunContext, raw: Step): Promise<StepResult> {
  const step = ctx.bind(raw)
  const label = stepLabel(raw)
  const done = (outcomes: Outcome[] = []): StepResult => ({ label, outcomes })
  const { lab } = ctx

  if (step.run) {
    const r = await ctx
      .node(step.run.host)
      .exec(step.run.cmd, { timeout: durationMs(step.run.timeout ?? '60s') })
    const want = step.run.code ?? 0
    if (r.code !== want)
      throw new StepFailed(
        `${step.run.cmd.join(' ')} in ${step.run.host} exited with ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''}, expected ${want}; stderr: ${JSON.stringify(r.stderr.slice(-400))}`,
      )
    return done()
  }
  if (step.start) {
    await startProcess(ctx, step.start.host, step.start)
    return done()
  }
  if (step.stop) {
    const p = ctx.processes.get(step.stop.name)!
    p.proc.kill('SIGTERM')
    await p.proc.exited
    ctx.processes.delete(step.stop.name)
    return done()
  }
  if (step.link) {
    await lab.setLinkUp(step.link.between[0], step.link.between[1], step.link.state === 'up')
    return done()
  }
  if (step.flap) {
    await lab.flap(step.flap.between[0], step.flap.between[1], {
      downMs: durationMs(step.flap.down ?? '500ms'),
      times: step.flap.times,
    })
    return done()
  }
  if (step.mtu) {
    await lab.setMtu(step.mtu.between[0], step.mtu.between[1], step.mtu.mtu)
    return done()
  }
  if (step.impair) {
    const { between, ...spec } = step.impair
    const { impairment, direction } = impairmentOf(spec)
    await lab.impair(between[0], between[1], impairment, { direction })
    return done()
  }
  if (step.partition) {
    await lab.partition(step.partition[0], step.partition[1])
    return done()
  }
  if (step.heal) {
    await lab.heal()
    return done()
  }
  if (step.sysctl) {
    const node = ctx.node(step.sysctl.host)
    for (const [k, v] of Object.entries(step.sysctl.set)) setSysctl(node.internals.handle, k, v)
    return done()
  }
  if (step.route) {
    const r = step.route
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
    return done()
  }
  if (step.move) {
    const to = ctx.node(step.move.to)
    await ctx.node(step.move.from).netlink.moveLink(step.move.device, { fd: to.internals.handle.fd })
    return done()
  }
  if (step.session) {
    const s = step.session
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
    return done()
  }
  if (step.tunnel) {
    const t = ctx.tunnel(step.tunnel.name)
    const up = step.tunnel.state === 'up'
    await t.tunnel.setUp(up)
    t.up = up
    return done()
  }
  if (step.nm) {
    await nmStep(ctx, step.nm)
    return done()
  }
  if (step.sleep !== undefined) {
    await sleep(durationMs(step.sleep))
    return done()
  }
  if (step.expect) {
    const outcomes: Outcome[] = []
    for (const e of step.expect) outcomes.push(await checkExpectation(ctx, e))
    const failed = outcomes.filter((o) => !o.ok)
    if (failed.length)
      throw new StepFailed(`${failed.length} of ${outcomes.length} expectation(s) failed`, outcomes)
    return done(outcomes)
  }
  if (step.wait) {
    const timeout = durationMs(step.wait.timeout ?? '10s')
    const deadline = performance.now() + timeout
    for (;;) {
      const o = await checkExpectation(ctx, step.wait.until)
      if (o.ok) return done([o])
      if (performance.now() >= deadline)
        throw new StepFailed(`gave up after ${timeout} ms waiting until: ${o.label}`, [o])
      // Re-check when the kernel reports a change, or every 200 ms for conditions it does not announce.
      await ctx.nextEvent(Math.min(200, deadline - performance.now()))
    }
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
