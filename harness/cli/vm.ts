/**
 * `nslab vm run` (a command in a QEMU VM booting a chosen kernel),
 * `nslab kernel list` / `nslab kernel fetch` (Debian's kernel builds, fetched
 * into nslab's cache, never installed) and `nslab kernel matrix` (merge the
 * kernel suite's per-kernel reports, running the suite in the VM on each
 * kernel first) and `nslab bisect` (the first kernel build where a
 * scenario's outcome changes).
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
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
import {
  type KernelReport,
  MATRIX_LINES,
  kernelMatrix,
  lineOf,
  matrixFailed,
  matrixKernels,
  matrixMarkdown,
  parseKernelReport,
  readKernelReports,
  reportFileName,
} from '../../vm/matrix.js'
import { bisect, maxProbes } from '../../vm/bisect.js'
import {
  BisectInputError,
  type Outcome,
  type Subject,
  orderedBuilds,
  outcomeKey,
  probeSubject,
  verdictOf,
} from '../../vm/bisect-run.js'
import { entriesBetween, formatEntries, parseChangelog, upstreamVersion } from '../../vm/debian-changelog.js'
import { kernelChangelog, nslabCacheRoot } from '../../vm/kernel-cache.js'
import { compareDebianVersions } from '../../vm/debian-version.js'
import { loadScenario } from '../scenario/index.js'
import { shownPath } from '../util/artifacts-dir.js'
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
    .description(
      'run the kernel-behaviour suite and the scenarios in the VM on each kernel (fetched on first use), then merge every report into reports/kernel/matrix.md and .json',
    )
    .option(
      '-k, --kernels <a,b>',
      `kernel versions (default: NSLAB_MATRIX_KERNELS, else the newest build of each line: ${MATRIX_LINES.join(', ')})`,
    )
    .option(
      '-l, --lines <a,b>',
      `only these lines' newest builds (of ${MATRIX_LINES.join(', ')}), e.g. 5.10,7.x`,
    )
    .option('--merge-only', 'boot nothing: merge the reports already in --dir')
    .option('--reuse', 'skip a kernel whose report is in --dir already')
    .option(
      '--files <paths>',
      'what runs in the VM on each kernel (comma-separated)',
      'test/kernel,test/scenarios',
    )
    .option('-d, --dir <dir>', 'where the per-kernel reports are', 'reports/kernel')
    .option('-o, --out <base>', 'write <base>.md and <base>.json', outputFile, 'reports/kernel/matrix')
    .addHelpText(
      'after',
      `
Each kernel is one VM run of the suite (npm run test:vm with NSLAB_VM_KERNEL),
one after the other; the scenarios in scenarios/kernel-differences/ (which
differ between kernel lines on purpose) run once per kernel with nslab run,
their outcomes cached per kernel and file content (as nslab bisect caches them).
Reports of the host (npm test) and the container (npm run test:container)
found in --dir become columns too.

Exit codes: 0 no claim or shipped scenario failed, 1 one failed somewhere
(a kernel difference scenario failing is not a failure: it is the point),
2 no reports to merge.

Examples:
  npm run kernel:matrix
  nslab kernel matrix --kernels 5.10.0-32-amd64,7.3.4+deb13-amd64
  nslab kernel matrix --lines 5.10,7.x     # what .ci/run does, after npm run test:vm on Debian's 6.1
  nslab kernel matrix --merge-only`,
    )
    .action(
      async (o: {
        kernels?: string
        lines?: string
        mergeOnly?: boolean
        reuse?: boolean
        files: string
        dir: string
        out: string
      }) => {
        const progress = cliProgress('nslab kernel matrix')
        if (!o.mergeOnly) {
          let kernels = (o.kernels ?? process.env.NSLAB_MATRIX_KERNELS ?? '')
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
          const lines = o.lines
            ?.split(',')
            .map((x) => x.trim())
            .filter(Boolean)
          // Without --kernels, each line's newest build that can be fetched: an archive may list a
          // build whose pinned packages (its modules) it no longer carries; the next older one serves.
          let fallbacks: string[][] = []
          try {
            if (kernels.length === 0) {
              const listed = await archiveKernels({ progress })
              kernels = matrixKernels(listed, lines)
              fallbacks = kernels.map((k) => lineBuilds(listed, k))
            }
          } catch (err) {
            if (kernelError('nslab kernel matrix', err)) return
            if (err instanceof TypeError) {
              console.error(`nslab kernel matrix: ${err.message}`)
              process.exitCode = 2
              return
            }
            throw err
          }
          progress.line(`kernels: ${kernels.join(', ')}`)
          const files = o.files
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
          for (const [i, wanted] of kernels.entries()) {
            const t0 = performance.now()
            const k = await fetchable(wanted, fallbacks[i] ?? [], progress)
            if (!k) {
              process.exitCode = 1
              continue
            }
            const report = join(o.dir, reportFileName(k, 'vm'))
            if (o.reuse && existsSync(report)) {
              progress.line(`${k}: report in ${o.dir} already (--reuse)`)
            } else {
              progress.line(`${k}: the suite in the VM (${files.join(' ')})`)
              const code = await runSuiteInVm(k, files)
              if (code === 2 || code === 3) {
                process.exitCode = code
                return
              }
              progress.line(
                `${k}: suite done in ${((performance.now() - t0) / 1000).toFixed(0)} s (exit ${code ?? 'none'})`,
              )
              if (!existsSync(report)) {
                progress.line(`${k}: the suite wrote no report (${report}); see its output above`)
                process.exitCode = 1
                continue
              }
            }
            await differencesOn(k, o.dir, progress)
          }
        }
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
        mkdirSync(dirname(o.out), { recursive: true })
        writeFileSync(`${o.out}.md`, md)
        writeFileSync(`${o.out}.json`, JSON.stringify(m, null, 2) + '\n')
        process.stdout.write(md)
        process.stderr.write(`nslab kernel matrix: wrote ${o.out}.md and ${o.out}.json\n`)
        process.exitCode = matrixFailed(m) ? 1 : 0
      },
    )

  registerBisect(program)
}

/** `npm run test:vm -- FILES` on one kernel (fetched first by test-vm.mjs); its exit code. */
function runSuiteInVm(kernel: string, files: string[]): Promise<number | null> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, ['scripts/test-vm.mjs', ...files], {
      stdio: 'inherit',
      env: { ...process.env, NSLAB_VM_KERNEL: kernel },
    })
    const stop = (sig: NodeJS.Signals) => child.kill(sig)
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    child.on('close', (code) => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolveRun(code)
    })
  })
}

