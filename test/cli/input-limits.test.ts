/**
 * Scenario files are untrusted input: `nslab run` refuses a huge file at
 * once and prints at most 50 problems, whatever the file holds. Child
 * processes with a hard timeout; nothing is built (no root needed).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '../..')
const dir = mkdtempSync(join(tmpdir(), 'nslab-input-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function nslab(
  args: string[],
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'harness/cli/main.ts'), ...args], {
      cwd: root,
      // Scenarios that fail on purpose keep their packets out of the project's reports/.
      env: { ...process.env, NSLAB_ARTIFACTS_DIR: join(dir, 'artifacts') },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20_000,
      killSignal: 'SIGKILL',
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

describe('nslab run on untrusted scenario files', () => {
  it('refuses a 50 MiB file at once, unread, with one sentence and exit 2', async () => {
    const big = join(dir, 'big.yaml')
    writeFileSync(big, 'topology: { hosts: [a] }\n')
    truncateSync(big, 50 * 1024 * 1024)
    const r = await nslab(['run', big])
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
    const r = await nslab(['run', many])
    expect(r.code).toBe(2)
    const lines = r.stderr.trim().split('\n')
    expect(lines).toHaveLength(51)
    expect(lines[0]).toBe(
      `nslab: ${many}:2:1: unknown key "k0"; expected one of: name, description, needs, timeout, capture, topology, steps, expect`,
    )
    expect(lines[50]).toBe('... and 4950 more problem(s)')
  })
})
