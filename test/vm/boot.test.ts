/**
 * Real boots of the VM runner (QEMU, TCG here: about 6-10 s each). Few, with
 * generous timeouts. With QEMU, a kernel or busybox-static missing they fail
 * with the runner's error naming the package to install.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { basename, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { hostTscKhz, runVm, vmFailure } from '../../vm/index.js'

mkdirSync(join(process.cwd(), 'reports'), { recursive: true })
const results = mkdtempSync(join(process.cwd(), 'reports', '.vm-test-'))
const consoles = mkdtempSync(join(process.cwd(), 'reports', '.vm-consoles-'))
afterAll(() => {
  rmSync(results, { recursive: true, force: true })
  rmSync(consoles, { recursive: true, force: true })
})

/** One vCPU and little memory: the rest of the suite runs beside these boots and needs the other core. */
const small = { cpus: 1, memory: 512 }
/** True while a process with this pid exists. */
const running = (pid: number | undefined) => pid !== undefined && existsSync(`/proc/${pid}`)

describe('VM runner', { timeout: 180_000 }, () => {
  // Both machines where microvm can boot (under TCG it needs the host's TSC frequency); pc everywhere.
  const machines = hostTscKhz() ? (['microvm', 'pc'] as const) : (['pc'] as const)
  it.each(machines)(
    'runs a command in the guest kernel (%s machine), streams stdout and stderr apart, and brings a result file back',
    async (machine) => {
      let out = ''
      let err = ''
      const r = await runVm({
        machine,
        command: [
          'sh',
          '-c',
          'uname -r; echo to-stderr >&2; echo "$NSLAB_VM" > "$NSLAB_VM_RESULTS/r.txt"; true',
        ],
        ...small,
        results,
        consoleDir: consoles,
        timeout: 150,
        onStdout: (d) => (out += d),
        onStderr: (d) => (err += d),
      })
      expect(vmFailure(r, 150)).toBeUndefined()
      expect(r.code).toBe(0)
      expect(out).toBe(`${r.kernel.version}\n`) // the guest's kernel, not the host's
      expect(err).toBe('to-stderr\n')
      expect(readFileSync(join(results, 'r.txt'), 'utf8')).toBe('1\n')
      expect(r.problems).toEqual([])
      expect(r.machine).toBe(machine)
      expect(running(r.pid)).toBe(false)
      expect(r.consoleFile).toBeUndefined() // kept only when the run failed
    },
  )

  it("returns the command's exit code, and keeps the whole console of the failed run", async () => {
    const r = await runVm({ ...small, command: ['false'], timeout: 150, consoleDir: consoles })
    expect(r.code).toBe(1)
    expect(r.consoleFile).toMatch(
      new RegExp(`^${consoles}/.*-${r.kernel.version.replace(/[.+]/g, '\\$&')}-${process.pid}\\.log$`),
    )
    expect(vmFailure(r, 150)).toBe(`the command exited with 1 in the VM; the whole console: ${r.consoleFile}`)
    const text = readFileSync(r.consoleFile!, 'utf8')
    // The init script's first and last words, with what the kernel printed between.
    expect(text).toMatch(/nslab-vm: start[\s\S]*nslab-vm: exit 1/)
    expect(readdirSync(consoles)).toContain(basename(r.consoleFile!))
  })

  it("puts the kernel's report of a segfault in user space on the kept console", async () => {
    // A real fault (a read of address 0), not a signal sent: the kernel logs those below the console's level.
    const r = await runVm({
      ...small,
      command: ['python3', '-c', 'import ctypes; ctypes.string_at(0)'],
      timeout: 150,
      consoleDir: consoles,
    })
    expect(r.code).toBe(139)
    expect(readFileSync(r.consoleFile!, 'utf8')).toMatch(
      /nslab-vm: kernel log: .*python3?\[\d+\]: segfault at 0 /,
    )
  })

  it('kills the VM when the timeout expires, and says so', async () => {
    const r = await runVm({ ...small, command: ['sleep', '600'], timeout: 3, consoleDir: false })
    expect(r.timedOut).toBe(true)
    expect(r.code).toBeNull()
    expect(vmFailure(r, 3)).toBe('the VM did not finish within 3 s and was killed')
    expect(r.consoleFile).toBeUndefined() // consoleDir: false
    expect(running(r.pid)).toBe(false)
  })

  it("reports the guest kernel's panic as a failure", async () => {
    const r = await runVm({
      ...small,
      command: ['sh', '-c', 'echo c > /proc/sysrq-trigger; sleep 600'],
      timeout: 150,
      consoleDir: consoles,
    })
    expect(r.timedOut).toBe(false)
    expect(r.code).toBeNull()
    expect(r.problems.map((p) => p.line)).toContain('Kernel panic - not syncing: sysrq triggered crash')
    expect(vmFailure(r, 150)).toMatch(
      /^the guest kernel panicked before the command finished; the guest kernel reported/,
    )
    // The kept console has the whole report, call trace included, where the message quotes a part.
    expect(readFileSync(r.consoleFile!, 'utf8')).toMatch(
      /Kernel panic - not syncing: sysrq triggered crash[\s\S]*(Call Trace|end Kernel panic)/,
    )
  })
})