/** The scenarios of scenarios/kernel-differences/ on one kernel (cached), into that kernel's report as differences. */
async function differencesOn(kernel: string, dir: string, progress: Progress): Promise<void> {
  const files = differenceScenarios()
  if (files.length === 0) return
  const file = join(dir, reportFileName(kernel, 'vm'))
  let report: KernelReport
  try {
    report = parseKernelReport(JSON.parse(readFileSync(file, 'utf8')), file)
  } catch {
    report = { kernel, where: 'vm', date: new Date().toISOString(), claims: {}, features: {} }
  }
  report.differences = {}
  for (const f of files) {
    const name = loadScenario(f).name
    let o: Outcome
    try {
      o = await probeSubject({ kind: 'scenario', file: f }, kernel, {
        onProgress: (l) => progress.line(`${kernel} ${name}: ${l}`),
      })
    } catch (err) {
      progress.line(`${kernel} ${name}: could not run (${(err as Error).message.split('\n')[0]}); left out`)
      continue
    }
    progress.line(
      `${kernel} ${name}: ${outcomeKey(o)}${o.cached ? ' (cached)' : ''}${o.detail ? ` (${o.detail})` : ''}`,
    )
    report.differences[name] =
      o.status === 'error'
        ? { status: 'fail', ms: o.ms, error: `the VM could not tell: ${o.detail ?? 'error'}` }
        : {
            status: o.status,
            ms: o.ms,
            feature: o.feature,
            error: o.detail,
            ...(o.artifacts?.length ? { artifacts: o.artifacts.map(shownPath) } : {}),
          }
  }
  mkdirSync(dir, { recursive: true })
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n')
}

