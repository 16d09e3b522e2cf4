/**
 * nslab's VM runner: boot a chosen kernel in QEMU with the host's root
 * filesystem shared read-only under a throwaway tmpfs overlay, run one
 * command inside, stream its output, return its exit code, and bring result
 * files back through a writable share mounted at the same path as on the
 * host. Nothing is left running afterwards, also on timeout, failure or
 * SIGINT/SIGTERM.
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chooseAccel } from './accel.js'
import { ConsoleWatch, type KernelProblem, describeProblems } from './console.js'
import { ConsoleFile, consoleDir } from './console-file.js'
import { GUEST_PATH, envScript, runScript } from './guest-script.js'
import { buildInitramfs, cacheDir } from './initramfs.js'
import { type Kernel, findKernel } from './kernel.js'
import { hostTscKhz } from './host-tsc.js'
import { bootImage } from './vmlinux.js'
import {
  type Accel,
  type Machine,
  SERIAL_PORTS,
  chooseMachine,
  type SerialPort,
  type Share,
  findQemu,
  qemuArgv,
} from './qemu.js'

export {
  KernelNotFoundError,
  bzImageVersion,
  findKernel,
  installedKernels,
  resolveKernel,
  type Kernel,
} from './kernel.js'
export {
  UnknownKernelError,
  cachedKernel,
  cachedKernels,
  fetchKernel,
  archiveKernels,
  kernelCacheDir,
  nslabCacheRoot,
  type CachedKernel,
  type FetchOptions,
} from './kernel-cache.js'
export {
  ArchiveError,
  DEFAULT_SUITES,
  configuredSuites,
  type ArchiveKernel,
  type Progress,
} from './debian-archive.js'
export { compareDebianVersions } from './debian-version.js'
export { VmPrerequisiteError, buildInitramfs, findBusybox, isStaticElf } from './initramfs.js'
export { ConsoleWatch, classifyLine, describeProblems, type KernelProblem } from './console.js'
export { consoleDir } from './console-file.js'
export {
  qemuArgv,
  kernelCmdline,
  chooseMachine,
  findQemu,
  MACHINES,
  type Accel,
  type Machine,
  type QemuConfig,
} from './qemu.js'
export { hostTscKhz, tscKhzFromCpuinfo } from './host-tsc.js'
export {
  type CellResult,
  type KernelReport,
  type KernelMatrix,
  MATRIX_LINES,
  kernelMatrix,
  matrixKernels,
  matrixMarkdown,
  readKernelReports,
} from './matrix.js'
export { bisect, maxProbes, type BisectResult, type BisectStep, type Verdict } from './bisect.js'
export { entriesBetween, parseChangelog, type ChangelogEntry } from './debian-changelog.js'
export { probeKvm, chooseAccel } from './accel.js'

export interface VmOptions {
  /** argv run inside the guest (no shell). */
  command: string[]
  /**
   * A kernel image path or a version: installed (/boot/vmlinuz-<v>), cached, or else fetched from
   * Debian's archive into the cache (nslab kernel list); default: the newest in /boot.
   */
  kernel?: string
  /** Seconds before the VM is killed (default 600). */
  timeout?: number
  /** Working directory inside the guest (same path as on the host; default process.cwd()). */
  cwd?: string
  /** A host directory shared writable, mounted at the same path in the guest: results land there. */
  results?: string
  /** Environment of the command (PATH, HOME, NSLAB_VM and NSLAB_VM_RESULTS are set for it). */
  env?: Record<string, string>
  /** Guest memory in MiB (default 1536) and CPUs (default 2). */
  memory?: number
  cpus?: number
  /** Extra kernel command-line words (e.g. 'loglevel=7' to see the whole boot log with onConsole). */
  append?: string[]
  onStdout?: (chunk: Buffer) => void
  onStderr?: (chunk: Buffer) => void
  /** Progress lines (booting, guest up, exit), for a human. */
  onProgress?: (line: string) => void
  /** Every console line (kernel log and init markers). */
  onConsole?: (chunk: Buffer) => void
  /**
   * Where the whole console of a failed run is kept (see VmResult.consoleFile;
   * default consoleDir(): NSLAB_VM_CONSOLE_DIR, else `consoles` in nslab's
   * cache), or false to keep none.
   */
  consoleDir?: string | false
  /** Called as soon as the guest kernel starts reporting a panic, oops, BUG or WARNING (its excerpt grows after). */
  onProblem?: (problem: KernelProblem) => void
  /**
   * Byte channels to the guest, by name: a virtio-serial port each (in the
   * guest: /dev/<port> where /sys/class/virtio-ports/<port>/name holds the
   * name). The handler gets the host end once QEMU connects it.
   */
  channels?: Record<string, (socket: net.Socket) => void>
  signal?: AbortSignal
  /** QEMU's machine type (default: NSLAB_VM_MACHINE, else microvm under TCG where the host's TSC frequency is known, else pc). */
  machine?: Machine
}

