import { describe, expect, it } from 'vitest'
import { type NetnsEvent, addNetns, deleteNetns, monitorNetns } from '../../harness/netns/index.js'
import { ip, netnsNames } from '../support/names.js'

const name = netnsNames('mon')

describe('monitorNetns, like `ip netns monitor`', () => {
  it('reports namespaces added and deleted, by nslab and by ip', async () => {
    const a = name()
    const b = name()
    const controller = new AbortController()
    const seen: NetnsEvent[] = []
    const mine = new Set([a, b])
    const done = (async () => {
      for await (const ev of monitorNetns({ signal: controller.signal })) {
        if (!mine.has(ev.name)) continue
        seen.push(ev)
        if (seen.length === 4) controller.abort()
      }
    })()
    // Let the watch start before acting.
    await new Promise((r) => setImmediate(r))
    addNetns(a)
    ip('netns', 'add', b)
    deleteNetns(a)
    ip('netns', 'delete', b)
    await done
    expect(seen).toEqual([
      { type: 'add', name: a },
      { type: 'add', name: b },
      { type: 'delete', name: a },
      { type: 'delete', name: b },
    ])
  })

  it('stops when aborted', async () => {
    const controller = new AbortController()
    const it = monitorNetns({ signal: controller.signal })
    const next = it.next()
    controller.abort()
    expect(await next).toEqual({ done: true, value: undefined })
  })
})
