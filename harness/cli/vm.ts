/**
 * `nslab vm run` (a command in a QEMU VM booting a chosen kernel),
 * `nslab kernel list` / `nslab kernel fetch` (Debian's kernel builds, fetched
 * into nslab's cache, never installed) and `nslab kernel matrix` (merge the
 * kernel suite's per-kernel reports).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Command, InvalidArgumentError, Option } from 'commander'
import {
  ArchiveError,
  type ArchiveKernel,
  KernelNotFoundError,
  MACHINES,
  type Machine,
  type Progress,
  UnknownKernelError,
  VmPrerequisiteError,
  archiveKernels,
  cachedKernels,
  configuredSuites,
  fetchKernel,
  findKernel,
  installedKernels,
  kernelCacheDir,
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

/** Progress of a fetch: apt's own on a terminal, else one line per step, on stderr. */
function cliProgress(who: string): Progress {
  return { line: (l) => process.stderr.write(`${who}: ${l}\n`), tty: process.stderr.isTTY === true }
}

/** Report a kernel fetching error with its exit code (2 unknown version, 3 missing tool, 1 archive); false when it is none. */
function kernelError(who: string, err: unknown): boolean {
  const code =
    err instanceof UnknownKernelError
      ? 2
      : err instanceof VmPrerequisiteError
        ? 3
        : err instanceof ArchiveError
          ? 1
          : 0
  if (!code) return false
  console.error(`${who}: ${(err as Error).message}`)
  process.exitCode = code
  return true
}

/** Register `vm run`, `kernel list`, `kernel fetch` and `kernel matrix` on the program. */
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
      'a kernel image path or a version: installed (/boot/vmlinuz-<v>), cached, or fetched from Debian (nslab kernel list); default: the newest installed',
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

A --kernel version that is neither installed nor cached is fetched from Debian's
archive into nslab's cache first (nslab kernel fetch), and boots offline after that.

Examples:
  nslab vm run -- uname -r
  nslab vm run --kernel 5.10.0-32-amd64 -- uname -r
  nslab vm run --kernel 6.1.0-56-amd64 --results reports -- npm test`,
    )
    .action(async (command: string[], o: RunOptions) => {
      const env: Record<string, string> = { ...o.env }
      if (process.env.CI !== undefined && env.CI === undefined) env.CI = process.env.CI
      let r
      try {
        // Fetched here first, so that apt's progress reaches the terminal.
        if (o.kernel) await findKernel(o.kernel, { progress: cliProgress('nslab vm') })
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
        if (kernelError('nslab vm', err)) return
        if (err instanceof KernelNotFoundError) {
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

  const kernel = program
    .command('kernel')
    .description(
      "Debian's kernel builds (listed, fetched into a cache) and the kernel-behaviour suite across them",
    )
  kernel
    .command('list')
    .description(
      "the kernel builds of the Debian suites nslab knows, oldest first, marking those cached or installed (apt with its own configuration under nslab's cache: the host's apt state is not touched)",
    )
    .option(
      '-s, --suites <a,b>',
      `suites to list (default: NSLAB_KERNEL_SUITES or ${configuredSuites().join(',')})`,
    )
    .option('-c, --cached', 'only the kernels in the cache (no network)')
    .option('--refresh', 'renew the package lists now (they are renewed when a day old)')
    .addHelpText(
      'after',
      `
Kernels are cached in ${kernelCacheDir()} (NSLAB_CACHE_DIR moves the cache root).
Mirrors: NSLAB_DEBIAN_MIRROR (default http://deb.debian.org/debian),
NSLAB_DEBIAN_SECURITY_MIRROR (default http://deb.debian.org/debian-security).
Exit codes: 0 listed, 1 the archive could not be read, 3 apt-get is missing.`,
    )
    .action(async (o: { suites?: string; cached?: boolean; refresh?: boolean }) => {
      const cached = cachedKernels()
      const installed = new Set(installedKernels())
      let rows: { version: string; packageVersion: string; suites: string[] }[]
      if (o.cached) rows = cached
      else {
        const wanted = o.suites
          ? o.suites
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean)
          : configuredSuites()
        let kernels: ArchiveKernel[]
        try {
          kernels = await archiveKernels({
            suites: [...new Set([...configuredSuites(), ...wanted])],
            refresh: o.refresh,
            progress: cliProgress('nslab kernel'),
          })
        } catch (err) {
          if (kernelError('nslab kernel', err)) return
          throw err
        }
        rows = kernels
          .map((k) => ({ ...k, suites: k.suites.filter((s) => wanted.includes(s)) }))
          .filter((k) => k.suites.length > 0)
        const listed = new Set(rows.map((r) => r.version))
        // Cached kernels the suites no longer carry stay bootable: list them too.
        rows.push(
          ...cached.filter((c) => !listed.has(c.version)).map((c) => ({ ...c, suites: ['(cache only)'] })),
        )
      }
      const cachedSet = new Set(cached.map((c) => c.version))
      const w = (f: (r: (typeof rows)[number]) => string, head: string) =>
        Math.max(head.length, ...rows.map((r) => f(r).length))
      const cols = [
        (r: (typeof rows)[number]) => r.version,
        (r: (typeof rows)[number]) => r.packageVersion,
        (r: (typeof rows)[number]) => r.suites.join(','),
      ]
      const heads = ['VERSION', 'PACKAGE', 'SUITES']
      const widths = cols.map((f, i) => w(f, heads[i]!))
      const line = (cells: string[]) =>
        cells
          .map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c))
          .join('  ')
          .trimEnd()
      process.stdout.write(line([...heads, '']) + '\n')
      for (const r of rows) {
        const marks = [cachedSet.has(r.version) && 'cached', installed.has(r.version) && 'installed'].filter(
          Boolean,
        )
        process.stdout.write(line([...cols.map((f) => f(r)), marks.join(',')]) + '\n')
      }
    })
  kernel
    .command('fetch')
    .description(
      "download Debian kernels (linux-image-VERSION) and unpack kernel and modules into nslab's cache (dpkg-deb -x: no postinst, no initramfs, nothing installed)",
    )
    .argument(
      '<version...>',
      'kernel versions as uname -r prints them (see nslab kernel list), e.g. 6.1.0-41-amd64',
    )
    .addHelpText(
      'after',
      `
Exit codes: 0 fetched (or cached already), 1 a download or unpacking failed,
2 no such version in the suites, 3 apt-get, dpkg-deb or depmod is missing.

Example:
  nslab kernel fetch 5.10.0-32-amd64 7.3.4+deb13-amd64`,
    )
    .action(async (versions: string[]) => {
      const progress = cliProgress('nslab kernel')
      for (const v of versions) {
        try {
          const k = await fetchKernel(v, { progress })
          process.stdout.write(`${k.version}\t${k.image}\n`)
        } catch (err) {
          if (kernelError('nslab kernel', err)) return
          throw err
        }
      }
    })

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
