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
