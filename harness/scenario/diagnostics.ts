/**
 * What a scenario file got wrong: file, line, column, where in the document
 * (`steps[2].link.state`), and one sentence. A file with problems throws one
 * ScenarioError listing all of them, before anything touches the kernel.
 */

export type DocPath = (string | number)[]

export interface Diagnostic {
  file: string
  /** 1-based; 0 when the problem has no place in the file (it cannot be read). */
  line: number
  column: number
  path: DocPath
  message: string
}

export function formatPath(path: DocPath): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p
  return out
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.column}` : d.file
  const at = d.path.length > 0 ? `${formatPath(d.path)}: ` : ''
  return `${where}: ${at}${d.message}`
}

/** How many problems a ScenarioError's message lists; `diagnostics` keeps them all. */
export const SHOWN_DIAGNOSTICS = 50

export class ScenarioError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    const shown = diagnostics.slice(0, SHOWN_DIAGNOSTICS).map(formatDiagnostic)
    if (diagnostics.length > SHOWN_DIAGNOSTICS)
      shown.push(`... and ${diagnostics.length - SHOWN_DIAGNOSTICS} more problem(s)`)
    super(shown.join('\n'))
    this.name = 'ScenarioError'
  }
}

/** Text from the file, quoted and cut to a readable length: a message shows what it found, never all of it. */
export function excerpt(text: string, max = 60): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text)
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = up
    }
  }
  return prev[b.length]!
}

/** The valid word closest to `word`, if it is close enough to be a likely typo. */
export function nearest(word: string, valid: readonly string[]): string | undefined {
  let best: string | undefined
  let bestD = Infinity
  for (const v of valid) {
    const d = editDistance(word.toLowerCase(), v.toLowerCase())
    if (d < bestD) [best, bestD] = [v, d]
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined
}

/** `unknown key "lnk" (did you mean "link"?)`, or the list of valid keys when nothing is close. */
export function unknownKeyMessage(key: string, valid: readonly string[], what = 'key'): string {
  const near = nearest(key, valid)
  if (near) return `unknown ${what} ${excerpt(key)} (did you mean ${JSON.stringify(near)}?)`
  return `unknown ${what} ${excerpt(key)}; expected one of: ${valid.join(', ')}`
}
