/**
 * What a running scenario holds: its lab, the processes and TCP sessions it
 * started by name, the netlink events every node has seen since the build,
 * and `${...}` references resolved against the live lab.
 */
import type { NetworkManager } from '../vpn/nm/index.js'
import type net from 'node:net'
import type { Lab, LabNode, Tunnel } from '../lab/index.js'
import type { NetnsProcess } from '../netns/index.js'
import { type EventSubscription, type NetlinkEvent, subscribe } from '../netlink/index.js'
import { type VarRef, substituteDeep } from './vars.js'

export interface RecordedEvent {
  node: string
  at: number
  event: NetlinkEvent
}

export class RunContext {
  readonly processes = new Map<string, { node: string; proc: NetnsProcess }>()
  readonly sessions = new Map<string, net.Socket>()
  /** Server ends of sessions, closed with the run. */
  readonly serverSockets = new Set<net.Socket>()
  readonly events: RecordedEvent[] = []
  /** Tunnels of the topology by name, and whether a step took them down. */
  readonly tunnels = new Map<string, { tunnel: Tunnel; up: boolean }>()
  /** NetworkManager per host that asked for it (networkManager: true). */
  readonly nm = new Map<string, NetworkManager>()
  /** `mark:` steps: name → wall-clock time in nanoseconds (the clock of packet timestamps). */
  readonly marks = new Map<string, bigint>()
  private readonly subscriptions: EventSubscription[] = []
  private readonly eventWaiters = new Set<() => void>()
  private readonly stopping = new AbortController()

  constructor(readonly lab: Lab) {}

  /** Aborts when the run ends (done, timed out or interrupted): commands still running are stopped. */
  get signal(): AbortSignal {
    return this.stopping.signal
  }

  node(name: string): LabNode {
    return this.lab.node(name)
  }

  tunnel(name: string): { tunnel: Tunnel; up: boolean } {
    const t = this.tunnels.get(name)
    if (!t) throw new TypeError(`no tunnel named ${JSON.stringify(name)} in this scenario`)
    return t
  }

  /**
   * Record a named moment (a `mark:` step), on the clock the kernel stamps
   * captured packets with (CLOCK_REALTIME), to the millisecond: a packet in
   * the millisecond of the mark counts as after it.
   */
  setMark(name: string): void {
    this.marks.set(name, BigInt(Date.now()) * 1_000_000n)
  }

  mark(name: string): bigint {
    const at = this.marks.get(name)
    if (at === undefined)
      throw new TypeError(
        `no mark named ${JSON.stringify(name)} was set before this point: add a step \`- mark: ${name}\` where counting should start`,
      )
    return at
  }

  /** Resolve one `${...}` reference against the lab as it is now. */
  resolve(ref: VarRef): string {
    if (ref.attr === 'id') return this.lab.id
    const n = this.node(ref.node)
    const peer = ref.peer === undefined ? undefined : this.node(ref.peer)
    switch (ref.attr) {
      case 'netns':
        return n.netns
      case 'addr':
        return n.address(peer, 4)
      case 'addr6':
        return n.address(peer, 6)
      case 'dev': {
        const port = n.ports.find((p) => p.peer === peer)
        if (!port) throw new TypeError(`\${${ref.text}}: ${n.name} has no link to ${ref.peer}`)
        return port.device
      }
    }
  }

  /** A step's or expectation's settings with every `${...}` replaced. */
  bind<T>(value: T): T {
    return substituteDeep(value, (r) => this.resolve(r))
  }

  /** Record link, address and route events in every node from now on. */
  recordEvents(): void {
    for (const n of this.lab.allNodes) {
      const sub = subscribe(n.ns, ['link', 'addr', 'route', 'neigh'])
      this.subscriptions.push(sub)
      void (async () => {
        for await (const event of sub) {
          this.events.push({ node: n.name, at: performance.now(), event })
          for (const w of this.eventWaiters) w()
        }
      })().catch(() => undefined)
    }
  }

  /** Resolves at the next recorded event (or after `ms`). */
  nextEvent(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.eventWaiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.eventWaiters.add(done)
    })
  }

  close(): void {
    this.stopping.abort()
    for (const s of this.subscriptions) s.close()
    for (const s of [...this.sessions.values(), ...this.serverSockets]) s.destroy()
    this.sessions.clear()
    this.serverSockets.clear()
  }
}
