import koffi from 'koffi'

export interface PollEvents {
  readable: boolean
  writable: boolean
  disconnect: boolean
  /**
   * The kernel flagged an error on the fd (POLLERR: a socket's pending
   * error, such as ENOBUFS on an overrun netlink socket or ENETDOWN on a
   * packet socket whose device went down). Read the fd (recv returns the
   * error once and clears it) or take it with getsockopt(SO_ERROR): until
   * then the fd stays in error and the callback comes again.
   */
  error: boolean
}

/** A libuv poll watcher on a raw fd: the event loop calls back when it is ready. */
export interface FdWatcher {
  start(events: { readable?: boolean; writable?: boolean }, callback: (ev: PollEvents) => void): void
  stop(): void
  close(): void
  ref(): void
  unref(): void
}

/** What koffi's poll callback really gets: libuv's status, then the events (its typings name only the events). */
type UvPollCallback = (status: number, events: Omit<PollEvents, 'error'>) => void
type KoffiPollCallback = (ev: Omit<PollEvents, 'error'>) => void

const ERROR_EVENTS: PollEvents = Object.freeze({
  readable: true,
  writable: false,
  disconnect: false,
  error: true,
})

/**
 * Watch a non-blocking fd with the event loop (uv_poll_t). The callback runs
 * on the event loop thread; an exception escaping it would abort the process,
 * so callers must catch everything inside it.
 *
 * On POLLERR libuv stops the handle and reports a status instead of events;
 * here the callback gets `error: true` (and `readable`, so a reader reads and
 * meets the error), and the watch is started again after it unless the
 * callback stopped or closed it: a socket error is an event, not the end of
 * watching.
 */
export function watchFd(fd: number): FdWatcher {
  let handle: ReturnType<typeof koffi.node.poll> | undefined
  /** Bumped by every start, stop and close: the error path restarts only a watch nobody touched since. */
  let generation = 0
  let wanted: { readable?: boolean; writable?: boolean } = {}
  let onEvents: (ev: PollEvents) => void = () => undefined
  const uvCallback: UvPollCallback = (status, events) => {
    if (status >= 0) {
      onEvents({ ...events, error: false })
      return
    }
    const at = generation
    onEvents(ERROR_EVENTS)
    if (at === generation && handle) handle.start(wanted, relay)
  }
  const relay = uvCallback as unknown as KoffiPollCallback
  return {
    start(events, callback) {
      generation++
      wanted = events
      onEvents = callback
      if (handle) handle.start(events, relay)
      else handle = koffi.node.poll(fd, events, relay)
    },
    stop() {
      generation++
      handle?.stop()
    },
    close() {
      generation++
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
