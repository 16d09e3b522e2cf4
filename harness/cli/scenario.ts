/**
 * The scenario commands: `nslab run`, `up`, `down`, `exec`, `monitor`,
 * `graph`, `schema`. Exit codes: 0 every expectation held, 1 one failed,
 * 2 bad input (the scenario file), 3 a missing kernel feature or privilege.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Command } from 'commander'
import { LabNotFoundError, listOwners, netnsName, recordNamespaces, removeLab } from '../lab/index.js'
import { exec, listNetns, openNetns } from '../netns/index.js'
import { describeEvent, subscribe } from '../netlink/index.js'
import {
  ScenarioError,
  exitCodeOf,
  formatItem,
  formatSummary,
  loadScenario,
  runScenario,
  scenarioJsonSchema,
  scenarioTopology,
  toJson,
  toJunit,
  type LoadedScenario,
  type ScenarioReport,
} from '../scenario/index.js'
import type { LinkStatus, TraceTopology } from '../trace/data.js'
import { renderSvg, topologyDot, topologyMermaid } from '../trace/graph.js'
import { readLabTopology } from '../trace/kernel-topology.js'
import { outputDir, outputFile } from './paths.js'
import { LAB_CAPABILITIES, NETNS_CAPABILITIES, requireCapabilities } from './privilege.js'
import { removalReport } from './removal.js'

function write(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text)
}

/** Load every file first: one bad file stops the run before any lab is built. */
function loadAll(files: string[]): LoadedScenario[] {
  const loaded: LoadedScenario[] = []
  const problems: ScenarioError[] = []
  for (const f of files) {
    try {
      loaded.push(loadScenario(f))
    } catch (err) {
      if (err instanceof ScenarioError) problems.push(err)
      else throw err
    }
  }
  if (problems.length) throw new ScenarioError(problems.flatMap((p) => p.diagnostics))
  return loaded
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function labOf(id: string): string {
  if (!listOwners().some((o) => o.id === id)) throw new LabNotFoundError(id)
  return id
}

export function registerScenarioCommands(program: Command): void {
  program
    .command('run <files...>')
    .description('run scenario files; exit 0 only when every expectation holds')
    .option('--keep', 'leave a failed lab up for inspection (prints how to enter it; remove with nslab down)')
    .option('--json <file>', 'also write the results as JSON', outputFile)
    .option('--junit <file>', 'also write the results as JUnit XML', outputFile)
    .option(
      '--capture <dir>',
      "where to write a failed scenario's packets (pcapng; default reports/nslab, or $NSLAB_ARTIFACTS_DIR)",
      outputDir,
    )
    .option(
      '--trace <dir>',
      'the same as --capture: the trace page and the pcapng go there together',
      outputDir,
    )
    .option('--capture-always', 'write the packets and trace of every scenario, also those that pass')
    .option('--no-capture', 'capture no packets')
    .option('--color', 'colour the report (default: only on a terminal)')
    .option('--no-color', 'never colour the report')
    .addHelpText(
      'after',
      `
Exit codes: 0 every expectation held, 1 an expectation or step failed,
2 a scenario file is invalid, 3 a kernel feature or privilege is missing.

Packets and trace: every lab link is captured in memory and the lab keeps a
timeline; a scenario that fails (or every one, with --capture-always or the
file's \`capture: always\`) gets a pcapng with node names and tunnel keys and
a trace page (topology, timeline, packets, state; open it in a browser),
both named in the report.

Examples:
  nslab run scenarios/nat-private-network.yaml
  nslab run scenarios/*.yaml --junit reports/scenarios.xml --capture reports/packets
  nslab run --keep scenarios/link-flap.yaml     # then: nslab exec <lab> <host> -- ip -j addr`,
    )
    .action(
      async (
        files: string[],
        opts: {
          keep?: boolean
          json?: string
          junit?: string
          color?: boolean
          capture?: string | boolean
          trace?: string
          captureAlways?: boolean
        },
      ) => {
        const loaded = loadAll(files)
        requireCapabilities('nslab run', LAB_CAPABILITIES)
        const color = opts.color ?? process.stdout.isTTY === true
        const controller = new AbortController()
        const onSignal = (): void => controller.abort()
        process.once('SIGINT', onSignal)
        process.once('SIGTERM', onSignal)
        const reports: ScenarioReport[] = []
        try {
          for (const [i, l] of loaded.entries()) {
            if (controller.signal.aborted) break
            console.log(`${loaded.length > 1 ? `[${i + 1}/${loaded.length}] ` : ''}${l.name} (${l.file})`)
            const r = await runScenario(l, {
              keep: opts.keep ? 'on-failure' : 'never',
              signal: controller.signal,
              onProgress: (item) => console.log(formatItem(item, color)),
              ...(opts.capture === false
                ? {}
                : {
                    capture: {
                      mode: opts.captureAlways ? 'always' : 'on-failure',
                      dir:
                        opts.trace ??
                        (typeof opts.capture === 'string'
                          ? opts.capture
                          : (process.env.NSLAB_ARTIFACTS_DIR ?? join('reports', 'nslab'))),
                    },
                  }),
            })
            console.log(formatSummary(r, color))
            reports.push(r)
          }
        } finally {
          process.off('SIGINT', onSignal)
          process.off('SIGTERM', onSignal)
        }
        if (opts.json) write(opts.json, toJson(reports))
        if (opts.junit) write(opts.junit, toJunit(reports))
        const passed = reports.filter((r) => r.status === 'passed').length
        if (reports.length > 1) console.log(`\n${passed} of ${reports.length} scenario(s) passed`)
        process.exitCode = controller.signal.aborted ? 130 : exitCodeOf(reports)
      },
    )

  program
    .command('up <file>')
    .description("build a scenario's lab (and run its steps) and leave it up; prints how to enter each host")
    .addHelpText(
      'after',
      '\nExample:\n  nslab up scenarios/nat-private-network.yaml && nslab ls && nslab down <lab>',
    )
    .action(async (file: string) => {
      const l = loadAll([file])[0]!
      requireCapabilities('nslab up', LAB_CAPABILITIES)
      const r = await runScenario(
        { ...l, scenario: { ...l.scenario, expect: [] } },
        {
          keep: 'always',
          onProgress: (item) => console.log(formatItem(item, process.stdout.isTTY === true)),
        },
      )
      console.log(formatSummary(r))
      // The lab and its processes outlive this command on purpose; do not
      // wait for the helpers that started those processes.
      process.exit(exitCodeOf([r]))
    })

  program
    .command('down <lab...>')
    .description('remove labs left up by `nslab up` or `nslab run --keep` (ids from nslab ls)')
    .option('--force', 'also remove a lab whose owning process is still running it')
    .addHelpText(
      'after',
      '\nA lab that a live process is running (not left up on purpose) is refused unless --force:\nits owner would find its namespaces gone under it.\n\nExample:\n  nslab ls && nslab down 3f2a',
    )
    .action((ids: string[], opts: { force?: boolean }) => {
      requireCapabilities('nslab down', NETNS_CAPABILITIES)
      for (const id of ids) {
        const r = removeLab(id, { force: opts.force })
        // Say what is true afterwards, not what was meant: read the namespaces back.
        const { out, err, code } = removalReport(r, listNetns())
        for (const line of out) console.log(line)
        for (const line of err) console.error(line)
        if (code > Number(process.exitCode ?? 0)) process.exitCode = code
      }
    })

  program
    .command('exec <lab> <host> <argv...>')
    .description('run a program in a host of a running lab (like ip netns exec)')
    .addHelpText('after', '\nExample:\n  nslab exec 3f2a a -- ip -j route')
    .action(async (lab: string, host: string, argv: string[]) => {
      requireCapabilities('nslab exec', NETNS_CAPABILITIES)
      const r = await exec(netnsName(labOf(lab), host), argv)
      process.stdout.write(r.stdout)
      process.stderr.write(r.stderr)
      process.exitCode = r.code ?? 1
    })

  program
    .command('monitor [lab]')
    .description('print netlink events (links, addresses, routes, neighbours) across a lab as they happen')
    .addHelpText('after', '\nExample:\n  nslab monitor 3f2a')
    .action(async (lab?: string) => {
      requireCapabilities('nslab monitor', NETNS_CAPABILITIES)
      const owners = listOwners().filter((o) => lab === undefined || o.id === labOf(lab))
      const present = listNetns()
      const names = owners.flatMap((o) => recordNamespaces(o, present))
      if (names.length === 0) throw new LabNotFoundError(lab ?? '(any)')
      const subs = names.map((name) => {
        using ns = openNetns(name)
        return { name, sub: subscribe(ns, ['link', 'addr', 'route', 'neigh']) }
      })
      console.log(`watching ${names.length} namespace(s): ${names.join(' ')} (Ctrl-C to stop)`)
      await Promise.all(
        subs.map(async ({ name, sub }) => {
          for await (const ev of sub) console.log(`${name} ${describeEvent(ev)}`)
        }),
      )
    })

  program
    .command('graph <target>')
    .description(
      "draw a scenario's topology (FILE) or a running lab's (LAB, an id from nslab ls): Mermaid (default), DOT or SVG",
    )
    .option('-f, --format <format>', 'mermaid | dot | svg', 'mermaid')
    .option('-o, --output <file>', 'write to a file instead of stdout', outputFile)
    .option(
      '--watch',
      'LAB only: read the lab again every second and draw it again when it changed (Ctrl-C stops)',
    )
    .addHelpText(
      'after',
      `
A FILE (an existing path) is drawn before anything runs: addresses as the
lab's address plan would give them, tunnels dashed, NAT on the router's
outside link. A LAB is read from the kernel: its namespaces, veth pairs,
addresses, impairments (netem, tbf), NAT and tunnels; links that are down
are drawn red and dashed. SVG comes from Graphviz (dot, left to right);
every element has an id: node-<name>, link-<a>--<b>#<n>, tunnel-<name>.

Examples:
  nslab graph scenarios/nat-private-network.yaml -f svg -o nat.svg
  nslab graph 3f2a -f svg -o lab.svg --watch`,
    )
    .action(async (target: string, opts: { format: string; output?: string; watch?: boolean }) => {
      const format = opts.format
      if (!['mermaid', 'dot', 'svg'].includes(format))
        throw new TypeError(`unknown format ${JSON.stringify(format)}: use mermaid, dot or svg`)
      const draw = async (t: TraceTopology, linkState?: Record<string, LinkStatus>): Promise<string> =>
        format === 'mermaid'
          ? topologyMermaid(t, { linkState })
          : format === 'dot'
            ? topologyDot(t, { linkState })
            : (await renderSvg(topologyDot(t, { linkState }))).trimEnd() + '\n'
      const put = (text: string): void => {
        if (opts.output) write(opts.output, text)
        else process.stdout.write(text)
      }
      if (isFile(target)) {
        if (opts.watch) throw new TypeError('--watch draws a running lab (LAB), not a scenario file')
        put(await draw(scenarioTopology(loadAll([target])[0]!.scenario)))
        return
      }
      if (!/^[a-z0-9]{1,8}$/.test(target))
        throw new TypeError(`${JSON.stringify(target)} is neither a file nor a lab id (see nslab ls)`)
      requireCapabilities('nslab graph', NETNS_CAPABILITIES)
      const once = async (): Promise<string> => {
        const k = await readLabTopology(target)
        return draw(k.topology, k.linkState)
      }
      let last = await once()
      put(last)
      if (!opts.watch) return
      const controller = new AbortController()
      const stop = (): void => controller.abort()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      try {
        while (!controller.signal.aborted) {
          await new Promise((r) => setTimeout(r, 1000))
          if (controller.signal.aborted) break
          let next: string
          try {
            next = await once()
          } catch (err) {
            if (err instanceof LabNotFoundError) {
              console.error(`lab ${target} is gone`)
              break
            }
            throw err
          }
          if (next !== last) put((last = next))
        }
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
      }
    })

  program
    .command('schema')
    .description('print the JSON Schema of scenario files (for editors)')
    .addHelpText(
      'after',
      '\nExample:\n  nslab schema > scenario.schema.json   # then in a file: # yaml-language-server: $schema=./scenario.schema.json',
    )
    .action(() => {
      process.stdout.write(JSON.stringify(scenarioJsonSchema(), null, 2) + '\n')
    })
}
