/**
 * nslab/vitest: Vitest fixtures backed by real network namespaces, and
 * network matchers.
 *
 *   import { test, expect } from 'nslab/vitest'
 *
 *   test('client reaches server', async ({ lab }) => {
 *     const [a, b] = await lab.addHosts('a', 'b')
 *     await lab.connect(a, b)
 *     await expect(a).toReach(b)
 *   })
 *
 * The `lab` fixture is a fresh Lab per test, destroyed after it whether it
 * passed or not; when it failed, the lab's state (links, addresses, routes,
 * neighbours, nftables rules, process output per host), its packets (pcapng)
 * and its trace (one HTML page) are attached to the failure, in the
 * terminal and in JUnit/JSON reports (NSLAB_CAPTURE=off|on-failure|always). At start, labs left by
 * dead processes (a crashed earlier run) are reaped.
 */
import { test as base, expect } from 'vitest'
import '../vpn/index.js' // registers the tunnel drivers for lab.tunnel()
import { Lab, type LabOptions, type TopologySpec } from '../lab/lab.js'
import type { LabNode } from '../lab/node.js'
import { gc } from '../lab/gc.js'
import { afterTest, fixtureCaptureMode } from './artifacts.js'
import { ScratchNetns } from '../lab/scratch.js'
import { type ExecOptions, type ExecResult, type Netns, exec, openNetns } from '../netns/index.js'
import { matchers } from './matchers.js'

export { scenarioTest, checkScenario, ScenarioFailed, type ScenarioTestOptions } from './scenario.js'

expect.extend(matchers)

let reaped = false
/** Reap labs whose owner died (a crashed earlier run), once per worker. */
function reapOnce(): void {
  if (reaped) return
  reaped = true
  gc()
}

/** A fresh named namespace for one test. */
export interface NetnsFixture {
  readonly name: string
  readonly handle: Netns
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>
}

export interface NslabFixtures {
  /** A fresh lab for this test, destroyed after it. */
  lab: Lab
  /** A fresh named namespace for this test, deleted after it. */
  netns: NetnsFixture
}

export const test = base.extend<NslabFixtures>({
  lab: async ({ task, annotate }, use) => {
    reapOnce()
    const mode = fixtureCaptureMode()
    const lab = await Lab.create()
    try {
      if (mode !== 'off') {
        lab.capture()
        lab.recordNetlink()
      }
      lab.timeline.record({ kind: 'step', title: `test ${task.name}` })
      await use(lab)
      await afterTest({ task, annotate }, lab, mode)
    } finally {
      await lab.destroy()
    }
  },
  // eslint-disable-next-line no-empty-pattern
  netns: async ({}, use) => {
    const scratch = ScratchNetns.create('t')
    const name = scratch.name
    let handle: Netns | undefined
    try {
      handle = openNetns(name)
      await use({ name, handle, exec: (argv, options) => exec(name, argv, options) })
    } finally {
      handle?.close()
      scratch.delete()
    }
  },
})

/**
 * A test whose topology is built once per file (or per worker) and reset
 * between tests (partitions healed, impairments cleared, links up, processes
 * and sockets stopped):
 *
 *   const it = labTest(async (lab) => {
 *     const [a, b] = await lab.addHosts('a', 'b')
 *     await lab.connect(a, b)
 *     return { a, b }
 *   })
 *   it('pings', async ({ topo: { a, b } }) => { await expect(a).toPing(b) })
 *
 * A topology given as data (`labTest({ hosts: [...], links: [...] })`) is
 * built in batches, with the routes synced once (see Lab.build).
 */
export function labTest<T>(build: (lab: Lab) => Promise<T>, options?: LabTestOptions): LabTestApi<T>
/**
 * The same with the topology given as data, built in batches (Lab.build):
 * `topo` holds the nodes by name.
 *
 *   const it = labTest({ hosts: ['a', 'b'], links: [['a', 'b']] })
 *   it('pings', async ({ topo: { a, b } }) => { await expect(a).toPing(b) })
 */
export function labTest(spec: TopologySpec, options?: LabTestOptions): LabTestApi<Record<string, LabNode>>
export function labTest<T>(
  spec: ((lab: Lab) => Promise<T>) | TopologySpec,
  options: LabTestOptions = {},
): LabTestApi<T> {
  const build: (lab: Lab) => Promise<T> =
    typeof spec === 'function' ? spec : async (lab) => (await lab.build(spec)) as T
  return makeLabTest(build, options)
}

export interface LabTestOptions {
  scope?: 'file' | 'worker'
  lab?: LabOptions
}

type LabTestApi<T> = ReturnType<typeof makeLabTest<T>>

function makeLabTest<T>(build: (lab: Lab) => Promise<T>, options: LabTestOptions) {
  return base.extend<{ sharedLab: Lab; topo: T; resetLab: void }>({
    sharedLab: [
      // eslint-disable-next-line no-empty-pattern
      async ({}, use) => {
        reapOnce()
        const lab = await Lab.create(options.lab)
        try {
          await use(lab)
        } finally {
          await lab.destroy()
        }
      },
      { scope: options.scope ?? 'file' },
    ],
    topo: [
      async ({ sharedLab }: { sharedLab: Lab }, use: (topo: T) => Promise<void>) => {
        const topo = await build(sharedLab)
        if (fixtureCaptureMode() !== 'off') {
          sharedLab.capture()
          sharedLab.recordNetlink()
        }
        await use(topo)
      },
      { scope: options.scope ?? 'file' },
    ],
    resetLab: [
      async ({ sharedLab, topo, task, annotate }, use) => {
        void topo
        sharedLab.timeline.record({ kind: 'step', title: `test ${task.name}` })
        await use()
        await afterTest({ task, annotate }, sharedLab, fixtureCaptureMode())
        await sharedLab.reset()
      },
      { auto: true },
    ],
  })
}

export { expect }
export { Lab } from '../lab/lab.js'
export type { ReachOptions } from './matchers.js'
