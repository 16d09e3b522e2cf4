/**
 * Run a scenario: check the kernel has what it needs, build the topology,
 * run the steps in order, check the final expectations, tear down (unless
 * asked to keep a failed lab for inspection). The result is data; reporters
 * turn it into text, JSON or JUnit XML.
 */
import { basename, join } from 'node:path'
import type { CaptureMode } from '../lab/capture.js'
import { FeatureMissingError, Lab, kernelFeatures } from '../lab/index.js'
import { OWNER_DIR } from '../lab/owner.js'
import { nowUs } from '../lab/timeline.js'
import { writeTrace } from '../trace/collect.js'
import { isPermissionError } from '../sys/errors.js'
import { RunContext } from './context.js'
import { buildTopology } from './build.js'
import { type Outcome, checkExpectation } from './expectations.js'
import type { LoadedScenario } from './load.js'
import { usesPackets } from './packets.js'
import { StepFailed, runStep, stepLabel } from './steps.js'
import { durationMs } from './units.js'

export type ScenarioStatus = 'passed' | 'failed' | 'error' | 'missing-feature'

export interface ItemReport {
  label: string
  status: 'passed' | 'failed' | 'skipped'
  ms: number
  detail?: string
  outcomes?: Outcome[]
}

export interface ScenarioReport {
  file: string
  name: string
  status: ScenarioStatus
  /** One sentence when the run could not get to its expectations (build failed, a step failed...). */
  error?: string
  /** Kernel features the scenario needs and this kernel lacks. */
  missing?: string[]
  lab?: { id: string; kept: boolean; enter?: string[] }
  /** The pcapng of the lab's links, when one was written (failures, or capture: always). */
  capture?:
    | {
        file: string
        packets: number
        kernelDrops: number
        evicted: number
        /** The trace page beside the pcapng (topology, timeline, packets, state). */
        trace?: string
      }
    | { error: string }
  ms: number
  build?: ItemReport
  steps: ItemReport[]
  expectations: ItemReport[]
}

export interface RunOptions {
  /** Leave the lab up when the scenario fails (`--keep`), or always (`nslab up`). */
  keep?: 'never' | 'on-failure' | 'always'
  /** Called as the run goes, one line per event. */
  onProgress?: (item: ItemReport, phase: 'build' | 'step' | 'expect') => void
  signal?: AbortSignal
  /**
   * Capture packets on every lab link and write them as a pcapng in `dir`:
   * on failure, always, or never. The scenario's own `capture:` key wins
   * over `mode`.
   */
  capture?: { mode: CaptureMode; dir: string }
}

const VM_HINT = 'run it on a kernel that has it, e.g. in the VM runner: nslab vm run -- nslab run FILE'

function missingSentence(features: string[]): string {
  return `needs kernel feature ${features.join(', ')}, which this kernel lacks; ${VM_HINT}`
}