export interface VmResult {
  /** The command's exit code; null when it never finished (timeout, panic, init failure). */
  code: number | null
  timedOut: boolean
  kernel: Kernel
  accel: Accel
  machine: Machine
  /** Panics, oopses, BUGs and WARNINGs the guest kernel printed. */
  problems: KernelProblem[]
  /** Why the guest's init gave up, if it did. */
  initFailure: string | undefined
  /** Milliseconds from the call until the command started in the guest. */
  bootMs: number | undefined
  totalMs: number
  /** The last console lines, for diagnosis. */
  consoleTail: string[]
  /** The whole console, kept when the run did not succeed (see VmOptions.consoleDir). */
  consoleFile?: string
  /** QEMU's pid (gone by the time the result is returned). */
  pid: number | undefined
}

/** True when the run counts as a success: exit 0 and no kernel problem. */
export function vmSucceeded(r: VmResult): boolean {
  return r.code === 0 && r.problems.length === 0 && !r.timedOut
}

/** One sentence (plus the kernel's report) saying why a run failed, or undefined when it did not. */
export function vmFailure(r: VmResult, timeout: number): string | undefined {
  const parts: string[] = []
  if (r.timedOut) parts.push(`the VM did not finish within ${timeout} s and was killed`)
  else if (r.initFailure) parts.push(`the guest's init failed: ${r.initFailure}`)
  else if (r.code === null && r.problems.some((p) => p.kind === 'panic'))
    parts.push('the guest kernel panicked before the command finished')
  else if (r.code === null)
    parts.push(
      `the VM stopped before the command finished; console ended with:\n  ${r.consoleTail.slice(-10).join('\n  ')}`,
    )
  else if (r.code !== 0) parts.push(`the command exited with ${r.code} in the VM`)
  if (r.problems.length)
    parts.push(`the guest kernel reported ${r.problems.length} problem(s):\n${describeProblems(r.problems)}`)
  if (parts.length && r.consoleFile) parts.push(`the whole console: ${r.consoleFile}`)
  return parts.length ? parts.join('; ') : undefined
}

function setprivAvailable(): boolean {
  return spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0
}

/** Remove control directories of runs whose owner died without cleaning up (SIGKILL). */
function sweepStaleControlDirs(): void {
  for (const d of readdirSync(tmpdir()).filter((f) => f.startsWith('nslab-vm-'))) {
    const dir = join(tmpdir(), d)
    try {
      const pid = Number(readFileSync(join(dir, 'owner'), 'utf8'))
      if (pid > 0 && !existsSync(`/proc/${pid}`)) rmSync(dir, { recursive: true, force: true })
    } catch {
      // not ours, or being set up right now
    }
  }
}

