/**
 * What a failed test carries: the lab's state (links, addresses, routes,
 * neighbours, nftables, process output per host), the packets of every lab
 * link as a pcapng, and the trace (one HTML page: topology, timeline,
 * packets, state, opened on the failure), written under the artifacts
 * directory and attached to the test with Vitest's annotations, so the
 * default reporter lists them under the failure and the JUnit report names
 * them. A passing test writes nothing (unless the capture mode is `always`).
 *
 * Vitest refuses annotations once a test has failed, and a fixture only
 * learns of the failure after that; so the annotation is made while the
 * test's state reads 'run' again for the length of the (synchronous) call.
 * test/vitest/artifacts.test.ts keeps this honest against Vitest itself.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestAttachment, TestContext } from 'vitest'
import { type CaptureMode, captureMode } from '../lab/capture.js'
import type { Lab } from '../lab/lab.js'
import { formatLabState, labState } from '../lab/state.js'
import { writeTrace } from '../trace/collect.js'
import { artifactsDir, shownPath } from '../util/artifacts-dir.js'

/** The capture mode of the fixtures: NSLAB_CAPTURE (off, on-failure, always), default on-failure. */
export function fixtureCaptureMode(): CaptureMode {
  return captureMode(process.env.NSLAB_CAPTURE, 'on-failure')
}

export { artifactsDir, shownPath } from '../util/artifacts-dir.js'

/** A file name from a test's file and name: letters, digits, '.', '-' and '_' only, not too long. */
export function artifactName(context: Pick<TestContext, 'task'>, labId: string): string {
  const t = context.task
  const file = t.file?.name ?? 'test'
  const names: string[] = []
  for (let s: { name: string; suite?: unknown } | undefined = t; s; s = s.suite as typeof s)
    if (s.name && s.name !== file) names.unshift(s.name)
  const clean = (x: string): string =>
    x
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80)
  return `${clean(file)}--${clean(names.join(' '))}--${labId}`
}

/** Annotate a test whose state already says it failed (see the module comment). */
async function annotate(
  context: Pick<TestContext, 'task' | 'annotate'>,
  message: string,
  attachment: TestAttachment | undefined,
): Promise<void> {
  const result = context.task.result
  const state = result?.state
  let pending: Promise<unknown>
  if (result) result.state = 'run'
  try {
    pending = attachment ? context.annotate(message, 'nslab', attachment) : context.annotate(message, 'nslab')
  } finally {
    if (result && state) result.state = state
  }
  await pending
}

/**
 * After a test: when it failed (or `mode` is always), write the lab's state
 * and its packets and attach both; otherwise forget the packets held (a
 * shared lab captures on for the next test). Never throws: an artifact that
 * cannot be made is said in the annotation instead.
 */
export async function afterTest(
  context: Pick<TestContext, 'task' | 'annotate'>,
  lab: Lab,
  mode: CaptureMode,
): Promise<void> {
  const failed = context.task.result?.state === 'fail'
  const capture = lab.packetCapture
  const forget = (): void => {
    capture?.clear()
    lab.timeline.clear()
  }
  if (!failed && mode !== 'always') {
    forget()
    return
  }
  const dir = artifactsDir()
  const base = join(dir, artifactName(context, lab.id))
  try {
    mkdirSync(dir, { recursive: true })
  } catch (err) {
    await annotate(
      context,
      `nslab could not make ${dir} for the failure's artifacts: ${(err as Error).message}`,
      undefined,
    )
    return
  }
  if (failed) {
    let text: string
    try {
      text = formatLabState(lab, await labState(lab))
    } catch (err) {
      text = `(could not read the lab's state: ${(err as Error).message})`
    }
    const file = `${base}.state.txt`
    writeFileSync(file, text + '\n')
    // Vitest names an attachment's copy after the annotation's message: the
    // attached one stays short, the text itself goes in one of its own.
    await annotate(context, `lab state: ${shownPath(file)}`, { path: file, contentType: 'text/plain' })
    await annotate(context, text, undefined)
  }
  if (mode !== 'off') {
    const errors = context.task.result?.errors ?? []
    const failure = failed
      ? {
          message: errors[0]?.message ?? 'the test failed',
          detail: errors.map((e) => e.stack ?? e.message).join('\n\n'),
        }
      : undefined
    try {
      const w = await writeTrace(lab, base, {
        title: fullName(context),
        ...(failure ? { failure } : {}),
      })
      if (w.pcapng) {
        const r = w.pcapng
        const loss =
          r.kernelDrops > 0 || r.evicted > 0
            ? `; ${r.kernelDrops} frame(s) dropped by the kernel, ${r.evicted} older packet(s) let go of the memory ring`
            : ''
        await annotate(
          context,
          `packets: ${shownPath(r.path)} (${r.packets} packet(s) on ${r.interfaces} interface(s)${loss})`,
          {
            path: r.path,
            contentType: 'application/vnd.tcpdump.pcap',
          },
        )
      }
      const cut = [
        w.truncated.events && `${w.truncated.events.dropped} older event(s)`,
        w.truncated.packets && `${w.truncated.packets.dropped} packet(s)`,
      ].filter(Boolean)
      await annotate(
        context,
        `trace: ${shownPath(w.html)} (open in a browser${cut.length ? `; left out: ${cut.join(', ')}` : ''})`,
        { path: w.html, contentType: 'text/html' },
      )
    } catch (err) {
      await annotate(
        context,
        `nslab could not write the trace of ${lab.id}: ${(err as Error).message}`,
        undefined,
      )
    }
  }
  forget()
}

/** `describe > test` names, outermost first. */
function fullName(context: Pick<TestContext, 'task'>): string {
  const names: string[] = []
  for (let s: { name: string; suite?: unknown } | undefined = context.task; s; s = s.suite as typeof s)
    if (s.name && s.name !== context.task.file?.name) names.unshift(s.name)
  return `${context.task.file?.name ?? 'test'} > ${names.join(' > ')}`
}
