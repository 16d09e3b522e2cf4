import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker, type WorkerOptions } from 'node:worker_threads'

interface EsbuildLike {
  buildSync(options: Record<string, unknown>): { outputFiles: { text: string }[] }
}

/**
 * Start a worker thread from a module next to `base` (an import.meta.url).
 * Built code loads `NAME.js`. When running from TypeScript sources (tests,
 * scripts under tsx/vitest) Node 20 gives workers no loader hooks, so the
 * worker's `.ts` entry is bundled once with esbuild (a dev dependency) into
 * node_modules/.cache, keyed by content, and that file is started.
 */
export function startWorker(base: string, name: string, options: WorkerOptions = {}): Worker {
  const js = new URL(`./${name}.js`, base)
  if (existsSync(fileURLToPath(js))) return new Worker(js, options)
  return new Worker(pathToFileURL(bundleTs(fileURLToPath(new URL(`./${name}.ts`, base)))), options)
}

const bundled = new Map<string, string>()

function bundleTs(entry: string): string {
  const cached = bundled.get(entry)
  if (cached) return cached
  const require = createRequire(entry)
  const esbuild = require('esbuild') as EsbuildLike
  const { outputFiles } = esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
  })
  const text = outputFiles[0]!.text
  const dir = join(packageRoot(entry), 'node_modules', '.cache', 'nslab-workers')
  mkdirSync(dir, { recursive: true })
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16)
  const file = join(dir, `${hash}.mjs`)
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, text)
    renameSync(tmp, file)
  }
  bundled.set(entry, file)
  return file
}

function packageRoot(from: string): string {
  let dir = dirname(from)
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error(`no package.json above ${from}`)
    dir = up
  }
  return dir
}
