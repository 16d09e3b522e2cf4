/**
 * Remove the containers whose owner is dead: every container nslab starts is
 * labelled with its owner's pid, start time and boot id, so a run killed
 * before it could remove its container leaves something a later run (or
 * `nslab container gc`) recognises. Containers of live owners, and
 * containers nslab did not start, are left alone. This replaces Ryuk, whose
 * image cannot be pulled here.
 */
import { isOrphan, LABEL_OWNER_PID, LABEL_OWNER_START } from './config.js'
import { bootId, processStartTime } from './owner.js'
import { loadTestcontainers } from './testcontainers.js'

export interface ReapResult {
  removed: Array<{ id: string; ownerPid: number }>
  kept: Array<{ id: string; ownerPid: number }>
  errors: string[]
}

export async function reapContainers(): Promise<ReapResult> {
  const tc = await loadTestcontainers()
  const docker = (await tc.getContainerRuntimeClient()).container.dockerode
  const list = await docker.listContainers({
    all: true,
    filters: { label: [LABEL_OWNER_PID, LABEL_OWNER_START] },
  })
  const boot = bootId()
  const result: ReapResult = { removed: [], kept: [], errors: [] }
  for (const c of list) {
    const entry = { id: c.Id.slice(0, 12), ownerPid: Number(c.Labels[LABEL_OWNER_PID]) }
    if (!isOrphan(c.Labels, boot, processStartTime)) {
      result.kept.push(entry)
      continue
    }
    try {
      await docker.getContainer(c.Id).remove({ force: true, v: true })
      result.removed.push(entry)
    } catch (err) {
      // Already gone (another reaper won the race) is fine.
      if ((err as { statusCode?: number }).statusCode === 404) result.removed.push(entry)
      else result.errors.push(`could not remove container ${entry.id}: ${(err as Error).message}`)
    }
  }
  return result
}
