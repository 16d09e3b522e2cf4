/**
 * The lab's timeline: bounded, ordered, on the capture's clock, and filled
 * by what the lab does (operations with their link states), by the lines its
 * processes write, and by the kernel's netlink announcements of its
 * namespaces, including a link taken down behind the lab's back.
 */
import { describe, expect, it } from 'vitest'
import { Lab } from '../../harness/index.js'
import { Timeline, nowUs } from '../../harness/lab/timeline.js'

describe('Timeline (pure)', () => {
  it('keeps the newest events within its capacity and counts the ones let go', () => {
    const t = new Timeline(3)
    for (let i = 0; i < 5; i++) t.record({ kind: 'note', title: `e${i}`, t: 1000 + i })
    expect(t.events().map((e) => e.title)).toEqual(['e2', 'e3', 'e4'])
    expect(t.dropped).toBe(2)
    expect(t.size).toBe(3)
    t.clear()
    expect(t.events()).toEqual([])
    expect(t.dropped).toBe(2)
  })

  it('orders by time: a timed operation is stamped when it began, recorded when it ended', async () => {
    const t = new Timeline()
    await t.timed({ kind: 'lab', title: 'slow' }, async () => {
      t.record({ kind: 'note', title: 'inside' })
      await new Promise((r) => setTimeout(r, 5))
    })
    const [slow, inside] = t.events()
    expect(slow!.title).toBe('slow')
    expect(slow!.ok).toBe(true)
    expect(slow!.durationUs).toBeGreaterThan(1000)
    expect(inside!.title).toBe('inside')
  })

  it('a failed timed operation is recorded with ok false and the error, and rethrows', async () => {
    const t = new Timeline()
    await expect(
      t.timed({ kind: 'lab', title: 'doomed' }, () => Promise.reject(new Error('EPERM: no'))),
    ).rejects.toThrow('EPERM')
    expect(t.events()[0]).toMatchObject({ title: 'doomed', ok: false, detail: 'EPERM: no' })
  })

  it('cuts huge texts with a mark, refuses a nonsense capacity', () => {
    const t = new Timeline()
    const e = t.record({ kind: 'output', title: 'x'.repeat(10_000) })
    expect(e.title.length).toBeLessThan(4200)
    expect(e.title).toMatch(/more characters\]$/)
    expect(() => new Timeline(0)).toThrow(/positive integer/)
  })

  it('a late event is made once, when the timeline is read, in time order; undefined drops it', () => {
    const t = new Timeline()
    const made: string[] = []
    t.recordLater(3000, () => (made.push('c'), { kind: 'netlink', title: 'c' }))
    t.recordLater(1000, () => (made.push('a'), { kind: 'netlink', title: 'a' }))
    t.recordLater(2000, () => (made.push('gone'), undefined))
    t.record({ kind: 'lab', title: 'b', t: 1500 })
    expect(made).toEqual([])
    expect(t.events().map((e) => `${e.t}:${e.title}`)).toEqual(['1000:a', '1500:b', '3000:c'])
    expect(t.events().map((e) => e.title)).toEqual(['a', 'b', 'c'])
    expect(made).toEqual(['a', 'gone', 'c'])
  })

  it('reads CLOCK_REALTIME in microseconds (the clock of kernel packet timestamps)', () => {
    expect(Math.abs(nowUs() / 1000 - Date.now())).toBeLessThan(50)
  })
})

describe('a lab fills its timeline', () => {
  it('operations, link states, process output and netlink announcements, in order', async () => {
    const lab = await Lab.create()
    try {
      const [a, b] = await lab.addHosts('a', 'b')
      lab.recordNetlink()
      await lab.connect(a, b)
      const link = a.ports[0]!.link
      expect(b.ports[0]!.link).toBe(link)
      lab.capture()
      await a.ping(b, { count: 1 })
      await lab.linkDown(a, b)
      await lab.linkUp(a, b)
      await lab.impair(a, b, { rate: 1_000_000 })
      await a.exec(['sh', '-c', 'echo hello from a; echo oops >&2'])
      // Behind the lab's back: the kernel's announcement turns the link down.
      await b.exec(['ip', 'link', 'set', b.ports[0]!.device, 'down'])
      await lab.packetCapture!.flush()
      const events = lab.timeline.events()
      const titles = events.map((e) => e.title)
      expect(titles).toContain('host a added')
      expect(titles).toContain('link a ⟷ b made')
      const made = events.find((e) => e.title === 'link a ⟷ b made')!
      expect(made.linkState).toEqual({ [link]: 'up' })
      expect(made.detail).toMatch(/^a\/\S+ 198\.18\.\S+\/30 \S+\/64\nb\/\S+ /)
      const states = events.filter((e) => e.kind === 'lab' && e.linkState).map((e) => e.linkState![link])
      expect(states).toEqual(['up', 'down', 'up', 'impaired'])
      expect(titles).toContain('link a ⟷ b impaired: rate 1Mbit')
      expect(titles).toContain('a out| hello from a')
      expect(titles).toContain('a err| oops')
      expect(titles.some((x) => x.startsWith('a: started sh -c'))).toBe(true)
      expect(titles.some((x) => /^a: sh -c .* exited with 0$/.test(x))).toBe(true)
      // Netlink: addresses of the link as the kernel announced them, with device names.
      expect(titles.some((x) => /^a: new addr 198\.18\.\S+\/30 dev \S+$/.test(x))).toBe(true)
      // The down made with ip(8) arrives as a netlink event that turns the link down.
      const last = events.filter((e) => e.kind === 'netlink' && e.linkState)
      expect(last.at(-1)!.linkState).toEqual({ [link]: 'down' })
      expect(last.at(-1)!.node).toBe('b')
      // One clock: the echo request's kernel timestamp lies between the ping's neighbours on the timeline.
      const packets = lab.packetCapture!.packets()
      const first = packets[0]!
      const tPacket = first.sec * 1e6 + first.nsec / 1000
      const made_t = made.t
      const down = events.find((e) => e.title === 'link a ⟷ b down')!
      expect(tPacket).toBeGreaterThan(made_t)
      expect(tPacket).toBeLessThan(down.t)
      // sorted
      for (let i = 1; i < events.length; i++) expect(events[i]!.t).toBeGreaterThanOrEqual(events[i - 1]!.t)
    } finally {
      await lab.destroy()
    }
  })
})
