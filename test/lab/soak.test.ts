/**
 * Soak: labs with a WireGuard tunnel and exec'd, spawned and forked
 * processes, killed (SIGKILL or SIGTERM) at a random moment of their build,
 * then gc: nothing may be left (no namespace, mount, process, socket file,
 * key directory or record). A few rounds in `npm test`; `npm run soak` runs
 * many (NSLAB_SOAK_ROUNDS, default 100). The seed is printed on failure.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { gc } from '../../harness/index.js'
import { leftovers, processesWith, startSoakLab } from '../support/leftovers.js'

/** gc, then nothing of the lab may be left, nor any process carrying `marker`. */
async function expectNothingLeftAfterGc(id: string, prefix: string, marker: string): Promise<void> {
  gc()
  // A process SIGKILLed by gc is gone or a zombie within moments.
  await expect
    .poll(() => [...leftovers(id, prefix), ...processesWith(marker).map((p) => `process ${p}`)], {
      timeout: 3000,
    })
    .toEqual([])
}

const ROUNDS = Number(process.env.NSLAB_SOAK_ROUNDS ?? 6)
const POINTS = ['step connected', 'step spawned', 'step exec', 'step tunnel', 'built']

describe('soak: random kills of labs with tunnels and processes, then gc', () => {
  it(
    `leaves nothing after ${ROUNDS} random kills`,
    async () => {
      let round = 0
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('SIGKILL' as const, 'SIGTERM' as const),
          fc.constantFrom(...POINTS),
          fc.integer({ min: 0, max: 400 }),
          async (signal, point, delayMs) => {
            const marker = `98766.${process.pid}${round++}`
            const { child, exited, id, prefix } = await startSoakLab(marker, point)
            try {
              await new Promise((r) => setTimeout(r, delayMs))
              child.kill(signal)
              await exited
              await expectNothingLeftAfterGc(id, prefix, marker)
            } finally {
              child.kill('SIGKILL')
            }
          },
        ),
        { numRuns: ROUNDS, endOnFailure: true },
      )
    },
    60_000 + ROUNDS * 15_000,
  )

  it('a signal that lands while children are being forked leaves none of them', async () => {
    // The exec worker forks on its own thread while the main thread tears
    // down: without the spawn gate a child forked after the sweep lives on
    // in the unnamed namespace. 10 signals, at moments spread over the storm.
    for (let round = 0; round < 10; round++) {
      const marker = `98767.${process.pid}${round}`
      const { child, exited, id, prefix } = await startSoakLab(marker, 'spawning', 'spawn-storm')
      try {
        await new Promise((r) => setTimeout(r, 5 + round * 7))
        child.kill('SIGTERM')
        expect((await exited)[1]).toBe('SIGTERM')
        await expectNothingLeftAfterGc(id, prefix, marker)
      } finally {
        child.kill('SIGKILL')
      }
    }
  }, 120_000)
})
