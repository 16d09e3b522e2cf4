/**
 * The library's own modules for test files running in a VM, from dist/
 * (the build's JavaScript), imported by node in the guest natively instead
 * of fetched one by one through Vitest's module runner.
 *
 * Why: a test file's imports reach the guest as one request each over the
 * virtio-serial port (13 ms a round trip under TCG), then pass through the
 * module runner, one after the other; the kernel suite's first file pulls
 * about 55 of them (2 s of a run's 8.7 s). Node's own loader reads the same
 * files from the host root the guest mounts, without the round trips: the
 * first test came 1.2 s sooner (7.5 s, `BENCH_ONLY=vm-boot`).
 *
 * dist/ must hold what the sources say: before the run, every source under
 * harness/ and vm/ is compared with its built file, and the build runs when
 * one is missing or older (`npm run build`, a few seconds), so a run never
 * tests stale code.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import type { Plugin } from 'vitest/config'

/** The source trees that have a built copy under dist/. */
const TREES = ['harness', 'vm']

/** What Vitest should hand to node as is (server.deps.external): the built trees. */
export const DIST_EXTERNAL = new RegExp(`/dist/(?:${TREES.join('|')})/`)

/** The built file of a source (`harness/x.ts` → `dist/harness/x.js`). */
export function builtPath(root: string, source: string): string {
  return join(root, 'dist', relative(root, source)).replace(/\.ts$/, '.js')
}

/** Sources (not declarations, not tests) whose built file is missing or older than they are. */
export function staleSources(root: string): string[] {
  const stale: string[] = []
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('.test.ts')) {
        const built = builtPath(root, p)
        if (!existsSync(built) || statSync(built).mtimeMs < statSync(p).mtimeMs) stale.push(relative(root, p))
      }
    }
  }
  for (const t of TREES) if (existsSync(join(root, t))) walk(join(root, t))
  return stale
}

/** Build dist/ when a source is newer than its built file; says so on stderr. */
export function ensureBuilt(root: string): void {
  const stale = staleSources(root)
  if (stale.length === 0) return
  const shown = stale.slice(0, 3).join(', ') + (stale.length > 3 ? ` and ${stale.length - 3} more` : '')
  process.stderr.write(`nslab vm: dist/ is older than ${shown}: building it (npm run build)\n`)
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] })
  const still = staleSources(root)
  if (still.length > 0) throw new Error(`npm run build left dist/ older than ${still.slice(0, 3).join(', ')}`)
}

/**
 * A Vite plugin resolving imports of the library's sources to their built
 * files (mark those external with DIST_EXTERNAL). Run ensureBuilt first.
 */
export function distModules(root: string): Plugin {
  const trees = TREES.map((t) => join(root, t) + '/')
  return {
    name: 'nslab-dist-modules',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (!importer || !TREES.some((t) => source.includes(t))) return null
      const r = await this.resolve(source, importer, { ...options, skipSelf: true })
      if (!r || !r.id.endsWith('.ts') || !trees.some((t) => r.id.startsWith(t))) return null
      const built = builtPath(root, r.id)
      return existsSync(built) ? built : null
    },
  }
}
