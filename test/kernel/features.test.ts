/**
 * Kernel features, probed in a throwaway namespace: present, or missing with
 * the kernel's own error. The results go into this kernel's report
 * (reports/kernel/<uname -r>.json) through the test's meta. A feature whose
 * module this kernel ships must be present: the kernel loads it on demand.
 */
import { existsSync, readFileSync } from 'node:fs'
import { release } from 'node:os'
import { describe, expect, it } from 'vitest'
import { FEATURE_PROBES, type FeatureResult, probeFeatures } from '../../harness/lab/probes.js'
import { listNetns } from '../../harness/netns/index.js'
import { loadOrder, parseModulesBuiltin, parseModulesDep } from '../../vm/modules.js'
import { recordKernel } from './where.js'

declare module 'vitest' {
  interface TaskMeta {
    features?: Record<string, FeatureResult>
  }
}

recordKernel()

/** True when this kernel ships every module (as a .ko or built in), judged from /lib/modules/<uname -r>. */
function shipped(modules: string[]): boolean | undefined {
  const dir = `/lib/modules/${release()}`
  if (!existsSync(`${dir}/modules.dep`)) return undefined
  const deps = parseModulesDep(readFileSync(`${dir}/modules.dep`, 'utf8'))
  const builtin = existsSync(`${dir}/modules.builtin`)
    ? parseModulesBuiltin(readFileSync(`${dir}/modules.builtin`, 'utf8'))
    : new Set<string>()
  try {
    loadOrder(deps, modules, builtin)
    return true
  } catch {
    return false
  }
}

describe('kernel features', () => {
  // Generous: under TCG each module the probes load takes a while.
  it(
    'probes every feature in a throwaway namespace; what the kernel ships is present',
    { timeout: 300_000 },
    async ({ task }) => {
      const found = await probeFeatures()
      task.meta.features = found
      // The probe's throwaway namespace is gone (others on this machine may come and go meanwhile).
      expect(listNetns().filter((n) => n.startsWith(`nslab-t${process.pid.toString(36)}-probe`))).toEqual([])
      expect(Object.keys(found).sort()).toEqual(Object.keys(FEATURE_PROBES).sort())
      for (const [f, r] of Object.entries(found)) if (!r.present) expect(r.error, f).toMatch(/\S/)
      // veth and bridges are what every lab is built from.
      expect(found.veth?.present && found.bridge?.present).toBe(true)
      const absent = Object.entries(found)
        .filter(([f, r]) => !r.present && shipped(FEATURE_PROBES[f]!.modules))
        .map(([f, r]) => `${f}: ${r.error}`)
      expect(absent, `modules shipped with ${release()} but not loadable`).toEqual([])
    },
  )
})
