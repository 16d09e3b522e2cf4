/**
 * NetworkManager in a lab host, driven over its private D-Bus the way
 * nmcli does it: Settings.AddConnection, Manager.ActivateConnection,
 * then the active connection's StateChanged / VpnStateChanged and its
 * Ip4Config arriving, Manager.DeactivateConnection.
 *
 *   const nm = await startNetworkManager(host)
 *   const conn = await nm.addOpenVpn({ id: 'corp', remote: '198.18.0.2', ca, cert, key })
 *   const vpn = await nm.activate('corp')     // resolves at 'activated', with vpn.ip4
 *   await nm.deactivate('corp')               // resolves at 'deactivated'
 *   await nm.close()                          // also done by lab.destroy()
 */
import { descendants, processName } from './processes.js'
import { randomUUID } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import { Variant } from '@jellybrick/dbus-next'
import type { LabNode } from '../../lab/index.js'
import { type PrivateBus, startPrivateBus } from './bus.js'
import { makeWorkDir } from '../workdir.js'
import {
  ACTIVE_STATES,
  type ActiveState,
  NM,
  NM_PATH,
  NmBus,
  type Signal,
  VPN_STATES,
  type VpnState,
} from './client.js'
import { type NmDaemon, type NmDaemonOptions, startNmDaemon } from './daemon.js'

export { ACTIVE_STATES, VPN_STATES, type ActiveState, type VpnState } from './client.js'
export { NM_BUS_NAMES } from './bus.js'
export { descendants, processName } from './processes.js'

const IFACE = {
  manager: 'org.freedesktop.NetworkManager',
  settings: 'org.freedesktop.NetworkManager.Settings',
  conn: 'org.freedesktop.NetworkManager.Settings.Connection',
  active: 'org.freedesktop.NetworkManager.Connection.Active',
  vpn: 'org.freedesktop.NetworkManager.VPN.Connection',
  device: 'org.freedesktop.NetworkManager.Device',
  ip4: 'org.freedesktop.NetworkManager.IP4Config',
}
const OPENVPN_SERVICE = 'org.freedesktop.NetworkManager.openvpn'

export interface OpenVpnConnectionOptions {
  /** The connection's name (connection.id). */
  id: string
  /** The server's address. */
  remote: string
  port?: number
  proto?: 'udp' | 'tcp'
  /** PEM files readable by root. */
  ca: string
  cert: string
  key: string
  /** Never make the VPN the default route (ipv4.never-default). */
  neverDefault?: boolean
  /** More vpn.data keys (nm-openvpn's names: 'cipher', 'tun-ipv6', 'mssfix'...). */
  data?: Record<string, string>
}

export interface NmConnection {
  id: string
  uuid: string
  /** Its Settings object path. */
  path: string
}

export interface Ip4Info {
  addresses: { address: string; prefix: number }[]
  routes: { dest: string; prefix: number; nextHop?: string; metric?: number }[]
  gateway: string
  nameservers: string[]
  domains: string[]
}

export interface NmEvent {
  /** What changed: the active connection's state, the VPN state, or its Ip4Config object. */
  kind: 'state' | 'vpn-state' | 'ip4-config'
  value: string
  reason?: number
}

export interface ActiveVpn {
  id: string
  /** The active connection object path. */
  path: string
  state: ActiveState
  vpnState: VpnState
  /** The VPN's IPv4 configuration as NM published it. */
  ip4: Ip4Info
  /** What was seen on the bus during activation, in order. */
  events: NmEvent[]
}

export interface NmDevice {
  interface: string
  state: number
  managed: boolean
  activeConnection: string
}

export interface StartNetworkManagerOptions extends NmDaemonOptions {
  /** Give up waiting for NM to come up after this many milliseconds (default 30000). */
  timeoutMs?: number
}

export class NetworkManager {
  readonly host: LabNode
  /** The lab temp dir holding the bus socket, NM's /run, /var/lib and /etc. */
  readonly dir: string
  readonly bus: NmBus
  private readonly daemon: NmDaemon
  private readonly privateBus: PrivateBus
  private readonly unregister: () => void
  private closed = false

  /** @internal use startNetworkManager() */
  constructor(host: LabNode, dir: string, privateBus: PrivateBus, daemon: NmDaemon, bus: NmBus) {
    this.host = host
    this.dir = dir
    this.privateBus = privateBus
    this.daemon = daemon
    this.bus = bus
    this.unregister = host.onStop(() => this.close())
  }

  /** The private bus's address (`unix:path=...`); the only bus NM and its plugin talk to. */
  get busAddress(): string {
    return this.privateBus.address
  }

