/**
 * Every file in scenarios/ as a test: each passes on this kernel, or (for a
 * feature this kernel lacks, which the probe must confirm) ends with the
 * sentence naming it. On a full kernel (the VM runner) all must pass.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe } from 'vitest'
import { scenarioTest } from '../../harness/vitest/index.js'
import { recordKernel } from '../kernel/where.js'

const dir = join(import.meta.dirname, '../../scenarios')
// NSLAB_SCENARIO_EXCLUDE (a regular expression over file names) leaves out
// scenarios whose programs a runner lacks: the container image has no
// NetworkManager (see test:container in package.json and README).
const exclude = process.env.NSLAB_SCENARIO_EXCLUDE
  ? new RegExp(process.env.NSLAB_SCENARIO_EXCLUDE)
  : undefined
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && !exclude?.test(f))
  .sort()

// The kernel report (test/kernel/reporter.ts) learns from this which kernel ran them, also
// when no kernel-suite file ran beside them (under the VM pool, the reporter is on the host).
recordKernel()

describe('scenarios/', () => {
  for (const f of files) scenarioTest(join(dir, f), { missingFeatures: 'accept' })
})
