import koffi from 'koffi'

export interface PollEvents {
  readable: boolean
  writable: boolean
  disconnect: boolean
}

/** A libuv poll watcher on a raw fd: the event loop calls back when it is ready. */
export interface FdWatcher {
  start(events: { readable?: boolean; writable?: boolean }, callback: (ev: PollEvents) => void): void
  stop(): void
  close(): void
  ref(): void
  unref(): void
}

/**
 * Watch a non-blocking fd with the event loop (uv_poll_t). The callback runs
 * on the event loop thread; an exception escaping it would abort the process,
 * so callers must catch everything inside it.
 */
export function watchFd(fd: number): FdWatcher {
  let handle: ReturnType<typeof koffi.node.poll> | undefined
  return {
    start(events, callback) {
      if (handle) handle.start(events, callback)
      else handle = koffi.node.poll(fd, events, callback)
    },
    stop() {
      handle?.stop()
    },
    close() {
      handle?.close()
      handle = undefined
    },
    ref() {
      handle?.ref()
    },
    unref() {
      handle?.unref()
    },
  }
}