  /** NM's process (unshare, whose child is NM as pid 1 of its own PID namespace). */
  get process(): LabNode['running'][number] {
    return this.daemon.process
  }

  /** Everything NM logged so far. */
  log(): string {
    return this.daemon.log()
  }

  /** NM's resolv.conf (rc-manager=unmanaged: NM writes only this file, never /etc/resolv.conf). */
  resolvConf(): string {
    return readFileSync(this.daemon.resolvConf, 'utf8')
  }

  /** The devices NM sees (only this host's namespace). */
  async devices(): Promise<NmDevice[]> {
    const [paths] = (await this.bus.nm(NM_PATH, IFACE.manager, 'GetDevices')) as [string[]]
    return Promise.all(
      paths.map(async (p) => {
        const d = await this.bus.getAll(p, IFACE.device)
        return {
          interface: d.Interface as string,
          state: d.State as number,
          managed: d.Managed as boolean,
          activeConnection: d.ActiveConnection as string,
        }
      }),
    )
  }

  /** Settings.AddConnection with an OpenVPN (TLS) VPN connection. */
  async addOpenVpn(o: OpenVpnConnectionOptions): Promise<NmConnection> {
    const uuid = randomUUID()
    const data: Record<string, string> = {
      remote: o.remote,
      'connection-type': 'tls',
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      dev: 'tun',
      ...(o.port !== undefined ? { port: String(o.port) } : {}),
      ...(o.proto === 'tcp' ? { 'proto-tcp': 'yes' } : {}),
      ...o.data,
    }
    const s = (v: string): Variant => new Variant('s', v)
    const settings = {
      connection: { id: s(o.id), uuid: s(uuid), type: s('vpn'), autoconnect: new Variant('b', false) },
      vpn: { 'service-type': s(OPENVPN_SERVICE), data: new Variant('a{ss}', data) },
      ipv4: { method: s('auto'), 'never-default': new Variant('b', o.neverDefault ?? false) },
      ipv6: { method: s('ignore') },
    }
    const [path] = (await this.bus.nm(`${NM_PATH}/Settings`, IFACE.settings, 'AddConnection', 'a{sa{sv}}', [
      settings,
    ])) as [string]
    return { id: o.id, uuid, path }
  }

  /** The Settings object path of connection `id` (its name or uuid). */
  async connectionPath(id: string): Promise<string> {
    const [paths] = (await this.bus.nm(`${NM_PATH}/Settings`, IFACE.settings, 'ListConnections')) as [
      string[],
    ]
    for (const p of paths) {
      const [settings] = (await this.bus.nm(p, IFACE.conn, 'GetSettings')) as [
        Record<string, Record<string, { value: unknown }>>,
      ]
      const c = settings.connection
      if (c?.id?.value === id || c?.uuid?.value === id) return p
    }
    throw new Error(`NetworkManager in ${this.host} has no connection named ${JSON.stringify(id)}`)
  }

  /** The active connection object of connection `id`, or undefined when it is not active. */
  async activePath(id: string): Promise<string | undefined> {
    const active = (await this.bus.get(NM_PATH, IFACE.manager, 'ActiveConnections')) as string[]
    for (const p of active) {
      try {
        const a = await this.bus.getAll(p, IFACE.active)
        if (a.Id === id || a.Uuid === id) return p
      } catch {
        // gone meanwhile
      }
    }
    return undefined
  }

  /** The state of connection `id`: 'deactivated' when it has no active connection. */
  async state(id: string): Promise<ActiveState> {
    const p = await this.activePath(id)
    if (!p) return 'deactivated'
    try {
      return ACTIVE_STATES[(await this.bus.get(p, IFACE.active, 'State')) as number] ?? 'unknown'
    } catch {
      return 'deactivated'
    }
  }

