#!/usr/bin/env node
// Build the downstream fixture the packed-tarball test uses: `npm pack` this
// project and `npm install` the tarball (plus vitest) into a fresh throwaway
// project, exactly as a user would. Runs before the sealed suite (npm's
// `pretest`), because installing needs the registry and the suite itself
// runs in a namespace with no network.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
// Outside the repository, like a real downstream project (so no config of ours is found above it).
const dir = join(tmpdir(), `nslab-downstream-${createHash('sha1').update(root).digest('hex').slice(0, 8)}`)
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
  })

/**
 * Remove the fixtures of checkouts that are gone (a CI clone deleted after
 * its run, a removed worktree): each fixture names its checkout in `root`.
 * One without that file (made before it was written) is removed once it is
 * an hour old; every `npm test` builds its own afresh anyway.
 */
function sweepOrphans() {
  for (const name of readdirSync(tmpdir())) {
    const other = join(tmpdir(), name)
    if (!name.startsWith('nslab-downstream-') || other === dir) continue
    try {
      const owner = join(other, 'root')
      const orphan = existsSync(owner)
        ? !existsSync(readFileSync(owner, 'utf8'))
        : Date.now() - statSync(other).mtimeMs > 3600_000
      if (orphan) rmSync(other, { recursive: true, force: true })
    } catch {
      // being removed by another run, or not ours to read
    }
  }
}

sweepOrphans()
rmSync(dir, { recursive: true, force: true })
mkdirSync(join(dir, 'project'), { recursive: true })
writeFileSync(join(dir, 'root'), root)
run('npm', ['pack', '--silent', '--pack-destination', dir], root)
const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))
if (!tarball) throw new Error('npm pack produced no tarball')
const vitest = JSON.parse(run('node', ['-p', 'JSON.stringify(require("vitest/package.json").version)'], root))
writeFileSync(
  join(dir, 'project', 'package.json'),
  JSON.stringify({ name: 'downstream', private: true, type: 'module' }, null, 2),
)
run(
  'npm',
  ['install', '--no-audit', '--no-fund', '--prefer-offline', join(dir, tarball), `vitest@${vitest}`],
  join(dir, 'project'),
)
console.log(`downstream fixture: ${join(dir, 'project')} (nslab from ${tarball}, vitest ${vitest})`)
