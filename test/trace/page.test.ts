/**
 * The trace page in a real browser: Debian's chromium, headless, driven by
 * playwright-core, opening the page straight from disk (file://). Every
 * page must load without a console error or page error and without a
 * single request other than the file itself.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { TraceData } from '../../harness/trace/data.js'
import type { TraceHtmlOptions } from '../../harness/trace/page.js'
import { writeTraceHtml } from '../../harness/trace/page.js'
import { FAILED_EXPECT, HOSTILE, HOSTILE_OUTPUT, LINK_DOWN, PING_OK, traceFixture } from './fixture.js'

const CHROMIUM = '/usr/bin/chromium'
/** An argument chromium ignores, so pgrep finds exactly this run's browser processes. */
const MARK = `--nslab-trace-test=${process.pid}`
const SHOTS = resolve(import.meta.dirname, '../../reports/trace')
const dir = mkdtempSync(join(tmpdir(), 'nslab-trace-page-'))

let browser: Browser | undefined
const opened: BrowserContext[] = []
/** What each opened page did wrong, checked after every test. */
let problems: string[] = []

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: the trace page tests drive Debian's chromium. Install it with \`bash scripts/setup-system.sh\`.`,
    )
  mkdirSync(SHOTS, { recursive: true })
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', MARK], headless: true })
}, 60_000)

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()))
  const seen = problems
  problems = []
  expect(seen).toEqual([])
})

