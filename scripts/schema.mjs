// Write scenarios/scenario.schema.json from the zod schemas (the single source of truth).
// The test suite fails when the committed file differs from what this prints.
import { writeFileSync } from 'node:fs'
import { tsImport } from 'tsx/esm/api'

const { scenarioJsonSchema } = await tsImport('../harness/scenario/schema.ts', import.meta.url)
writeFileSync(
  new URL('../scenarios/scenario.schema.json', import.meta.url),
  JSON.stringify(scenarioJsonSchema(), null, 2) + '\n',
)
