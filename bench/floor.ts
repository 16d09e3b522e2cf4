/**
 * The floor: bench/floor.c, compiled at bench time with `cc -O2` into a
 * temporary directory, doing each scenario's work with raw syscalls and
 * batched rtnetlink and printing its own per-iteration times.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const FLOOR_SOURCE = fileURLToPath(new URL('./floor.c', import.meta.url))

export type Floor = { available: true; exe: string; compiler: string } | { available: false; reason: string }

/** Compile floor.c into `dir`; says why not when there is no working C compiler. */
export function buildFloor(dir: string): Floor {
  const cc = process.env.CC ?? 'cc'
  const version = spawnSync(cc, ['--version'], { encoding: 'utf8' })
  if (version.error)
    return {
      available: false,
      reason: `no C compiler: could not run \`${cc}\` (${version.error.message}); apt-get install -y gcc`,
    }
  const exe = join(dir, 'floor')
  const r = spawnSync(cc, ['-O2', '-Wall', '-o', exe, FLOOR_SOURCE], { encoding: 'utf8' })
  if (r.error || r.status !== 0)
    return {
      available: false,
      reason: `\`${cc} -O2 ${FLOOR_SOURCE}\` failed: ${(r.error?.message ?? r.stderr).trim()}`,
    }
  return { available: true, exe, compiler: version.stdout.split('\n')[0]?.trim() ?? cc }
}

/** What the floor program printed: per-iteration milliseconds (and replies counted, for lab-matrix). */
export interface FloorRun {
  ms: number[]
  answered?: number[]
}

/** Run the floor program and return what it measured. */
export function runFloorDetailed(exe: string, args: readonly string[]): FloorRun {
  const r = spawnSync(exe, args, { encoding: 'utf8', maxBuffer: 16 << 20 })
  if (r.error) throw new Error(`could not run the floor program: ${r.error.message}`)
  if (r.status !== 0)
    throw new Error(`floor ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`)
  const out = JSON.parse(r.stdout) as { scenario: string } & FloorRun
  const count = Number(args[1])
  if (!Array.isArray(out.ms) || out.ms.length !== count)
    throw new Error(`floor ${args.join(' ')}: expected ${count} times, got ${r.stdout.trim()}`)
  return out
}

/** Run the floor program and return its per-iteration milliseconds. */
export function runFloor(exe: string, args: readonly string[]): number[] {
  return runFloorDetailed(exe, args).ms
}
