/**
 * Typed NetworkManager D-Bus calls over one private bus (never the machine's
 * system bus): explicit method calls with their signatures, properties read
 * with org.freedesktop.DBus.Properties, signals received through match rules.
 * No introspection round trips, no polling.
 */
import type { MessageBus } from '@jellybrick/dbus-next'
import { Message, Variant, sessionBus } from '@jellybrick/dbus-next'

export const NM = 'org.freedesktop.NetworkManager'
export const NM_PATH = '/org/freedesktop/NetworkManager'
const PROPS = 'org.freedesktop.DBus.Properties'
const DBUS = 'org.freedesktop.DBus'

/** NMActiveConnectionState */
export const ACTIVE_STATES = ['unknown', 'activating', 'activated', 'deactivating', 'deactivated'] as const
export type ActiveState = (typeof ACTIVE_STATES)[number]
/** NMVpnConnectionState */
export const VPN_STATES = [
  'unknown',
  'prepare',
  'need-auth',
  'connect',
  'ip-config-get',
  'activated',
  'failed',
  'disconnected',
] as const
export type VpnState = (typeof VPN_STATES)[number]

export interface Signal {
  path: string
  interface: string
  member: string
  body: unknown[]
}

/** Unwrap dbus-next Variants (recursively) into plain values. */
export function plain(v: unknown): unknown {
  if (v instanceof Variant) return plain(v.value)
  if (Array.isArray(v)) return v.map(plain)
  if (v && typeof v === 'object' && !Buffer.isBuffer(v))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
  return v
}

export class NmBus {
  private readonly bus: MessageBus
  private readonly listeners = new Set<(s: Signal) => void>()
  private closed = false

  private constructor(bus: MessageBus) {
    this.bus = bus
    bus.on('message', (m: Message) => {
      if (m.type !== 4) return // SIGNAL
      const s: Signal = { path: m.path, interface: m.interface, member: m.member, body: m.body }
      for (const l of [...this.listeners]) l(s)
    })
  }

  /** Connect to the bus at `address` (`unix:path=...`) and subscribe to NM's signals. */
  static async connect(address: string): Promise<NmBus> {
    if (!address.startsWith('unix:path=') || address.includes('/run/dbus/system_bus_socket,'))
      throw new Error(`refusing D-Bus address ${address}: nslab talks only to a lab's private bus socket`)
    // sessionBus() is dbus-next's "connect to this address" entry point; the address is ours.
    const bus = sessionBus({ busAddress: address })
    const nb = new NmBus(bus)
    await nb.call(DBUS, '/org/freedesktop/DBus', DBUS, 'AddMatch', 's', [`type='signal',sender='${NM}'`])
    await nb.call(DBUS, '/org/freedesktop/DBus', DBUS, 'AddMatch', 's', [
      `type='signal',interface='${DBUS}',member='NameOwnerChanged'`,
    ])
    return nb
  }

  async call(
    destination: string,
    path: string,
    iface: string,
    member: string,
    signature = '',
    body: unknown[] = [],
  ): Promise<unknown[]> {
    const reply = await this.bus.call(
      new Message({ destination, path, interface: iface, member, signature, body }),
    )
    return reply?.body ?? []
  }

  async nm(
    path: string,
    iface: string,
    member: string,
    signature = '',
    body: unknown[] = [],
  ): Promise<unknown[]> {
    try {
      return await this.call(NM, path, iface, member, signature, body)
    } catch (err) {
      throw new Error(`NetworkManager ${iface}.${member} on ${path} failed: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }

  async get(path: string, iface: string, prop: string): Promise<unknown> {
    const [v] = await this.nm(path, PROPS, 'Get', 'ss', [iface, prop])
    return plain(v)
  }

  async getAll(path: string, iface: string): Promise<Record<string, unknown>> {
    const [v] = await this.nm(path, PROPS, 'GetAll', 's', [iface])
    return plain(v) as Record<string, unknown>
  }

  async hasOwner(name: string): Promise<boolean> {
    const [v] = await this.call(DBUS, '/org/freedesktop/DBus', DBUS, 'NameHasOwner', 's', [name])
    return v === true
  }

  /** Listen to every signal; returns the unsubscribe function. */
  onSignal(fn: (s: Signal) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /**
   * Resolve with the first value `check` returns other than undefined,
   * trying it now and after every signal (subscribed before the first try,
   * so nothing is missed). Rejects when `abort` fires.
   */
  async until<T>(check: () => Promise<T | undefined>, what: string, abort?: Promise<never>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let busy = false
      let again = false
      let done = false
      const finish = (fn: () => void): void => {
        done = true
        off()
        fn()
      }
      const attempt = (): void => {
        if (done) return
        if (busy) {
          again = true
          return
        }
        busy = true
        check().then(
          (v) => {
            busy = false
            if (v !== undefined) finish(() => resolve(v))
            else if (again) {
              again = false
              attempt()
            }
          },
          (err: unknown) =>
            finish(() => reject(new Error(`while waiting for ${what}: ${(err as Error).message}`))),
        )
      }
      const off = this.onSignal(() => attempt())
      abort?.catch((err: unknown) => {
        if (!done) finish(() => reject(err as Error))
      })
      attempt()
    })
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.listeners.clear()
    this.bus.disconnect()
  }
}
