/**
 * Debian's chromium, headless, driven by playwright-core, for tests that look
 * at a page the way a person does. Every page opened records what it did
 * wrong (a console error, an uncaught exception, a request for anything but
 * the file itself); `problems()` hands them over. The browser carries a
 * marker argument so the close can prove none of its processes are left.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { type Browser, type Page, chromium } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

export interface TestBrowser {
  /** Open a file (with an optional `#hash`), wait for `ready` (a selector), and return the page. */
  open(file: string, options?: { hash?: string; ready?: string }): Promise<Page>
  /** What every page opened so far did wrong (and forget it). */
  problems(): string[]
  /** Close the browser; throws when any of its processes outlive it. */
  close(): Promise<void>
}

export async function startBrowser(tag: string): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: the browser tests drive Debian's chromium. Install it with \`bash scripts/setup-system.sh\`.`,
    )
  const mark = `--nslab-browser-${tag}=${process.pid}`
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', mark],
    headless: true,
  })
  let seen: string[] = []
  return {
    async open(file, { hash = '', ready = 'body' } = {}) {
      const url = pathToFileURL(file).href
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
      const page = await context.newPage()
      page.on('console', (m) => {
        if (m.type() === 'error') seen.push(`console: ${m.text()}`)
      })
      page.on('pageerror', (e) => seen.push(`pageerror: ${e.message}`))
      page.on('request', (r) => {
        if (r.url().split('#')[0] !== url) seen.push(`request: ${r.url()}`)
      })
      await page.goto(url + hash)
      await page.waitForSelector(ready, { timeout: 15_000 })
      return page
    },
    problems() {
      const p = seen
      seen = []
      return p
    },
    async close() {
      await browser.close()
      const left = spawnSync('pgrep', ['-f', mark.slice(2)], { encoding: 'utf8' })
      if (left.status !== 1)
        throw new Error(
          `chromium processes left behind, or pgrep failed: ${left.status} ${left.stdout}${left.stderr}`,
        )
    },
  }
}
