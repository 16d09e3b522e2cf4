/**
 * The process-wide side of a lab's life: the labs this process owns, and
 * the SIGINT/SIGTERM/SIGHUP teardown that removes them (synchronously,
 * from their records, the way `nslab gc` would) before the process dies of
 * the same signal.
 */
import { closeSpawnGate } from '../netns/exec.js'
import { type GcReport, reapRecord } from './gc.js'
import type { LabRecord } from './owner.js'

/** What the signal teardown needs of a live lab. */
export interface LiveLab {
  destroySync(): void
}

const liveLabs = new Set<LiveLab>()
let signalsInstalled = false

/** Count `lab` among this process's live labs (installs the signal teardown once). */
export function registerLive(lab: LiveLab): void {
  liveLabs.add(lab)
  if (signalsInstalled) return
  signalsInstalled = true
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      // No child may be forked into a lab's namespace after the sweep below.
      closeSpawnGate()
      for (const l of [...liveLabs]) l.destroySync()
      process.kill(process.pid, sig)
    })
  }
}

/** `lab` is gone (destroyed, or kept up on purpose). */
export function unregisterLive(lab: LiveLab): void {
  liveLabs.delete(lab)
}

/**
 * Everything a record names, removed now and synchronously: processes
 * inside its namespaces, the namespaces, tunnel work directories and
 * sockets, then the record. Errors are swallowed: the process is dying, and
 * what failed stays named in the record for gc.
 */
export function reapOwnRecord(record: LabRecord): void {
  const report: GcReport = { reaped: [], live: [], kept: [], errors: [] }
  reapRecord(record.snapshot(), report)
}
