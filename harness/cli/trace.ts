/**
 * `nslab trace FILE|DIR`: where to open a trace page, and what it holds.
 * A page opens from file:// in any browser (no server); this prints its
 * URL, what it is of, the failure it opens on and the pcapng beside it.
 * Given a directory (reports/nslab by default), the traces in it, newest
 * first.
 *
 *   nslab trace reports/nslab/link-flap--3f2a.trace.html
 *   nslab trace            # the traces under reports/nslab
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Command } from 'commander'
import { TraceReadError, readTraceHtml } from '../trace/page.js'

const TRACE_SUFFIX = '.trace.html'

/** One trace's summary lines. */
export function describeTrace(file: string): string[] {
  const path = resolve(file)
  const data = readTraceHtml(readFileSync(path, 'utf8'), path)
  const lines = [`${data.title}`, `  open: ${pathToFileURL(path).href}`]
  const failure = data.failure === undefined ? undefined : data.events[data.failure]
  if (failure) lines.push(`  opens on: ${failure.title}`)
  lines.push(
    `  lab ${data.lab}: ${data.topology.nodes.length} node(s), ${data.topology.links.length} link(s), ${data.events.length} event(s), ${data.packets.length} packet(s)`,
  )
  if (data.pcapng) {
    const pcap = join(dirname(path), data.pcapng)
    lines.push(`  packets: ${pcap}${existsSync(pcap) ? '' : ' (missing)'}`)
  }
  const t = data.truncated
  if (t.events) lines.push(`  left out: ${t.events.dropped} older event(s)`)
  if (t.packets) lines.push(`  left out: ${t.packets.dropped} packet(s)`)
  for (const n of t.notes) lines.push(`  note: ${n}`)
  return lines
}

export function registerTraceCommand(program: Command): void {
  program
    .command('trace [path]')
    .description('say where to open a trace page (file://) and what it holds; a directory lists its traces')
    .addHelpText(
      'after',
      '\nExamples:\n  nslab trace reports/nslab/link-flap--3f2a.trace.html\n  nslab trace reports/nslab',
    )
    .action((path?: string) => {
      const target = path ?? process.env.NSLAB_ARTIFACTS_DIR ?? join('reports', 'nslab')
      if (!existsSync(target))
        throw new TypeError(`${target} does not exist: give a trace page or a directory of them`)
      if (!statSync(target).isDirectory()) {
        console.log(describeTrace(target).join('\n'))
        return
      }
      const pages = readdirSync(target)
        .filter((f) => f.endsWith(TRACE_SUFFIX))
        .map((f) => join(target, f))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
      if (pages.length === 0) {
        console.log(`no trace pages in ${target} (a failed test or scenario writes one there)`)
        return
      }
      for (const p of pages) {
        try {
          console.log(describeTrace(p).join('\n'))
        } catch (err) {
          if (!(err instanceof TraceReadError)) throw err
          console.log(`${p}: ${err.message}`)
        }
      }
    })
}
