/**
 * A Vitest reporter that writes the kernel-behaviour suite's results for the
 * running kernel to reports/kernel/<uname -r>.json: each claim (a test in
 * test/kernel/claims.test.ts) pass or fail, each feature present or missing
 * with the kernel's error (the meta of test/kernel/features.test.ts).
 * `nslab kernel matrix` merges these files across kernels.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { release } from 'node:os'
import { join } from 'node:path'
import type { Reporter, TestModule } from 'vitest/node'
import type { KernelReport } from '../../vm/matrix.js'
import type { FeatureResult } from '../../harness/lab/probes.js'

export default class KernelReporter implements Reporter {
  onTestRunEnd(modules: readonly TestModule[]): void {
    const mine = modules.filter((m) => /[/\\]test[/\\]kernel[/\\]/.test(m.moduleId))
    if (mine.length === 0) return
    // The kernel the tests ran on, as they recorded it (test/kernel/where.ts): under the VM pool
    // this reporter runs on the host, the tests in the guest.
    const ran = mine
      .flatMap((m) => [...m.children.allTests()])
      .find((t) => t.meta().kernel)
      ?.meta()
    const kernel = ran?.kernel ?? release()
    const file = join('reports', 'kernel', `${kernel}.json`)
    let report: KernelReport = {
      kernel,
      where: ran?.where ?? (process.env.NSLAB_VM === '1' ? 'vm' : 'host'),
      date: new Date().toISOString(),
      claims: {},
      features: {},
    }
    try {
      // A partial run (one file) updates what it ran and keeps the rest.
      const old = JSON.parse(readFileSync(file, 'utf8')) as KernelReport
      report = { ...report, claims: old.claims ?? {}, features: old.features ?? {} }
    } catch {
      // first run on this kernel
    }
    for (const m of mine)
      for (const t of m.children.allTests()) {
        const r = t.result()
        if (r.state === 'skipped' || r.state === 'pending') continue
        const features = (t.meta() as { features?: Record<string, FeatureResult> }).features
        if (features) Object.assign(report.features, features)
        else if (m.moduleId.endsWith('claims.test.ts'))
          report.claims[t.name] =
            r.state === 'passed' ? { pass: true } : { pass: false, error: r.errors?.[0]?.message ?? 'failed' }
      }
    mkdirSync(join('reports', 'kernel'), { recursive: true })
    writeFileSync(file, JSON.stringify(report, null, 2) + '\n')
  }
}
