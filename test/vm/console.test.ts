import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ConsoleWatch, classifyLine, describeProblems } from '../../vm/console.js'

// Captured from Debian's 6.1 kernel in the VM runner: `echo c > /proc/sysrq-trigger`.
const SYSRQ_PANIC = readFileSync(new URL('./fixtures/sysrq-panic.console.txt', import.meta.url), 'utf8')

// The kernel's formats for the other reports (lib/bug.c, arch/x86/kernel/dumpstack.c,
// kernel/panic.c __warn), as they appear on a console with printk timestamps.
const OOPS = `[   12.345678] BUG: kernel NULL pointer dereference, address: 0000000000000008
[   12.345990] #PF: supervisor read access in kernel mode
[   12.346200] Oops: 0000 [#1] PREEMPT SMP NOPTI
[   12.346400] CPU: 1 PID: 220 Comm: ip Not tainted 6.1.0-56-amd64 #1  Debian 6.1.192-2
[   12.346600] RIP: 0010:veth_newlink+0x1a/0x3b0 [veth]
[   12.346800] Call Trace:
[   12.346900]  <TASK>
[   12.347000]  rtnl_newlink+0x5e/0x90
[   12.347100]  </TASK>
[   12.347200] ---[ end trace 0000000000000000 ]---
`
const WARNING = `[    7.000001] ------------[ cut here ]------------
[    7.000002] WARNING: CPU: 0 PID: 1 at net/core/dev.c:10900 unregister_netdevice_many+0x5b0/0x6b0
[    7.000003] Modules linked in: veth bridge stp llc
[    7.000004] ---[ end trace 0000000000000000 ]---
[    7.000005] eth0: renamed from veth0
`

describe('console: kernel problems', () => {
  it('finds the panic in a captured sysrq crash, with its call trace', () => {
    const w = new ConsoleWatch()
    w.write(SYSRQ_PANIC)
    w.end()
    expect(w.problems.map((p) => [p.kind, p.line])).toEqual([
      ['panic', 'Kernel panic - not syncing: sysrq triggered crash'],
    ])
    expect(w.problems[0]!.excerpt).toContain(' sysrq_handle_crash+0x16/0x20')
    expect(describeProblems(w.problems)).toMatch(
      /^kernel panic: Kernel panic - not syncing: sysrq triggered crash\n/,
    )
  })

  it('finds BUG, Oops and WARNING reports, each with its trace up to the end marker', () => {
    const w = new ConsoleWatch()
    w.write(OOPS + WARNING)
    w.end()
    expect(w.problems.map((p) => p.kind)).toEqual(['bug', 'oops', 'warning'])
    expect(w.problems[1]!.excerpt.at(-1)).toBe('---[ end trace 0000000000000000 ]---')
    expect(w.problems[2]!.excerpt).not.toContain('eth0: renamed from veth0')
    expect(classifyLine('[    1.000000] kernel BUG at net/core/skbuff.c:120!')).toBe('oops')
    expect(classifyLine('[    1.000000] general protection fault, probably for non-canonical address')).toBe(
      'oops',
    )
  })

  it('ignores ordinary boot noise, including words like "warning" in other messages', () => {
    for (const l of [
      '[    1.080875] mtrr: your CPUs had inconsistent fixed MTRR settings',
      '[    2.270242] Unstable clock detected, switching default tracing clock to "global"',
      'ACPI: _SB_.LNKB: Enabled at IRQ 10',
      'x86/fpu: WARNING: some legacy thing', // WARNING: only counts at the start of a message
    ])
      expect(classifyLine(l), l).toBeUndefined()
  })
})

describe('console: init markers', () => {
  it('reads start, exit code and failure, even split across chunks and with CRLF', () => {
    const seen: string[] = []
    const w = new ConsoleWatch((m) => seen.push(m))
    for (const chunk of ['nslab-vm: st', 'art\r\nhello\r\nnslab-vm: exit 4', '2\r\n']) w.write(chunk)
    expect(seen).toEqual(['start', 'exit'])
    expect(w.started).toBe(true)
    expect(w.exitCode).toBe(42)
    const f = new ConsoleWatch()
    f.write('nslab-vm: fail insmod 9p.ko\n')
    expect(f.failure).toBe('insmod 9p.ko')
    expect(f.exitCode).toBeUndefined()
  })
})