  /**
   * Manager.ActivateConnection with, as its specific object, the active
   * connection of the device that routes to the VPN server (the VPN's parent,
   * as nmcli does); resolves when the active connection reaches
   * 'activated' and its Ip4Config is published, rejects if it ends instead.
   */
  async activate(id: string, options: { device?: string } = {}): Promise<ActiveVpn> {
    const conn = await this.connectionPath(id)
    const devName = options.device ?? (await this.underlay(conn))
    const device = await this.devicePath(devName)
    // The VPN's parent is the device's active connection (for a lab veth, the external one NM
    // assumes for the address the lab gave it): wait until NM has it.
    const parent = await this.bus.until(
      async () => {
        const d = await this.bus.getAll(device, IFACE.device)
        return d.State === 100 && d.ActiveConnection !== '/' ? (d.ActiveConnection as string) : undefined
      },
      `device ${devName} to be activated (the VPN's parent) in ${this.host}`,
      this.daemonDied(),
    )
    const events: NmEvent[] = []
    let activePath = ''
    const early: Signal[] = []
    const record = (s: Signal): void => {
      if (!activePath) {
        early.push(s)
        return
      }
      if (s.path !== activePath) return
      if (s.interface === IFACE.active && s.member === 'StateChanged')
        events.push({
          kind: 'state',
          value: ACTIVE_STATES[s.body[0] as number] ?? 'unknown',
          reason: s.body[1] as number,
        })
      else if (s.interface === IFACE.vpn && s.member === 'VpnStateChanged')
        events.push({
          kind: 'vpn-state',
          value: VPN_STATES[s.body[0] as number] ?? 'unknown',
          reason: s.body[1] as number,
        })
      else if (s.member === 'PropertiesChanged' && s.body[0] === IFACE.active) {
        const changed = s.body[1] as Record<string, { value: unknown }>
        if (changed.Ip4Config && changed.Ip4Config.value !== '/')
          events.push({ kind: 'ip4-config', value: changed.Ip4Config.value as string })
      }
    }
    const off = this.bus.onSignal(record)
    try {
      const [path] = (await this.bus.nm(NM_PATH, IFACE.manager, 'ActivateConnection', 'ooo', [
        conn,
        '/',
        parent,
      ])) as [string]
      activePath = path
      for (const s of early.splice(0)) record(s)
      const result = await this.bus.until(
        async () => {
          const a = await this.bus.getAll(path, IFACE.active).catch(() => undefined)
          const state = a ? (ACTIVE_STATES[a.State as number] ?? 'unknown') : 'deactivated'
          if (state === 'deactivated')
            throw new Error(
              `VPN ${id} in ${this.host} ended before activating (${events.map((e) => `${e.kind}=${e.value}`).join(', ') || 'no events'}); NetworkManager's log: ${this.log().slice(-1500)}`,
            )
          if (state !== 'activated' || !a || a.Ip4Config === '/') return undefined
          const vpnState =
            VPN_STATES[(await this.bus.get(path, IFACE.vpn, 'VpnState')) as number] ?? 'unknown'
          return { state, vpnState, ip4: await this.ip4(a.Ip4Config as string) }
        },
        `VPN ${id} to activate in ${this.host}`,
        this.daemonDied(),
      )
      return { id, path, ...result, events }
    } finally {
      off()
    }
  }

  /** Manager.DeactivateConnection; resolves once the active connection is gone. */
  async deactivate(id: string): Promise<void> {
    const path = await this.activePath(id)
    if (!path) throw new Error(`VPN ${id} is not active in ${this.host}, so it cannot be deactivated`)
    const gone = this.bus.until(
      async () => ((await this.activePath(id)) === path ? undefined : true),
      `VPN ${id} to deactivate in ${this.host}`,
      this.daemonDied(),
    )
    await this.bus.nm(NM_PATH, IFACE.manager, 'DeactivateConnection', 'o', [path])
    await gone
  }

  /**
   * Wait until connection `id` reaches `state` ('deactivated' also matches a
   * connection that is no longer active), driven by NM's signals.
   */
  async waitState(id: string, state: ActiveState): Promise<void> {
    await this.bus.until(
      async () => ((await this.state(id)) === state ? true : undefined),
      `connection ${id} to reach ${state} in ${this.host}`,
      this.daemonDied(),
    )
  }

  /** An IP4Config object's addresses, routes, gateway and DNS. */
  /** The Ip4Config of connection `id` while it is active (undefined when it is not, or has none yet). */
  async vpnIp4(id: string): Promise<Ip4Info | undefined> {
    const p = await this.activePath(id)
    if (!p) return undefined
    const config = (await this.bus.get(p, IFACE.active, 'Ip4Config').catch(() => '/')) as string
    return config === '/' ? undefined : this.ip4(config)
  }

  /**
   * SIGKILL NetworkManager's openvpn plugin (nm-openvpn-service), as a crash
   * would; NM notices on its own. Throws when no plugin runs.
   */
  killVpnPlugin(): void {
    const plugin = descendants(this.process.pid!).find((p) => processName(p) === 'nm-openvpn-serv')
    if (plugin === undefined)
      throw new Error(`no nm-openvpn-service runs under NetworkManager in ${this.host}`)
    process.kill(plugin, 'SIGKILL')
  }