/** Boot the VM, run the command, and return once QEMU is gone. */
export async function runVm(o: VmOptions): Promise<VmResult> {
  const t0 = performance.now()
  const progress = o.onProgress ?? (() => {})
  const timeout = o.timeout ?? 600
  const qemu = findQemu()
  // A version neither installed nor cached is fetched from Debian's archive first.
  const kernel = await findKernel(o.kernel, { progress: { line: progress, tty: false } })
  const cache = cacheDir()
  const initramfs = buildInitramfs(kernel, cache)
  const boot = bootImage(kernel.image, kernel.version, cache)
  const { accel, reason } = await chooseAccel(qemu, kernel.image, cache)
  const tscKhz = accel === 'tcg' ? hostTscKhz() : undefined
  const machine = chooseMachine(o.machine ?? process.env.NSLAB_VM_MACHINE, accel, tscKhz)
  const cwd = resolve(o.cwd ?? process.cwd())
  const results = o.results ? resolve(o.results) : undefined
  if (results) mkdirSync(results, { recursive: true })
  progress(
    `kernel ${kernel.version} (${kernel.image}), ${accel === 'kvm' ? 'KVM' : `TCG (${reason})`}, ${machine}, initramfs ${initramfs.cached ? 'cached' : 'built'}${boot.pvh ? ', PVH entry' : ''}: booting`,
  )

  let bootMs: number | undefined
  const watch = new ConsoleWatch((m) => {
    if (m === 'start') {
      bootMs = performance.now() - t0
      progress(`guest up after ${(bootMs / 1000).toFixed(1)} s: ${o.command.join(' ')}`)
    }
  }, o.onProblem)
  sweepStaleControlDirs()
  const ctl = mkdtempSync(join(tmpdir(), 'nslab-vm-'))
  writeFileSync(join(ctl, 'owner'), String(process.pid))
  const servers: net.Server[] = []
  // The guest's console as it comes, beside the control files; copied out when the run fails.
  const consoleFile = new ConsoleFile(join(ctl, 'console.log'))
  try {
    return await launch(ctl, servers, consoleFile)
  } finally {
    consoleFile.close() // before its directory goes, whatever failed where
    for (const s of servers) s.close()
    rmSync(ctl, { recursive: true, force: true })
    if (existsSync(ctl)) progress(`could not remove ${ctl}`)
  }

  async function launch(ctl: string, servers: net.Server[], consoleFile: ConsoleFile): Promise<VmResult> {
    const env = {
      PATH: GUEST_PATH,
      HOME: '/root',
      TERM: 'dumb',
      ...o.env,
      NSLAB_VM: '1',
      NSLAB_VM_RESULTS: results ?? '',
    }
    const hostModules = `/lib/modules/${kernel.version}`
    writeFileSync(
      join(ctl, 'env.sh'),
      envScript(
        results,
        resolve(kernel.modulesDir) === hostModules ? undefined : realpathSync(kernel.modulesDir),
      ),
    )
    writeFileSync(join(ctl, 'run.sh'), runScript(o.command, cwd, env))
    const shares: Share[] = [
      { tag: 'hostroot', path: '/', readonly: true },
      { tag: 'nslabctl', path: realpathSync(ctl), readonly: false },
    ]
    if (results) shares.push({ tag: 'nslabout', path: realpathSync(results), readonly: false })
    // QEMU connects each serial port to a Unix socket we listen on; each ends when QEMU is gone.
    const serial = Object.fromEntries(
      SERIAL_PORTS.map((p) => [p, join(realpathSync(ctl), `${p}.sock`)]),
    ) as Record<SerialPort, string>
    const sink: Record<SerialPort, (d: Buffer) => void> = {
      console: (d) => {
        watch.write(d)
        consoleFile.write(d)
        o.onConsole?.(d)
      },
      stdout: (d) => o.onStdout?.(d),
      stderr: (d) => o.onStderr?.(d),
    }
    const drained: Promise<void>[] = []
    const listen = async (path: string, onConnect: (sock: net.Socket) => void): Promise<net.Server> => {
      const server = net.createServer({ pauseOnConnect: false }, (sock) => {
        onConnect(sock)
        drained.push(once(sock, 'close').then(() => {}))
      })
      server.listen(path)
      await once(server, 'listening')
      return server
    }
    const channels = Object.entries(o.channels ?? {}).map(([name, onConnect], i) => ({
      name,
      socket: join(realpathSync(ctl), `channel${i}.sock`),
      onConnect,
    }))
    servers.push(
      ...(await Promise.all([
        ...SERIAL_PORTS.map((p) => listen(serial[p], (sock) => sock.on('data', sink[p]))),
        ...channels.map((c) => listen(c.socket, c.onConnect)),
      ])),
    )
    const argv = qemuArgv({
      serial,
      accel,
      kernel: boot.path,
      initrd: initramfs.path,
      memory: o.memory ?? 1536,
      cpus: o.cpus ?? 2,
      shares,
      append: o.append,
      channels: channels.map(({ name, socket }) => ({ name, socket })),
      machine,
      tscKhz,
    })
    // setpriv --pdeathsig: QEMU dies with us even when we are SIGKILLed.
    const [file, args] = setprivAvailable()
      ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', qemu, ...argv]]
      : [qemu, argv]

    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let qemuErr = ''
    child.stderr.on('data', (d: Buffer) => (qemuErr += d.toString()))

    let timedOut = false
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
    const timer = setTimeout(() => {
      timedOut = true
      progress(`the VM did not finish within ${timeout} s: killing it`)
      kill()
    }, timeout * 1000)
    const onSignal = (sig: NodeJS.Signals) => {
      kill()
      rmSync(ctl, { recursive: true, force: true })
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      process.kill(process.pid, sig)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    // A process that exits while its VM runs (process.exit() in a caller) takes QEMU and the
    // control directory along; setpriv's --pdeathsig would only get QEMU.
    const onExit = () => {
      kill()
      rmSync(ctl, { recursive: true, force: true })
    }
    process.on('exit', onExit)
    const onAbort = () => kill()
    o.signal?.addEventListener('abort', onAbort)

    try {
      const exit = await new Promise<{ code: number | null; spawnError?: Error }>((resolveExit) => {
        child.on('error', (e) => resolveExit({ code: null, spawnError: e }))
        child.on('close', (code) => resolveExit({ code }))
      })
      await Promise.all(drained)
      watch.end()
      if (exit.spawnError) throw new Error(`could not start QEMU (${qemu}): ${exit.spawnError.message}`)
      if (
        !timedOut &&
        !o.signal?.aborted &&
        watch.exitCode === undefined &&
        !watch.started &&
        !watch.failure &&
        exit.code !== 0
      )
        throw new Error(
          `QEMU failed before the guest started (exit ${exit.code}): ${qemuErr.trim() || watch.tail.slice(-5).join(' | ')}`,
        )
      const r: VmResult = {
        code: timedOut ? null : (watch.exitCode ?? null),
        timedOut,
        kernel,
        accel,
        machine,
        problems: watch.problems,
        initFailure: watch.failure,
        bootMs,
        totalMs: performance.now() - t0,
        consoleTail: [...watch.tail],
        pid: child.pid,
      }
      if (!vmSucceeded(r) && o.consoleDir !== false) {
        const kept = consoleFile.keep(o.consoleDir ?? consoleDir(), kernel.version, progress)
        if (kept) r.consoleFile = kept
      }
      if (!r.timedOut)
        progress(
          `done after ${(r.totalMs / 1000).toFixed(1)} s: exit ${r.code ?? '(none)'}${r.problems.length ? `, ${r.problems.length} kernel problem(s)` : ''}`,
        )
      return r
    } finally {
      clearTimeout(timer)
      kill()
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      process.off('exit', onExit)
      o.signal?.removeEventListener('abort', onAbort)
    }
  }
}
