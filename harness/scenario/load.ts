/**
 * Read a scenario: YAML (duplicate keys and alias bombs refused), the schema,
 * then the semantic checks; every problem placed at its file, line and
 * column. Nothing here touches the kernel.
 */
import { readFileSync } from 'node:fs'
import { LineCounter, parseDocument } from 'yaml'
import { type Diagnostic, ScenarioError } from './diagnostics.js'
import { problemsFrom } from './issues.js'
import { locate } from './position.js'
import { Scenario } from './schema.js'
import { validateScenario } from './validate.js'

export interface LoadedScenario {
  file: string
  /** The scenario's name (its `name:`, else the file's base name). */
  name: string
  scenario: Scenario
}

/** Parse and validate scenario text; throws ScenarioError with every problem found. */
export function parseScenario(text: string, file = '<scenario>'): LoadedScenario {
  const counter = new LineCounter()
  const doc = parseDocument(text, { lineCounter: counter, uniqueKeys: true, prettyErrors: false })
  if (doc.errors.length > 0)
    throw new ScenarioError(
      doc.errors.map((e) => {
        const pos = counter.linePos(e.pos[0])
        return { file, line: pos.line, column: pos.col, path: [], message: e.message.split('\n')[0]! }
      }),
    )
  let input: unknown
  try {
    input = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    throw new ScenarioError([{ file, line: 1, column: 1, path: [], message: (err as Error).message }])
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new ScenarioError([
      { file, line: 1, column: 1, path: [], message: 'a scenario file is a map with at least `topology:`' },
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

/** Read and validate a scenario file. */
export function loadScenario(file: string): LoadedScenario {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
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
  }
  return parseScenario(text, file)
}
