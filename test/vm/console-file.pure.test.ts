/** The guest console's file: written as it comes, kept only on request, the oldest kept ones pruned. */
import { mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConsoleFile, pruneConsoles } from '../../vm/console-file.js'

const dirs: string[] = []
const scratch = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'nslab-console-test-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('ConsoleFile', () => {
  it('appends every chunk and keeps a copy named by time, kernel and pid', () => {
    const run = scratch()
    const keep = scratch()
    const f = new ConsoleFile(join(run, 'console.log'))
    f.write(Buffer.from('[    0.000000] Linux version 7.3.4\n'))
    f.write(Buffer.from('nslab-vm: exit 139\n'))
    const errors: string[] = []
    const kept = f.keep(keep, '7.3.4+deb13-amd64', (e) => errors.push(e))
    expect(errors).toEqual([])
    expect(kept).toMatch(
      new RegExp(`^${keep}/\\d{4}-\\d\\d-\\d\\dT[\\d-]+Z-7\\.3\\.4\\+deb13-amd64-${process.pid}\\.log$`),
    )
    expect(readFileSync(kept!, 'utf8')).toBe('[    0.000000] Linux version 7.3.4\nnslab-vm: exit 139\n')
  })

  it('keeps an empty file for a guest that printed nothing', () => {
    const f = new ConsoleFile(join(scratch(), 'console.log'))
    const kept = f.keep(scratch(), 'k', () => {})
    expect(readFileSync(kept!, 'utf8')).toBe('')
  })

  it('says why, and returns nothing, when the copy cannot be kept', () => {
    const run = scratch()
    const f = new ConsoleFile(join(run, 'console.log'))
    f.write(Buffer.from('x\n'))
    const blocker = join(run, 'not-a-dir')
    writeFileSync(blocker, '')
    const errors: string[] = []
    expect(f.keep(join(blocker, 'sub'), 'k', (e) => errors.push(e))).toBeUndefined()
    expect(errors).toEqual([
      expect.stringMatching(/^could not keep the VM's console in .*not-a-dir\/sub: ENOTDIR/),
    ])
  })
})

describe('pruneConsoles', () => {
  it('keeps the newest logs and leaves other files alone', () => {
    const d = scratch()
    for (let i = 0; i < 6; i++) {
      const p = join(d, `run-${i}.log`)
      writeFileSync(p, String(i))
      utimesSync(p, 1000 + i, 1000 + i)
    }
    writeFileSync(join(d, 'README'), '')
    pruneConsoles(d, 3)
    expect(readdirSync(d).sort()).toEqual(['README', 'run-3.log', 'run-4.log', 'run-5.log'])
  })
})
