// Scenario vm-boot (BENCH_ONLY=vm-boot npm run bench): how long the VM runner
// takes from runVm() to the first test passing inside the guest, and to the
// guest starting the command, under whatever accelerator it picks (TCG on a
// machine without a working KVM). The first test is the first claim of the
// kernel-behaviour suite, run alone by Vitest with the verbose reporter (one
// line per test as it finishes), sealed as `npm run test:vm` runs it.
import { resolveKernel } from '../vm/kernel.js'
import { buildInitramfs, cacheDir } from '../vm/initramfs.js'
import { runVm } from '../vm/index.js'
import { chooseAccel } from '../vm/accel.js'
import { findQemu } from '../vm/qemu.js'
import { StringDecoder } from 'node:string_decoder'
import { summarize } from './stats.js'

const FIRST = 'a new namespace has only lo, and it is down'

export function scenarioVmBoot() {
  const toCommand: number[] = []
  let accel = ''
  return {
    id: 'vm-boot',
    title: 'VM runner: boot to the first test (Debian kernel, host root over 9p)',
    iterations: 3,
    warmup: 0,
    timed: 'runVm() until the guest prints the first passed test of test/kernel/claims.test.ts',
    async setup() {
      // Untimed: the cached initramfs and the accelerator probe, as on any run after the first.
      const kernel = resolveKernel()
      buildInitramfs(kernel)
      accel = (await chooseAccel(findQemu(), kernel.image, cacheDir())).accel
    },
    note: () => {
      const s = summarize(toCommand)
      return `accelerator ${accel}; to the command starting in the guest: median ${(s.median / 1000).toFixed(2)} s`
    },
    variants: [
      {
        id: 'nslab' as const,
        label: 'nslab vm',
        does: 'boot, mount the host root, start vitest, run one test',
        async run(count: number): Promise<number[]> {
          const out: number[] = []
          for (let i = 0; i < count; i++) {
            const t0 = performance.now()
            let first: number | undefined
            let text = ''
            const utf8 = new StringDecoder('utf8') // a chunk may end inside a multi-byte character
            const r = await runVm({
              command: ['node', 'scripts/sealed.mjs', '--', 'node_modules/.bin/vitest', 'run'].concat([
                '--reporter=verbose',
                'test/kernel/claims.test.ts',
                '-t',
                FIRST,
              ]),
              timeout: 300,
              onStdout: (d) => {
                text += utf8.write(d)
                if (first === undefined && /✓/.test(text)) first = performance.now() - t0
              },
            })
            if (r.code !== 0 || first === undefined)
              throw new Error(`the guest run failed (exit ${r.code}): ${text.slice(-500)}`)
            out.push(first)
            toCommand.push(r.bootMs ?? NaN)
          }
          return out
        },
      },
    ],
  }
}
