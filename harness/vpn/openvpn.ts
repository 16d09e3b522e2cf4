/**
 * OpenVPN between two lab nodes: the server in end a, the client in end b
 * (its tun device inside b's namespace). The client configures nothing
 * itself; its --up script dumps the environment, and the driver applies the
 * pushed address, MTU, routes and DNS the way NetworkManager does, so the
 * pushed data is there to inspect (`tunnel.pushed`).
 *
 *   const t = await lab.tunnel(a, b, { type: 'openvpn', routes: ['10.50.0.0/24'],
 *     dns: { nameservers: ['10.50.0.53'], search: ['corp.example'] } })
 *   t.pushed.routes   // [{ dst: '10.50.0.0/24', gateway: '100.64.0.1', ... }]
 */
import { execFile } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { LabNode } from '../lab/node.js'
import type { TunnelDriver, TunnelOptions } from '../lab/tunnel.js'
import type { NetnsProcess } from '../netns/index.js'
import { WorkDirTunnel, startTunnel } from './base-tunnel.js'
import { installResolvConf } from './dns.js'
import { type CheckedOptions, checkOptions, nextTunnelNumber } from './options.js'
import { clientCcd, clientConfig, serverConfig, upScript } from './openvpn-config.js'
import { type PushedConfig, parseEnvDump, parsePushReply, pushedConfig } from './openvpn-env.js'
import { createPki, type Pki } from './pki.js'
import { stopProcess, waitForOutput } from './ready.js'
import { pinUnderlay, underlayRoute } from './underlay.js'
import { type WorkDir, makeWorkDir } from './workdir.js'

const READY = /Initialization Sequence Completed/
const START_TIMEOUT = 60_000

let version: Promise<string> | undefined

/** `openvpn 2.6.14`, or a clear error when the program is missing. */
export function openvpnVersion(): Promise<string> {
  version ??= promisify(execFile)('openvpn', ['--version']).then(
    (r) => `openvpn ${/OpenVPN (\S+)/.exec(r.stdout)?.[1] ?? 'unknown'}`,
    (err: NodeJS.ErrnoException & { stdout?: string }) => {
      // `openvpn --version` exits 1 on some builds after printing.
      const m = err.stdout ? /OpenVPN (\S+)/.exec(err.stdout) : null
      if (m) return `openvpn ${m[1]}`
      version = undefined
      throw new Error('the `openvpn` program is missing: install the Debian package openvpn', { cause: err })
    },
  )
  return version
}

export class OpenVpnTunnel extends WorkDirTunnel {
  readonly type = 'openvpn'
  readonly implementation: string
  readonly devices: { a: string; b: string }
  private readonly pki: Pki
  private server: NetnsProcess | undefined
  private client: NetnsProcess | undefined
  private restoreDns: (() => void) | undefined
  private current: PushedConfig | undefined

  constructor(
    a: LabNode,
    b: LabNode,
    o: CheckedOptions,
    impl: string,
    dir: WorkDir,
    pki: Pki,
    device: string,
  ) {
    super(a, b, o, dir)
    this.implementation = impl
    this.pki = pki
    this.devices = { a: device, b: device }
  }

  /** What the server pushed, as the client's --up script saw it (the latest connection). */
  get pushed(): PushedConfig {
    if (!this.current) throw new Error(`tunnel ${this.name} is down: nothing was pushed`)
    return this.current
  }

  /** True while the client runs. */
  get up(): boolean {
    return this.client !== undefined && !this.client.exitedAlready
  }

  /** Everything the server and the client printed (for failure reports). */
  logs(): { server: string; client: string } {
    const text = (p: NetnsProcess | undefined): string => {
      const o = p?.output()
      return o ? o.stdout + o.stderr : ''
    }
    return { server: text(this.server), client: text(this.client) }
  }

  /** @internal */
  async start(): Promise<void> {
    const d = this.dir
    const ccd = d.file('ccd')
    mkdirSync(ccd)
    writeFileSync(join(ccd, this.pki.clients[0]!.name), clientCcd(this.options))
    writeFileSync(d.file('server.conf'), serverConfig(this.options, this.pki, this.devices.a, ccd))
    writeFileSync(d.file('up.sh'), upScript(d.file('up.env')))
    chmodSync(d.file('up.sh'), 0o755)
    writeFileSync(
      d.file('client.conf'),
      clientConfig(this.options, this.pki, this.devices.b, d.file('up.sh')),
    )
    this.server = this.a.spawn(['openvpn', '--config', d.file('server.conf')])
    await waitForOutput(this.server, READY, {
      timeout: START_TIMEOUT,
      what: `OpenVPN server of ${this.name}`,
    })
    await this.startClient()
  }

  private async startClient(): Promise<void> {
    rmSync(this.dir.file('up.env'), { force: true })
    this.client = this.b.spawn(['openvpn', '--config', this.dir.file('client.conf')])
    await waitForOutput(this.client, READY, {
      timeout: START_TIMEOUT,
      what: `OpenVPN client of ${this.name}`,
    })
    if (!existsSync(this.dir.file('up.env')))
      throw new Error(`OpenVPN client of ${this.name} finished without running its --up script`)
    const log = this.client.output()
    this.current = pushedConfig(
      parseEnvDump(readFileSync(this.dir.file('up.env'), 'utf8')),
      parsePushReply(log.stdout + log.stderr),
    )
    await this.apply(this.current)
  }

  /** Configure b from what was pushed, as NetworkManager would. */
  private async apply(p: PushedConfig): Promise<void> {
    const nl = this.b.netlink
    const link = await nl.getLink(p.device)
    await nl.setLink(link.index, { up: true, ...(p.mtu ? { mtu: p.mtu } : {}) })
    await nl.addAddress(link.index, `${p.localAddress}/${p.prefixLen}`)
    for (const r of p.routes)
      await nl.replaceRoute({ dst: r.dst, gateway: r.gateway, oif: link.index, metric: r.metric })
    if (p.redirectGateway) {
      await pinUnderlay(this.b, await underlayRoute(this.b, p.peer))
      for (const half of ['0.0.0.0/1', '128.0.0.0/1'])
        await nl.replaceRoute({ dst: half, gateway: p.gateway, oif: link.index })
    }
    if (p.dns.length > 0)
      this.restoreDns = installResolvConf(this.b.netns, { nameservers: p.dns, search: p.search })
  }

  protected bringUp(): Promise<void> {
    return this.startClient()
  }

  protected async bringDown(): Promise<void> {
    await stopProcess(this.client!)
    this.restoreDns?.()
    this.restoreDns = undefined
    this.current = undefined
  }

  protected async teardown(): Promise<void> {
    if (this.client) await stopProcess(this.client)
    if (this.server) await stopProcess(this.server)
    this.restoreDns?.()
  }
}

export const openvpnDriver: TunnelDriver = {
  type: 'openvpn',
  async create(a: LabNode, b: LabNode, options: TunnelOptions): Promise<OpenVpnTunnel> {
    const n = nextTunnelNumber()
    const o = checkOptions(a, b, options, { basePort: 1194, n })
    const impl = await openvpnVersion()
    const dir = makeWorkDir(a)
    let pki: Pki
    try {
      pki = await createPki(dir.path, 'server', ['client'])
    } catch (err) {
      dir.remove()
      throw err
    }
    return startTunnel(new OpenVpnTunnel(a, b, o, impl, dir, pki, `ovpn${n}`), (t) => t.start())
  },
}
