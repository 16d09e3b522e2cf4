/**
 * A scenario file as a Vitest test: `scenarioTest('scenarios/x.yaml')`
 * registers a test that loads, builds, runs and tears down the scenario and
 * fails with its report (every step and expectation, what was expected and
 * what happened).
 *
 * On a kernel that lacks a feature the scenario needs, the test fails with
 * the sentence naming it, unless `missingFeatures: 'accept'`: then it
 * passes only if the probe agrees the feature really is missing here, and
 * the test is annotated with that sentence (so a run on a full kernel, such
 * as the VM runner, holds the scenario to passing).
 *
 * As the lab fixture does, a failed scenario's packets and trace are written
 * under the artifacts directory (NSLAB_CAPTURE: on-failure by default,
 * always, off) and attached to the test; its failure message names them.
 */
import { test, type TestContext } from 'vitest'
import { kernelFeatures, type Feature } from '../lab/features.js'
import type { CaptureMode } from '../lab/capture.js'
import { formatReport, loadScenario, runScenario, type ScenarioReport } from '../scenario/index.js'
import { artifactsDir, fixtureCaptureMode, shownPath } from './artifacts.js'

export interface ScenarioTestOptions {
  /** Test name (default: the scenario's name). */
  name?: string
  /** Vitest timeout in ms (default: the scenario's own timeout plus a margin). */
  timeout?: number
  /** 'fail' (default) or 'accept' a kernel genuinely lacking what the scenario needs. */
  missingFeatures?: 'fail' | 'accept'
  /** When the packets and trace are written (default: NSLAB_CAPTURE, else on failure); the file's own key wins. */
  capture?: CaptureMode
}

export class ScenarioFailed extends Error {
  constructor(readonly report: ScenarioReport) {
    super(`scenario ${report.name} ${report.status}: ${report.error ?? ''}\n${formatReport(report)}`)
    this.name = 'ScenarioFailed'
  }
}

/** Run one scenario file and check its report; the body of `scenarioTest`, usable on its own. */
export async function checkScenario(
  file: string,
  options: ScenarioTestOptions = {},
  context?: TestContext,
): Promise<ScenarioReport> {
  const mode = options.capture ?? fixtureCaptureMode()
  const report = await runScenario(
    loadScenario(file),
    mode === 'off' ? {} : { capture: { mode, dir: artifactsDir() } },
  )
  if (context && report.capture) await attachCapture(context, report.capture)
  if (report.status === 'passed') return report
  if (report.status === 'missing-feature' && options.missingFeatures === 'accept') {
    const have = await kernelFeatures()
    const wrong = (report.missing ?? []).filter((f) => have[f as Feature] !== false)
    if (wrong.length === 0) {
      await context?.annotate(report.error ?? 'needs a kernel feature this kernel lacks', 'notice')
      return report
    }
  }
  throw new ScenarioFailed(report)
}

export function scenarioTest(file: string, options: ScenarioTestOptions = {}): void {
  const name = options.name ?? loadScenario(file).name
  test(name, { timeout: options.timeout ?? 180_000 }, async (context) => {
    await checkScenario(file, options, context)
  })
}

/** The scenario's pcapng and trace, attached to its test as the lab fixture attaches its own. */
async function attachCapture(context: TestContext, c: NonNullable<ScenarioReport['capture']>): Promise<void> {
  if (!('file' in c)) {
    await context.annotate(c.error, 'nslab')
    return
  }
  await context.annotate(`packets: ${shownPath(c.file)} (${c.packets} packet(s))`, 'nslab', {
    path: c.file,
    contentType: 'application/vnd.tcpdump.pcap',
  })
  if (c.trace)
    await context.annotate(`trace: ${shownPath(c.trace)} (open in a browser)`, 'nslab', {
      path: c.trace,
      contentType: 'text/html',
    })
}
