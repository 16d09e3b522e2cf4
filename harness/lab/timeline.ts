/**
 * A lab's timeline: everything the lab did and saw, in order, on the clock
 * of the capture's kernel timestamps (CLOCK_REALTIME), so a trace can put
 * packets and lab events on one axis. Bounded: the newest `capacity` events
 * are kept, the older ones counted as dropped, so it can stay on for a whole
 * suite. Recording is a push onto an array: cheap enough to be always on.
 */

/** The state of a link as a trace colours it. */
export type LinkStatus = 'up' | 'down' | 'impaired' | 'partitioned'

export type TraceEventKind =
  /** A lab operation: node added, link made, flap, MTU, impairment, partition, tunnel, NAT. */
  | 'lab'
  /** A scenario step. */
  | 'step'
  /** An expectation / assertion, with ok. */
  | 'expect'
  /** A netlink notification from a lab namespace (link, address, route, neighbour). */
  | 'netlink'
  /** A line a process the lab started wrote (stdout or stderr). */
  | 'output'
  /** The failure itself (a test's error, a scenario's failed expectation). */
  | 'failure'
  /** Anything else worth a line (capture started, state recorded, truncation). */
  | 'note'

export interface TraceEvent {
  /** Microseconds since the epoch (CLOCK_REALTIME). */
  t: number
  kind: TraceEventKind
  /** One line. */
  title: string
  /** More text (multi-line allowed). */
  detail?: string
  /** The node it happened in / concerns. */
  node?: string
  /** Links it concerns (ids from the topology: see Port.link). */
  links?: string[]
  /** For steps and expectations: did it hold. */
  ok?: boolean
  /** How long it took, for steps and expectations. */
  durationUs?: number
  /** The state links enter with this event (a trace replays these up to its cursor). */
  linkState?: Record<string, LinkStatus>
}

/**
 * Microseconds since the epoch, CLOCK_REALTIME: the process's start time on
 * that clock plus the monotonic time since (so a clock step during a run
 * does not reorder events), with sub-microsecond fraction.
 */
export function nowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000
}

/** Default number of events a timeline keeps (about 4 MiB of small events). */
export const DEFAULT_TIMELINE_EVENTS = 20_000

/** Text longer than this in a title or detail is cut (with a mark) when recorded. */
export const MAX_EVENT_TEXT = 4096

const cut = (text: string): string =>
  text.length <= MAX_EVENT_TEXT
    ? text
    : `${text.slice(0, MAX_EVENT_TEXT)}… [${text.length - MAX_EVENT_TEXT} more characters]`

/** An event whose text is made only when the timeline is read (see recordLater). */
interface LaterEvent {
  t: number
  make: () => Omit<TraceEvent, 't'> | undefined
  made?: TraceEvent | null
}

type Entry = TraceEvent | LaterEvent

const isLater = (e: Entry): e is LaterEvent => 'make' in e

function finish(e: TraceEvent): TraceEvent {
  e.title = cut(e.title)
  if (e.detail !== undefined) e.detail = cut(e.detail)
  return e
}

export class Timeline {
  private ring: Entry[] = []
  /** Where the oldest event is once the ring is full. */
  private head = 0
  private droppedCount = 0
  /** When the timeline (the lab) started. */
  readonly started = nowUs()

  constructor(readonly capacity = DEFAULT_TIMELINE_EVENTS) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`timeline capacity ${capacity} must be a positive integer`)
  }

  /** Record an event now (or at `event.t`); returns it. */
  record(event: Omit<TraceEvent, 't'> & { t?: number }): TraceEvent {
    const e = finish({ ...event, t: event.t ?? nowUs() })
    this.push(e)
    return e
  }

  /**
   * Record that something happened at `t`, its event made only when the
   * timeline is read (decoding a netlink message costs more than keeping
   * its bytes, and most timelines are never read). `make` runs at most once,
   * in time order with the other late events; undefined drops the event.
   */
  recordLater(t: number, make: () => Omit<TraceEvent, 't'> | undefined): void {
    this.push({ t, make })
  }

  private push(e: Entry): void {
    if (this.ring.length < this.capacity) this.ring.push(e)
    else {
      this.ring[this.head] = e
      this.head = (this.head + 1) % this.capacity
      this.droppedCount++
    }
  }

  /**
   * Time an operation: records one event when it ends, with its duration,
   * ok true, or ok false and the error as detail (then rethrows).
   */
  async timed<T>(event: Omit<TraceEvent, 't' | 'ok' | 'durationUs'>, work: () => Promise<T>): Promise<T> {
    const t = nowUs()
    try {
      const value = await work()
      this.record({ ...event, t, ok: true, durationUs: nowUs() - t })
      return value
    } catch (err) {
      this.record({
        ...event,
        t,
        ok: false,
        durationUs: nowUs() - t,
        detail: [event.detail, (err as Error).message].filter(Boolean).join('\n'),
      })
      throw err
    }
  }

  /** The events held, oldest first, sorted by time (a timed event is stamped when it began). */
  events(): TraceEvent[] {
    const all =
      this.ring.length < this.capacity
        ? [...this.ring]
        : [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)]
    const out: TraceEvent[] = []
    for (const e of all.sort((x, y) => x.t - y.t)) {
      if (!isLater(e)) out.push(e)
      else {
        if (e.made === undefined) {
          const made = e.make()
          e.made = made ? finish({ ...made, t: e.t }) : null
        }
        if (e.made) out.push(e.made)
      }
    }
    return out
  }

  /** How many older events were let go to stay within capacity. */
  get dropped(): number {
    return this.droppedCount
  }

  get size(): number {
    return this.ring.length
  }

  /** Forget the events held (a shared lab between tests); the dropped count stays. */
  clear(): void {
    this.ring = []
    this.head = 0
  }
}
