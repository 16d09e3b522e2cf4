import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, expect, it } from 'vitest'
import { Lab, gc, listOwners, pidsInNetns } from '../../harness/index.js'
import { addNetns, deleteNetns, listNetns } from '../../harness/netns/index.js'
import { OWNER_DIR, processStartTime } from '../../harness/lab/owner.js'
import { WG_SOCKET_DIR } from '../../harness/lab/gc.js'
import { ip, netnsNames } from '../support/names.js'

const name = netnsNames('gc')

describe('crash recovery', () => {
  it('a builder SIGKILLed mid-build leaves namespaces that gc removes, and nothing else', async () => {
    const outsider = name()
    ip('netns', 'add', outsider) // made by `ip netns add`: never touched
    const mine = await Lab.create() // owned by this live process: never touched
    try {
      await mine.addHosts('keep')
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/crashing-builder.ts'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      const lines = createInterface({ input: child.stdout! })
      let prefix = ''
      let id = ''
      let orphanSleep: number[] = []
      for await (const line of lines) {
        const m = /^lab (\S+) (\S+)$/.exec(line)
        if (m) [, id, prefix] = m as unknown as [string, string, string]
        if (line === 'built h3') {
          orphanSleep = pidsInNetns(`${prefix}h0`)
          child.kill('SIGKILL')
          break
        }
      }
      await new Promise((r) => child.once('exit', r))
      const left = listNetns().filter((n) => n.startsWith(prefix))
      expect(left.length).toBeGreaterThanOrEqual(4)
      expect(orphanSleep.length).toBe(1)
      expect(listOwners().map((o) => o.id)).toContain(id)

      const report = gc()
      const reaped = report.reaped.find((r) => r.id === id)
      expect(reaped?.namespaces.sort()).toEqual(left.sort())
      expect(reaped?.killed).toEqual(orphanSleep)
      expect(listNetns().filter((n) => n.startsWith(prefix))).toEqual([])
      expect(existsSync(`${OWNER_DIR}/${id}.json`)).toBe(false)
      // Killed: gone, or a zombie waiting for init to reap it.
      const state = (): string => {
        try {
          return readFileSync(`/proc/${orphanSleep[0]}/stat`, 'utf8').split(') ')[1]!.slice(0, 1)
        } catch {
          return 'gone'
        }
      }
      await expect.poll(state, { timeout: 5000, interval: 20 }).toMatch(/^(gone|Z)$/)
      // What gc must not touch.
      expect(listNetns()).toContain(outsider)
      expect(listNetns()).toContain(`${mine.prefix}keep`)
      expect(report.live.map((l) => l.id)).toContain(mine.id)
    } finally {
      await mine.destroy()
    }
  })

  it("removes a dead lab's tunnel and NetworkManager work directories and wireguard-go sockets, and no one else's", () => {
    const id = `g${process.pid.toString(36).slice(-4)}`
    const prefix = `nslab-${id}-`
    const record = (id: string, pid: number, startTime: number) =>
      writeFileSync(
        join(OWNER_DIR, `${id}.json`),
        JSON.stringify({ id, prefix: `nslab-${id}-`, pid, startTime, createdAt: '', command: 'test' }),
      )
    record(id, 2 ** 22 + 7, 1)
    // A live lab whose id starts with the dead one's: its sockets are not the dead lab's.
    const liveId = `${id}1`
    record(liveId, process.pid, processStartTime(process.pid)!)
    const dead = [`nslab-vpn-${prefix}a-`, `nslab-nm-${prefix}b-`].map((p) => mkdtempSync(join(tmpdir(), p)))
    const other = mkdtempSync(join(tmpdir(), `nslab-vpn-nslab-${id}x-a-`))
    mkdirSync(WG_SOCKET_DIR, { recursive: true })
    const deadSockets = [`wg${id}1a.sock`, `wg${id}1b.sock`].map((f) => join(WG_SOCKET_DIR, f))
    const liveSocket = join(WG_SOCKET_DIR, `wg${liveId}2a.sock`)
    // Lab id's tunnel 12, or liveId's tunnel 2: when in doubt, it stays.
    const either = join(WG_SOCKET_DIR, `wg${id}12b.sock`)
    for (const f of [...deadSockets, liveSocket, either]) writeFileSync(f, '')
    try {
      const report = gc()
      expect(report.reaped.map((r) => r.id)).toContain(id)
      for (const d of dead) expect(existsSync(d)).toBe(false)
      expect(existsSync(other)).toBe(true)
      for (const f of deadSockets) expect(existsSync(f)).toBe(false)
      expect(existsSync(liveSocket)).toBe(true)
      expect(existsSync(either)).toBe(true)
    } finally {
      rmSync(other, { recursive: true, force: true })
      for (const f of [...deadSockets, liveSocket, either]) rmSync(f, { force: true }) // also when gc failed
      rmSync(join(OWNER_DIR, `${liveId}.json`), { force: true })
    }
  })

  it('a reused pid is not mistaken for the owner (start time differs)', async () => {
    const lab = await Lab.create()
    try {
      const rec = listOwners().find((o) => o.id === lab.id)!
      expect(rec.pid).toBe(process.pid)
      expect(rec.startTime).toBe(processStartTime(process.pid))
      const { ownerAlive } = await import('../../harness/lab/owner.js')
      expect(ownerAlive(rec)).toBe(true)
      expect(ownerAlive({ pid: rec.pid, startTime: rec.startTime + 1 })).toBe(false)
    } finally {
      await lab.destroy()
    }
    expect(listOwners().map((o) => o.id)).not.toContain(lab.id)
  })

  it('SIGTERM during a run tears the lab down on its own', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/crashing-builder.ts'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const lines = createInterface({ input: child.stdout! })
    let prefix = ''
    for await (const line of lines) {
      const m = /^lab (\S+) (\S+)$/.exec(line)
      if (m) prefix = m[2]!
      if (line === 'built h2') {
        child.kill('SIGTERM')
        break
      }
    }
    const [, signal] = (await new Promise((r) => child.once('exit', (c, s) => r([c, s])))) as [
      number | null,
      string | null,
    ]
    expect(signal).toBe('SIGTERM')
    expect(listNetns().filter((n) => n.startsWith(prefix))).toEqual([])
  })

  it('refuses a lab id another live lab owns', async () => {
    const lab = await Lab.create()
    try {
      await expect(Lab.create({ id: lab.id })).rejects.toThrow(`lab id ${lab.id} is already taken`)
    } finally {
      await lab.destroy()
    }
  })
})

