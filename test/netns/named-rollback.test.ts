// Fault injection: the bind mount that names a new namespace fails after the
// thread has already unshared. The thread must be back home and nothing left.
import { existsSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import { SysError } from '../../harness/sys/index.js'
import type * as Libc from '../../harness/sys/libc.js'

const failBind = vi.hoisted(() => ({ on: false }))

vi.mock('../../harness/sys/libc.js', async (importOriginal) => {
  const real = await importOriginal<typeof Libc>()
  return {
    ...real,
    mount: (...args: Parameters<typeof real.mount>) => {
      if (failBind.on && args[0] === '/proc/thread-self/ns/net')
        throw new SysError('mount', 13, { target: args[1] })
      return real.mount(...args)
    },
  }
})

const { addNetns, listNetns, openCurrentNetns, withNetns } = await import('../../harness/netns/index.js')
const { netnsNames } = await import('../support/names.js')
const name = netnsNames('rollback')

describe('a namespace build that fails half-way', () => {
  it('returns the thread home and removes the file', () => {
    using home = openCurrentNetns()
    const n = name()
    failBind.on = true
    try {
      expect(() => addNetns(n)).toThrow('EACCES from mount')
    } finally {
      failBind.on = false
    }
    using now = openCurrentNetns()
    expect(now.is(home)).toBe(true)
    expect(existsSync(`/run/netns/${n}`)).toBe(false)
    expect(listNetns()).not.toContain(n)
  })

  it('withNetns switches back when the work throws', () => {
    using home = openCurrentNetns()
    const n = name()
    addNetns(n)
    expect(() =>
      withNetns(n, () => {
        using inside = openCurrentNetns()
        expect(inside.is(home)).toBe(false)
        throw new Error('boom')
      }),
    ).toThrow('boom')
    using now = openCurrentNetns()
    expect(now.is(home)).toBe(true)
  })

  it('withNetns refuses async work and still switches back', () => {
    using home = openCurrentNetns()
    const n = name()
    addNetns(n)
    expect(() => withNetns(n, async () => 1)).toThrow('synchronous work only')
    using now = openCurrentNetns()
    expect(now.is(home)).toBe(true)
  })
})
