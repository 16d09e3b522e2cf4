/**
 * Real failures make real traces: a scenario that fails under `nslab run
 * --trace DIR`, and a Vitest test that fails under the nslab fixtures, each
 * leave a trace page beside their pcapng; chromium opens it from disk and a
 * person would see the failure selected, the packets with node names, the
 * topology drawn by Graphviz with link colours that follow the cursor. No
 * page may log an error or ask for anything but itself.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readTraceHtml } from '../../harness/trace/page.js'
import { type TestBrowser, startBrowser } from '../support/browser.js'
import { nslab, root } from '../support/cli.js'

const SHOTS = resolve(root, 'reports/trace')
const dir = mkdtempSync(join(tmpdir(), 'nslab-trace-e2e-'))
let browser: TestBrowser

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  browser = await startBrowser('e2e')
}, 60_000)

afterAll(async () => {
  try {
    await browser?.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

const READY = 'body[data-ready=true]'

/** The selected timeline entry's text. */
const selectedText = (page: Page): Promise<string[]> =>
  page.$$eval('#timeline [role=option][aria-selected=true]', (els) => els.map((e) => e.textContent ?? ''))

/** Click the first timeline entry whose text contains `text`. */
async function clickEvent(page: Page, text: string): Promise<void> {
  await page.locator('#timeline [role=option]', { hasText: text }).first().click()
}

const linkState = (page: Page, id: string): Promise<string | null> =>
  page.evaluate((id) => {
    const d = (
      globalThis as unknown as {
        document: { getElementById(x: string): { getAttribute(a: string): string | null } | null }
      }
    ).document
    return d.getElementById(`link-${id}`)?.getAttribute('data-state') ?? null
  }, id)

/** Source → destination of the packet rows shown now. */
const packetRows = (page: Page): Promise<string[]> =>
  page.$$eval('#packets tbody tr', (rows) =>
    rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '').join('|')),
  )

const SCENARIO = `name: trace-e2e
description: a reaches b across r until r's link to b goes down; the final reach fails on purpose
topology:
  hosts: [a, b]
  routers: [r]
  links:
    - [a, r]
    - [r, b]
steps:
  - expect:
      - reach: { from: a, to: b }
  - link: { between: [r, b], state: down }
expect:
  - reach: { from: a, to: b }
`

describe('a failed scenario', () => {
  it('writes a trace page that opens on the failed expectation, with packets by node name and link colours over time', async () => {
    const file = join(dir, 'trace-e2e.yaml')
    writeFileSync(file, SCENARIO)
    const out = join(dir, 'scenario-out')
    const r = await nslab(['run', file, '--trace', out], { timeoutMs: 120_000 })
    expect(r.code).toBe(1)
    const html = readdirSync(out).find((f) => f.endsWith('.trace.html'))!
    expect(html).toMatch(/^trace-e2e--\w+\.trace\.html$/)
    expect(r.stdout).toContain(`trace: ${join(out, html)}`)
    const pcap = readdirSync(out).find((f) => f.endsWith('.pcapng'))!
    // The page's data, read back: the pcapng beside it, the failure on the expectation.
    const data = readTraceHtml(readFileSync(join(out, html), 'utf8'))
    expect(data.pcapng).toBe(pcap)
    expect(data.events[data.failure!]).toMatchObject({ kind: 'expect', ok: false })
    expect(data.svg).toMatch(/^<svg/)
    // `nslab trace` says where to open it.
    const t = await nslab(['trace', join(out, html)])
    expect(t.code).toBe(0)
    expect(t.stdout).toContain(`open: file://${join(out, html)}`)
    expect(t.stdout).toContain('opens on: expect a reaches b (icmp)')

    const page = await browser.open(join(out, html), { ready: READY })
    // Opens on the failed final expectation.
    const sel = await selectedText(page)
    expect(sel).toHaveLength(1)
    expect(sel[0]).toContain('expect a reaches b')
    await page.screenshot({ path: join(SHOTS, 'scenario-failure.png'), fullPage: false })
    // The link r--b: up while the step's reach held, down at the failure.
    const link = data.topology.links.find((l) => [l.a.node, l.b.node].sort().join() === 'b,r')!.id
    expect(await linkState(page, link)).toBe('down')
    await clickEvent(page, 'link b ⟷ r made')
    expect(await linkState(page, link)).toBe('up')
    // Around the earlier (passing) reach, the pings, with node names, not raw addresses.
    await clickEvent(page, 'a reaches b')
    const rows = await packetRows(page)
    expect(rows.some((row) => /\|ICMP\|a\|b\|/.test(row))).toBe(true)
    expect(rows.some((row) => /\|ICMP\|b\|a\|/.test(row))).toBe(true)
    expect(rows.join('\n')).not.toMatch(/\|198\.18\.\d+\.\d+\|/)
    // The state pane holds the hosts' routes as recorded at the failure.
    expect(await page.locator('[data-section=routes]').first().textContent()).toMatch(/via|dev/)
    expect(browser.problems()).toEqual([])
  }, 180_000)
})

