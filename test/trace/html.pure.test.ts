/**
 * The trace page's HTML without a browser: the embedded JSON always reads
 * back as the very data (whatever the strings hold), and the size budget
 * leaves out the right things and says so.
 */
import fc from 'fast-check'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { TraceData } from '../../harness/trace/data.js'
import {
  TRACE_CSP,
  TRACE_MAX_BYTES,
  TraceReadError,
  embedJson,
  readTraceHtml,
  traceHtml,
  writeTraceHtml,
} from '../../harness/trace/page.js'
import { traceFixture } from './fixture.js'

/** The embedded data as a browser's HTML parser delimits it: up to the first `</script`, whatever case. */
export function embedded(html: string): TraceData {
  const open = '<script type="application/json" id="trace-data">'
  const from = html.indexOf(open)
  expect(from).toBeGreaterThan(0)
  const body = html.slice(from + open.length)
  const to = body.search(/<\/script/i)
  expect(to).toBeGreaterThanOrEqual(0)
  const json = body.slice(0, to)
  // Nothing that would switch the parser into script-data escape states.
  expect(json).not.toMatch(/<!--|<script/i)
  return JSON.parse(json) as TraceData
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8')

/** Strings that try to end the script element, open comments, or break JavaScript string literals. */
const nasty = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '</script',
        '</SCRIPT >',
        '<script>',
        '<!--',
        '-->',
        '\u2028',
        '\u2029',
        '&lt;',
        '"',
        '\\',
        '\ud800',
        '\udc00x',
        '<img src=x onerror=alert(1)>',
        '\u0000',
      ),
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.string({
        unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
        maxLength: 20,
      }),
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''))

