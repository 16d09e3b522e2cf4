#!/usr/bin/env node
// npm run test:vm: the kernel-behaviour suite (test/kernel, and test/scenarios
// and test/vpn when they exist: WireGuard runs on the kernel module there, IPsec has ESP),
// and the xfrm operations, inside a QEMU VM booting a Debian kernel, sealed like
// `npm test`. Reports land in the host's reports/ through the VM's results
// share: reports/kernel/<guest uname -r>.json and reports/junit-vm.xml.
//
//   npm run test:vm                      # newest kernel in /boot
//   NSLAB_VM_KERNEL=6.1.0-56-amd64 npm run test:vm
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'

const dirs = [
  'test/kernel',
  ...['test/scenarios', 'test/vpn'].filter((d) => existsSync(d)),
  // xfrm states need ESP (esp4/esp6), which the host kernel lacks.
  'test/netlink/xfrm.test.ts',
]
const kernel = process.env.NSLAB_VM_KERNEL ? ['--kernel', process.env.NSLAB_VM_KERNEL] : []
const argv = [
  '--import',
  'tsx',
  'harness/cli/main.ts',
  'vm',
  'run',
  ...kernel,
  '--timeout',
  process.env.NSLAB_VM_TIMEOUT ?? '1200',
  '--results',
  'reports',
  '--',
  'node',
  'scripts/sealed.mjs',
  '--',
  'node_modules/.bin/vitest',
  'run',
  '--outputFile.junit=reports/junit-vm.xml',
  ...dirs,
  ...process.argv.slice(2),
]
const child = spawn(process.execPath, argv, { stdio: 'inherit' })
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)))
