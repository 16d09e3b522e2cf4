/**
 * The trace page: one self-contained HTML file per failure, opened straight
 * from disk (file://) with no server and no network. The data rides inside
 * as JSON in a `<script type="application/json">`; the page's script and
 * CSS (harness/trace/page/) are inlined; a Content-Security-Policy meta lets
 * the page fetch nothing at all.
 *
 * Over its size budget the page leaves out the packets farthest from the
 * failure first, then the oldest events, and says so in data.truncated (the
 * page shows it in a banner: never silently).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { LinkStatus, TraceData, TraceEvent, TraceTruncation } from './data.js'

/** 8 MiB: what CI artifact stores and JUnit attachments take without fuss. */
export const TRACE_MAX_BYTES = 8 * 1024 * 1024

export interface TraceHtmlOptions {
  /** The page's size budget in bytes (default TRACE_MAX_BYTES). */
  maxBytes?: number
}

export const TRACE_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"

let assets: { js: string; css: string } | undefined

/** The page's script and style, read once from beside this module (source tree and dist alike). */
function pageAssets(): { js: string; css: string } {
  if (!assets) {
    const js = readFileSync(new URL('./page/page.js', import.meta.url), 'utf8')
    const css = readFileSync(new URL('./page/page.css', import.meta.url), 'utf8')
    if (/<\/script|<!--/i.test(js) || /<\/style/i.test(css))
      throw new Error('harness/trace/page: page.js or page.css holds a sequence that would end its element')
    assets = { js, css }
  }
  return assets
}

/**
 * JSON that is safe inside a `<script>` element: every `<`, `>` and `&` is
 * written as a \u escape (so no `</script`, `<!--` or `<script` can appear),
 * and so are U+2028/U+2029. JSON.parse reads back the very same value.
 */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => {
    return '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')
  })
}

function escapeText(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function render(data: TraceData): string {
  const { js, css } = pageAssets()
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${TRACE_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="nslab trace">
<link rel="icon" href="data:,">
<title>${escapeText(`${data.title} — nslab trace`)}</title>
<style>
${css}</style>
</head>
<body>
<noscript>This trace page needs JavaScript (inline only; it fetches nothing).</noscript>
<script type="application/json" id="trace-data">${embedJson(data)}</script>
<script>
${js}</script>
</body>
</html>
`
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8')

function size(n: number): string {
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KiB`
  return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`
}

/** The time the page opens on: the failure, else the last event, else when the trace was written. */
function focusTime(data: TraceData): number {
  const f = data.failure !== undefined ? data.events[data.failure] : undefined
  if (f) return f.t
  return data.events.reduce((t, e) => Math.max(t, e.t), data.events.length ? -Infinity : data.written)
}

/**
 * One event standing for the oldest ones left out: it carries the link
 * states they left behind and the links they created, so the page still
 * colours the topology right from the first kept event on.
 */
function summaryEvent(dropped: TraceEvent[]): TraceEvent {
  const linkState: Record<string, LinkStatus> = {}
  const created = new Set<string>()
  let t = -Infinity
  for (const e of [...dropped].sort((x, y) => x.t - y.t)) {
    t = Math.max(t, e.t)
    if (e.linkState) Object.assign(linkState, e.linkState)
    if (e.kind === 'lab') for (const l of e.links ?? []) created.add(l)
  }
  return {
    t,
    kind: 'lab',
    title: `${dropped.length} older event${dropped.length === 1 ? '' : 's'} left out to fit the page's size budget`,
    detail: 'This line stands for them: the links they created and the state they left links in.',
    links: [...created],
    ...(Object.keys(linkState).length ? { linkState } : {}),
  }
}

/** Keep the k items of `costs` that come first in `order` and fit `room` bytes (each item's cost includes its comma). */
function fitCount(order: number[], costs: number[], room: number): number {
  let used = 0
  let k = 0
  for (const i of order) {
    const c = costs[i]!
    if (used + c > room) break
    used += c
    k++
  }
  return k
}

/** The data as it fits the budget, with what was left out said in `truncated`. */
function fit(data: TraceData, maxBytes: number): TraceData {
  if (bytes(render(data)) <= maxBytes) return data

  const focus = focusTime(data)
  const notes = [...data.truncated.notes]
  const packetCosts = data.packets.map((p) => bytes(embedJson(p)) + 1)
  const eventCosts = data.events.map((e) => bytes(embedJson(e)) + 1)
  // Nearest to the failure first (ties: the earlier packet).
  const packetOrder = data.packets
    .map((p, i) => ({ i, d: Math.abs(p.t - focus) }))
    .sort((x, y) => x.d - y.d || x.i - y.i)
    .map((x) => x.i)
  // Newest first, the failure always kept (so it goes first).
  const eventOrder = data.events
    .map((e, i) => ({ i, t: e.t }))
    .sort((x, y) => (x.i === data.failure ? -1 : y.i === data.failure ? 1 : y.t - x.t || y.i - x.i))
    .map((x) => x.i)

  const budgetNote = `The page keeps within ${size(maxBytes)}: packets farthest from the ${
    data.failure !== undefined ? 'failure' : 'last event'
  } go first, then the oldest events.`

  const build = (keepPackets: number, keepEvents: number): TraceData => {
    const packetSet = new Set(packetOrder.slice(0, keepPackets))
    const eventSet = new Set(eventOrder.slice(0, keepEvents))
    const truncated: TraceTruncation = { ...data.truncated, notes: [...notes, budgetNote] }
    if (keepPackets < data.packets.length)
      truncated.packets = { kept: keepPackets, dropped: data.packets.length - keepPackets }
    let events = data.events
    let failure = data.failure
    if (keepEvents < data.events.length) {
      truncated.events = { kept: keepEvents, dropped: data.events.length - keepEvents }
      const dropped = data.events.filter((_, i) => !eventSet.has(i))
      const kept: TraceEvent[] = []
      failure = undefined
      data.events.forEach((e, i) => {
        if (!eventSet.has(i)) return
        if (i === data.failure) failure = kept.length + 1 // after the summary, placed first below
        kept.push(e)
      })
      events = [summaryEvent(dropped), ...kept]
    }
    const out: TraceData = {
      ...data,
      events,
      packets: data.packets.filter((_, i) => packetSet.has(i)),
      truncated,
    }
    if (failure === undefined) delete out.failure
    else out.failure = failure
    return out
  }

  // Packets first: how many of the nearest fit beside every event?
  const noPackets = build(0, data.events.length)
  const base = bytes(render(noPackets))
  let keepPackets = base <= maxBytes ? fitCount(packetOrder, packetCosts, maxBytes - base) : 0
  let keepEvents = data.events.length
  if (base > maxBytes) {
    // Then the oldest events, beside no packets at all: the failure always stays.
    const least = data.failure !== undefined ? 1 : 0
    const room = maxBytes - bytes(render(build(0, least)))
    keepEvents = least + (room > 0 ? fitCount(eventOrder.slice(least), eventCosts, room) : 0)
  }
  // The estimate ignores the digits of the counts: trim until it truly fits.
  let out = build(keepPackets, keepEvents)
  while (bytes(render(out)) > maxBytes) {
    if (keepPackets > 0) keepPackets = Math.max(0, keepPackets - Math.max(1, Math.ceil(keepPackets / 100)))
    else if (keepEvents > (data.failure !== undefined ? 1 : 0)) keepEvents--
    else {
      out.truncated.notes.push(
        `Even without packets and older events the page is ${size(bytes(render(out)))}: over its ${size(maxBytes)} budget.`,
      )
      return out
    }
    out = build(keepPackets, keepEvents)
  }
  return out
}

/**
 * The trace as one self-contained HTML page. `truncated` says what was left
 * out to keep it within `maxBytes` (also written into the page's data).
 */
export function traceHtml(
  data: TraceData,
  opts: TraceHtmlOptions = {},
): { html: string; truncated: TraceTruncation } {
  const fitted = fit(data, opts.maxBytes ?? TRACE_MAX_BYTES)
  return { html: render(fitted), truncated: fitted.truncated }
}

/** Write the trace page to `file` (its folder made as needed). */
export function writeTraceHtml(
  file: string,
  data: TraceData,
  opts: TraceHtmlOptions = {},
): { path: string; bytes: number; truncated: TraceTruncation } {
  const { html, truncated } = traceHtml(data, opts)
  const path = resolve(file)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, html)
  return { path, bytes: bytes(html), truncated }
}

