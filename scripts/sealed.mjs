#!/usr/bin/env node
// Run a command inside a private, sealed network namespace (loopback only).
//
//   node scripts/sealed.mjs -- vitest run
//
// A socket that lands in the wrong namespace by mistake then fails with
// ENETUNREACH instead of sending lab traffic (198.18.0.0/15, fd00::/8) out of
// the machine along the host's default route: lab traffic never reaches a
// real network.
// Named namespaces are still created in the host's /run/netns, so `ip netns`
// sees the labs and `nslab gc` can reap them.
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const self = fileURLToPath(import.meta.url)
const sep = process.argv.indexOf('--')
const command = sep >= 0 ? process.argv.slice(sep + 1) : process.argv.slice(2)
if (command.length === 0) {
  console.error('usage: node scripts/sealed.mjs -- COMMAND [ARGS...]')
  process.exit(2)
}

function run(argv, env) {
  const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit', env })
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig))
  child.on('error', (err) => {
    console.error(`sealed: could not start ${argv[0]}: ${err.message}`)
    process.exit(127)
  })
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 1 : 1)))
}

/** Interfaces of the calling thread's network namespace (from /proc, which follows the namespace). */
function interfaces() {
  return readFileSync('/proc/thread-self/net/dev', 'utf8')
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0].trim())
    .filter(Boolean)
}

if (process.env.NSLAB_SEALED !== '1') {
  if (process.getuid?.() !== 0) {
    console.error(
      'sealed: nslab tests need root (CAP_SYS_ADMIN + CAP_NET_ADMIN) to make namespaces; run: sudo npm test',
    )
    process.exit(3)
  }
  const probe = spawnSync('unshare', ['--version'], { stdio: 'ignore' })
  if (probe.error) {
    console.error('sealed: `unshare` (util-linux) is missing; install it: apt-get install -y util-linux')
    process.exit(3)
  }
  run(['unshare', '--net', '--', process.execPath, self, '--', ...command], {
    ...process.env,
    NSLAB_SEALED: '1',
    // The namespace the run started from (this process stays in it until the run ends), for the
    // few things that must reach the network on purpose: dockerd, debootstrap building the
    // runner image. Lab traffic never goes there.
    NSLAB_OUTER_NETNS: `/proc/${process.pid}/ns/net`,
  })
} else {
  const ifaces = interfaces()
  if (ifaces.some((i) => i !== 'lo')) {
    console.error(`sealed: expected a private namespace with only lo, found: ${ifaces.join(', ')}`)
    process.exit(3)
  }
  const up = spawnSync('ip', ['link', 'set', 'lo', 'up'], { stdio: 'inherit' })
  if (up.status !== 0) {
    console.error('sealed: could not bring lo up (is iproute2 installed? apt-get install -y iproute2)')
    process.exit(3)
  }
  run(command, process.env)
}
