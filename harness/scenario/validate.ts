/**
 * The checks a schema cannot make: names that must exist or must be unique,
 * links between the right kinds of node, the address plan (run dry through
 * the Lab's own AddressPlan, so what passes here fits when built), processes
 * and sessions used before they exist, `${...}` references. All before
 * anything touches the kernel.
 */
import { isIP } from 'node:net'
import { impairmentProblems } from '../lab/impairment.js'
import { AddressPlan, PlanError, subnetText, type Segment } from '../lab/plan.js'
import { type DocPath, excerpt } from './diagnostics.js'
import { impairmentOf } from './impairment.js'
import type { Problem } from './issues.js'
import type { Expectation, ImpairmentSpec, PacketMatchSpec, Scenario, Step } from './schema.js'
import { parseCidr } from '../util/ip.js'
import { type Kind, linkDecls, nodeDecls, tunnelDecls } from './topology.js'
import { varsIn } from './vars.js'

/** Keys whose value names a node, wherever they appear in steps and expectations. */
const NODE_KEYS = new Set([
  'host',
  'from',
  'to',
  'createdIn',
  'usedFrom',
  'router',
  'outside',
  'peer',
  'server',
])

export function validateScenario(s: Scenario): Problem[] {
  const problems: Problem[] = []
  const add = (path: DocPath, message: string): void => void problems.push({ path, message })
  const kinds = new Map<string, Kind>()
  const decls = nodeDecls(s)
  for (const n of decls) {
    const prior = kinds.get(n.name)
    if (prior) add(n.path, `duplicate node name ${JSON.stringify(n.name)} (already a ${prior})`)
    else kinds.set(n.name, n.kind)
    if (n.spec.bare && n.kind !== 'host') add([...n.path, 'bare'], 'only hosts can be bare')
  }
  if (decls.length === 0) add(['topology'], 'the topology has no nodes: add hosts, routers or switches')
  // "; the topology has: a, b, r1", at most 20 of them (a message per unknown
  // node listing 30,000 names ran out of memory).
  let listed: string | undefined
  const nodeList = (): string => {
    if (listed !== undefined) return listed
    const names = [...kinds.keys()]
    const more = names.length > 20 ? ` and ${names.length - 20} more` : ''
    listed = names.length ? `; the topology has: ${names.slice(0, 20).join(', ')}${more}` : ''
    return listed
  }
  const known = (name: string, path: DocPath): boolean => {
    if (kinds.has(name)) return true
    add(path, `unknown node ${excerpt(name)}${nodeList()}`)
    return false
  }

  // Links and the address plan, dry-run in build order: switches, then links.
  const plan = new AddressPlan()
  const segOf = new Map<string, Segment>()
  const onNode = new Map<string, Map<string, Segment>>() // node -> its segments by IPv4 subnet
  for (const n of decls.filter((d) => d.kind === 'switch')) {
    try {
      segOf.set(n.name, plan.switchSegment(`switch ${n.name}`, n.switchSpec.members ?? 254, n.switchSpec))
    } catch (err) {
      if (err instanceof PlanError) add(n.path, err.message)
      else throw err
    }
  }
  // Impairments tc would refuse (a rate under 8 bit/s, jitter without delay...).
  const impairment = (spec: ImpairmentSpec, path: DocPath): void => {
    for (const p of impairmentProblems(impairmentOf(spec).impairment)) {
      const written = spec[p.field as keyof ImpairmentSpec]
      const from =
        typeof written === 'string' && p.message.includes(', got ') ? ` (from ${excerpt(written)})` : ''
      add([...path, p.field], p.message + from)
    }
  }
  const pairs = new Set<string>()
  for (const l of linkDecls(s)) {
    if (l.impair) impairment(l.impair, [...l.path, 'impair'])
    const ends = [l.a, l.b]
    if (!ends.map((e, i) => known(e, l.endPaths[i]!)).every(Boolean)) continue
    pairs.add([l.a, l.b].sort().join('--'))
    if (l.a === l.b) {
      add(l.path, `a link from ${l.a} to itself`)
      continue
    }
    const [ka, kb] = [kinds.get(l.a)!, kinds.get(l.b)!]
    if (ka === 'switch' && kb === 'switch') {
      add(l.path, `cannot link switch ${l.a} to switch ${l.b}: put a router between them`)
      continue
    }
    for (const n of Object.keys(l.addresses))
      if (!ends.includes(n)) add([...l.path, 'addresses', n], `${n} is not an end of the link ${l.a}--${l.b}`)
    const [member, sw] = kb === 'switch' ? [l.a, l.b] : ka === 'switch' ? [l.b, l.a] : [undefined, undefined]
    try {
      const seg = sw
        ? segOf.get(sw)
        : plan.segment(`link ${l.a}--${l.b}`, 2, { subnet: l.subnet, subnet6: l.subnet6 })
      if (!seg) continue
      for (const end of member ? [member] : ends) {
        plan.assign(seg, end, l.addresses[end])
        const mine = onNode.get(end) ?? new Map<string, Segment>()
        const clash = mine.get(subnetText(seg.v4))
        if (clash && clash !== seg)
          add(
            l.path,
            `address clash on ${end}: ${seg.label} would reuse ${subnetText(seg.v4)}, already on ${clash.label}; give one of them another subnet`,
          )
        if (!clash) mine.set(subnetText(seg.v4), seg)
        onNode.set(end, mine)
      }
    } catch (err) {
      if (err instanceof PlanError) add(l.path, err.message)
      else throw err
    }
  }
  const linked = (a: string, b: string, path: DocPath): void => {
    if (kinds.has(a) && kinds.has(b) && !pairs.has([a, b].sort().join('--')))
      add(path, `there is no link between ${a} and ${b} in the topology`)
  }
  for (const [i, n] of (s.topology.nat ?? []).entries()) {
    const path: DocPath = ['topology', 'nat', i]
    if (known(n.router, [...path, 'router']) && kinds.get(n.router) !== 'router')
      add([...path, 'router'], `${n.router} is a ${kinds.get(n.router)}: only routers can NAT`)
    if (known(n.outside, [...path, 'outside'])) linked(n.router, n.outside, path)
  }

  // Tunnels: ends that exist and run programs (hosts or routers), names unique.
  const tunnels = new Set<string>()
  for (const t of tunnelDecls(s)) {
    const [a, b] = t.spec.between
    const ends = [a, b].map((e, i) => known(e, [...t.path, 'between', i]))
    if (ends.every(Boolean)) {
      if (a === b) add([...t.path, 'between'], `a tunnel from ${a} to itself`)
      for (const [i, e] of [a, b].entries())
        if (kinds.get(e) === 'switch')
          add([...t.path, 'between', i], `${e} is a switch: tunnel ends are hosts or routers`)
    }
    if (tunnels.has(t.name))
      add(
        t.spec.name === undefined ? t.path : [...t.path, 'name'],
        `duplicate tunnel name ${JSON.stringify(t.name)}${t.spec.name === undefined ? ' (the default <type>-<a>-<b>): give each tunnel a name' : ''}`,
      )
    tunnels.add(t.name)
  }
  const knownTunnel = (name: string, path: DocPath): void => {
    if (!tunnels.has(name))
      add(
        path,
        `unknown tunnel ${JSON.stringify(name)}${tunnels.size ? `; the topology has: ${[...tunnels].join(', ')}` : '; the topology has no tunnels'}`,
      )
  }

  // Processes and sessions, in the order the run meets them.
  const processes = new Set<string>()
  const sessions = new Set<string>()
  for (const n of decls)
    for (const [i, p] of (n.spec.processes ?? []).entries()) {
      if (processes.has(p.name)) add([...n.path, 'processes', i, 'name'], `duplicate process name ${p.name}`)
      processes.add(p.name)
    }

  const walk = (value: unknown, path: DocPath): void => {
    if (typeof value === 'string') {
      for (const ref of varsIn(value)) {
        if (typeof ref === 'string') add(path, ref)
        else if (ref.node !== 'lab' && known(ref.node, path) && ref.peer !== undefined) known(ref.peer, path)
      }
      return
    }
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, [...path, i]))
    if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) {
        if (NODE_KEYS.has(k) && typeof v === 'string') known(v, [...path, k])
        else if (k === 'between' && Array.isArray(v)) {
          const ok = v.map((x, i) => known(x as string, [...path, k, i]))
          if (ok.every(Boolean)) linked(v[0] as string, v[1] as string, [...path, k])
        } else walk(v, [...path, k])
      }
  }
  const withNm = new Set(decls.filter((d) => d.spec.networkManager).map((d) => d.name))
  const nmHost = (host: string, path: DocPath): void => {
    if (kinds.has(host) && !withNm.has(host))
      add(path, `${host} does not run NetworkManager: give it networkManager: true in the topology`)
  }
  const marks = new Set<string>()
  // `packets`: `on` names a node or a link end; from/to/host are nodes, addresses or subnets.
  const checkPackets = (p: NonNullable<Expectation['packets']>, path: DocPath): void => {
    const on = p.on
    if (typeof on === 'string') known(on, [...path, 'on'])
    else if ('between' in on) {
      if (on.between.every((x, i) => known(x, [...path, 'on', 'between', i])))
        linked(on.between[0], on.between[1], [...path, 'on', 'between'])
    } else known(on.node, [...path, 'on', 'node'])
    const matchEnds = (m: PacketMatchSpec, at: DocPath): void => {
      for (const key of ['from', 'to', 'host'] as const) {
        const v = m[key]
        if (v === undefined) continue
        const list = typeof v === 'string' ? [v] : v
        list.forEach((x, i) => {
          const where: DocPath = typeof v === 'string' ? [...at, key] : [...at, key, i]
          if (x.includes('${')) return walk(x, where)
          let why: string | undefined
          try {
            parseCidr(x)
            return
          } catch (err) {
            why = (err as Error).message
          }
          if (kinds.has(x)) return
          if (x.includes(':') || x.includes('/') || /^\d+\.\d/.test(x))
            add(where, `${excerpt(x)} is not an address or subnet: ${why}`)
          else add(where, `unknown node ${excerpt(x)} (expected a node, an address or a subnet)${nodeList()}`)
        })
      }
      if (Array.isArray(m.not)) m.not.forEach((n, i) => matchEnds(n, [...at, 'not', i]))
      else if (m.not) matchEnds(m.not, [...at, 'not'])
    }
    if (p.match) matchEnds(p.match, [...path, 'match'])
    if (p.since !== undefined && !marks.has(p.since))
      add(
        [...path, 'since'],
        `no mark named ${excerpt(p.since)} before this point: add a step \`- mark: ${p.since}\` where counting should start${marks.size ? `; marks so far: ${[...marks].join(', ')}` : ''}`,
      )
  }
  const checkExpectation = (e: Expectation, path: DocPath): void => {
    if (e.packets) return checkPackets(e.packets, [...path, 'packets'])
    walk(e, path)
    if (e.nm) nmHost(e.nm.host, [...path, 'nm', 'host'])
    if (e.session && !sessions.has(e.session.name))
      add([...path, 'session', 'name'], `no session named ${e.session.name} was opened before this point`)
    if (e.event?.link) linked(e.event.host, e.event.link, [...path, 'event', 'link'])
    if (e.tunnel) knownTunnel(e.tunnel.name, [...path, 'tunnel', 'name'])
  }
  for (const [i, step] of (s.steps ?? []).entries()) {
    const path: DocPath = ['steps', i]
    checkStep(step, path)
  }
  function checkStep(step: Step, path: DocPath): void {
    if (step.partition) {
      step.partition.forEach((g, gi) => g.forEach((n, ni) => known(n, [...path, 'partition', gi, ni])))
      return
    }
    if (step.expect) return step.expect.forEach((e, j) => checkExpectation(e, [...path, 'expect', j]))
    if (step.wait) return checkExpectation(step.wait.until, [...path, 'wait', 'until'])
    if (step.route) {
      // `to` is a destination prefix here, and `via` a node or an address.
      const { host, via, to } = step.route
      known(host, [...path, 'route', 'host'])
      if (via !== undefined && isIP(via) === 0) known(via, [...path, 'route', 'via'])
      return walk(to, [...path, 'route', 'to'])
    }
    walk(step, path)
    if (step.impair) impairment(step.impair, [...path, 'impair'])
    if (step.tunnel) knownTunnel(step.tunnel.name, [...path, 'tunnel', 'name'])
    if (step.nm) {
      nmHost(step.nm.host, [...path, 'nm', 'host'])
      if (step.nm.action === 'add-openvpn' && step.nm.server === undefined)
        add([...path, 'nm'], 'add-openvpn needs `server:`, the host that runs the OpenVPN server')
    }
    if (step.start) {
      if (processes.has(step.start.name))
        add([...path, 'start', 'name'], `duplicate process name ${step.start.name}`)
      processes.add(step.start.name)
    }
    if (step.stop && !processes.has(step.stop.name))
      add([...path, 'stop', 'name'], `no process named ${step.stop.name} was started before this step`)
    if (step.mark !== undefined) {
      if (marks.has(step.mark)) add([...path, 'mark'], `duplicate mark ${excerpt(step.mark)}`)
      marks.add(step.mark)
    }
    if (step.session) {
      if (sessions.has(step.session.name))
        add([...path, 'session', 'name'], `duplicate session ${step.session.name}`)
      sessions.add(step.session.name)
    }
  }
  for (const [i, e] of (s.expect ?? []).entries()) checkExpectation(e, ['expect', i])
  return problems
}
