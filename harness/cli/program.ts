/**
 * The `nslab` command's definition. Exit codes: 0 success, 1 an operation
 * failed, 2 bad input, 3 missing kernel feature or privilege.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'
import {
  NetnsError,
  NetnsNameError,
  addNetns,
  deleteNetns,
  exec,
  listNetns,
  monitorNetns,
} from '../netns/index.js'
import { isPermissionError } from '../sys/errors.js'
import { LabInUseError, LabNotFoundError, gc, recordNamespaces } from '../lab/gc.js'
import { listOwners, ownerAlive } from '../lab/owner.js'
import { ScenarioError } from '../scenario/diagnostics.js'
import { FeatureMissingError } from '../lab/features.js'
import { registerScenarioCommands } from './scenario.js'
import { TraceReadError } from '../trace/page.js'
import { PacketFilterError } from '../capture/match.js'
import { registerCaptureCommand } from './capture.js'
import { registerContainerCommand } from './container.js'
import { registerVmCommands } from './vm.js'
import { registerTraceCommand } from './trace.js'
import { NETNS_CAPABILITIES, PrivilegeError, requireCapabilities } from './privilege.js'

/** nslab's own version, from the package.json above this file (source or dist). */
export function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'nslab' && pkg.version) return pkg.version
    }
    const up = dirname(dir)
    if (up === dir) return '0.0.0'
    dir = up
  }
}

export function buildProgram(): Command {
  const program = new Command('nslab')
    .description('Network emulation lab and test harness on Linux network namespaces')
    .version(version())
    .exitOverride()

  const netns = program.command('netns').description('named network namespaces, compatible with `ip netns`')
  netns
    .command('list')
    .description('list named namespaces')
    .action(() => {
      for (const n of listNetns()) console.log(n)
    })
  netns
    .command('add <name>')
    .description('create a named namespace (like `ip netns add`)')
    .addHelpText('after', '\nExample:\n  nslab netns add demo && ip netns exec demo ip link')
    .action((name: string) => {
      requireCapabilities('nslab netns add', NETNS_CAPABILITIES)
      addNetns(name)
    })
  netns
    .command('delete <name>')
    .alias('del')
    .description('delete a named namespace (like `ip netns delete`)')
    .action((name: string) => {
      requireCapabilities('nslab netns delete', NETNS_CAPABILITIES)
      deleteNetns(name)
    })
  netns
    .command('exec <name> <argv...>')
    .description('run a program in a namespace (like `ip netns exec`)')
    .addHelpText('after', '\nExample:\n  nslab netns exec demo -- ip -j addr')
    .action(async (name: string, argv: string[]) => {
      requireCapabilities('nslab netns exec', NETNS_CAPABILITIES)
      const r = await exec(name, argv)
      process.stdout.write(r.stdout)
      process.stderr.write(r.stderr)
      process.exitCode = r.code ?? 1
    })
  netns
    .command('monitor')
    .description('print namespaces as they are added and deleted (like `ip netns monitor`)')
    .action(async () => {
      for await (const ev of monitorNetns()) console.log(`${ev.type} ${ev.name}`)
    })
  program
    .command('gc')
    .description(
      'remove what crashed runs left: namespaces, mounts, processes and records of labs whose owner is dead',
    )
    .addHelpText(
      'after',
      "\nOnly what a lab record names is touched, and only when the record's owning process (pid +\nstart time) is gone; namespaces made by `ip netns add` or by a live nslab process are left\nalone, whatever their names.\n\nExample:\n  nslab gc",
    )
    .action(() => {
      const r = gc()
      for (const lab of r.reaped)
        console.log(
          `reaped lab ${lab.id} (owner pid ${lab.pid} is dead): ${lab.namespaces.length} namespace(s)${lab.paths.length ? `, ${lab.paths.length} file(s)` : ''}${lab.killed.length ? `, killed ${lab.killed.join(' ')}` : ''}`,
        )
      for (const lab of r.live) console.log(`kept lab ${lab.id}: its owner pid ${lab.pid} is alive`)
      for (const lab of r.kept)
        console.log(`kept lab ${lab.id}: left up on purpose (remove it with: nslab down ${lab.id})`)
      for (const e of r.errors) console.error(`error: ${e}`)
      if (r.reaped.length === 0) console.log('nothing to reap')
      if (r.errors.length) process.exitCode = 1
    })
  program
    .command('ls')
    .description('list labs on this machine, their owners and namespaces')
    .action(() => {
      const names = listNetns()
      for (const o of listOwners()) {
        const ns = recordNamespaces(o, names)
        console.log(
          `${o.id}  owner ${o.pid} ${o.kept ? 'left up (nslab down ' + o.id + ')' : ownerAlive(o) ? 'alive' : 'DEAD (run: nslab gc)'}  ${ns.length} namespace(s)  since ${o.createdAt}  ${o.command}`,
        )
      }
    })
  registerScenarioCommands(program)
  registerCaptureCommand(program)
  registerTraceCommand(program)
  registerContainerCommand(program)
  registerVmCommands(program)
  return program
}

/** Map an error to the documented exit code and a one-line message. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof NetnsNameError || err instanceof TypeError || err instanceof ScenarioError) return 2
  if (err instanceof TraceReadError || err instanceof PacketFilterError) return 2
  if (err instanceof LabNotFoundError) return 2
  if (err instanceof LabInUseError) return 1
  if (err instanceof FeatureMissingError || err instanceof PrivilegeError) return 3
  // A permission error from the kernel or the file system, wherever it came from.
  if (isPermissionError(err)) return 3
  if (err instanceof NetnsError) return 1
  return 1
}
