export {
  SCENARIO_LIMITS,
  loadScenario,
  parseScenario,
  type LoadedScenario,
  type ScenarioReadOptions,
} from './load.js'
export { ScenarioError, formatDiagnostic, type Diagnostic } from './diagnostics.js'
export { runScenario, exitCodeOf, type ScenarioReport, type ItemReport, type RunOptions } from './runner.js'
export { formatItem, formatReport, formatSummary, toJson, toJunit } from './report.js'
export { scenarioJsonSchema, type Scenario, type Step, type Expectation } from './schema.js'
export { scenarioTopology, toMermaid, toDot, toSvg } from './graph.js'
