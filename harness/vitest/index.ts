/**
 * nslab/vitest: Vitest fixtures backed by real network namespaces.
 *
 *   import { test, expect } from 'nslab/vitest'
 *   test('has only lo', async ({ netns }) => {
 *     const r = await netns.exec(['ip', '-j', 'link'])
 *     expect(JSON.parse(r.stdout)).toHaveLength(1)
 *   })
 */
import { randomBytes } from 'node:crypto'
import { test as base, expect } from 'vitest'
import {
  type ExecOptions,
  type ExecResult,
  type Netns,
  addNetns,
  deleteNetns,
  exec,
  netnsExists,
  openNetns,
} from '../netns/index.js'

/** A fresh named namespace for one test. */
export interface NetnsFixture {
  /** Its name under /run/netns (`ip netns exec NAME ...` works on it). */
  readonly name: string
  /** An open handle on it. */
  readonly handle: Netns
  /** Run a program in it, like `ip netns exec`. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>
}

export const test = base.extend<{ netns: NetnsFixture }>({
  // eslint-disable-next-line no-empty-pattern
  netns: async ({}, use) => {
    const name = `nslab-${randomBytes(3).toString('hex')}-t`
    addNetns(name)
    const handle = openNetns(name)
    try {
      await use({ name, handle, exec: (argv, options) => exec(name, argv, options) })
    } finally {
      handle.close()
      if (netnsExists(name)) deleteNetns(name)
    }
  },
})

export { expect }
