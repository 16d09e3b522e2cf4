/**
 * What every VPN driver's tunnel shares: its identity, the up/down switch
 * (refused once destroyed, a no-op when already there), an idempotent
 * destroy that always releases what the tunnel holds, and a start that
 * rolls back on failure. The drivers (openvpn.ts, wireguard.ts, ipsec.ts)
 * say only how they bring the tunnel up and down and what they stop.
 */
import { TopologyError } from '../lab/errors.js'
import type { LabNode } from '../lab/node.js'
import type { Tunnel } from '../lab/tunnel.js'
import type { CheckedOptions } from './options.js'
import { hostAddress } from './subnet.js'
import type { WorkDir } from './workdir.js'

export abstract class BaseTunnel implements Tunnel {
  abstract readonly type: string
  abstract readonly implementation: string
  abstract readonly devices: { a: string; b: string }
  abstract readonly addresses: { a: string; b: string }
  private destroyed = false

  constructor(
    readonly name: string,
    readonly a: LabNode,
    readonly b: LabNode,
  ) {}

  /** True while traffic can pass (as far as this tunnel's own parts go). */
  abstract get up(): boolean

  /** Bring a down tunnel back up. */
  protected abstract bringUp(): Promise<void>
  /** Take an up tunnel down (its peer process dies, or its states go). */
  protected abstract bringDown(): Promise<void>
  /** Stop everything the tunnel started, whatever state it is in. */
  protected abstract teardown(): Promise<void>
  /** Release what the tunnel holds (work directory, sockets); runs after teardown, even when it failed. */
  protected release(): void {}

  async setUp(up: boolean): Promise<void> {
    if (this.destroyed) throw new TopologyError(`tunnel ${this.name} was destroyed`)
    if (up === this.up) return
    if (up) await this.bringUp()
    else await this.bringDown()
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    try {
      await this.teardown()
    } finally {
      this.release()
    }
  }
}

/**
 * A tunnel of programs configured from files (OpenVPN, WireGuard): checked
 * options, the inner subnet's first two hosts as a's and b's addresses, and
 * a work directory that goes with the tunnel.
 */
export abstract class WorkDirTunnel extends BaseTunnel {
  readonly addresses: { a: string; b: string }

  constructor(
    a: LabNode,
    b: LabNode,
    readonly options: CheckedOptions,
    protected readonly dir: WorkDir,
  ) {
    super(options.name, a, b)
    this.addresses = { a: hostAddress(options.subnet, 1), b: hostAddress(options.subnet, 2) }
  }

  /** The directory holding the tunnel's configs, keys and captured state (removed on destroy). */
  get workDir(): string {
    return this.dir.path
  }

  protected override release(): void {
    this.dir.remove()
  }
}

/** Run `start` on a new tunnel; when it fails, destroy what it started and rethrow. */
export async function startTunnel<T extends BaseTunnel>(
  tunnel: T,
  start: (t: T) => Promise<void>,
): Promise<T> {
  try {
    await start(tunnel)
    return tunnel
  } catch (err) {
    await tunnel.destroy().catch(() => undefined)
    throw err
  }
}
