// One builder at a time across processes (harness/container/build-lock.ts): real processes
// (test/fixtures/build-once.ts) race for one product; one builds, the others wait, naming its pid,
// and reuse what it made; a holder killed with SIGKILL, or a tool it started, is handled.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')
let dir = ''
const started: ChildProcess[] = []
/** Pids of the tools fixtures started (they outlive a SIGKILLed fixture). */
const tools: number[] = []
const poll = { timeout: 20_000, interval: 50 }

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nslab-build-lock-'))
})

afterEach(async () => {
  // Let every gate open, so a tool left looping by a failed test ends, then stop what still runs.
  for (const f of ['release', 'tool-go']) writeFileSync(join(dir, f), '')
  for (const c of started.splice(0))
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL')
      await new Promise((r) => c.once('exit', r))
    }
  for (const pid of tools.splice(0)) {
    await expect.poll(() => existsSync(`/proc/${pid}`), poll).toBe(false)
  }
  rmSync(dir, { recursive: true, force: true })
})

interface Result {
  pid: number
  built: boolean
  value: string
  waitedFor: number | null
  toolDoneAtStart: boolean
}

function builder(mode: 'quick' | 'gate' | 'tool' | 'timeout' | 'signal') {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/build-once.ts', dir, mode], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  started.push(child)
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  return {
    pid: child.pid!,
    child,
    out: () => out,
    err: () => err,
    exit,
    result: async (): Promise<Result> => {
      await exit
      return JSON.parse(out.trim().split('\n').at(-1)!) as Result
    },
  }
}

const events = () => readFileSync(join(dir, 'events'), 'utf8')
const waitingLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('waiting for'))

describe('buildOnce across processes', () => {
  it('three at once: one builds, the two others wait for it (one line naming its pid) and reuse it', async () => {
    const all = [builder('gate'), builder('gate'), builder('gate')]
    await expect.poll(() => all.filter((p) => p.out().includes('building')).length, poll).toBe(1)
    const maker = all.find((p) => p.out().includes('building'))!
    const waiters = all.filter((p) => p !== maker)
    for (const w of waiters)
      await expect
        .poll(w.err, poll)
        .toContain(
          `waiting for pid ${maker.pid} to finish building product (lock ${dir}/build.lock), then reusing it`,
        )
    writeFileSync(join(dir, 'release'), '')
    expect(await Promise.all(all.map((p) => p.exit))).toEqual([0, 0, 0])

    expect(await maker.result()).toMatchObject({ built: true, value: `made by ${maker.pid}` })
    for (const w of waiters) {
      expect(await w.result()).toMatchObject({
        built: false,
        value: `made by ${maker.pid}`,
        waitedFor: maker.pid,
      })
      expect(waitingLines(w.err())).toHaveLength(1)
      expect(w.err()).toContain(`product was built meanwhile by pid ${maker.pid}: reusing it`)
    }
    expect(events()).toBe(`start ${maker.pid}\nend ${maker.pid}\n`)
    expect(existsSync(join(dir, 'build.lock'))).toBe(false)
  })

  it('a holder killed with SIGKILL mid-build lets the waiter take over and build', async () => {
    const a = builder('gate')
    await expect.poll(a.out, poll).toContain('building')
    const b = builder('quick')
    await expect.poll(b.err, poll).toContain(`waiting for pid ${a.pid} to finish building product`)
    a.child.kill('SIGKILL')
    expect(await b.exit).toBe(0)
    expect(await b.result()).toMatchObject({ built: true, value: `made by ${b.pid}`, waitedFor: a.pid })
    expect(events()).toBe(`start ${a.pid}\nstart ${b.pid}\nend ${b.pid}\n`)
    expect(existsSync(join(dir, 'build.lock'))).toBe(false)
  })

  it('a tool started with the lock keeps holding it after its builder was SIGKILLed, until it ends', async () => {
    const a = builder('tool')
    await expect.poll(a.out, poll).toContain('tool started')
    tools.push(Number(/tool started (\d+)/.exec(a.out())![1]))
    a.child.kill('SIGKILL')
    await a.exit
    const b = builder('quick')
    await expect
      .poll(b.err, poll)
      .toContain(
        `waiting for pid ${a.pid} (gone; a tool it started still holds the lock) to finish building product`,
      )
    expect(existsSync(join(dir, 'events')) && events()).toBe(`start ${a.pid}\n`)
    writeFileSync(join(dir, 'tool-go'), '') // the tool ends
    expect(await b.exit).toBe(0)
    expect(await b.result()).toMatchObject({ built: true, toolDoneAtStart: true })
  })

  it('gives up waiting after its bound with one sentence naming the holder, the lock and what to do', async () => {
    const a = builder('gate')
    await expect.poll(a.out, poll).toContain('building')
    const b = builder('timeout')
    expect(await b.exit).toBe(1)
    expect(b.err()).toContain(
      `gave up after 1 s waiting for pid ${a.pid} to finish building product (lock ${dir}/build.lock); if that build hangs, stop it (kill ${a.pid}) and run again`,
    )
    writeFileSync(join(dir, 'release'), '')
    expect(await a.exit).toBe(0)
    expect(existsSync(join(dir, 'build.lock'))).toBe(false)
  })

  it('stops waiting when its signal is aborted (SIGINT/SIGTERM in the CLI), saying for whom it waited', async () => {
    const a = builder('gate')
    await expect.poll(a.out, poll).toContain('building')
    const b = builder('signal')
    await expect.poll(b.err, poll).toContain(`waiting for pid ${a.pid}`)
    b.child.kill('SIGTERM')
    expect(await b.exit).toBe(1)
    expect(b.err()).toContain(
      `stopped waiting for pid ${a.pid} to finish building product (lock ${dir}/build.lock): interrupted`,
    )
    writeFileSync(join(dir, 'release'), '')
    expect(await a.exit).toBe(0)
    expect(events()).toBe(`start ${a.pid}\nend ${a.pid}\n`)
  })
})
