// The runner image built on a base image (the registry path), tested offline by taking the
// debootstrapped runner image as the base: the tools are there, so only Node is layered on.
import { PassThrough } from 'node:stream'
import { resolve } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ensureDocker } from '../../harness/container/docker.js'
import { ensureImage, imageHash, RUNNER_PACKAGES } from '../../harness/container/image.js'
import { runInContainer } from '../../harness/container/run.js'
import { loadTestcontainers } from '../../harness/container/testcontainers.js'

let base = ''
beforeAll(async () => {
  await ensureDocker()
  base = (await ensureImage()).tag
}, 600_000)

async function removeImage(tag: string): Promise<void> {
  const tc = await loadTestcontainers()
  const docker = (await tc.getContainerRuntimeClient()).container.dockerode
  await docker
    .getImage(tag)
    .remove({ force: true })
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err
    })
}

describe('ensureImage with a base image', () => {
  it('builds once on the base, is found by its hash the second time, and runs Node', async () => {
    const first = await ensureImage({ base })
    try {
      expect(first.built).toBe(true)
      expect(first.tag).not.toBe(base)
      expect(first.hash).not.toBe(imageHash({ suite: 'bookworm', packages: RUNNER_PACKAGES, nodeSha256: '' }))
      const again = await ensureImage({ base })
      expect(again).toMatchObject({ tag: first.tag, built: false })
      const out = new PassThrough()
      let text = ''
      out.on('data', (d: Buffer) => (text += d.toString()))
      const r = await runInContainer({
        command: ['node', '-p', 'process.version'],
        image: first.tag,
        projectDir: resolve(import.meta.dirname, '../..'),
        stdout: out,
      })
      expect(r.exitCode).toBe(0)
      expect(text).toBe(`${process.version}\n`)
    } finally {
      await removeImage(first.tag)
    }
  }, 300_000)
})
