/**
 * Nothing outlives its lab: processes started with exec() (and what they
 * forked), tunnels' key directories and wireguard-go sockets, after
 * destroy(), after SIGTERM (the signal teardown) and after SIGKILL + gc; and
 * `nslab down` never removes a lab that a live process is running.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Lab, gc, listOwners } from '../../harness/index.js'
import { listNetns } from '../../harness/netns/index.js'
import { leftovers, processesWith, startSoakLab } from '../support/leftovers.js'

const root = join(import.meta.dirname, '../..')

describe('processes started with exec() go with the lab', () => {
  it('destroy() kills an exec() still running and what it forked into the background', async () => {
    const marker = `98765.${process.pid}1`
    const lab = await Lab.create()
    try {
      const [a] = await lab.addHosts('a')
      const running = a!.exec(['sleep', marker])
      const forked = await a!.exec(['sh', '-c', `sleep ${marker} </dev/null >/dev/null 2>&1 & echo $!`])
      expect(forked.code).toBe(0)
      await expect.poll(() => processesWith(marker).length, { timeout: 5000 }).toBe(2)
      await lab.destroy()
      expect(processesWith(marker)).toEqual([])
      const r = await running
      expect(r.signal).toBe('SIGKILL')
    } finally {
      await lab.destroy()
    }
  })
})

describe('the signal teardown and gc leave nothing of a WireGuard lab', () => {
  it('SIGTERM: namespaces, processes, key directory, wireguard-go sockets and record all go', async () => {
    const marker = `98765.${process.pid}2`
    const { child, exited, id, prefix } = await startSoakLab(marker, 'built')
    try {
      expect(leftovers(id, prefix).length).toBeGreaterThan(0)
      // the spawned sleep, the exec'd one, the forked one (and the fixture itself)
      expect(processesWith(marker).filter((p) => p !== child.pid).length).toBe(3)
      child.kill('SIGTERM')
      const [, signal] = await exited
      expect(signal).toBe('SIGTERM')
      expect(leftovers(id, prefix)).toEqual([])
      expect(processesWith(marker)).toEqual([])
      expect(gc().reaped.map((r) => r.id)).not.toContain(id)
    } finally {
      child.kill('SIGKILL')
      gc()
    }
  }, 60_000)

  it('SIGKILL then gc: the same', async () => {
    const marker = `98765.${process.pid}3`
    const { child, exited, id, prefix } = await startSoakLab(marker, 'built')
    // While its owner lives nobody reaps it: there is something to leave.
    expect(processesWith(marker).filter((p) => p !== child.pid).length).toBe(3)
    expect(leftovers(id, prefix).length).toBeGreaterThan(0)
    child.kill('SIGKILL')
    await exited
    gc() // (another test file's gc may have been first: what counts is what is left)
    expect(leftovers(id, prefix)).toEqual([])
    expect(processesWith(marker)).toEqual([])
  }, 60_000)
})

describe('nslab down', () => {
  function nslab(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const c = spawn(process.execPath, ['--import', 'tsx', join(root, 'harness/cli/main.ts'), ...args], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stdout = ''
      let stderr = ''
      c.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      c.once('exit', (code) => resolve({ code, stdout, stderr }))
    })
  }

  it('refuses a lab its live owner is running (not left up), and removes it with --force', async () => {
    const lab = await Lab.create()
    try {
      const [a] = await lab.addHosts('a')
      const refused = await nslab(['down', lab.id])
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain(
        `lab ${lab.id} belongs to process ${process.pid}, which is still running it`,
      )
      expect(refused.stderr).toContain(`nslab down --force ${lab.id}`)
      expect(listNetns()).toContain(a!.netns)
      expect(listOwners().map((o) => o.id)).toContain(lab.id)

      const forced = await nslab(['down', '--force', lab.id])
      expect(forced.code).toBe(0)
      expect(forced.stdout).toContain(`removed lab ${lab.id}: 1 namespace(s)`)
      expect(listNetns()).not.toContain(a!.netns)
    } finally {
      await lab.destroy().catch(() => undefined) // its namespaces are gone already
    }
  })
})