  async ip4(path: string): Promise<Ip4Info> {
    const c = await this.bus.getAll(path, IFACE.ip4)
    const list = (v: unknown): Record<string, unknown>[] =>
      Array.isArray(v) ? (v as Record<string, unknown>[]) : []
    return {
      addresses: list(c.AddressData).map((a) => ({
        address: a.address as string,
        prefix: a.prefix as number,
      })),
      routes: list(c.RouteData).map((r) => ({
        dest: r.dest as string,
        prefix: r.prefix as number,
        ...(r['next-hop'] !== undefined ? { nextHop: r['next-hop'] as string } : {}),
        ...(r.metric !== undefined ? { metric: r.metric as number } : {}),
      })),
      gateway: (c.Gateway as string | undefined) ?? '',
      nameservers: list(c.NameserverData).map((n) => n.address as string),
      domains: [
        ...((c.Domains as string[] | undefined) ?? []),
        ...((c.Searches as string[] | undefined) ?? []),
      ],
    }
  }

  /** Stop NM (and its VPN plugin and openvpn), the private bus, and remove the temp dir. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.unregister()
    this.bus.close()
    try {
      await this.daemon.close()
      await this.privateBus.close()
    } finally {
      this.host.disownPath(this.dir)
      rmSync(this.dir, { recursive: true, force: true })
    }
  }

  private daemonDied(): Promise<never> {
    return this.daemon.process.exited.then(({ code, signal }) => {
      throw new Error(
        `NetworkManager in ${this.host} exited (${code ?? signal}); its log: ${this.log().slice(-1500)}`,
      )
    })
  }

  private async devicePath(iface: string): Promise<string> {
    try {
      const [p] = (await this.bus.nm(NM_PATH, IFACE.manager, 'GetDeviceByIpIface', 's', [iface])) as [string]
      return p
    } catch (err) {
      throw new Error(
        `NetworkManager in ${this.host} does not know device ${iface}: ${(err as Error).message}`,
      )
    }
  }

  /** The device `ip route get <remote>` picks in the host: the VPN's parent. */
  private async underlay(conn: string): Promise<string> {
    const [settings] = (await this.bus.nm(conn, IFACE.conn, 'GetSettings')) as [
      Record<string, Record<string, { value: unknown }>>,
    ]
    const data = settings.vpn?.data?.value as Record<string, string> | undefined
    const remote = data?.remote?.split(/[\s,:]/)[0]
    if (!remote) throw new Error(`connection ${conn} has no vpn.data remote; pass { device } to activate()`)
    const r = await this.host.exec(['ip', '-j', 'route', 'get', remote])
    const dev = r.code === 0 ? (JSON.parse(r.stdout) as { dev?: string }[])[0]?.dev : undefined
    if (!dev)
      throw new Error(
        `${this.host} has no route to the VPN server ${remote}: ${r.stderr.trim() || 'no device'}`,
      )
    return dev
  }
}

/**
 * Start NetworkManager in `host`: a private dbus-daemon, then NM on it
 * (see daemon.ts for what it sees), and a client connected to that bus.
 * Resolves once NM owns its bus name and has finished starting up.
 */
export async function startNetworkManager(
  host: LabNode,
  options: StartNetworkManagerOptions = {},
): Promise<NetworkManager> {
  const work = makeWorkDir(host, 'nslab-nm-')
  const dir = work.path
  const undo: (() => Promise<void>)[] = [async () => work.remove()]
  try {
    const privateBus = await startPrivateBus(host, dir)
    undo.push(() => privateBus.close())
    const bus = await NmBus.connect(privateBus.address)
    undo.push(async () => bus.close())
    const daemon = startNmDaemon(host, dir, options)
    undo.push(() => daemon.close())
    const timeoutMs = options.timeoutMs ?? 30_000
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `NetworkManager in ${host} did not start within ${timeoutMs} ms; its log: ${daemon.log().slice(-1500)}`,
            ),
          ),
        timeoutMs,
      )
    })
    const died = daemon.process.exited.then(({ code, signal }) => {
      throw new Error(
        `NetworkManager in ${host} exited (${code ?? signal}) while starting; its log: ${daemon.log().slice(-1500)}`,
      )
    })
    try {
      await bus.until(
        async () => {
          if (!(await bus.hasOwner(NM))) return undefined
          // NM owns its name a moment before it exports its objects: not there yet is not an error.
          const startup = await bus.get(NM_PATH, IFACE.manager, 'Startup').catch(() => undefined)
          return startup === false ? true : undefined
        },
        `NetworkManager to start in ${host}`,
        Promise.race([timeout, died]),
      )
    } finally {
      clearTimeout(timer)
    }
    return new NetworkManager(host, dir, privateBus, daemon, bus)
  } catch (err) {
    for (const u of undo.reverse()) await u().catch(() => undefined)
    throw err
  }
}
