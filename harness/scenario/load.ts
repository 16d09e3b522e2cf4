/**
 * Read a scenario: YAML (duplicate keys and alias bombs refused), the schema,
 * then the semantic checks; every problem placed at its file, line and
 * column. Nothing here touches the kernel.
 *
 * Untrusted input stays cheap: a file is at most 1 MiB (checked with fstat
 * before reading, and while reading what has no size, such as a pipe), and
 * nested at most 64 levels deep (checked while the YAML is parsed, so a
 * `[[[[...` bomb stops at its 65th bracket, before any recursive code sees
 * it). A scenario needs a handful of levels and a few kilobytes.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { type CST, Composer, type Document, Lexer, LineCounter, Parser, isMap, isScalar, isSeq } from 'yaml'
import { type Diagnostic, type DocPath, ScenarioError, excerpt } from './diagnostics.js'
import { problemsFrom } from './issues.js'
import { locate } from './position.js'
import { Scenario } from './schema.js'
import { validateScenario } from './validate.js'

export const SCENARIO_LIMITS = {
  /** Bytes in a scenario file. */
  maxBytes: 1024 * 1024,
  /** Levels of nesting (maps and lists), aliases expanded. */
  maxDepth: 64,
  /** yaml's bound on alias expansion (billion laughs). */
  maxAliasCount: 100,
}

export interface ScenarioReadOptions {
  /** Refuse input larger than this many bytes (default SCENARIO_LIMITS.maxBytes, 1 MiB). */
  maxBytes?: number
}

export interface LoadedScenario {
  file: string
  /** The scenario's name (its `name:`, else the file's base name). */
  name: string
  scenario: Scenario
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${bytes} bytes`
}

function tooBig(file: string, size: number | undefined, max: number): ScenarioError {
  const what = size === undefined ? 'more than that' : mib(size)
  return new ScenarioError([
    {
      file,
      line: 0,
      column: 0,
      path: [],
      message: `a scenario file is at most ${mib(max)}, this one is ${what} (is it a scenario file?)`,
    },
  ])
}

const tooDeep = (max: number): string =>
  `nested more than ${max} levels deep; a scenario needs a handful (is this a scenario file?)`

/**
 * YAML text to one document, refusing nesting deeper than `maxDepth` as the
 * parser meets it (the parser's stack is the nesting at hand).
 */
function parseYaml(text: string, file: string, counter: LineCounter): Document.Parsed {
  const parser = new Parser(counter.addNewLine)
  counter.addNewLine(0)
  const tokens: CST.Token[] = []
  for (const lexeme of new Lexer().lex(text)) {
    for (const token of parser.next(lexeme)) tokens.push(token)
    // The stack holds the document and every collection open at this point.
    if (parser.stack.length > SCENARIO_LIMITS.maxDepth + 1) {
      const pos = counter.linePos(parser.offset)
      throw new ScenarioError([
        { file, line: pos.line, column: pos.col, path: [], message: tooDeep(SCENARIO_LIMITS.maxDepth) },
      ])
    }
  }
  for (const token of parser.end()) tokens.push(token)
  // yaml's own uniqueKeys check compares every key with every other (40,000
  // keys took 16 s): duplicates are found below, with a set per map.
  const composer = new Composer({ uniqueKeys: false })
  let doc: Document.Parsed | undefined
  const traces = Error.stackTraceLimit
  Error.stackTraceLimit = 0 // yaml makes an Error per problem: garbage makes 500,000 of them
  try {
    for (const d of composer.compose(tokens, true, text.length)) {
      if (doc) {
        const pos = counter.linePos(d.range[0])
        throw new ScenarioError([
          {
            file,
            line: pos.line,
            column: pos.col,
            path: [],
            message: 'a scenario file holds one YAML document; this is a second one (after ---)',
          },
        ])
      }
      doc = d
    }
  } finally {
    Error.stackTraceLimit = traces
  }
  return doc!
}

/** Keys given twice in one map (they would silently overwrite each other), in linear time. */
function duplicateKeys(doc: Document.Parsed, file: string, counter: LineCounter): Diagnostic[] {
  const out: Diagnostic[] = []
  const stack: unknown[] = [doc.contents]
  while (stack.length > 0) {
    const node = stack.pop()
    if (isMap(node)) {
      const seen = new Set<string>()
      for (const pair of node.items) {
        stack.push(pair.key, pair.value)
        if (!isScalar(pair.key)) continue
        // toJS makes every scalar key a string: 1 and "1", null and "null" collide.
        const key = String(pair.key.value)
        if (seen.has(key)) {
          const pos = counter.linePos(pair.key.range?.[0] ?? 0)
          out.push({
            file,
            line: pos.line,
            column: pos.col,
            path: [],
            message: `duplicate key ${excerpt(key)}: a map's keys must be unique`,
          })
        }
        seen.add(key)
      }
    } else if (isSeq(node)) for (const item of node.items) stack.push(item)
  }
  return out
}

