import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { afterEach } from 'vitest'
import { deleteNetns } from '../../harness/netns/index.js'

let counter = 0

/**
 * Unique namespace names for one test file, removed after each test whether
 * it passed or not (also the ones made with `ip netns add`).
 */
export function netnsNames(tag: string): () => string {
  const made: string[] = []
  afterEach(() => {
    for (const name of made.splice(0)) {
      if (!existsSync(`/run/netns/${name}`)) continue
      try {
        deleteNetns(name)
      } catch {
        execFileSync('ip', ['netns', 'delete', name])
      }
    }
  })
  return () => {
    const name = `nslab-t${process.pid.toString(36)}-${tag}${counter++}`
    made.push(name)
    return name
  }
}

/** Run `ip` and return stdout (throws with stderr on failure). */
export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** `ip -j ...` parsed. */
export function ipJson<T = unknown>(...args: string[]): T {
  const out = ip('-j', ...args).trim()
  return (out ? JSON.parse(out) : []) as T
}
