/**
 * bisect's outcomes (vm/bisect-run.ts) without a VM: how `nslab run --json`
 * and Vitest's JSON report become pass / fail / needs-feature / error, how
 * they become verdicts, and the cache per kernel and content hash.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  BisectInputError,
  keepArtifacts,
  outcomeCacheDir,
  outcomeKey,
  probeSubject,
  scenarioOutcome,
  subjectHash,
  verdictOf,
  vitestOutcome,
} from '../../vm/bisect-run.js'

const dir = mkdtempSync(join(tmpdir(), 'nslab-bisect-run-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function json(name: string, value: unknown): string {
  const f = join(dir, name)
  writeFileSync(f, JSON.stringify(value))
  return f
}

describe('bisect outcomes', () => {
  it('reads nslab run --json: passed, missing-feature (naming it), failed (the first failed item)', () => {
    expect(scenarioOutcome(0, json('p.json', { scenarios: [{ status: 'passed' }] }), 5)).toEqual({
      status: 'pass',
      ms: 5,
    })
    expect(
      scenarioOutcome(
        3,
        json('m.json', { scenarios: [{ status: 'missing-feature', missing: ['netem'] }] }),
        5,
      ),
    ).toMatchObject({ status: 'needs-feature', feature: 'netem' })
    const failed = {
      scenarios: [
        {
          status: 'failed',
          steps: [
            { label: 'build', status: 'passed' },
            { label: 'run in r: sysctl -w x=1', status: 'failed', detail: 'exited with 1\nmore' },
          ],
        },
      ],
    }
    expect(scenarioOutcome(1, json('f.json', failed), 5)).toEqual({
      status: 'fail',
      ms: 5,
      detail: 'run in r: sysctl -w x=1: exited with 1',
    })
  })

  it('calls a run the VM could not finish an error (skipped), and a bad file bad input', () => {
    expect(scenarioOutcome(null, join(dir, 'none.json'), 5).status).toBe('error')
    expect(scenarioOutcome(139, join(dir, 'none.json'), 5).status).toBe('error')
    expect(scenarioOutcome(1, join(dir, 'none.json'), 5)).toMatchObject({ status: 'error' })
    expect(() => scenarioOutcome(2, join(dir, 'none.json'), 5)).toThrow(BisectInputError)
  })

  it("reads Vitest's JSON report; no test by that name is bad input", () => {
    expect(vitestOutcome(0, json('v1.json', { numPassedTests: 1, numFailedTests: 0 }), 't', 1).status).toBe(
      'pass',
    )
    const failed = {
      numPassedTests: 0,
      numFailedTests: 1,
      testResults: [
        { assertionResults: [{ status: 'failed', failureMessages: ['AssertionError: x\n at'] }] },
      ],
    }
    expect(vitestOutcome(1, json('v2.json', failed), 't', 1)).toEqual({
      status: 'fail',
      ms: 1,
      detail: 'AssertionError: x',
    })
    expect(() =>
      vitestOutcome(0, json('v3.json', { numPassedTests: 0, numFailedTests: 0 }), 'zz', 1),
    ).toThrow('no test matches -t "zz"')
    expect(vitestOutcome(null, join(dir, 'none.json'), 't', 1).status).toBe('error')
  })

  it("compares outcomes with the good end's: same is old, another is new, an error is a skip", () => {
    const good = { status: 'fail', ms: 1 } as const
    expect(verdictOf({ status: 'fail', ms: 2, detail: 'other words' }, good).verdict).toBe('old')
    expect(verdictOf({ status: 'pass', ms: 2 }, good).verdict).toBe('new')
    expect(verdictOf({ status: 'needs-feature', feature: 'netem', ms: 2 }, good).verdict).toBe('new')
    expect(verdictOf({ status: 'error', ms: 2, detail: 'QEMU died' }, good)).toEqual({
      verdict: 'skip',
      detail: 'QEMU died',
    })
    expect(outcomeKey({ status: 'needs-feature', feature: 'netem', ms: 0 })).toBe('needs-feature netem')
  })

  it('caches per kernel and content hash: a cached outcome is returned without booting anything', async () => {
    const file = join(dir, 's.yaml')
    writeFileSync(file, 'name: x\n')
    const root = join(dir, 'cache')
    const before = process.env.NSLAB_CACHE_DIR
    process.env.NSLAB_CACHE_DIR = root
    try {
      const s = { kind: 'scenario', file } as const
      const at = outcomeCacheDir(s)
      expect(at).toBe(join(root, 'bisect', subjectHash(s)))
      mkdirSync(at, { recursive: true })
      writeFileSync(join(at, '6.1.0-57-amd64.json'), JSON.stringify({ status: 'pass', ms: 9000 }))
      expect(await probeSubject(s, '6.1.0-57-amd64')).toEqual({ status: 'pass', ms: 9000, cached: true })
      // Another content is another subject; a test name is part of a Vitest subject.
      writeFileSync(file, 'name: y\n')
      expect(subjectHash(s)).not.toBe(at.split('/').pop())
      expect(subjectHash({ kind: 'vitest', file, name: 'a' })).not.toBe(
        subjectHash({ kind: 'vitest', file, name: 'b' }),
      )
    } finally {
      if (before === undefined) delete process.env.NSLAB_CACHE_DIR
      else process.env.NSLAB_CACHE_DIR = before
    }
  })

  it("keeps a probe's trace and pcapng in the host's artifacts directory, named after the kernel", () => {
    const guest = join(dir, 'guest-artifacts')
    mkdirSync(guest)
    writeFileSync(join(guest, 'x--ab12.pcapng'), 'pcapng')
    writeFileSync(join(guest, 'x--ab12.trace.html'), '<html>')
    writeFileSync(join(guest, 'notes.txt'), 'not an artifact')
    const before = process.env.NSLAB_ARTIFACTS_DIR
    process.env.NSLAB_ARTIFACTS_DIR = join(dir, 'host-artifacts')
    try {
      const kept = keepArtifacts(guest, '5.10.0-32-amd64')
      expect(kept).toEqual([
        join(dir, 'host-artifacts', '5.10.0-32-amd64--x--ab12.pcapng'),
        join(dir, 'host-artifacts', '5.10.0-32-amd64--x--ab12.trace.html'),
      ])
      expect(readFileSync(kept[1]!, 'utf8')).toBe('<html>')
      expect(readdirSync(join(dir, 'host-artifacts'))).toHaveLength(2)
      // Nothing written (a scenario that passed, or a run that never got that far): nothing kept.
      expect(keepArtifacts(join(dir, 'no-such-dir'), '5.10.0-32-amd64')).toEqual([])
    } finally {
      if (before === undefined) delete process.env.NSLAB_ARTIFACTS_DIR
      else process.env.NSLAB_ARTIFACTS_DIR = before
    }
  })
})
