// Which sources have a stale built copy (vm/dist-modules.ts): the VM config
// builds dist/ when one does, so a VM run never tests old code.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DIST_EXTERNAL, builtPath, staleSources } from '../../vm/dist-modules.js'

const root = mkdtempSync(join(tmpdir(), 'nslab-dist-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

function file(path: string, ageSeconds: number): void {
  const p = join(root, path)
  mkdirSync(join(p, '..'), { recursive: true })
  writeFileSync(p, '')
  const t = Date.now() / 1000 - ageSeconds
  utimesSync(p, t, t)
}

describe('dist modules', () => {
  it('a source is stale when its built file is missing or older; tests and declarations have none', () => {
    file('harness/fresh.ts', 100)
    file('dist/harness/fresh.js', 50)
    file('harness/deep/old.ts', 10)
    file('dist/harness/deep/old.js', 60)
    file('harness/new.ts', 5)
    file('harness/x.test.ts', 1)
    file('harness/types.d.ts', 1)
    file('vm/pool.ts', 100)
    file('dist/vm/pool.js', 100)
    expect(staleSources(root).sort()).toEqual(['harness/deep/old.ts', 'harness/new.ts'])
    expect(builtPath(root, join(root, 'harness/deep/old.ts'))).toBe(join(root, 'dist/harness/deep/old.js'))
  })

  it('hands only the built library to node as is', () => {
    expect(DIST_EXTERNAL.test('/work/p/dist/harness/netns/index.js')).toBe(true)
    expect(DIST_EXTERNAL.test('/work/p/dist/vm/matrix.js')).toBe(true)
    expect(DIST_EXTERNAL.test('/work/p/harness/netns/index.ts')).toBe(false)
    expect(DIST_EXTERNAL.test('/work/p/node_modules/x/dist/index.js')).toBe(false)
  })
})
