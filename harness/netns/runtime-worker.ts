/**
 * A worker thread that lives inside one network namespace: it enters the
 * namespace once at start (setns on its own thread), then runs the
 * functions it is sent, so Node's own net, dgram and http work there.
 *
 * dns.lookup and async fs run on libuv's shared threadpool, which stays in
 * the process's namespace: inside a runtime use literal addresses or
 * dns.resolve* (c-ares), never dns.lookup for lab names.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { CLONE_NEWNET, close, setns } from '../sys/index.js'
import type { FromRuntime, ToRuntime } from './runtime-protocol.js'

const port = parentPort
if (!port) throw new Error('runtime-worker must run as a worker thread')
const { nsFd, label } = workerData as { nsFd: number; label: string }
try {
  setns(nsFd, CLONE_NEWNET, label)
} finally {
  close(nsFd)
}

// Functions written in files that Vite/Vitest transformed call this instead of
// `import()`; give them the real thing so `await import('node:net')` works.
;(globalThis as Record<string, unknown>).__vite_ssr_dynamic_import__ ??= (id: string) => import(id)
// Functions compiled by esbuild with keepNames (tsx does this) call
// `__name(fn, "name")` to pin function names; give them the helper.
;(globalThis as Record<string, unknown>).__name ??= <T>(target: T, value: string): T =>
  Object.defineProperty(target, 'name', { value, configurable: true })

port.on('message', async ({ id, source, args }: ToRuntime) => {
  let reply: FromRuntime
  try {
    const fn = new Function(`return (${source})`)() as (...a: unknown[]) => unknown
    reply = { id, ok: true, value: await fn(...args) }
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    reply = {
      id,
      ok: false,
      error: { name: e?.name ?? 'Error', message: e?.message ?? String(err), stack: e?.stack, code: e?.code },
    }
  }
  try {
    port.postMessage(reply)
  } catch (err) {
    port.postMessage({
      id,
      ok: false,
      error: {
        name: 'DataCloneError',
        message: `the function's result cannot be sent back: ${(err as Error).message}`,
      },
    } satisfies FromRuntime)
  }
})