describe('traceHtml', () => {
  it('embeds JSON that parses back to the same data, for any strings', () => {
    fc.assert(
      fc.property(nasty, nasty, nasty, nasty, (title, output, node, info) => {
        const data = traceFixture()
        data.title = title
        data.lab = node
        data.events[10]!.detail = output
        data.events[14]!.title = output
        data.topology.nodes[2]!.name = node
        data.packets[0]!.info = info
        data.packets[1]!.src = node
        data.states[0]!.hosts[0]!.nftables = output
        data.truncated.notes.push(info)
        const { html } = traceHtml(data)
        expect(embedded(html)).toEqual(data)
        // The <title> is text: nothing in it opens a tag.
        const t = /<title>([^]*?)<\/title>/.exec(html)![1]!
        expect(t).not.toMatch(/[<>]/)
      }),
      { numRuns: Number(process.env.NSLAB_FUZZ_RUNS ?? 200) },
    )
  })

  it('escapes <, >, &, U+2028 and U+2029 in the embedded JSON', () => {
    expect(embedJson({ s: '</script><!--\u2028\u2029&' })).toBe(
      '{"s":"\\u003c/script\\u003e\\u003c!--\\u2028\\u2029\\u0026"}',
    )
  })

  it('is one file: CSP meta, inline script and style, nothing loaded from elsewhere', () => {
    const { html, truncated } = traceHtml(traceFixture())
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${TRACE_CSP}">`)
    expect(html).toMatch(/<style>\n[^]*#timeline[^]*<\/style>/)
    expect(html).toMatch(/<script>\n\/\/ @ts-check[^]*<\/script>/)
    expect(html).not.toMatch(/<(script|link|img)[^>]*\s(src|href)=(?!["']?data:)/i)
    expect(truncated).toEqual({ notes: [] })
  })

  it("the page's script type-checks against TraceData (checkJs, strict, DOM)", () => {
    // The root tsconfig has no DOM lib and no JavaScript: check page.js on its own, so its JSDoc
    // types follow harness/trace/data.ts when that changes.
    const root = resolve(import.meta.dirname, '../..')
    const args = ['--noEmit', '--allowJs', '--checkJs', '--strict', '--skipLibCheck', '--target', 'ES2022']
    args.push('--lib', 'ES2023,DOM,DOM.Iterable', '--module', 'NodeNext', '--moduleResolution', 'NodeNext')
    const tsc = join(root, 'node_modules/typescript/bin/tsc')
    try {
      execFileSync(process.execPath, [tsc, ...args, 'harness/trace/page/page.js'], {
        cwd: root,
        stdio: 'pipe',
      })
    } catch (e) {
      throw new Error(`tsc --checkJs harness/trace/page/page.js:\n${(e as { stdout?: Buffer }).stdout}`)
    }
  }, 60_000)

  const dir = mkdtempSync(join(tmpdir(), 'nslab-trace-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('writes the page, its folder made as needed', () => {
    const out = writeTraceHtml(join(dir, 'a/b/trace.html'), traceFixture())
    expect(out.path).toBe(join(dir, 'a/b/trace.html'))
    expect(out.bytes).toBe(bytes(readFileSync(out.path, 'utf8')))
    expect(out.bytes).toBeLessThan(TRACE_MAX_BYTES)
    expect(out.truncated.packets).toBeUndefined()
  })
})

describe('the size budget', () => {
  const big = traceFixture({ extraPackets: 5000 })
  const full = bytes(traceHtml(big, { maxBytes: Infinity }).html)
  const failureT = big.events[big.failure!]!.t

  it('leaves out the packets farthest from the failure first, and counts them', () => {
    const maxBytes = full - 200_000
    const { html, truncated } = traceHtml(big, { maxBytes })
    expect(bytes(html)).toBeLessThanOrEqual(maxBytes)
    const data = embedded(html)
    expect(truncated.packets!.kept + truncated.packets!.dropped).toBe(big.packets.length)
    expect(truncated.packets!.dropped).toBeGreaterThan(500)
    expect(data.packets).toHaveLength(truncated.packets!.kept)
    expect(truncated.events).toBeUndefined()
    expect(data.events).toEqual(big.events)
    expect(data.truncated).toEqual(truncated)
    expect(truncated.notes.join(' ')).toMatch(/keeps within \d+ KiB/)
    // Every kept packet is at least as near the failure as every dropped one.
    const kept = new Set(data.packets.map((p) => JSON.stringify(p)))
    const dist = (p: { t: number }) => Math.abs(p.t - failureT)
    const keptMax = Math.max(...data.packets.map(dist))
    const droppedMin = Math.min(...big.packets.filter((p) => !kept.has(JSON.stringify(p))).map(dist))
    expect(keptMax).toBeLessThanOrEqual(droppedMin)
    // In time order still.
    expect(data.packets.map((p) => p.t)).toEqual([...data.packets.map((p) => p.t)].sort((a, b) => a - b))
  })

  it('then the oldest events, keeping the failure and the links they made', () => {
    const many = traceFixture({ extraPackets: 2000, extraEvents: 3000 })
    const noPackets = bytes(traceHtml({ ...many, packets: [] }, { maxBytes: Infinity }).html)
    const maxBytes = noPackets - 150_000
    const { html, truncated } = traceHtml(many, { maxBytes })
    expect(bytes(html)).toBeLessThanOrEqual(maxBytes)
    const data = embedded(html)
    expect(truncated.packets).toEqual({ kept: 0, dropped: many.packets.length })
    expect(truncated.events!.kept + truncated.events!.dropped).toBe(many.events.length)
    expect(truncated.events!.dropped).toBeGreaterThan(1000)
    // The kept events and one line standing for those left out.
    expect(data.events).toHaveLength(truncated.events!.kept + 1)
    const summary = data.events[0]!
    expect(summary.title).toBe(
      `${truncated.events!.dropped} older events left out to fit the page's size budget`,
    )
    expect(summary.links).toEqual(expect.arrayContaining(['a--r#0', 'b--r#0', 'wg-a-b']))
    expect(summary.linkState).toEqual({ 'a--r#0': 'up', 'b--r#0': 'up', 'wg-a-b': 'up' })
    // The newest are kept, and the failure still points at the failed expectation.
    expect(data.events.at(-1)).toEqual(many.events.at(-1))
    expect(data.events[data.failure!]).toEqual(many.events[many.failure!])
  })

  it('fits any budget it can, and says so when it cannot', () => {
    const data = traceFixture({ extraPackets: 300, extraEvents: 100 })
    const floor = bytes(
      traceHtml({ ...data, packets: [], events: [data.events[data.failure!]!], failure: 0 }).html,
    )
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: bytes(traceHtml(data).html) }), (maxBytes) => {
        const { html, truncated } = traceHtml(data, { maxBytes })
        const back = embedded(html)
        expect(back.packets.length).toBe(truncated.packets ? truncated.packets.kept : data.packets.length)
        if (truncated.packets)
          expect(truncated.packets.kept + truncated.packets.dropped).toBe(data.packets.length)
        if (truncated.events)
          expect(truncated.events.kept + truncated.events.dropped).toBe(data.events.length)
        expect(back.events[back.failure!]).toEqual(data.events[data.failure!])
        if (bytes(html) > maxBytes) {
          expect(maxBytes).toBeLessThan(floor + 2000)
          expect(truncated.notes.at(-1)).toMatch(/over its .* budget/)
        }
      }),
      { numRuns: 40 },
    )
  })
})

describe('reading a trace page back (nslab trace FILE: untrusted input)', () => {
  const RUNS = Number(process.env.NSLAB_FUZZ_RUNS ?? 300)
  const page = traceHtml(traceFixture()).html

  it('gives back the data it embedded', () => {
    expect(readTraceHtml(page)).toEqual(JSON.parse(JSON.stringify(traceFixture())))
  })

  it('anything else, or a damaged page: one TraceReadError sentence, never another error', () => {
    const check = (text: string): void => {
      try {
        readTraceHtml(text, 'x.html')
      } catch (err) {
        expect(err).toBeInstanceOf(TraceReadError)
        expect((err as Error).message).toMatch(/^x\.html/)
      }
    }
    fc.assert(fc.property(fc.string({ maxLength: 2000 }), check), { numRuns: RUNS })
    // The real page cut anywhere, or with bytes changed inside its data.
    fc.assert(
      fc.property(fc.nat(page.length), fc.nat(page.length), fc.string({ maxLength: 8 }), (cut, at, junk) => {
        check(page.slice(0, cut))
        check(page.slice(0, at) + junk + page.slice(at + junk.length))
      }),
      { numRuns: RUNS },
    )
    expect(() => readTraceHtml('<html></html>', 'x.html')).toThrow(
      'x.html is not an nslab trace page (no embedded trace data)',
    )
  })
})
