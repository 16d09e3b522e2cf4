import { mkdirSync, readdirSync, watch } from 'node:fs'
import { NETNS_RUN_DIR } from './names.js'

export interface NetnsEvent {
  type: 'add' | 'delete'
  name: string
}

/**
 * Namespaces appearing and disappearing under /run/netns, like
 * `ip netns monitor` (an inotify watch on the directory, IN_CREATE and
 * IN_DELETE). Each inotify event for a name flips it between present and
 * absent, so a namespace created and deleted before we look is still
 * reported twice. An 'add' is reported when the file appears, which is a
 * moment before the namespace is mounted on it.
 */
export async function* monitorNetns(options: { signal?: AbortSignal } = {}): AsyncGenerator<NetnsEvent> {
  mkdirSync(NETNS_RUN_DIR, { recursive: true, mode: 0o755 })
  const queue: NetnsEvent[] = []
  let wake: (() => void) | undefined
  const known = new Set(list())
  let failure: Error | undefined

  const watcher = watch(NETNS_RUN_DIR, { persistent: true }, (event, name) => {
    if (event !== 'rename' || !name) return
    if (known.delete(name)) queue.push({ type: 'delete', name })
    else {
      known.add(name)
      queue.push({ type: 'add', name })
    }
    wake?.()
  })
  watcher.on('error', (err) => {
    failure = err
    wake?.()
  })
  const onAbort = (): void => wake?.()
  options.signal?.addEventListener('abort', onAbort)
  try {
    for (;;) {
      if (failure) throw failure
      const next = queue.shift()
      if (next) {
        yield next
        continue
      }
      if (options.signal?.aborted) return
      await new Promise<void>((resolve) => (wake = resolve))
      wake = undefined
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
    watcher.close()
  }
}

function list(): string[] {
  try {
    return readdirSync(NETNS_RUN_DIR)
  } catch {
    return []
  }
}
