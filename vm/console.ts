/**
 * Reading the guest's console (ttyS0): the kernel's own log, where panics,
 * oopses, BUGs and WARNINGs show up, and the init script's markers
 * ("nslab-vm: start", "nslab-vm: exit N", "nslab-vm: fail WHY").
 */

export type KernelProblemKind = 'panic' | 'oops' | 'bug' | 'warning'

/** One kernel report found on the console, with the lines that followed it (call trace). */
export interface KernelProblem {
  kind: KernelProblemKind
  /** The line that announced it, without the timestamp. */
  line: string
  /** That line and what followed, up to the end of the trace (at most 40 lines). */
  excerpt: string[]
}

const PATTERNS: [KernelProblemKind, RegExp][] = [
  ['panic', /^Kernel panic - not syncing/],
  ['oops', /^Oops: |^general protection fault|^kernel BUG at /],
  ['bug', /^BUG: /],
  ['warning', /^WARNING: /],
]

const TIMESTAMP = /^\[\s*\d+\.\d+\]\s?/
const MARKER = /^nslab-vm: (start|exit (\d+)|fail (.*))$/
const MAX_EXCERPT = 40

/** Classify one console line (timestamp already removed or not). */
export function classifyLine(raw: string): KernelProblemKind | undefined {
  const line = raw.replace(TIMESTAMP, '')
  for (const [kind, re] of PATTERNS) if (re.test(line)) return kind
  return undefined
}

/** Feeds on console bytes as they come; keeps the problems and the markers it saw. */
export class ConsoleWatch {
  readonly problems: KernelProblem[] = []
  /** Set when the init script said the command starts. */
  started = false
  /** The command's exit code, once the init script reported it. */
  exitCode: number | undefined
  /** Why the init script gave up, if it did. */
  failure: string | undefined
  /** The last lines seen, for error messages. */
  readonly tail: string[] = []
  private partial = ''
  private open: KernelProblem | undefined
  private readonly onMarker: ((m: 'start' | 'exit' | 'fail') => void) | undefined
  private readonly onProblem: ((p: KernelProblem) => void) | undefined

  /** onProblem hears of each problem on its first line; its excerpt keeps growing after. */
  constructor(onMarker?: (m: 'start' | 'exit' | 'fail') => void, onProblem?: (p: KernelProblem) => void) {
    this.onMarker = onMarker
    this.onProblem = onProblem
  }

  write(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString()
    const lines = text.split(/\r?\n/)
    this.partial = lines.pop() ?? ''
    for (const l of lines) this.line(l.replace(/\r/g, ''))
  }

  /** Flush a last line that had no newline. */
  end(): void {
    if (this.partial) this.line(this.partial)
    this.partial = ''
    this.open = undefined
  }

  private line(raw: string): void {
    const line = raw.replace(TIMESTAMP, '')
    this.tail.push(line)
    if (this.tail.length > 30) this.tail.shift()
    const marker = MARKER.exec(line)
    if (marker) {
      this.open = undefined
      if (marker[1] === 'start') {
        this.started = true
        this.onMarker?.('start')
      } else if (marker[2] !== undefined) {
        this.exitCode = Number(marker[2])
        this.onMarker?.('exit')
      } else {
        this.failure = marker[3]
        this.onMarker?.('fail')
      }
      return
    }
    const kind = classifyLine(line)
    // A panic that follows an oops belongs to the same report but is worth its own entry.
    if (kind) {
      this.open = { kind, line, excerpt: [line] }
      this.problems.push(this.open)
      this.onProblem?.(this.open)
      return
    }
    if (this.open) {
      this.open.excerpt.push(line)
      if (/---\[ end /.test(line) || this.open.excerpt.length >= MAX_EXCERPT) this.open = undefined
    }
  }
}

/** One paragraph describing what the kernel reported, for an error message. */
export function describeProblems(problems: KernelProblem[]): string {
  return problems
    .map((p) => `kernel ${p.kind}: ${p.line}\n  ${p.excerpt.slice(1, 12).join('\n  ')}`)
    .join('\n')
}