afterAll(async () => {
  try {
    await browser?.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  // No chromium of this run is left behind (pgrep: 0 found some, 1 found none).
  const left = spawnSync('pgrep', ['-f', MARK.slice(2)], { encoding: 'utf8' })
  if (left.status !== 1)
    throw new Error(
      `chromium processes left behind, or pgrep failed: ${left.status} ${left.stdout}${left.stderr}`,
    )
})

let n = 0
/** Write `data` as a page and open it (at `hash`), recording errors and requests. */
async function open(
  data: TraceData,
  {
    hash = '',
    opts = {},
    expectErrors = false,
  }: { hash?: string; opts?: TraceHtmlOptions; expectErrors?: boolean } = {},
): Promise<{ page: Page; url: string; errors: string[] }> {
  if (!browser) throw new Error('chromium did not start (see beforeAll)')
  const file = writeTraceHtml(join(dir, `trace-${++n}.html`), data, opts).path
  const url = pathToFileURL(file).href
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
  opened.push(context)
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
  page.on('request', (r) => {
    if (r.url().split('#')[0] !== url) problems.push(`request: ${r.url()}`)
  })
  if (!expectErrors) page.on('close', () => problems.push(...errors))
  await page.goto(url + hash)
  await page.waitForSelector('body[data-ready=true]', { timeout: 10_000 })
  return { page, url, errors }
}

const selected = (page: Page) =>
  page.$$eval('#timeline [role=option][aria-selected=true]', (els) =>
    els.map((e) => e.getAttribute('data-index')),
  )

/** What the page.evaluate callbacks touch of the browser (the tsconfig has no DOM lib; they run in chromium). */
interface El {
  getAttribute(name: string): string | null
  querySelector(selector: string): El | null
  classList: { contains(c: string): boolean }
}
interface Browserish {
  document: { getElementById(id: string): El | null; querySelector(selector: string): El | null }
  getComputedStyle(el: El): { stroke: string; strokeDasharray: string }
  location: { hash: string }
  __pwned?: number
}

/** A link's or tunnel's SVG element: its data-state and the computed stroke of its path. */
const drawnState = (page: Page, id: string) =>
  page.evaluate((id) => {
    const w = globalThis as unknown as Browserish
    const el = w.document.getElementById(id)
    const path = el?.querySelector('path')
    const style = path ? w.getComputedStyle(path) : undefined
    return { state: el?.getAttribute('data-state'), stroke: style?.stroke, dash: style?.strokeDasharray }
  }, id)

const GREEN = 'rgb(26, 143, 58)'
const RED = 'rgb(208, 49, 45)'
const GREY = 'rgb(181, 185, 192)'

describe('the trace page in chromium', () => {
  it('opens on the failed expectation, scrolled into view, fetching nothing', async () => {
    const { page } = await open(traceFixture())
    expect(await selected(page)).toEqual([String(FAILED_EXPECT)])
    const option = page.locator(`#event-${FAILED_EXPECT}`)
    expect(await option.textContent()).toContain('expect b reachable from a')
    expect(await page.locator('#timeline').getAttribute('aria-activedescendant')).toBe(
      `event-${FAILED_EXPECT}`,
    )
    const inView = await option.evaluate((el) => {
      const r = el.getBoundingClientRect()
      const box = el.closest('[role=listbox]')!.getBoundingClientRect()
      return r.top >= box.top && r.bottom <= box.bottom && r.height > 0
    })
    expect(inView).toBe(true)
    expect(await page.locator('#title').textContent()).toBe(
      'test/lab/flap.test.ts > b stays reachable when b--r#0 flaps',
    )
    expect(await page.locator('#failure').textContent()).toContain('expect b reachable from a')
    expect(await page.locator('#event-detail').textContent()).toContain('expected 0% packet loss, got 100%')
    expect(await page.locator('#event-detail').textContent()).not.toMatch(/null|undefined/)
    expect(await page.locator('#pcapng').getAttribute('href')).toBe('trace.pcapng')
    expect(await page.locator('#pcapng').textContent()).toContain('open in Wireshark')
    expect(await page.locator('#truncation').count()).toBe(0)
    // Graphviz's drawing is inlined, its ids kept.
    expect(await page.locator('#topology svg g.link').count()).toBe(2)
    expect(await page.locator('#topology svg g.tunnel').count()).toBe(1)
    // The URL did not change on open: the page is where it was linked.
    expect(page.url()).not.toContain('#')
    await page.screenshot({ path: join(SHOTS, 'failure.png') })
  })

  it('lists the packets around the failure by node name, the nearest highlighted', async () => {
    const { page } = await open(traceFixture())
    const rows = page.locator('#packets tbody tr')
    const count = await rows.count()
    expect(count).toBeGreaterThan(40)
    expect(count).toBeLessThanOrEqual(200)
    const ends = await page.$$eval('#packets tbody td.src, #packets tbody td.dst', (tds) =>
      tds.map((t) => t.textContent),
    )
    expect(new Set(ends)).toEqual(new Set(['a', 'b', 'r', 'Broadcast']))
    const nearest = page.locator('#packets tbody tr[aria-current=true]')
    expect(await nearest.count()).toBe(1)
    // The failure is at +3.620 s; the last packet, the fifth unanswered request, at +2.410 s.
    expect(await nearest.locator('td.info').textContent()).toBe('Echo (ping) request id=0x1c2b, seq=5')
    expect(await nearest.locator('td.time').textContent()).toBe('+2.410 s')
    expect(await nearest.locator('td.dir').textContent()).toBe('←')
    expect(await page.locator('#packets-summary').textContent()).toMatch(/^\d+ of \d+ nearest \+3\.620 s$/)
  })

  it('colours links as they stood at the cursor: green before the linkDown, red after, grey before made', async () => {
    const { page } = await open(traceFixture())
    await page.click(`#event-${PING_OK}`)
    expect(await selected(page)).toEqual([String(PING_OK)])
    expect(await drawnState(page, 'link-b--r#0')).toMatchObject({ state: 'up', stroke: GREEN, dash: 'none' })
    expect(await drawnState(page, 'link-a--r#0')).toMatchObject({ state: 'up', stroke: GREEN })
    expect(await drawnState(page, 'tunnel-wg-a-b')).toMatchObject({ state: 'up', stroke: GREEN })
    await page.screenshot({ path: join(SHOTS, 'link-up.png') })

    await page.click(`#event-${LINK_DOWN}`)
    expect(await drawnState(page, 'link-b--r#0')).toMatchObject({ state: 'down', stroke: RED })
    expect((await drawnState(page, 'link-b--r#0')).dash).not.toBe('none')
    expect(await drawnState(page, 'link-a--r#0')).toMatchObject({ state: 'up', stroke: GREEN })
    expect(await page.locator('#link-states li[data-link="b--r#0"]').getAttribute('data-state')).toBe('down')
    // The event's links are picked out.
    expect(
      await page.evaluate(() =>
        (globalThis as unknown as Browserish).document
          .getElementById('link-b--r#0')!
          .classList.contains('focus'),
      ),
    ).toBe(true)
    await page.screenshot({ path: join(SHOTS, 'link-down.png') })

    // Before b--r#0 was made (event 4 made a--r#0 only).
    await page.click('#event-4')
    expect(await drawnState(page, 'link-a--r#0')).toMatchObject({ state: 'up', stroke: GREEN })
    expect(await drawnState(page, 'link-b--r#0')).toMatchObject({ state: 'absent', stroke: GREY })
    expect(await drawnState(page, 'tunnel-wg-a-b')).toMatchObject({ state: 'absent', stroke: GREY })
  })

  it('moves the cursor with the arrow keys and keeps the URL pointing at it', async () => {
    const { page } = await open(traceFixture())
    await page.keyboard.press('ArrowUp')
    expect(await selected(page)).toEqual([String(FAILED_EXPECT - 1)])
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('ArrowDown')
    expect(await selected(page)).toEqual([String(FAILED_EXPECT + 1)])
    expect(new URL(page.url()).hash).toBe(`#event=${FAILED_EXPECT + 1}`)
    await page.keyboard.press('Home')
    expect(await selected(page)).toEqual(['0'])
    await page.keyboard.press('ArrowUp')
    expect(await selected(page)).toEqual(['0'])
  })

  it('filters the timeline by kind, and the keys skip what is hidden', async () => {
    const { page } = await open(traceFixture())
    const visible = () => page.locator('#timeline [role=option]:visible').count()
    const all = await visible()
    expect(all).toBe(traceFixture().events.length)
    await page.uncheck('input[data-kind=netlink]')
    expect(await visible()).toBe(all - 3)
    expect(await page.locator('#timeline [data-kind=netlink]:visible').count()).toBe(0)
    // From the linkDown (11) down: 12 is a netlink line, hidden, so 13.
    await page.click(`#event-${LINK_DOWN}`)
    await page.keyboard.press('ArrowDown')
    expect(await selected(page)).toEqual([String(LINK_DOWN + 2)])
    await page.check('input[data-kind=netlink]')
    expect(await visible()).toBe(all)
  })

  it('filters packets by link', async () => {
    const { page } = await open(traceFixture())
    const rows = page.locator('#packets tbody tr')
    const all = await rows.count()
    await page.selectOption('#link-filter', 'b--r#0')
    const some = await rows.count()
    expect(some).toBeGreaterThan(0)
    expect(some).toBeLessThan(all)
    const links = await page.$$eval('#packets tbody td.link', (tds) => tds.map((t) => t.textContent))
    expect(new Set(links)).toEqual(new Set(['b--r#0']))
    const where = await page.$$eval('#packets tbody td.where', (tds) => tds.map((t) => t.textContent))
    expect(new Set(where)).toEqual(new Set(['r eth1', 'b eth0']))
    await page.selectOption('#link-filter', '*')
    expect(await rows.count()).toBe(all)
  })

  it('opens at the event #event=N names, and follows the hash', async () => {
    const { page } = await open(traceFixture(), { hash: `#event=${LINK_DOWN}` })
    expect(await selected(page)).toEqual([String(LINK_DOWN)])
    expect((await drawnState(page, 'link-b--r#0')).state).toBe('down')
    await page.evaluate(() => ((globalThis as unknown as Browserish).location.hash = '#event=5'))
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Browserish).document
          .querySelector('#event-5')
          ?.getAttribute('aria-selected') === 'true',
    )
    expect(await selected(page)).toEqual(['5'])
    expect((await drawnState(page, 'link-b--r#0')).state).toBe('up')
    // A hash naming no event leaves the cursor be, and a page opened with one opens on the failure.
    await page.evaluate(() => ((globalThis as unknown as Browserish).location.hash = '#event=9999'))
    await page.waitForFunction(() => (globalThis as unknown as Browserish).location.hash === '#event=9999')
    expect(await selected(page)).toEqual(['5'])
    const { page: other } = await open(traceFixture(), { hash: '#event=9999' })
    expect(await selected(other)).toEqual([String(FAILED_EXPECT)])
  })

  it("shows each host's state from the snapshot at or before the cursor", async () => {
    const { page } = await open(traceFixture())
    // At the failure (+3.620 s) the last snapshot before it is 'lab ready' (+0.190 s).
    expect(await page.locator('#snapshot').textContent()).toBe('recorded +0.190 s: lab ready')
    await page.selectOption('#host', 'r')
    const routes = page.locator('[data-section=routes] pre')
    expect(await routes.textContent()).toContain('198.18.0.4/30 dev eth1')
    expect(await routes.textContent()).not.toContain('linkdown')
    expect(await page.locator('[data-section=nftables] pre').textContent()).toContain('table inet nslab')
    // The last event is after the 'at the failure' snapshot; the host choice stays.
    await page.keyboard.press('End')
    expect(await page.locator('#snapshot').textContent()).toBe('recorded +3.700 s: at the failure')
    expect(await page.locator('#host').inputValue()).toBe('r')
    expect(await routes.textContent()).toContain('linkdown')
    // Before any snapshot: the first one after, said so.
    await page.keyboard.press('Home')
    expect(await page.locator('#snapshot').textContent()).toBe(
      'recorded +0.190 s: lab ready (after the cursor: none was recorded before it)',
    )
    await page.selectOption('#host', 'a')
    expect(await page.locator('[data-section=neighbours]').textContent()).toContain('none')
    await page.screenshot({ path: join(SHOTS, 'state.png') })
  })

  it('says what the size budget left out, in a banner', async () => {
    const data = traceFixture({ extraPackets: 5000 })
    const fitted = writeTraceHtml(join(dir, 'budget-probe.html'), data, { maxBytes: Infinity })
    const { page } = await open(data, { opts: { maxBytes: fitted.bytes - 200_000 } })
    const banner = page.locator('#truncation')
    const text = (await banner.textContent())!
    const m =
      /(\d+) of (\d+) packets kept: the (\d+) farthest from the failure were left out of this page\./.exec(
        text,
      )
    expect(m).not.toBeNull()
    const [kept, total, dropped] = [Number(m![1]), Number(m![2]), Number(m![3])]
    expect(total).toBe(data.packets.length)
    expect(kept + dropped).toBe(total)
    expect(dropped).toBeGreaterThan(500)
    expect(text).toMatch(/keeps within \d+ KiB/)
    expect(await selected(page)).toEqual([String(FAILED_EXPECT)])
    await page.screenshot({ path: join(SHOTS, 'truncated.png') })

    // Events too: the oldest go, the failure stays selected.
    const many = traceFixture({ extraPackets: 1000, extraEvents: 2000 })
    const bare = writeTraceHtml(
      join(dir, 'budget-probe-2.html'),
      { ...many, packets: [] },
      { maxBytes: Infinity },
    )
    const { page: page2 } = await open(many, { opts: { maxBytes: bare.bytes - 100_000 } })
    const text2 = (await page2.locator('#truncation').textContent())!
    expect(text2).toContain(`0 of ${many.packets.length} packets kept`)
    const e = /(\d+) of (\d+) events kept: the (\d+) oldest were left out of this page\./.exec(text2)
    expect(e).not.toBeNull()
    expect(Number(e![2])).toBe(many.events.length)
    expect(Number(e![1]) + Number(e![3])).toBe(many.events.length)
    const sel = await selected(page2)
    expect(await page2.locator(`#event-${sel[0]}`).textContent()).toContain('expect b reachable from a')
    // Links made by the events left out are drawn as made, in the state they left.
    expect((await drawnState(page2, 'link-b--r#0')).state).toBe('down')
    expect((await drawnState(page2, 'tunnel-wg-a-b')).state).toBe('up')
  })

  it('renders hostile strings as text and runs nothing from the data', async () => {
    const { page } = await open(traceFixture({ hostile: true }))
    expect(await page.evaluate(() => (globalThis as unknown as Browserish).__pwned)).toBeUndefined()
    expect(await page.locator('img').count()).toBe(0)
    expect(await page.locator('#title').textContent()).toBe(`flap ${HOSTILE} ${HOSTILE_OUTPUT}`)
    expect(await page.title()).toBe(`flap ${HOSTILE} ${HOSTILE_OUTPUT} — nslab trace`)
    expect(await page.locator('#event-14 .title').textContent()).toBe(HOSTILE)
    await page.click('#event-14')
    expect(await page.locator('#event-detail pre').textContent()).toBe(HOSTILE_OUTPUT)
    await page.click('#event-3')
    expect(await page.locator('#event-3 .node').textContent()).toBe(HOSTILE)
    await page.selectOption('#link-filter', '*')
    const ends = await page.$$eval('#packets td.dst', (tds) => tds.map((t) => t.textContent))
    expect(ends).toContain(HOSTILE)
    // The SVG lost its script, its handler and its link out; its drawing stayed.
    expect(await page.locator('#topology svg script').count()).toBe(0)
    expect(await page.locator('#node-h').getAttribute('onclick')).toBeNull()
    expect(await page.locator('#topology svg image').getAttribute('href')).toBeNull()
    await page.click('#node-h')
    expect(await page.evaluate(() => (globalThis as unknown as Browserish).__pwned)).toBeUndefined()
    await page.screenshot({ path: join(SHOTS, 'hostile.png') })
  })

  it('cannot fetch anything: the CSP refuses it', async () => {
    const { page, errors } = await open(traceFixture(), { expectErrors: true })
    const result = await page.evaluate(() =>
      fetch('http://127.0.0.1:9/x').then(
        () => 'fetched',
        (e: Error) => `refused: ${e.message}`,
      ),
    )
    expect(result).toMatch(/^refused/)
    expect(errors.join('\n')).toMatch(/Content Security Policy/)
  })
})
