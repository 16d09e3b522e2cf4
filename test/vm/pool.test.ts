/**
 * The VM pool (vm/vitest-pool.ts) end to end: Vitest on the host runs the
 * files of test/vm/fixtures/pool in QEMU VMs (TCG here: 10-20 s a boot, two
 * boots when the panic file is not the last). A test in the guest sees the
 * guest's kernel; a failing assertion, a worker killed under its test and a
 * kernel panic fail their files with the reason, and the files after a panic
 * run in a fresh VM; a worker blocked for good fails its file once the guest
 * has been silent for the stall limit (set to 15 s here); the run ends by
 * itself, with its VMs and their control directories gone.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { resolveKernel } from '../../vm/index.js'

const out = mkdtempSync(join(tmpdir(), 'nslab-pool-test-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))

interface JsonReport {
  testResults: {
    name: string
    status: string
    message: string
    assertionResults: { status: string; failureMessages: string[] }[]
  }[]
}

/** Control directories of VM runs owned by `pid` (the runner removes its own when QEMU is gone). */
function controlDirsOf(pid: number): string[] {
  return readdirSync(tmpdir())
    .filter((d) => d.startsWith('nslab-vm-'))
    .filter((d) => {
      try {
        return readFileSync(join(tmpdir(), d, 'owner'), 'utf8') === String(pid)
      } catch {
        return false
      }
    })
}

describe('VM pool', () => {
  it(
    'runs test files on the guest kernel and reports passes, failures and dead workers',
    { timeout: 300_000 },
    async () => {
      const kernel = resolveKernel(process.env.NSLAB_VM_KERNEL || undefined)
      const report = join(out, 'report.json')
      const artifacts = join(out, 'artifacts')
      const child = spawn(
        process.execPath,
        [
          'node_modules/vitest/vitest.mjs',
          'run',
          '--config',
          'test/vm/fixtures/pool/vitest.config.ts',
          '--reporter=default',
          '--reporter=json',
          `--outputFile.json=${report}`,
        ],
        {
          env: {
            ...process.env,
            EXPECT_RELEASE: kernel.version,
            CI: '',
            NSLAB_VM_STALL_S: '15',
            NSLAB_ARTIFACTS_DIR: artifacts,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      let output = ''
      child.stdout.on('data', (d: Buffer) => (output += d))
      child.stderr.on('data', (d: Buffer) => (output += d))
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve))

      expect(code, output).toBe(1) // five files fail on purpose
      expect(output).not.toMatch(/close timed out|prevents Vite server from exiting/)
      const r = JSON.parse(readFileSync(report, 'utf8')) as JsonReport
      const byFile = Object.fromEntries(r.testResults.map((t) => [t.name.replace(/.*\//, ''), t]))
      expect(Object.keys(byFile).sort()).toEqual([
        'crash.vmcase.ts',
        'fails.vmcase.ts',
        'guest.vmcase.ts',
        'hang.vmcase.ts',
        'lab-fails.vmcase.ts',
        'panic.vmcase.ts',
      ])

      const guest = byFile['guest.vmcase.ts']!
      expect(guest.status, JSON.stringify(guest)).toBe('passed')
      const fails = byFile['fails.vmcase.ts']!
      expect(fails.status).toBe('failed')
      expect(fails.assertionResults[0]!.failureMessages.join('\n')).toMatch(
        /arithmetic in the guest.*expected 2 to be 3/s,
      )
      // A lab test failing in the guest: its pcapng and trace are on the host, where its failure says.
      const labFails = byFile['lab-fails.vmcase.ts']!
      expect(labFails.status).toBe('failed')
      const written = readdirSync(artifacts)
      const pcapng = written.filter((f) => f.endsWith('.pcapng'))
      const html = written.filter((f) => f.endsWith('.html'))
      expect(pcapng, written.join(' ')).toHaveLength(1)
      expect(html, written.join(' ')).toHaveLength(1)
      expect(statSync(join(artifacts, pcapng[0]!)).size).toBeGreaterThan(0)
      expect(readFileSync(join(artifacts, html[0]!), 'utf8')).toContain('a failure after a ping in the guest')

      // As with Vitest's own forks pool: the test never finished, and the run fails with the worker's exit.
      const crash = byFile['crash.vmcase.ts']!
      expect(crash.assertionResults[0]!.status).toBe('pending')
      expect(output).toMatch(/Worker nslab-vm emitted error[\s\S]*Worker exited unexpectedly/)

      // A kernel panic fails the file running then, with the kernel's report; the other files
      // (whichever ran after it) were served by a fresh VM.
      expect(byFile['panic.vmcase.ts']!.assertionResults[0]!.status).not.toBe('passed')
      expect(output).toMatch(
        /Worker nslab-vm emitted error[\s\S]*Kernel panic - not syncing: sysrq triggered crash/,
      )

      // A worker blocked for good: the watchdog gives up on the silent guest, saying so.
      expect(byFile['hang.vmcase.ts']!.assertionResults[0]!.status).not.toBe('passed')
      expect(output).toMatch(
        /the test VM sent nothing for \d+ s while 1 test file\(s\) ran in it: its kernel or a test worker is hung/,
      )

      // The VM powered off with the run: nothing of it is left.
      expect(controlDirsOf(child.pid!)).toEqual([])
      expect(existsSync(`/proc/${child.pid}`)).toBe(false)
    },
  )
})
