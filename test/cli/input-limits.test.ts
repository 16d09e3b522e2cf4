/**
 * Scenario files are untrusted input: `nslab run` refuses a huge file at
 * once and prints at most 50 problems, whatever the file holds. Child
 * processes with a hard timeout; nothing is built (no root needed).
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { nslab } from '../support/cli.js'

const dir = mkdtempSync(join(tmpdir(), 'nslab-input-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Scenarios that fail on purpose keep their packets out of the project's reports/. */
const run = (args: string[]) =>
  nslab(args, { env: { NSLAB_ARTIFACTS_DIR: join(dir, 'artifacts') }, timeoutMs: 20_000 })

describe('nslab run on untrusted scenario files', () => {
  it('refuses a 50 MiB file at once, unread, with one sentence and exit 2', async () => {
    const big = join(dir, 'big.yaml')
    writeFileSync(big, 'topology: { hosts: [a] }\n')
    truncateSync(big, 50 * 1024 * 1024)
    const r = await run(['run', big])
    expect(r.signal, 'killed: it took too long').toBeNull()
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe(
      `nslab: ${big}: a scenario file is at most 1.0 MiB, this one is 50.0 MiB (is it a scenario file?)`,
    )
  })

  it('prints the first 50 of 5,000 problems and counts the rest', async () => {
    const many = join(dir, 'many.yaml')
    writeFileSync(
      many,
      `topology: { hosts: [a] }\n${Array.from({ length: 5000 }, (_, i) => `k${i}: 1`).join('\n')}\n`,
    )
    const r = await run(['run', many])
    expect(r.code).toBe(2)
    const lines = r.stderr.trim().split('\n')
    expect(lines).toHaveLength(51)
    expect(lines[0]).toBe(
      `nslab: ${many}:2:1: unknown key "k0"; expected one of: name, description, needs, timeout, capture, trace, topology, steps, expect`,
    )
    expect(lines[50]).toBe('... and 4950 more problem(s)')
  })
})
