/**
 * WireGuard between two lab nodes. The kernel module where the kernel has
 * it, else `wireguard-go` (userspace, over /dev/net/tun) run inside each
 * node's namespace; the choice comes from the feature probe and is reported
 * in `tunnel.implementation`. Keys come from node:crypto; `wg setconf`
 * configures each end in its namespace, netlink does addresses and routes.
 *
 * wireguard-go's control sockets live in one directory shared by every
 * namespace (/var/run/wireguard/<device>.sock), so device names carry the
 * lab id, the tunnel number and the end: `wg<lab><n>a`.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { LabNode } from '../lab/node.js'
import type { Tunnel, TunnelDriver, TunnelOptions } from '../lab/tunnel.js'
import type { NetnsProcess } from '../netns/index.js'
import { installResolvConf } from './dns.js'
import { tunnelKernelFeatures } from './kernel.js'
import { type CheckedOptions, checkOptions, nextTunnelNumber } from './options.js'
import { stopProcess, waitForOutput } from './ready.js'
import { hostAddress, subnetText } from './subnet.js'
import { pinUnderlay, underlayRoute } from './underlay.js'
import { wgConfig } from './wireguard-config.js'
import { type WgKeyPair, wgKeyPair } from './wireguard-keys.js'
import { type WorkDir, makeWorkDir } from './workdir.js'

export type WireGuardImplementation = 'kernel' | 'wireguard-go'

/** Where wireguard-go puts its control sockets (shared by all namespaces). */
export const WG_SOCKET_DIR = '/var/run/wireguard'

const START_TIMEOUT = 30_000

async function haveProgram(name: string): Promise<boolean> {
  try {
    await promisify(execFile)('sh', ['-c', `command -v ${name}`])
    return true
  } catch {
    return false
  }
}

/** The implementation this machine gives: the kernel module if the probe finds it, else wireguard-go. */
export async function wireguardImplementation(): Promise<WireGuardImplementation> {
  if ((await tunnelKernelFeatures()).wireguard) return 'kernel'
  if (!(await haveProgram('wireguard-go')))
    throw new Error(
      'WireGuard needs the wireguard kernel module or the wireguard-go program: install the Debian package wireguard-go (and wireguard-tools)',
    )
  if (!(await tunnelKernelFeatures()).tun)
    throw new Error('wireguard-go needs tun devices (/dev/net/tun), which this kernel lacks')
  return 'wireguard-go'
}

interface End {
  node: LabNode
  device: string
  keys: WgKeyPair
  address: string
  process: NetnsProcess | undefined
  restoreDns: (() => void) | undefined
}

export class WireGuardTunnel implements Tunnel {
  readonly type = 'wireguard'
  readonly name: string
  readonly implementation: WireGuardImplementation
  readonly a: LabNode
  readonly b: LabNode
  readonly devices: { a: string; b: string }
  readonly addresses: { a: string; b: string }
  readonly options: CheckedOptions
  private readonly ends: { a: End; b: End }
  private readonly dir: WorkDir
  private isUp = false
  private destroyed = false

  constructor(
    a: LabNode,
    b: LabNode,
    o: CheckedOptions,
    impl: WireGuardImplementation,
    dir: WorkDir,
    devices: { a: string; b: string },
  ) {
    this.a = a
    this.b = b
    this.name = o.name
    this.options = o
    this.implementation = impl
    this.dir = dir
    this.devices = devices
    this.addresses = { a: hostAddress(o.subnet, 1), b: hostAddress(o.subnet, 2) }
    const end = (node: LabNode, side: 'a' | 'b'): End => ({
      node,
      device: devices[side],
      keys: wgKeyPair(),
      address: this.addresses[side],
      process: undefined,
      restoreDns: undefined,
    })
    this.ends = { a: end(a, 'a'), b: end(b, 'b') }
  }

  /** Each end's public key. */
  get publicKeys(): { a: string; b: string } {
    return { a: this.ends.a.keys.publicKey, b: this.ends.b.keys.publicKey }
  }

  /** The directory holding the `wg setconf` files (removed on destroy). */
  get workDir(): string {
    return this.dir.path
  }

  get up(): boolean {
    return this.isUp
  }

  /** @internal */
  async start(): Promise<void> {
    await this.startEnd('a')
    await this.startEnd('b')
    this.isUp = true
  }

  /** What b sends through the tunnel: the inner subnet and the routes, or everything. */
  private allowedFromA(): string[] {
    const o = this.options
    return o.mode === 'full' ? ['0.0.0.0/0'] : [subnetText(o.subnet), ...o.routes]
  }