describe('ownership is proven by a record, never inferred from a name', () => {
  it("gc leaves a live lab whose id reads like a dead pid, and a person's nslab-tools-mine", async () => {
    // `nslab-t<pid>-` once meant "a test namespace of pid": `tzzzz` read as pid 1679615.
    const dead = spawnSync('true').pid!
    const lab = await Lab.create({ id: `t${dead.toString(36)}`.slice(0, 8) })
    const theirs = 'nslab-tools-mine'
    ip('netns', 'add', theirs)
    try {
      const [h] = await lab.addHosts('h')
      const report = gc()
      expect(report.reaped.map((r) => r.id)).not.toContain(lab.id)
      expect(listNetns()).toContain(h!.netns)
      expect(listNetns()).toContain(theirs)
      // and the lab still works
      expect((await h!.exec(['true'])).code).toBe(0)
    } finally {
      await lab.destroy()
      if (listNetns().includes(theirs)) deleteNetns(theirs)
    }
  })

  it("a namespace with a dead lab's prefix that its record does not name stays", async () => {
    const id = `g${process.pid.toString(36).slice(-4)}d`
    const named = `nslab-${id}-a`
    const unnamed = `nslab-${id}-b` // made by a person with `ip netns add`
    writeFileSync(
      join(OWNER_DIR, `${id}.json`),
      JSON.stringify({
        id,
        prefix: `nslab-${id}-`,
        pid: 2 ** 22 + 9,
        startTime: 1,
        createdAt: '',
        command: 'test',
        namespaces: [named],
        paths: [],
      }),
    )
    addNetns(named)
    ip('netns', 'add', unnamed)
    try {
      gc() // (or another test file's gc, first: what counts is what is left)
      expect(listNetns()).not.toContain(named)
      expect(listNetns()).toContain(unnamed)
    } finally {
      for (const n of [named, unnamed]) if (listNetns().includes(n)) deleteNetns(n)
      rmSync(join(OWNER_DIR, `${id}.json`), { force: true })
    }
  })

  it('a damaged record is reported and never acted on', () => {
    const id = `g${process.pid.toString(36).slice(-4)}x`
    const file = join(OWNER_DIR, `${id}.json`)
    const ns = `nslab-${id}-a`
    addNetns(ns)
    writeFileSync(file, '{"id": "' + id + '", "pid"') // cut short
    try {
      const report = gc()
      expect(report.errors.join('\n')).toContain(`lab record ${file} is not valid`)
      expect(listNetns()).toContain(ns)
      expect(existsSync(file)).toBe(true)
    } finally {
      rmSync(file, { force: true })
      if (listNetns().includes(ns)) deleteNetns(ns)
    }
  })

  it("addHost over someone else's namespace fails with EEXIST, and destroy leaves theirs", async () => {
    const lab = await Lab.create()
    const theirs = `${lab.prefix}a`
    ip('netns', 'add', theirs)
    try {
      await expect(lab.addHost('a')).rejects.toThrow(
        `EEXIST: namespace ${theirs} already exists (left by a crashed run? run: nslab gc)`,
      )
      expect(listOwners().find((o) => o.id === lab.id)?.namespaces).toEqual([])
      const [b] = await lab.addHosts('b')
      await lab.destroy()
      expect(listNetns()).toContain(theirs)
      expect(listNetns()).not.toContain(b!.netns)
    } finally {
      await lab.destroy()
      if (listNetns().includes(theirs)) deleteNetns(theirs)
    }
  })

  it('records are written whole: gc beside 3 processes creating labs never takes a live one', async () => {
    const children = [0, 1, 2].map(() =>
      spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/lab-churn.ts', '40'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    )
    const done = children.map(
      (c) =>
        new Promise<string>((resolve) => {
          let out = ''
          c.stdout!.on('data', (d: Buffer) => (out += d.toString()))
          c.once('exit', (code) => resolve(`${out}exit ${code}`))
        }),
    )
    let running = true
    void Promise.all(done).then(() => (running = false))
    let rounds = 0
    while (running) {
      gc()
      rounds++
      await new Promise((r) => setImmediate(r))
    }
    const outputs = await Promise.all(done)
    expect(rounds).toBeGreaterThan(10)
    // Each child checked after every build that its namespaces and record were there.
    for (const o of outputs) expect(o).toMatch(/^ok 40 labs\nexit 0$/m)
  }, 120_000)
})
