/**
 * A Vitest reporter that writes the kernel-behaviour suite's results for the
 * running kernel to reports/kernel/<uname -r>.json (in the VM runner's guest)
 * or reports/kernel/<host|container>-<uname -r>.json: each claim (a test in
 * test/kernel/claims.test.ts) and each scenario (test/scenarios) pass, fail
 * or needs-feature with its time, each feature present or missing with the
 * kernel's error (the meta of test/kernel/features.test.ts).
 * `nslab kernel matrix` merges these files across kernels.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { release } from 'node:os'
import { isAbsolute, join, relative } from 'node:path'
import type { Reporter, TestCase, TestModule } from 'vitest/node'
import { type CellResult, type KernelReport, reportFileName } from '../../vm/matrix.js'
import type { FeatureResult } from '../../harness/lab/probes.js'

const KERNEL_SUITE = /[/\\]test[/\\]kernel[/\\]/
const SCENARIOS = /[/\\]test[/\\]scenarios[/\\]scenarios\.test\.ts$/

/** A claim's or scenario's cell: a scenario that passed because this kernel lacks a feature is needs-feature, naming it. */
export function cellOf(t: TestCase): CellResult | undefined {
  const r = t.result()
  if (r.state === 'skipped' || r.state === 'pending') return undefined
  const ms = Math.round(t.diagnostic()?.duration ?? 0)
  if (r.state === 'failed') {
    // The trace and pcapng the fixtures attached to the failure (harness/vitest/artifacts.ts).
    const artifacts = t
      .annotations()
      .map((a) => a.attachment)
      .filter((a) => a?.path && /^(text\/html|application\/vnd\.tcpdump\.pcap)$/.test(a.contentType ?? ''))
      .map((a) => relativeIfInside(a!.path!))
    return {
      status: 'fail',
      ms,
      error: r.errors?.[0]?.message ?? 'failed',
      ...(artifacts.length ? { artifacts } : {}),
    }
  }
  // harness/vitest/scenario.ts annotates the sentence naming the missing feature (type 'notice').
  const missing = t.annotations().find((a) => a.type === 'notice')
  if (missing) return { status: 'needs-feature', ms, feature: featureOf(missing.message) }
  return { status: 'pass', ms }
}

/** A path relative to the working directory (the project) when it is inside it. */
function relativeIfInside(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel.startsWith('..') || isAbsolute(rel) ? path : rel
}

/** The feature named by "needs kernel feature X, Y, which this kernel lacks; ..." (else the whole sentence). */
export function featureOf(sentence: string): string {
  return /needs kernel feature (.+?), which this kernel lacks/.exec(sentence)?.[1] ?? sentence
}

export default class KernelReporter implements Reporter {
  onTestRunEnd(modules: readonly TestModule[]): void {
    const mine = modules.filter((m) => KERNEL_SUITE.test(m.moduleId) || SCENARIOS.test(m.moduleId))
    if (mine.length === 0) return
    // The kernel the tests ran on, as they recorded it (test/kernel/where.ts): under the VM pool
    // this reporter runs on the host, the tests in the guest.
    const ran = mine
      .flatMap((m) => [...m.children.allTests()])
      .find((t) => t.meta().kernel)
      ?.meta()
    const kernel = ran?.kernel ?? release()
    // As test/kernel/where.ts tells it (not imported: it registers hooks).
    const where =
      ran?.where ??
      (process.env.NSLAB_VM === '1' ? 'vm' : process.env.NSLAB_WHERE === 'container' ? 'container' : 'host')
    const file = join('reports', 'kernel', reportFileName(kernel, where))
    let report: KernelReport = {
      kernel,
      where,
      date: new Date().toISOString(),
      claims: {},
      scenarios: {},
      features: {},
    }
    try {
      // A partial run (one file) updates what it ran and keeps the rest.
      const old = JSON.parse(readFileSync(file, 'utf8')) as KernelReport
      report = {
        ...report,
        claims: old.claims ?? {},
        scenarios: old.scenarios ?? {},
        differences: old.differences,
        features: old.features ?? {},
      }
    } catch {
      // first run on this kernel
    }
    for (const m of mine)
      for (const t of m.children.allTests()) {
        const features = (t.meta() as { features?: Record<string, FeatureResult> }).features
        if (features) {
          Object.assign(report.features, features)
          continue
        }
        const cell = cellOf(t)
        if (!cell) continue
        if (SCENARIOS.test(m.moduleId)) report.scenarios![t.name] = cell
        else if (m.moduleId.endsWith('claims.test.ts')) report.claims[t.name] = cell
      }
    mkdirSync(join('reports', 'kernel'), { recursive: true })
    writeFileSync(file, JSON.stringify(report, null, 2) + '\n')
  }
}