export async function runScenario(loaded: LoadedScenario, options: RunOptions = {}): Promise<ScenarioReport> {
  const t0 = performance.now()
  const s = loaded.scenario
  const report: ScenarioReport = {
    file: loaded.file,
    name: loaded.name,
    status: 'passed',
    ms: 0,
    steps: [],
    expectations: [],
  }
  const finish = (): ScenarioReport => ({ ...report, ms: performance.now() - t0 })

  if (s.needs?.length) {
    const have = await kernelFeatures()
    const missing = s.needs.filter((f) => !have[f])
    if (missing.length) return finishMissing(missing)
  }
  function finishMissing(missing: string[], sentence = missingSentence(missing)): ScenarioReport {
    report.status = 'missing-feature'
    report.missing = missing
    report.error = sentence
    return finish()
  }

  const lab = await Lab.create()
  // --capture-always wins; otherwise the file's own key (trace: or capture:), then the runner's default.
  const captureMode =
    options.capture?.mode === 'always' ? 'always' : (s.trace ?? s.capture ?? options.capture?.mode ?? 'off')
  // `packets` expectations read the capture: it runs in memory for them
  // whatever the mode, which only decides whether a file is written.
  if ((captureMode !== 'off' && options.capture) || countsPackets(s)) lab.capture()
  if (captureMode !== 'off' && options.capture) lab.recordNetlink()
  const ctx = new RunContext(lab)
  report.lab = { id: lab.id, kept: false }
  const timeout = durationMs(s.timeout ?? '2m')
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`the scenario did not finish within ${timeout} ms (timeout: ${s.timeout ?? '2m'})`)),
      timeout,
    )
  })
  const aborted = new Promise<never>((_, reject) => {
    options.signal?.addEventListener('abort', () => reject(new Error('interrupted')), { once: true })
  })
  const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, timedOut, aborted])

  // A build the kernel refused for want of privilege is no result of the
  // scenario: it is thrown once the lab is cleaned up (the CLI exits 3).
  let refused: unknown
  const result = await run().catch((err: unknown) => {
    if (isPermissionError(err)) refused = err
    report.status = 'error'
    report.error = (err as Error).message
    return report
  })
  clearTimeout(timer)
  ctx.close()
  const failed = result.status === 'failed' || result.status === 'error'
  if (failed) lab.timeline.record({ kind: 'failure', title: report.error ?? `scenario ${report.status}` })
  if (lab.packetCapture && options.capture && (captureMode === 'always' || failed))
    report.capture = await writeCapture(options.capture.dir)
  if (options.keep === 'always' || (options.keep === 'on-failure' && failed)) {
    await lab.keep()
    report.lab = {
      id: lab.id,
      kept: true,
      enter: lab.allNodes.map(
        (n) => `${n.name}: ip netns exec ${n.netns} bash   (or: nslab exec ${lab.id} ${n.name} -- bash)`,
      ),
    }
  } else {
    await lab.destroy()
  }
  if (refused) throw refused
  return finish()

  async function writeCapture(dir: string): Promise<ScenarioReport['capture']> {
    const base = join(dir, `${basename(loaded.file).replace(/\.ya?ml$/, '')}--${lab.id}`)
    try {
      const w = await writeTrace(lab, base, { title: `scenario ${loaded.name} (${loaded.file})` })
      const r = w.pcapng!
      return {
        file: r.path,
        packets: r.packets,
        kernelDrops: r.kernelDrops,
        evicted: r.evicted,
        trace: w.html,
      }
    } catch (err) {
      return { error: `could not write the packets and trace to ${base}.*: ${(err as Error).message}` }
    }
  }

  /** Put a finished step, expectation or the build on the lab's timeline (stamped when it began). */
  function onTimeline(kind: 'step' | 'expect', item: ItemReport, startedUs: number): void {
    lab.timeline.record({
      kind,
      t: startedUs,
      title: `${kind === 'expect' ? 'expect ' : ''}${item.label}`,
      ok: item.status === 'passed',
      durationUs: item.ms * 1000,
      ...(item.detail === undefined ? {} : { detail: item.detail }),
    })
  }

  async function run(): Promise<ScenarioReport> {
    const tb = performance.now()
    const tbUs = nowUs()
    try {
      await guard(buildTopology(ctx, s, options.keep === 'always' ? { logDir: join(OWNER_DIR, lab.id) } : {}))
      report.build = {
        label: `build ${lab.allNodes.length} node(s)`,
        status: 'passed',
        ms: performance.now() - tb,
      }
      onTimeline('step', report.build, tbUs)
      options.onProgress?.(report.build, 'build')
    } catch (err) {
      report.build = {
        label: 'build the topology',
        status: 'failed',
        ms: performance.now() - tb,
        detail: (err as Error).message,
      }
      onTimeline('step', report.build, tbUs)
      options.onProgress?.(report.build, 'build')
      if (err instanceof FeatureMissingError) return finishMissing([err.feature], err.message)
      if (isPermissionError(err)) throw err
      report.status = 'error'
      report.error = `building the topology failed: ${(err as Error).message}`
      return finish()
    }

    const steps = s.steps ?? []
    for (const [i, step] of steps.entries()) {
      if (report.status !== 'passed') {
        report.steps.push({ label: stepLabel(step), status: 'skipped', ms: 0 })
        continue
      }
      const ts = performance.now()
      const tsUs = nowUs()
      try {
        const r = await guard(runStep(ctx, step))
        report.steps.push({
          label: r.label,
          status: 'passed',
          ms: performance.now() - ts,
          outcomes: r.outcomes,
        })
      } catch (err) {
        const item: ItemReport = {
          label: stepLabel(step),
          status: 'failed',
          ms: performance.now() - ts,
          detail: (err as Error).message,
          outcomes: err instanceof StepFailed ? err.outcomes : undefined,
        }
        report.steps.push(item)
        if (err instanceof FeatureMissingError) {
          options.onProgress?.(item, 'step')
          return finishMissing([err.feature], err.message)
        }
        report.status = 'failed'
        report.error = `step ${i + 1} (${item.label}) failed: ${item.detail}`
      }
      onTimeline('step', report.steps.at(-1)!, tsUs)
      options.onProgress?.(report.steps.at(-1)!, 'step')
    }

    for (const e of s.expect ?? []) {
      if (report.status !== 'passed') {
        report.expectations.push({ label: Object.keys(e)[0]!, status: 'skipped', ms: 0 })
        continue
      }
      const te = performance.now()
      const teUs = nowUs()
      let o: Outcome
      try {
        o = await guard(checkExpectation(ctx, ctx.bind(e)))
      } catch (err) {
        o = { ok: false, label: Object.keys(e)[0]!, detail: (err as Error).message }
      }
      const item: ItemReport = {
        label: o.label,
        status: o.ok ? 'passed' : 'failed',
        ms: performance.now() - te,
        detail: o.detail,
      }
      report.expectations.push(item)
      onTimeline('expect', item, teUs)
      options.onProgress?.(item, 'expect')
    }
    const failedExpect = report.expectations.filter((x) => x.status === 'failed').length
    if (report.status === 'passed' && failedExpect > 0) {
      report.status = 'failed'
      report.error = `${failedExpect} of ${report.expectations.length} expectation(s) failed`
    }
    return report
  }
}

/** Whether any expectation of the scenario (final, in an `expect` step or a `wait`) is `packets`. */
export function countsPackets(s: LoadedScenario['scenario']): boolean {
  const steps = s.steps ?? []
  return [
    ...(s.expect ?? []),
    ...steps.flatMap((st) => st.expect ?? []),
    ...steps.flatMap((st) => (st.wait ? [st.wait.until] : [])),
  ].some(usesPackets)
}

/** The documented exit code for a set of reports: 0 all held, 1 a failure, 3 only missing features. */
export function exitCodeOf(reports: readonly ScenarioReport[]): number {
  if (reports.some((r) => r.status === 'failed' || r.status === 'error')) return 1
  if (reports.some((r) => r.status === 'missing-feature')) return 3
  return 0
}