/** The other builds of `version`'s matrix line, newest first. */
function lineBuilds(listed: readonly ArchiveKernel[], version: string): string[] {
  const line = lineOf(version)
  return listed
    .map((b) => b.version)
    .filter((v) => v !== version && line !== undefined && lineOf(v) === line)
    .sort((x, y) => compareDebianVersions(y, x))
}

/** The first of `wanted`, then its fallbacks, that is cached or fetches (at most eight tried: one whose modules are gone is refused before any download); undefined when none. */
async function fetchable(
  wanted: string,
  fallbacks: string[],
  progress: Progress,
): Promise<string | undefined> {
  const tries = [wanted, ...fallbacks.filter((f) => f !== wanted)].slice(0, 8)
  for (const v of tries) {
    try {
      await findKernel(v, { progress })
      if (v !== wanted)
        progress.line(`${wanted} could not be fetched; ${v}, the next older build of its line, stands in`)
      return v
    } catch (err) {
      if (err instanceof VmPrerequisiteError || err instanceof KernelNotFoundError) throw err
      progress.line(`${v}: ${(err as Error).message.split('\n')[0]}`)
    }
  }
  progress.line(
    `no build of ${wanted}'s line could be fetched (tried ${tries.join(', ')}): its column is left out`,
  )
  return undefined
}

const DIFFERENCES_DIR = 'scenarios/kernel-differences'

function differenceScenarios(): string[] {
  try {
    return readdirSync(DIFFERENCES_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => join(DIFFERENCES_DIR, f))
  } catch {
    return []
  }
}

interface BisectCliOptions {
  good?: string
  bad?: string
  kernels?: string
  vitest?: string
  testName?: string
  timeout: number
  fresh?: boolean
  changelogLines: number
}

function bisectLine(text: string): void {
  process.stdout.write(`${text}\n`)
}

/** `nslab bisect`: the first kernel build where a scenario's (or a test's) outcome changes. */
function registerBisect(program: Command): void {
  program
    .command('bisect')
    .description(
      "find, by binary search over Debian's kernel builds between a good and a bad one, the first build where a scenario's outcome changes (each candidate booted in the VM, fetched on demand)",
    )
    .argument('[file]', 'the scenario file (omit with --vitest)')
    .option('-g, --good <kernel>', 'a build with the old outcome (default: the oldest kernel of the matrix)')
    .option('-b, --bad <kernel>', 'a build with the new outcome (default: the newest kernel of the matrix)')
    .option(
      '-k, --kernels <a,b,...>',
      'search these builds only (ordered by version; good and bad default to the first and last)',
    )
    .option('--vitest <file>', 'bisect a Vitest test instead: this test file, with -t')
    .option('-t, --test-name <name>', 'the test (its full name, or a pattern as vitest -t takes it)')
    .option(
      '--timeout <seconds>',
      'kill a candidate VM after this many seconds (it counts as skipped)',
      positive,
      600,
    )
    .option('--fresh', 'ignore cached outcomes (and replace them)')
    .option('--changelog-lines <n>', 'body lines shown per changelog entry', positive, 12)
    .addHelpText(
      'after',
      `
Outcomes (pass, fail, needs-feature X) are compared with the good end's: the
same is "old", another is "new"; a candidate the VM cannot judge (boot
failure, timeout, fetch failure) is skipped, as git bisect skip does. Each
outcome is cached per kernel and per content of the scenario file (or test
file and name) in ${join(nslabCacheRoot(), 'bisect')}, so a rerun boots nothing.

At the end: the first build with the new outcome, its upstream version, and
the Debian changelog entries between the last old and the first new build
(from the packages' changelog.Debian.gz).

Exit codes: 0 found, 1 the ends do not differ (or skips hide the change),
2 bad input (file, test name, unknown kernel), 3 a prerequisite is missing.

Examples:
  nslab bisect scenarios/kernel-differences/ipv6-force-forwarding.yaml
  nslab bisect FILE.yaml --good 6.12.118+deb12-amd64 --bad 7.3.4+deb13-amd64
  nslab bisect FILE.yaml --kernels 6.16.12+deb13-amd64,6.17.8+deb13-amd64,6.18.5+deb13-amd64
  nslab bisect --vitest test/kernel/claims.test.ts -t 'IFLA_NET_NS_FD'`,
    )
    .action(async (file: string | undefined, o: BisectCliOptions) => {
      try {
        process.exitCode = await bisectCommand(file, o)
      } catch (err) {
        if (err instanceof BisectInputError || err instanceof UnknownKernelError) {
          console.error(`nslab bisect: ${err.message}`)
          process.exitCode = 2
          return
        }
        if (kernelError('nslab bisect', err)) return
        if (err instanceof KernelNotFoundError) {
          console.error(`nslab bisect: ${err.message}`)
          process.exitCode = 3
          return
        }
        throw err
      }
    })
}