  private async startEnd(side: 'a' | 'b'): Promise<void> {
    const end = this.ends[side]
    const other = this.ends[side === 'a' ? 'b' : 'a']
    const o = this.options
    const node = end.node
    await this.createDevice(end)
    const conf = this.dir.file(`${side}.conf`)
    writeFileSync(
      conf,
      wgConfig(end.keys.privateKey, o.port, {
        publicKey: other.keys.publicKey,
        allowedIps: side === 'a' ? [`${other.address}/32`] : this.allowedFromA(),
        endpoint: `${side === 'a' ? this.b.address(this.a) : o.endpoint}:${o.port}`,
      }),
    )
    const r = await node.exec(['wg', 'setconf', end.device, conf], { timeout: 20_000 })
    if (r.code !== 0)
      throw new Error(`wg setconf ${end.device} in ${node.netns} failed: ${r.stderr.trim() || r.code}`)
    const nl = node.netlink
    const link = await nl.getLink(end.device)
    await nl.addAddress(link.index, `${end.address}/${o.subnet.prefixLen}`)
    await nl.setLink(link.index, { up: true, ...(o.mtu ? { mtu: o.mtu } : {}) })
    if (side === 'a') return
    for (const dst of o.routes) await nl.replaceRoute({ dst, oif: link.index })
    if (o.mode === 'full') {
      await pinUnderlay(node, await underlayRoute(node, o.endpoint))
      for (const half of ['0.0.0.0/1', '128.0.0.0/1']) await nl.replaceRoute({ dst: half, oif: link.index })
    }
    if (o.dns) end.restoreDns = installResolvConf(node.netns, o.dns)
  }

  private async createDevice(end: End): Promise<void> {
    if (this.implementation === 'kernel') {
      await end.node.netlink.createLink(end.device, 'wireguard')
      return
    }
    rmSync(`${WG_SOCKET_DIR}/${end.device}.sock`, { force: true })
    end.process = end.node.spawn(['wireguard-go', '-f', end.device], {
      env: { ...process.env, LOG_LEVEL: 'verbose', WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' },
    })
    await waitForOutput(end.process, /UAPI listener started/, {
      timeout: START_TIMEOUT,
      what: `wireguard-go for ${end.device} of ${this.name}`,
    })
  }

  private async stopEnd(end: End): Promise<void> {
    end.restoreDns?.()
    end.restoreDns = undefined
    if (end.process) {
      await stopProcess(end.process)
      end.process = undefined
    } else if (this.implementation === 'kernel') {
      await end.node.netlink.deleteLink(end.device).catch(() => undefined)
    }
    rmSync(`${WG_SOCKET_DIR}/${end.device}.sock`, { force: true })
  }

  /** Down: b's device dies (its wireguard-go is stopped, or the kernel device deleted). Up: b is set up again. */
  async setUp(up: boolean): Promise<void> {
    if (this.destroyed) throw new Error(`tunnel ${this.name} was destroyed`)
    if (up === this.isUp) return
    if (up) await this.startEnd('b')
    else await this.stopEnd(this.ends.b)
    this.isUp = up
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    try {
      await this.stopEnd(this.ends.b)
      await this.stopEnd(this.ends.a)
    } finally {
      this.dir.remove()
    }
  }
}

/** The lab id in a lab namespace name (`nslab-<id>-<node>`), or this process's pid. */
function owner(node: LabNode): string {
  return /^nslab-([a-z0-9]{1,8})-/.exec(node.netns)?.[1] ?? process.pid.toString(36)
}

export const wireguardDriver: TunnelDriver = {
  type: 'wireguard',
  async create(a: LabNode, b: LabNode, options: TunnelOptions): Promise<WireGuardTunnel> {
    const n = nextTunnelNumber()
    const o = checkOptions(a, b, options, { basePort: 51820, n })
    const impl = await wireguardImplementation()
    const base = `wg${owner(a)}${n.toString(36)}`
    if (base.length > 14) throw new Error(`WireGuard device name ${base}a would exceed 15 characters`)
    const devices = { a: `${base}a`, b: `${base}b` }
    for (const d of Object.values(devices))
      if (impl === 'wireguard-go' && existsSync(`${WG_SOCKET_DIR}/${d}.sock`))
        throw new Error(`${WG_SOCKET_DIR}/${d}.sock already exists: another run uses ${d}; run nslab gc`)
    const dir = makeWorkDir(a.netns)
    const t = new WireGuardTunnel(a, b, o, impl, dir, devices)
    try {
      await t.start()
      return t
    } catch (err) {
      await t.destroy().catch(() => undefined)
      throw err
    }
  },
}
