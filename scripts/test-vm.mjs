#!/usr/bin/env node
// npm run test:vm: the kernel-behaviour suite (test/kernel), the scenarios,
// the VPN tests (WireGuard on the kernel module there, IPsec with ESP), the
// xfrm operations, and the capture's tshark checks (WireGuard devices, nlmon)
// on a Debian kernel booted in QEMU. Vitest runs here on the
// host; each test file's worker runs in the VM (vitest.vm.config.ts,
// vm/vitest-pool.ts). Reports: reports/kernel/<guest uname -r>.json, and
// reports/junit-vm.xml under CI.
//
//   npm run test:vm                      # newest kernel in /boot
//   NSLAB_VM_KERNEL=6.1.0-56-amd64 npm run test:vm
//   NSLAB_VM_KERNEL=5.10.0-32-amd64 npm run test:vm   # not installed: fetched from Debian into nslab's cache first
//   npm run test:vm -- test/kernel       # only these files (named first, then Vitest options)
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

// A kernel version that is not installed is fetched (or found in the cache) before Vitest starts,
// with apt's progress on the terminal; an unknown one stops here with the nearest versions (exit 2).
const kernel = process.env.NSLAB_VM_KERNEL
if (kernel && !kernel.includes('/') && !existsSync(`/boot/vmlinuz-${kernel}`)) {
  const f = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'harness/cli/main.ts', 'kernel', 'fetch', kernel],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  )
  if (f.status !== 0) process.exit(f.status ?? 1)
}

const chosen = process.argv.slice(2)
const dirs =
  chosen.length > 0 && !chosen[0].startsWith('-')
    ? []
    : [
        'test/kernel',
        ...['test/scenarios', 'test/vpn'].filter((d) => existsSync(d)),
        // xfrm states need ESP (esp4/esp6), which the host kernel lacks.
        'test/netlink/xfrm.test.ts',
        // Capture on the kernel's own WireGuard device and its nlmon (netlink) devices, read by tshark.
        'test/capture/capture.test.ts',
        'test/capture/secrets.test.ts',
        'test/capture/netlink.test.ts',
        'test/lab/timeline.test.ts',
        // The netlink filter as eBPF (32-bit jumps, LD_ABS) against its classic form, on each kernel.
        'test/sys/socket-filter.test.ts',
      ]
const argv = ['node_modules/vitest/vitest.mjs', 'run', '--config', 'vitest.vm.config.ts', ...dirs, ...chosen]
const child = spawn(process.execPath, argv, {
  stdio: 'inherit',
  env: { NSLAB_VM_PROGRESS: '1', ...process.env },
})
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)))
