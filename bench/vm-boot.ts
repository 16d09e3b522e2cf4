// Scenario vm-boot (BENCH_ONLY=vm-boot npm run bench): from starting a VM
// suite run to the first test passing on the guest kernel, under whatever
// accelerator the runner picks (TCG on a machine without a working KVM). The
// first test is the first claim of the kernel-behaviour suite, run alone with
// the verbose reporter (one line per test as it finishes).
//
//   nslab          `npm run test:vm`'s way: Vitest on the host, the test
//                  file's worker in the VM (vitest.vm.config.ts, vm/vitest-pool.ts).
//   nslab-in-guest the whole of Vitest inside the VM (`nslab vm run -- vitest ...`),
//                  as any command runs there: for comparison.
import { spawn } from 'node:child_process'
import { StringDecoder } from 'node:string_decoder'
import { installedKernels, resolveKernel } from '../vm/kernel.js'
import { cachedKernels } from '../vm/kernel-cache.js'
import { MATRIX_LINES, lineOf, matrixKernels } from '../vm/matrix.js'
import { buildInitramfs, cacheDir } from '../vm/initramfs.js'
import { runVm } from '../vm/index.js'
import { chooseAccel } from '../vm/accel.js'
import { findQemu } from '../vm/qemu.js'
import { summarize } from './stats.js'

const FIRST = 'a new namespace has only lo, and it is down'
const VITEST_ARGS = ['run', '--reporter=verbose', 'test/kernel/claims.test.ts', '-t', FIRST]

/** Watches output for the first passed test; returns ms since t0 once seen. */
function firstPass(t0: number) {
  let text = ''
  let at: number | undefined
  const utf8 = new StringDecoder('utf8') // a chunk may end inside a multi-byte character
  return {
    feed(d: Buffer) {
      text += utf8.write(d)
      if (at === undefined && /✓/.test(text)) at = performance.now() - t0
    },
    get at() {
      return at
    },
    get text() {
      return text
    },
  }
}

/** One run through the VM pool: host Vitest, worker in the guest (on `kernel`, default the runner's). */
async function poolRun(kernel?: string): Promise<{ first: number; guestUp: number }> {
  const t0 = performance.now()
  const seen = firstPass(t0)
  let guestUp = NaN
  const child = spawn(
    process.execPath,
    ['node_modules/vitest/vitest.mjs', ...VITEST_ARGS, '--config', 'vitest.vm.config.ts'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NSLAB_VM_PROGRESS: '1', CI: '', ...(kernel ? { NSLAB_VM_KERNEL: kernel } : {}) },
    },
  )
  child.stdout.on('data', (d: Buffer) => seen.feed(d))
  child.stderr.on('data', (d: Buffer) => {
    if (Number.isNaN(guestUp) && /guest up after/.test(d.toString())) guestUp = performance.now() - t0
    seen.feed(d)
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  if (code !== 0 || seen.at === undefined)
    throw new Error(`the VM pool run failed (exit ${code}): ${seen.text.slice(-500)}`)
  return { first: seen.at, guestUp }
}

/** One run of the whole of Vitest inside the guest. */
async function inGuestRun(): Promise<{ first: number; guestUp: number }> {
  const t0 = performance.now()
  const seen = firstPass(t0)
  const r = await runVm({
    command: ['node', 'scripts/sealed.mjs', '--', 'node_modules/.bin/vitest', ...VITEST_ARGS],
    timeout: 300,
    onStdout: (d) => seen.feed(d),
  })
  if (r.code !== 0 || seen.at === undefined)
    throw new Error(`the guest run failed (exit ${r.code}): ${seen.text.slice(-500)}`)
  return { first: seen.at, guestUp: r.bootMs ?? NaN }
}

/**
 * The newest build of each kernel line (5.10, 6.1, 6.12, 6.16-6.19, 7.x)
 * among the installed and cached kernels: the bench fetches nothing.
 */
export function vmBootKernels(): string[] {
  const builds = [...installedKernels(), ...cachedKernels().map((k) => k.version)].map((version) => ({
    version,
  }))
  return matrixKernels(
    builds,
    MATRIX_LINES.filter((l) => builds.some((b) => lineOf(b.version) === l)),
  )
}

/**
 * Scenario vm-boot-lines-<version> (BENCH_ONLY=vm-boot-lines): the VM pool's
 * start-to-first-test on one kernel, a row per kernel line, against the
 * issue's 8 s target under TCG.
 */
export function scenarioVmBootOn(kernel: string) {
  const up: number[] = []
  return {
    id: `vm-boot-lines-${kernel}`,
    title: `VM runner on ${kernel} (line ${lineOf(kernel) ?? '?'}): start of a run to the first test passing`,
    iterations: 3,
    warmup: 0,
    timed: 'from starting the run until the first passed test of test/kernel/claims.test.ts is printed',
    async setup() {
      buildInitramfs(resolveKernel(kernel))
    },
    note: () =>
      `guest up: median ${(summarize(up).median / 1000).toFixed(2)} s; target: first test within 8 s`,
    variants: [
      {
        id: 'nslab' as const,
        label: 'nslab VM pool',
        does: `NSLAB_VM_KERNEL=${kernel}: Vitest on the host; boot, start the worker in the guest, run one test`,
        async run(count: number): Promise<number[]> {
          const out: number[] = []
          for (let i = 0; i < count; i++) {
            const r = await poolRun(kernel)
            out.push(r.first)
            up.push(r.guestUp)
          }
          return out
        },
      },
    ],
  }
}

export function scenarioVmBoot() {
  const up: Record<string, number[]> = { nslab: [], 'nslab-in-guest': [] }
  let accel = ''
  const variant = (
    id: 'nslab' | 'nslab-in-guest',
    label: string,
    does: string,
    once: () => Promise<{ first: number; guestUp: number }>,
  ) => ({
    id,
    label,
    does,
    async run(count: number): Promise<number[]> {
      const out: number[] = []
      for (let i = 0; i < count; i++) {
        const r = await once()
        out.push(r.first)
        up[id]!.push(r.guestUp)
      }
      return out
    },
    note: () => `guest up (its command starting): median ${(summarize(up[id]!).median / 1000).toFixed(2)} s`,
  })
  return {
    id: 'vm-boot',
    title:
      'VM runner: start of a run to the first test passing on the guest kernel (Debian kernel, host root over 9p)',
    iterations: 3,
    warmup: 0,
    timed: 'from starting the run until the first passed test of test/kernel/claims.test.ts is printed',
    async setup() {
      // Untimed: the cached initramfs and the accelerator probe, as on any run after the first.
      const kernel = resolveKernel()
      buildInitramfs(kernel)
      accel = (await chooseAccel(findQemu(), kernel.image, cacheDir())).accel
    },
    note: () => `accelerator ${accel}`,
    variants: [
      variant(
        'nslab',
        'nslab VM pool',
        'Vitest on the host; boot, start the worker in the guest, run one test',
        () => poolRun(),
      ),
      variant(
        'nslab-in-guest',
        'Vitest in the guest',
        'boot, mount the host root, start Vitest in the guest, run one test',
        inGuestRun,
      ),
    ],
  }
}