describe('a failed Vitest test', () => {
  it('attaches a trace page that opens on the assertion, beside the pcapng', async () => {
    const project = join(dir, 'vitest-project')
    mkdirSync(project, { recursive: true })
    writeFileSync(
      join(project, 'fails.test.ts'),
      `
      import { test, expect } from '${join(root, 'harness/vitest/index.ts')}'
      test('b is cut off', async ({ lab }) => {
        const [a, b] = await lab.addHosts('a', 'b')
        await lab.connect(a, b)
        await expect(a).toPing(b, { count: 2 })
        await lab.linkDown(a, b)
        await expect(a).toPing(b, { count: 1, timeout: 200 })
      })
      `,
    )
    writeFileSync(join(project, 'vitest.config.mjs'), `export default { test: { include: ['*.test.ts'] } }`)
    const artifacts = join(project, 'artifacts')
    const junit = join(project, 'junit.xml')
    let code = 0
    try {
      execFileSync(
        join(root, 'node_modules/.bin/vitest'),
        ['run', '--root', project, '--reporter=default', '--reporter=junit', `--outputFile.junit=${junit}`],
        {
          cwd: project,
          stdio: 'pipe',
          env: { ...process.env, NSLAB_ALLOW_UNSEALED: '1', NSLAB_ARTIFACTS_DIR: artifacts },
        },
      )
    } catch (err) {
      code = (err as { status: number }).status
    }
    expect(code).toBe(1)
    const report = readFileSync(junit, 'utf8')
    expect(report).toMatch(/trace: .*fails\.test\.ts--b-is-cut-off--\w+\.trace\.html/)
    const html = readdirSync(artifacts).find((f) => f.endsWith('.trace.html'))!
    const data = readTraceHtml(readFileSync(join(artifacts, html), 'utf8'))
    expect(data.title).toBe('fails.test.ts > b is cut off')
    expect(data.events[data.failure!]).toMatchObject({ kind: 'failure' })
    expect(data.events[data.failure!]!.title).toMatch(/^expected a \[nslab-\w+-a\] to reach b/)

    const page = await browser.open(join(artifacts, html), { ready: READY })
    const sel = await selectedText(page)
    expect(sel[0]).toMatch(/to reach b/)
    await page.screenshot({ path: join(SHOTS, 'vitest-failure.png') })
    const link = data.topology.links[0]!.id
    expect(await linkState(page, link)).toBe('down')
    await clickEvent(page, 'link a ⟷ b made')
    expect(await linkState(page, link)).toBe('up')
    // The kernel said so too: the netlink announcements of the down are on the timeline.
    expect(
      data.events.some((e) => e.kind === 'netlink' && /link \S+ (DOWN|LOWERLAYERDOWN)/.test(e.title)),
    ).toBe(true)
    await clickEvent(page, 'test b is cut off')
    expect(browser.problems()).toEqual([])
  }, 180_000)
})

describe('a shipped scenario, traced although it passes', () => {
  it('link-flap-survived: the page opens at the end, the flap is on the timeline and the link went red and back', async () => {
    const out = join(dir, 'shipped-out')
    const r = await nslab(
      ['run', join(root, 'scenarios/link-flap-survived.yaml'), '--trace', out, '--capture-always'],
      {
        timeoutMs: 120_000,
      },
    )
    expect(r.code).toBe(0)
    const html = readdirSync(out).find((f) => f.endsWith('.trace.html'))!
    const data = readTraceHtml(readFileSync(join(out, html), 'utf8'))
    expect(data.failure).toBeUndefined()
    const flap = data.topology.links.find((l) => [l.a.node, l.b.node].sort().join() === 'a,r1')!.id
    const states = data.events.filter((e) => e.linkState?.[flap]).map((e) => e.linkState![flap])
    expect(states).toContain('down')
    expect(states.at(-1)).toBe('up')
    const page = await browser.open(join(out, html), { ready: READY })
    const sel = await selectedText(page)
    expect(sel).toHaveLength(1)
    expect(sel[0]).toContain(data.events.at(-1)!.title)
    await clickEvent(page, 'link a ⟷ r1 down')
    expect(await linkState(page, flap)).toBe('down')
    await page.screenshot({ path: join(SHOTS, 'link-flap-survived.png') })
    expect(browser.problems()).toEqual([])
  }, 180_000)
})
