/**
 * `nslab vm run` (a command in a QEMU VM booting a chosen kernel) and
 * `nslab kernel matrix` (merge the kernel suite's per-kernel reports).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Command, InvalidArgumentError, Option } from 'commander'
import {
  KernelNotFoundError,
  MACHINES,
  type Machine,
  VmPrerequisiteError,
  runVm,
  vmFailure,
  vmSucceeded,
} from '../../vm/index.js'
import { kernelMatrix, matrixMarkdown, readKernelReports } from '../../vm/matrix.js'
import { outputDir, outputFile } from './paths.js'

function positive(v: string): number {
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number')
  return n
}

function envPair(v: string, acc: Record<string, string>): Record<string, string> {
  const eq = v.indexOf('=')
  if (eq <= 0) throw new InvalidArgumentError('must be NAME=VALUE')
  return { ...acc, [v.slice(0, eq)]: v.slice(eq + 1) }
}

interface RunOptions {
  kernel?: string
  timeout: number
  results?: string
  env: Record<string, string>
  memory?: number
  cpus?: number
  machine?: Machine
  console?: boolean
}

/** Register `vm run` and `kernel matrix` on the program. */
export function registerVmCommands(program: Command): void {
  const vm = program
    .command('vm')
    .description('run commands in a QEMU VM booting a chosen kernel over the host root')
  vm.command('run')
    .description(
      'boot a kernel in QEMU with the host root read-only under a throwaway overlay, run COMMAND inside',
    )
    .argument('<command...>', 'the command and its arguments (after --)')
    .option(
      '-k, --kernel <kernel>',
      'a kernel image path or an installed version (/boot/vmlinuz-<v>); default: the newest',
    )
    .option('-t, --timeout <seconds>', 'kill the VM after this many seconds', positive, 600)
    .option(
      '-r, --results <dir>',
      'host directory shared writable, at the same path in the guest, for result files',
      outputDir,
    )
    .option('-e, --env <NAME=VALUE>', 'environment for the command (repeatable)', envPair, {})
    .option('--memory <MiB>', 'guest memory', positive)
    .option('--cpus <n>', 'guest CPUs', positive)
    .addOption(
      new Option(
        '--machine <type>',
        "QEMU machine; default: microvm under TCG when the host's TSC frequency is known, else pc",
      ).choices(MACHINES),
    )
    .option('--console', 'copy the guest console (kernel log) to stderr')
    .addHelpText(
      'after',
      `
Needs qemu-system-x86, a kernel with its modules (linux-image-amd64) and busybox-static:
  apt-get install -y qemu-system-x86 linux-image-amd64 busybox-static
KVM is used when it works, TCG otherwise (NSLAB_VM_ACCEL=tcg|kvm forces one);
NSLAB_VM_MACHINE=pc|microvm sets the machine as --machine does.
The guest kernel's panics, oopses, BUGs and WARNINGs fail the run (exit 1).

Examples:
  nslab vm run -- uname -r
  nslab vm run --kernel 6.1.0-56-amd64 --results reports -- npm test`,
    )
    .action(async (command: string[], o: RunOptions) => {
      const env: Record<string, string> = { ...o.env }
      if (process.env.CI !== undefined && env.CI === undefined) env.CI = process.env.CI
      let r
      try {
        r = await runVm({
          command,
          kernel: o.kernel,
          timeout: o.timeout,
          results: o.results,
          env,
          memory: o.memory,
          cpus: o.cpus,
          machine: o.machine,
          onStdout: (d) => process.stdout.write(d),
          onStderr: (d) => process.stderr.write(d),
          onConsole: o.console ? (d) => process.stderr.write(d) : undefined,
          onProgress: (l) => process.stderr.write(`nslab vm: ${l}\n`),
        })
      } catch (err) {
        if (err instanceof VmPrerequisiteError || err instanceof KernelNotFoundError) {
          console.error(`nslab vm: ${err.message}`)
          process.exitCode = 3
          return
        }
        throw err
      }
      const why = vmFailure(r, o.timeout)
      if (why) console.error(`nslab vm: ${why}`)
      process.exitCode = vmSucceeded(r) ? 0 : 1
    })

  const kernel = program.command('kernel').description('the kernel-behaviour suite across kernels')
  kernel
    .command('matrix')
    .description('merge reports/kernel/<uname -r>.json into a matrix of claims and features against kernels')
    .option('-d, --dir <dir>', 'where the per-kernel reports are', 'reports/kernel')
    .option('-o, --out <base>', 'write <base>.md and <base>.json', outputFile, 'reports/kernel-matrix')
    .addHelpText(
      'after',
      '\nRun the suite on each kernel first (npm test on the host, npm run test:vm in the VM).',
    )
    .action((o: { dir: string; out: string }) => {
      let reports
      try {
        reports = readKernelReports(o.dir)
      } catch (err) {
        console.error(`nslab kernel matrix: ${(err as Error).message}`)
        process.exitCode = 2
        return
      }
      const m = kernelMatrix(reports)
      const md = matrixMarkdown(m)
      mkdirSync(join(o.out, '..'), { recursive: true })
      writeFileSync(`${o.out}.md`, md)
      writeFileSync(`${o.out}.json`, JSON.stringify(m, null, 2) + '\n')
      process.stdout.write(md)
      const failed = Object.values(m.claims).some((row) => Object.values(row).includes(false))
      process.exitCode = failed ? 1 : 0
    })
}