/** A file that is not a trace page nslab wrote (or a damaged one). */
export class TraceReadError extends Error {
  override readonly name = 'TraceReadError'
}

const DATA_OPEN = '<script type="application/json" id="trace-data">'

/**
 * The data embedded in a trace page (what traceHtml wrote): one sentence
 * when the text is not such a page, or its data is damaged.
 */
export function readTraceHtml(html: string, where = 'the file'): TraceData {
  const start = html.indexOf(DATA_OPEN)
  const end = start < 0 ? -1 : html.indexOf('</script>', start)
  if (start < 0 || end < 0)
    throw new TraceReadError(`${where} is not an nslab trace page (no embedded trace data)`)
  let data: unknown
  try {
    data = JSON.parse(html.slice(start + DATA_OPEN.length, end))
  } catch (err) {
    throw new TraceReadError(`${where}: the embedded trace data is damaged (${(err as Error).message})`)
  }
  const d = data as Partial<TraceData> | null
  const t = d?.topology
  const ok =
    d !== null &&
    typeof d === 'object' &&
    d.version === 1 &&
    typeof d.title === 'string' &&
    typeof d.lab === 'string' &&
    Array.isArray(d.events) &&
    d.events.every((e) => e !== null && typeof e === 'object' && typeof e.title === 'string') &&
    Array.isArray(d.packets) &&
    Array.isArray(d.states) &&
    t !== null &&
    typeof t === 'object' &&
    Array.isArray(t.nodes) &&
    Array.isArray(t.links) &&
    d.truncated !== null &&
    typeof d.truncated === 'object' &&
    Array.isArray(d.truncated.notes) &&
    (d.failure === undefined ||
      (Number.isInteger(d.failure) && d.failure >= 0 && d.failure < d.events.length))
  if (!ok)
    throw new TraceReadError(`${where}: the embedded trace data is not version 1 of nslab's trace format`)
  return d as TraceData
}