/**
 * The path to a value nested deeper than `max` levels (aliases can nest what
 * the text does not), found without recursion; undefined when there is none.
 */
function tooDeepAt(input: unknown, max: number): DocPath | undefined {
  const seen = new Map<object, number>()
  const stack: { value: unknown; path: DocPath }[] = [{ value: input, path: [] }]
  while (stack.length > 0) {
    const { value, path } = stack.pop()!
    if (value === null || typeof value !== 'object') continue
    if (path.length >= max) return path
    // A value shared through aliases: only walk it again from deeper down.
    if ((seen.get(value) ?? -1) >= path.length) continue
    seen.set(value, path.length)
    const entries: [string | number, unknown][] = Array.isArray(value)
      ? value.map((v, i) => [i, v])
      : Object.entries(value)
    for (const [k, v] of entries) stack.push({ value: v, path: [...path, k] })
  }
  return undefined
}

/** Parse and validate scenario text; throws ScenarioError with every problem found. */
export function parseScenario(
  text: string,
  file = '<scenario>',
  options: ScenarioReadOptions = {},
): LoadedScenario {
  const maxBytes = options.maxBytes ?? SCENARIO_LIMITS.maxBytes
  // A UTF-16 length above 4 bytes per unit cannot fit; below that, count the bytes.
  if (text.length > maxBytes || Buffer.byteLength(text) > maxBytes)
    throw tooBig(file, Buffer.byteLength(text), maxBytes)
  const counter = new LineCounter()
  const doc = parseYaml(text, file, counter)
  const syntax: Diagnostic[] = doc.errors.map((e) => {
    const pos = counter.linePos(e.pos[0])
    return { file, line: pos.line, column: pos.col, path: [], message: e.message.split('\n')[0]! }
  })
  for (const d of duplicateKeys(doc, file, counter)) syntax.push(d)
  if (syntax.length > 0)
    throw new ScenarioError(syntax.sort((a, b) => a.line - b.line || a.column - b.column))
  let input: unknown
  try {
    input = doc.toJS({ maxAliasCount: SCENARIO_LIMITS.maxAliasCount })
  } catch (err) {
    throw new ScenarioError([{ file, line: 1, column: 1, path: [], message: (err as Error).message }])
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new ScenarioError([
      { file, line: 1, column: 1, path: [], message: 'a scenario file is a map with at least `topology:`' },
    ])
  const deep = tooDeepAt(input, SCENARIO_LIMITS.maxDepth)
  if (deep)
    throw new ScenarioError([
      {
        file,
        ...locate(doc, counter, deep),
        path: deep.slice(0, 8),
        message: `${tooDeep(SCENARIO_LIMITS.maxDepth)} (through aliases)`,
      },
    ])
  const parsed = Scenario.safeParse(input)
  const problems = parsed.success
    ? validateScenario(parsed.data)
    : problemsFrom(Scenario, input, parsed.error.issues)
  if (problems.length > 0) {
    const diagnostics: Diagnostic[] = problems.map((p) => ({
      file,
      ...locate(doc, counter, p.path, p.key),
      path: p.path,
      message: p.message,
    }))
    diagnostics.sort((a, b) => a.line - b.line || a.column - b.column)
    throw new ScenarioError(diagnostics)
  }
  const scenario = parsed.data!
  const base = file
    .split('/')
    .pop()!
    .replace(/\.ya?ml$/, '')
  return { file, name: scenario.name ?? base, scenario }
}

/**
 * The text of an open file of at most `max` bytes. fstat first: a regular
 * file larger than the limit is refused unread.
 */
function readBounded(fd: number, file: string, max: number): string {
  const st = fstatSync(fd)
  if (st.isDirectory())
    throw new ScenarioError([
      { file, line: 0, column: 0, path: [], message: 'it is a directory, not a scenario file' },
    ])
  if (st.isFile() && st.size > max) throw tooBig(file, st.size, max)
  // A pipe or device has no size: read until EOF, but never more than max + 1 bytes.
  const buf = Buffer.alloc(Math.min(max + 1, st.isFile() ? st.size + 1 : max + 1))
  let n = 0
  while (n < buf.length) {
    const got = readSync(fd, buf, n, buf.length - n, null)
    if (got === 0) break
    n += got
  }
  if (n > max) throw tooBig(file, st.isFile() ? st.size : undefined, max)
  return buf.toString('utf8', 0, n)
}

/** Read and validate a scenario file. */
export function loadScenario(file: string, options: ScenarioReadOptions = {}): LoadedScenario {
  const max = options.maxBytes ?? SCENARIO_LIMITS.maxBytes
  let text: string
  let fd: number | undefined
  try {
    fd = openSync(file, 'r')
    text = readBounded(fd, file, max)
  } catch (err) {
    if (err instanceof ScenarioError) throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new ScenarioError([
      {
        file,
        line: 0,
        column: 0,
        path: [],
        message: code === 'ENOENT' ? 'no such file' : `cannot read it: ${(err as Error).message}`,
      },
    ])
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
  return parseScenario(text, file, options)
}
