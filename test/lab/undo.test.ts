/**
 * The undo stack is what destroy() runs: a build made to fail at each of
 * its kernel requests in turn (a fault injected into the lab's netlink
 * client) leaves, after destroy(), no namespace, no record, no undo step;
 * and the half-made operation itself is rolled back at once.
 */
import { existsSync } from 'node:fs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Lab } from '../../harness/lab/lab.js'
import { OWNER_DIR } from '../../harness/lab/owner.js'
import { listNetns } from '../../harness/index.js'
import { Netlink } from '../../harness/netlink/index.js'
import { UndoStack } from '../../harness/lab/undo.js'

const REQUESTS = [
  'createVeth',
  'createBridge',
  'setLink',
  'getLink',
  'addAddress',
  'replaceRoute',
  'deleteRoute',
] as const

/** Make the `fail`-th netlink request of this process (counting from 1) throw; returns the count so far. */
function injectFault(fail: number): { count: () => number } {
  let n = 0
  for (const method of REQUESTS) {
    const original = Netlink.prototype[method] as (...args: unknown[]) => Promise<unknown>
    vi.spyOn(Netlink.prototype, method).mockImplementation(function (this: Netlink, ...args: unknown[]) {
      if (++n === fail) return Promise.reject(new Error(`injected fault at request ${n} (${method})`))
      return original.apply(this, args)
    } as never)
  }
  return { count: () => n }
}

/** A router between a host and a switch with another host: namespaces, a bridge, links, routes. */
async function build(lab: Lab): Promise<void> {
  const [a, b] = await lab.addHosts('a', 'b')
  const r = await lab.addRouter('r')
  const sw = await lab.addSwitch('sw', { hosts: 4 })
  await lab.connect(a, r)
  await lab.connect(r, sw)
  await lab.connect(b, sw)
}

afterEach(() => vi.restoreAllMocks())

describe('a build failing at any step leaves nothing after destroy()', () => {
  it('every kernel request of a routed build, made to fail in turn', async () => {
    const probe = injectFault(Infinity)
    const whole = await Lab.create()
    await build(whole)
    const steps = probe.count()
    expect(whole.pendingUndo.filter((s) => s.startsWith('namespace '))).toHaveLength(4)
    await whole.destroy()
    expect(whole.pendingUndo).toEqual([])
    vi.restoreAllMocks()
    expect(steps).toBeGreaterThan(10)

    for (let k = 1; k <= steps; k++) {
      injectFault(k)
      const lab = await Lab.create()
      const error = await build(lab).then(
        () => undefined,
        (err: unknown) => err as Error,
      )
      vi.restoreAllMocks()
      expect(error?.message, `request ${k}`).toMatch(/injected fault/)
      await lab.destroy()
      expect(lab.pendingUndo, `request ${k}`).toEqual([])
      expect(
        listNetns().filter((n) => n.startsWith(lab.prefix)),
        `request ${k}`,
      ).toEqual([])
      expect(existsSync(`${OWNER_DIR}/${lab.id}.json`), `request ${k}`).toBe(false)
    }
  }, 120_000)

  it('a link that fails half-way gives its addresses back and leaves no device', async () => {
    const lab = await Lab.create()
    try {
      const [a, b] = await lab.addHosts('a', 'b')
      const before = lab.pendingUndo
      injectFault(4) // createVeth, then the addresses: fail among them
      await expect(lab.connect(a, b, { subnet: '10.9.0.0/30' })).rejects.toThrow(/injected fault/)
      vi.restoreAllMocks()
      expect(lab.pendingUndo).toEqual(before)
      expect((await a.netlink.listLinks()).map((l) => l.name)).toEqual(['lo'])
      // The same addresses are free again.
      await lab.connect(a, b, { subnet: '10.9.0.0/30' })
      expect(a.address(b)).toBe('10.9.0.1')
    } finally {
      await lab.destroy()
    }
  })
})

describe('UndoStack', () => {
  it('runs steps last first, keeps going past a failure, and names it', async () => {
    const undo = new UndoStack()
    const ran: string[] = []
    undo.defer('one', () => void ran.push('one'))
    undo.defer('two', () => {
      throw new Error('boom')
    })
    const drop = undo.defer('three', () => void ran.push('three'))
    undo.defer('four', async () => void ran.push('four'))
    drop()
    const errors = await undo.unwind()
    expect(ran).toEqual(['four', 'one'])
    expect(errors.map((e) => e.message)).toEqual(['undo two: boom'])
    expect(undo.size).toBe(0)
  })

  it('atomically() unwinds only what the failed operation registered', async () => {
    const undo = new UndoStack()
    const ran: string[] = []
    undo.defer('kept', () => void ran.push('kept'))
    await expect(
      undo.atomically(async () => {
        undo.defer('half', () => void ran.push('half'))
        throw new Error('failed')
      }),
    ).rejects.toThrow('failed')
    expect(ran).toEqual(['half'])
    expect(undo.pending).toEqual(['kept'])
  })
})
