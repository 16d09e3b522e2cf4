// Reaping without Ryuk: containers whose owner (pid + start time + boot) is dead are removed;
// those of live owners, and containers nslab did not label, are left alone.
import { spawnSync } from 'node:child_process'
import { beforeAll, describe, expect, it } from 'vitest'
import { ownerLabels } from '../../harness/container/config.js'
import { ensureDocker } from '../../harness/container/docker.js'
import { ensureImage } from '../../harness/container/image.js'
import { currentOwner } from '../../harness/container/owner.js'
import { reapContainers } from '../../harness/container/reap.js'
import { loadTestcontainers } from '../../harness/container/testcontainers.js'

let image = ''
beforeAll(async () => {
  await ensureDocker()
  image = (await ensureImage()).tag
}, 600_000)

async function start(labels: Record<string, string>) {
  const tc = await loadTestcontainers()
  return new tc.GenericContainer(image)
    .withCommand(['sleep', 'infinity'])
    .withNetworkMode('none')
    .withLabels(labels)
    .withPullPolicy({ shouldPull: () => false })
    .start()
}

describe('reapContainers', () => {
  it('removes containers of dead owners and of another boot, keeps live and foreign ones', async () => {
    const me = currentOwner()
    const deadPid = spawnSync('true').pid! // exited: its pid names no live process with that start time
    const dead = await start(ownerLabels({ pid: deadPid, startTime: 1, bootId: me.bootId }, 'reap-dead'))
    const rebooted = await start(ownerLabels({ ...me, bootId: 'another-boot' }, 'reap-boot'))
    const live = await start(ownerLabels(me, 'reap-live'))
    const foreign = await start({ purpose: 'not nslab' })
    try {
      const r = await reapContainers()
      const removed = r.removed.map((c) => c.id)
      // Every nslab run reaps, so when test files run in parallel another one (run.test.ts) may
      // remove the dead owners' containers before this call lists them: what counts is that they
      // are gone below, and that no reaper touches the live and foreign ones.
      expect(removed).not.toContain(live.getId().slice(0, 12))
      expect(removed).not.toContain(foreign.getId().slice(0, 12))
      expect(r.kept.map((c) => c.id)).toContain(live.getId().slice(0, 12))
      expect(r.errors).toEqual([])
      const tc = await loadTestcontainers()
      const docker = (await tc.getContainerRuntimeClient()).container.dockerode
      const ids = (await docker.listContainers({ all: true })).map((c) => c.Id)
      expect(ids).not.toContain(dead.getId())
      expect(ids).not.toContain(rebooted.getId())
      expect(ids).toContain(live.getId())
      expect(ids).toContain(foreign.getId())
    } finally {
      const tc = await loadTestcontainers()
      const docker = (await tc.getContainerRuntimeClient()).container.dockerode
      for (const c of [dead, rebooted, live, foreign])
        await docker
          .getContainer(c.getId())
          .remove({ force: true })
          .catch(() => {})
    }
  })
})
