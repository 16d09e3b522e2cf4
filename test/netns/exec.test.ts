import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { SpawnError, addNetns, exec, spawnIn, stopExecWorker } from '../../harness/netns/index.js'
import { ip, netnsNames } from '../support/names.js'

const name = netnsNames('exec')

/** A process's state letter from /proc (R, S, Z...), or undefined when it is gone. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
  } catch {
    return undefined
  }
}
afterAll(() => stopExecWorker())

describe('exec with `ip netns exec` semantics', () => {
  it('runs argv in the namespace and returns code, stdout and stderr', async () => {
    const n = name()
    addNetns(n)
    const r = await exec(n, ['ip', '-j', 'link', 'show'])
    expect(r.code).toBe(0)
    expect(r.timedOut).toBe(false)
    expect(JSON.parse(r.stdout).map((l: { ifname: string }) => l.ifname)).toEqual(['lo'])
    const bad = await exec(n, ['sh', '-c', 'echo out; echo err >&2; exit 3'])
    expect(bad).toMatchObject({ code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' })
  })

  it('sees the same network as `ip netns exec`', async () => {
    const n = name()
    addNetns(n)
    ip('-n', n, 'link', 'set', 'lo', 'up')
    const ours = await exec(n, ['ip', '-j', 'addr', 'show', 'dev', 'lo'])
    const theirs = ip('netns', 'exec', n, 'ip', '-j', 'addr', 'show', 'dev', 'lo')
    expect(JSON.parse(ours.stdout)).toEqual(JSON.parse(theirs))
  })

  it("shows the namespace's own devices under /sys", async () => {
    const n = name()
    addNetns(n)
    const r = await exec(n, ['ls', '/sys/class/net'])
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['lo'])
  })

  it('bind-mounts /etc/netns/NAME/* over /etc/*, for that namespace only', async () => {
    const n = name()
    const other = name()
    addNetns(n)
    addNetns(other)
    mkdirSync(`/etc/netns/${n}`, { recursive: true })
    try {
      writeFileSync(`/etc/netns/${n}/resolv.conf`, 'nameserver 198.18.0.53\n')
      const r = await exec(n, ['cat', '/etc/resolv.conf'])
      expect(r.stdout).toBe('nameserver 198.18.0.53\n')
      const viaIp = ip('netns', 'exec', n, 'cat', '/etc/resolv.conf')
      expect(viaIp).toBe(r.stdout)
      const o = await exec(other, ['cat', '/etc/resolv.conf'])
      expect(o.stdout).not.toContain('198.18.0.53')
    } finally {
      rmSync(`/etc/netns/${n}`, { recursive: true, force: true })
    }
  })

  it('passes env and cwd, and feeds input to stdin', async () => {
    const n = name()
    addNetns(n)
    const r = await exec(n, ['sh', '-c', 'pwd; echo "$NSLAB_X"; cat'], {
      env: { PATH: process.env.PATH, NSLAB_X: 'hello' },
      cwd: '/tmp',
      input: 'from stdin',
    })
    expect(r.stdout).toBe('/tmp\nhello\nfrom stdin')
  })

  it('stops the child when the timeout expires (SIGTERM first)', async () => {
    const n = name()
    addNetns(n)
    const r = await exec(n, ['sleep', '30'], { timeout: 100 })
    expect(r).toMatchObject({ timedOut: true, code: null, signal: 'SIGTERM' })
  })

  it('a timeout stops what the child started too, with SIGKILL for what ignores SIGTERM', async () => {
    const n = name()
    addNetns(n)
    // The shell and its background sleep both ignore SIGTERM (an ignored
    // signal stays ignored across exec), and the sleep holds the output pipes.
    const t0 = performance.now()
    const r = await exec(n, ['sh', '-c', 'trap "" TERM; sleep 30 & echo $!; wait'], {
      timeout: 300,
      killGrace: 300,
    })
    expect(performance.now() - t0).toBeLessThan(10_000)
    expect(r).toMatchObject({ timedOut: true, code: null, signal: 'SIGKILL' })
    const sleeper = Number(r.stdout.trim())
    expect(sleeper).toBeGreaterThan(0)
    expect(processState(sleeper) ?? 'gone').toMatch(/^(gone|Z)$/)
  })

  it('an abort signal stops the child and its children the same way', async () => {
    const n = name()
    addNetns(n)
    const ac = new AbortController()
    const p = exec(n, ['sh', '-c', 'sleep 30 & echo $!; wait'], { signal: ac.signal })
    setTimeout(() => ac.abort(), 200)
    const r = await p
    expect(r).toMatchObject({ timedOut: false, code: null, signal: 'SIGTERM' })
    expect(processState(Number(r.stdout.trim())) ?? 'gone').toMatch(/^(gone|Z)$/)
    await expect(exec(n, ['true'], { signal: ac.signal })).rejects.toThrow(/abort/i)
  })

  it('a timed-out child is not waited for when an escaped process (own session) holds its output', async () => {
    const n = name()
    addNetns(n)
    const r = await exec(n, ['sh', '-c', 'setsid sleep 30 & echo $!; wait'], { timeout: 200, killGrace: 200 })
    const escaped = Number(r.stdout.trim())
    try {
      expect(r.timedOut).toBe(true)
      expect(escaped).toBeGreaterThan(0)
    } finally {
      if (escaped > 0) process.kill(escaped, 'SIGKILL')
    }
  })

  it('rejects with a clear error when the program does not exist', async () => {
    const n = name()
    addNetns(n)
    const err = await exec(n, ['nslab-no-such-program']).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SpawnError)
    expect(String(err)).toContain(`could not start "nslab-no-such-program" in namespace ${n}`)
    expect((err as SpawnError).code).toBe('ENOENT')
  })

  it('takes argv arrays only, never a shell string', async () => {
    const n = name()
    addNetns(n)
    await expect(exec(n, 'echo hi' as unknown as string[])).rejects.toThrow('never runs a shell string')
    await expect(exec(n, [])).rejects.toThrow('non-empty array')
    // Shell metacharacters are just bytes in an argument.
    const r = await exec(n, ['echo', '$(id); rm -rf /'])
    expect(r.stdout).toBe('$(id); rm -rf /\n')
  })

  it('streams output of long-running processes and kills them', async () => {
    const n = name()
    addNetns(n)
    const p = spawnIn(n, ['sh', '-c', 'echo ready; exec sleep 30'])
    const pid = await p.started
    expect(pid).toBeGreaterThan(0)
    await new Promise<void>((resolve) => p.stdout.once('data', () => resolve()))
    expect(p.output().stdout).toBe('ready\n')
    // The child lives in the namespace: `ip netns pids` agrees.
    expect(ip('netns', 'pids', n).split('\n')).toContain(String(pid))
    p.kill('SIGTERM')
    expect(await p.exited).toEqual({ code: null, signal: 'SIGTERM' })
  })

  it('runs many children at once', async () => {
    const n = name()
    addNetns(n)
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => exec(n, ['echo', String(i)])))
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)))
  })

  it('leaves the main thread in its own namespace and the host mount table alone', async () => {
    const n = name()
    addNetns(n)
    const before = (await import('node:fs')).readFileSync('/proc/self/mountinfo', 'utf8')
    await exec(n, ['true'])
    const after = (await import('node:fs')).readFileSync('/proc/self/mountinfo', 'utf8')
    expect(after).toBe(before)
  })
})