async function bisectCommand(file: string | undefined, o: BisectCliOptions): Promise<number> {
  const progress = cliProgress('nslab bisect')
  let subject: Subject
  if (o.vitest) {
    if (file) throw new BisectInputError(`give either a scenario file or --vitest FILE, not both (${file})`)
    if (!o.testName) throw new BisectInputError('--vitest needs -t NAME: the test to bisect')
    if (!existsSync(o.vitest)) throw new BisectInputError(`${o.vitest} does not exist`)
    subject = { kind: 'vitest', file: o.vitest, name: o.testName }
  } else {
    if (!file) throw new BisectInputError('name a scenario file (or --vitest FILE -t NAME)')
    try {
      loadScenario(file)
    } catch (err) {
      throw new BisectInputError((err as Error).message)
    }
    subject = { kind: 'scenario', file }
  }
  const only = o.kernels
    ?.split(',')
    .map((x) => x.trim())
    .filter(Boolean)
  if (only && only.length < 2) throw new BisectInputError('--kernels needs at least two builds')
  const builds = await orderedBuilds({ only, progress })
  const defaults = only ? [only[0]!, only[only.length - 1]!] : matrixKernels(builds)
  const good = o.good ?? defaults[0]
  const bad = o.bad ?? defaults[defaults.length - 1]
  const at = (v: string | undefined, which: string) => {
    const i = builds.findIndex((b) => b.version === v)
    if (i < 0)
      throw new BisectInputError(
        `the ${which} build ${v ?? '(none)'} is not among the builds searched${only ? ' (--kernels)' : ' (nslab kernel list)'}`,
      )
    return i
  }
  const gi = at(good, 'good')
  const bi = at(bad, 'bad')
  if (gi === bi) throw new BisectInputError(`--good and --bad are the same build (${good})`)
  const range = gi < bi ? builds.slice(gi, bi + 1) : builds.slice(bi, gi + 1).reverse()
  const what =
    subject.kind === 'scenario' ? subject.file : `${subject.file} -t ${JSON.stringify(subject.name)}`
  bisectLine(
    `bisecting ${what} over ${range.length} builds, ${range[0]!.version} (good) .. ${range.at(-1)!.version} (bad): at most ${maxProbes(range.length)} boots`,
  )
  const outcomes = new Map<string, Outcome>()
  let goodOutcome: Outcome | undefined
  let n = 0
  const t0 = performance.now()
  const result = await bisect(
    range,
    async (b) => {
      let out: Outcome
      try {
        out = await probeSubject(subject, b.version, {
          timeout: o.timeout,
          fresh: o.fresh,
          onProgress: (l) => progress.line(`${b.version}: ${l}`),
        })
      } catch (err) {
        if (err instanceof BisectInputError || err instanceof VmPrerequisiteError) throw err
        // A build that cannot be fetched or booted cannot be judged: skipped.
        out = { status: 'error', ms: 0, detail: (err as Error).message.split('\n')[0] }
      }
      outcomes.set(b.version, out)
      goodOutcome ??= out
      return verdictOf(out, goodOutcome)
    },
    {
      isFatal: (err) => err instanceof BisectInputError || err instanceof VmPrerequisiteError,
      onStep: (s, left) => {
        const out = outcomes.get(s.candidate.version)!
        const label = s.verdict === 'old' ? 'good' : s.verdict === 'new' ? 'bad' : 'skip'
        bisectLine(
          `[${++n}] ${s.candidate.version} (${s.candidate.packageVersion}): ${outcomeKey(out)} -> ${label}` +
            ` (${out.cached ? 'cached' : `${(out.ms / 1000).toFixed(1)} s`})` +
            `${out.detail && out.status !== 'pass' ? `: ${out.detail.split('\n')[0]!.slice(0, 200)}` : ''}; ${left} left to test`,
        )
        const trace = out.artifacts?.find((a) => a.endsWith('.html'))
        if (trace) bisectLine(`    trace: ${shownPath(trace)} (open in a browser; its pcapng beside it)`)
      },
    },
  )
  const took = `${((performance.now() - t0) / 1000).toFixed(0)} s`
  if (result.status === 'bad-ends') {
    bisectLine(
      `nothing to bisect: ${result.reason} (good ${range[0]!.version}: ${outcomeKey(outcomes.get(range[0]!.version) ?? { status: 'error', ms: 0 })}, bad ${range.at(-1)!.version}: ${
        outcomes.has(range.at(-1)!.version) ? outcomeKey(outcomes.get(range.at(-1)!.version)!) : 'not probed'
      }); ${took}`,
    )
    return 1
  }
  const lastGood = range[result.lastOld]!
  const firstBad = range[result.firstNew]!
  bisectLine('')
  if (!result.exact)
    bisectLine(
      `the change is in one of ${result.suspects.map((b) => b.version).join(', ')}: the builds before ${firstBad.version} could not be judged (skipped)`,
    )
  bisectLine(
    `first bad build: ${firstBad.version} (package ${firstBad.packageVersion}, upstream Linux ${upstreamVersion(firstBad.packageVersion)}): ${outcomeKey(outcomes.get(firstBad.version)!)}`,
  )
  bisectLine(
    `last good build: ${lastGood.version} (package ${lastGood.packageVersion}, upstream Linux ${upstreamVersion(lastGood.packageVersion)}): ${outcomeKey(outcomes.get(lastGood.version)!)}`,
  )
  bisectLine(
    `${result.steps.length} probe(s) in ${took}${result.unprobed ? `; ${result.unprobed} build(s) not probed (outcomes assumed to change once)` : ''}`,
  )
  // The changelog of the newer of the two has the entries of both lines.
  const [older, newer] =
    compareDebianVersions(lastGood.packageVersion, firstBad.packageVersion) < 0
      ? [lastGood, firstBad]
      : [firstBad, lastGood]
  try {
    const entries = entriesBetween(
      parseChangelog(await kernelChangelog(newer.version, { progress })),
      older.packageVersion,
      newer.packageVersion,
    )
    bisectLine('')
    bisectLine(
      `Debian changelog entries after ${older.packageVersion} up to ${newer.packageVersion} (${entries.length}, from the changelog of ${newer.version}):`,
    )
    bisectLine('')
    bisectLine(formatEntries(entries, o.changelogLines))
  } catch (err) {
    bisectLine(`(no changelog: ${(err as Error).message})`)
  }
  return result.exact ? 0 : 1
}
