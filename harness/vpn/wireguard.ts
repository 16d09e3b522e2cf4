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
import net from 'node:net'
import { promisify } from 'node:util'
import { WG_SOCKET_DIR } from '../lab/gc.js'
import type { LabNode } from '../lab/node.js'
import type { TunnelDriver, TunnelOptions } from '../lab/tunnel.js'
import type { NetnsProcess } from '../netns/index.js'
import { WorkDirTunnel, startTunnel } from './base-tunnel.js'
import { installResolvConf } from './dns.js'
import { tunnelKernelFeatures } from './kernel.js'
import { type CheckedOptions, checkOptions, nextTunnelNumber } from './options.js'
import { stopProcess, waitForOutput } from './ready.js'
import { subnetText } from './subnet.js'
import { pinUnderlay, underlayRoute } from './underlay.js'
import { wgConfig } from './wireguard-config.js'
import { type WgKeyPair, wgKeyPair } from './wireguard-keys.js'
import { type WorkDir, makeWorkDir } from './workdir.js'

export type WireGuardImplementation = 'kernel' | 'wireguard-go'

/** Where wireguard-go puts its control sockets (shared by all namespaces; `nslab gc` reaps dead labs' ones). */
export { WG_SOCKET_DIR }

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

export class WireGuardTunnel extends WorkDirTunnel {
  readonly type = 'wireguard'
  readonly implementation: WireGuardImplementation
  readonly devices: { a: string; b: string }
  private readonly ends: { a: End; b: End }
  private isUp = false

  constructor(
    a: LabNode,
    b: LabNode,
    o: CheckedOptions,
    impl: WireGuardImplementation,
    dir: WorkDir,
    devices: { a: string; b: string },
  ) {
    super(a, b, o, dir)
    this.implementation = impl
    this.devices = devices
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
  /**
   * Both ends' static keys in Wireshark's WireGuard key log format, for the
   * capture's decryption secrets block: Wireshark then names the peers of
   * each handshake and decrypts its static and timestamp fields. Transport
   * data needs the handshake's ephemeral keys, which neither the kernel nor
   * wireguard-go hands out.
   */
  secrets(): { type: 'wireguard'; data: string }[] {
    const lines = (['a', 'b'] as const).map(
      (e) => `LOCAL_STATIC_PRIVATE_KEY = ${this.ends[e].keys.privateKey}`,
    )
    return [{ type: 'wireguard', data: lines.join('\n') + '\n' }]
  }

  get publicKeys(): { a: string; b: string } {
    return { a: this.ends.a.keys.publicKey, b: this.ends.b.keys.publicKey }
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
    // b speaks first, as a client does: a keepalive now (and every 25 s) makes
    // b handshake at once, so a restarted b replaces the session a still holds
    // for its previous incarnation (a's packets would otherwise go to a b that
    // cannot decrypt them until a gives up on that session).
    const ka = await node.exec(
      ['wg', 'set', end.device, 'peer', other.keys.publicKey, 'persistent-keepalive', '25'],
      { timeout: 20_000 },
    )
    if (ka.code !== 0)
      throw new Error(
        `wg set ${end.device} persistent-keepalive in ${node.netns} failed: ${ka.stderr.trim()}`,
      )
    await this.handshake(end, other)
    for (const dst of o.routes) await nl.replaceRoute({ dst, oif: link.index })
    if (o.mode === 'full') {
      await pinUnderlay(node, await underlayRoute(node, o.endpoint))
      for (const half of ['0.0.0.0/1', '128.0.0.0/1']) await nl.replaceRoute({ dst: half, oif: link.index })
    }
    if (o.dns) end.restoreDns = installResolvConf(node.netns, o.dns)
  }

  /**
   * Resolve once b has completed a handshake with a, so the tunnel carries
   * traffic both ways when start()/setUp(true) return (WireGuard announces
   * handshakes nowhere but `wg show`, so this asks it until one appears).
   */
  private async handshake(end: End, other: End): Promise<void> {
    const deadline = performance.now() + START_TIMEOUT
    for (;;) {
      const r = await end.node.exec(['wg', 'show', end.device, 'latest-handshakes'], { timeout: 5_000 })
      const line = r.stdout.split('\n').find((l) => l.startsWith(other.keys.publicKey))
      if (Number(line?.split(/\s+/)[1] ?? 0) > 0) return
      if (performance.now() > deadline)
        throw new Error(
          `WireGuard tunnel ${this.name}: no handshake between ${end.node.name} and ${other.node.name} within ${START_TIMEOUT} ms (is UDP ${this.options.port} to ${this.options.endpoint} blocked on the underlay?)`,
        )
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  private async createDevice(end: End): Promise<void> {
    if (this.implementation === 'kernel') {
      await end.node.netlink.createLink(end.device, 'wireguard')
      return
    }
    const sock = `${WG_SOCKET_DIR}/${end.device}.sock`
    rmSync(sock, { force: true })
    end.node.ownPath(sock) // a SIGKILLed wireguard-go leaves it: gc removes it then
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
    const sock = `${WG_SOCKET_DIR}/${end.device}.sock`
    rmSync(sock, { force: true })
    end.node.disownPath(sock)
  }

  /** Up: b is set up again. */
  protected async bringUp(): Promise<void> {
    await this.startEnd('b')
    this.isUp = true
  }

  /** Down: b's device dies (its wireguard-go is stopped, or the kernel device deleted). */
  protected async bringDown(): Promise<void> {
    await this.stopEnd(this.ends.b)
    this.isUp = false
  }

  protected async teardown(): Promise<void> {
    await this.stopEnd(this.ends.b)
    await this.stopEnd(this.ends.a)
  }
}

function socketLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
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
    for (const d of Object.values(devices)) {
      const sock = `${WG_SOCKET_DIR}/${d}.sock`
      if (impl !== 'wireguard-go' || !existsSync(sock)) continue
      // A crashed run's socket has no listener: take it; a live one is another lab's.
      if (await socketLive(sock))
        throw new Error(`${sock} is in use by another wireguard-go: another lab uses the device name ${d}`)
      rmSync(sock, { force: true })
    }
    return startTunnel(new WireGuardTunnel(a, b, o, impl, makeWorkDir(a), devices), (t) => t.start())
  },
}
