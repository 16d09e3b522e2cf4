// nslab against `ip` (one process per command), `ip -batch`, and a floor of
// raw syscalls + batched rtnetlink (bench/floor.c), measured in one run.
//
//   npm run bench        (runs this inside a sealed namespace, as root)
//
// Prints a table per scenario and a summary, and writes reports/bench.json.
// Every namespace it makes is named nslab-bench-<pid>-...; all of them are
// deleted at the end, also on error or Ctrl-C, and the run fails loudly if
// `ip netns list` still shows one.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Netlink } from '../harness/netlink/index.js'
import { NETNS_RUN_DIR, addNetns, deleteNetns, listNetns, openNetns } from '../harness/netns/index.js'
import { type Floor, buildFloor, runFloor } from './floor.js'
import { checkVethEnd, ip, ipNetnsList, ipVersion } from './iproute2.js'
import { type Summary, fmtMs, fmtRatio, ratio, summarize } from './stats.js'

const PREFIX = `nslab-bench-${process.pid}-`
const WARMUP = 1
const ITERATIONS = { netns: 100, veth: 40, many: 8 }
const MANY = 100
/**
 * Pauses: after each variant's block (it deleted namespaces, and the kernel
 * tears them down asynchronously in cleanup_net, under rtnl_lock, which the
 * next block's netlink work would wait on), and after making the veth
 * scenario's namespaces. With 300 ms instead of 1500 the veth medians of the
 * ip variants came out twice as high and the spreads wide.
 */
const SETTLE_MS = { block: 1500, afterSetup: 500 }
const TARGET = 1.5
const REPORT = fileURLToPath(new URL('../reports/bench.json', import.meta.url))

const VETH = { a: 'bench-a', b: 'bench-b', cidrA: '198.18.0.1/30', cidrB: '198.18.0.2/30' }

type VariantId = 'nslab' | 'nslab-pipelined' | 'ip' | 'ip-batch' | 'floor' | 'floor-seq'

interface Variant {
  id: VariantId
  label: string
  /** What one timed iteration does. */
  does: string
  /** Runs `count` iterations (the first WARMUP are warm-up) and returns every iteration's ms. */
  run(count: number): Promise<number[]>
  /** Why it is not measured, if it is not. */
  skip?: string
}

interface Scenario {
  id: string
  title: string
  iterations: number
  timed: string
  variants: Variant[]
}

interface VariantResult {
  label: string
  does: string
  summary?: Summary
  samples?: number[]
  skipped?: string
}

interface ScenarioResult {
  id: string
  title: string
  iterations: number
  warmup: number
  timed: string
  variants: Partial<Record<VariantId, VariantResult>>
  ratios: Record<string, number | undefined>
  /** nslab median <= TARGET x floor median; null when the floor was not measured. */
  withinTargetOfFloor: boolean | null
}

// ---------------------------------------------------------------- helpers

function time(fn: () => void): number {
  const t0 = performance.now()
  fn()
  return performance.now() - t0
}

async function timeAsync(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)

/** Delete every namespace of this run that still exists under /run/netns; returns their names. */
function sweep(prefix = PREFIX): string[] {
  const mine = listNetns().filter((n) => n.startsWith(prefix))
  for (const n of mine) {
    try {
      deleteNetns(n)
    } catch (err) {
      console.error(`bench: could not delete ${n}: ${(err as Error).message}`)
    }
  }
  return mine
}

/** A variant must leave none of its namespaces behind (that would also make it look cheaper). */
function expectNoneLeft(prefix: string, who: string): void {
  const left = sweep(prefix)
  if (left.length > 0) throw new Error(`${who} left ${left.length} namespace(s) behind: ${left.join(', ')}`)
}

let workDir = ''
let floor: Floor = { available: false, reason: 'not built yet' }

function floorVariant(does: string, args: (count: number) => string[]): Variant {
  return {
    id: 'floor',
    label: 'floor (C, raw syscalls)',
    does,
    skip: floor.available ? undefined : floor.reason,
    run: async (count) => (floor.available ? runFloor(floor.exe, args(count)) : []),
  }
}

// ---------------------------------------------------------- 1. add + delete

function scenarioNetns(): Scenario {
  const p = (tag: string): string => `${PREFIX}1${tag}-`
  return {
    id: 'netns-add-delete',
    title: 'namespace add + delete (one namespace)',
    iterations: ITERATIONS.netns,
    timed: 'create one named namespace, then delete it',
    variants: [
      {
        id: 'nslab',
        label: 'nslab',
        does: 'addNetns(name); deleteNetns(name)',
        run: async (count) =>
          range(count).map((i) =>
            time(() => {
              addNetns(`${p('n')}${i}`)
              deleteNetns(`${p('n')}${i}`)
            }),
          ),
      },
      {
        id: 'ip',
        label: 'ip (one process per command)',
        does: 'ip netns add NAME; ip netns delete NAME',
        run: async (count) =>
          range(count).map((i) =>
            time(() => {
              ip(['netns', 'add', `${p('i')}${i}`])
              ip(['netns', 'delete', `${p('i')}${i}`])
            }),
          ),
      },
      {
        id: 'ip-batch',
        label: 'ip -batch',
        does: 'ip -batch FILE (netns add NAME / netns delete NAME)',
        run: async (count) => {
          const files = range(count).map((i) => {
            const f = join(workDir, `netns-${i}.batch`)
            writeFileSync(f, `netns add ${p('b')}${i}\nnetns delete ${p('b')}${i}\n`)
            return f
          })
          return files.map((f) => time(() => ip(['-batch', f])))
        },
      },
      floorVariant('open(O_CREAT|O_EXCL), unshare, bind mount, setns back; umount2, unlink', (count) => [
        'netns',
        String(count),
        p('f'),
        NETNS_RUN_DIR,
      ]),
    ],
  }
}

// ------------------------------------------------------------- 2. veth pair

/** Make the namespace pairs PREFIX<a|b><i> a veth variant works in (not timed). */
function makePairs(prefix: string, count: number): void {
  for (const i of range(count)) {
    addNetns(`${prefix}a${i}`)
    addNetns(`${prefix}b${i}`)
  }
}

/** Check the last pair with `ip -n NS -j addr`: the variant provably did the whole job. */
function verifyPair(prefix: string, i: number, who: string): void {
  const problems = [
    ...checkVethEnd(`${prefix}a${i}`, VETH.a, VETH.cidrA),
    ...checkVethEnd(`${prefix}b${i}`, VETH.b, VETH.cidrB),
  ]
  if (problems.length > 0) throw new Error(`${who} did not build the veth pair: ${problems.join('; ')}`)
}

async function nslabVeth(a: string, b: string, pipelined: boolean): Promise<void> {
  using nsA = openNetns(a)
  using nsB = openNetns(b)
  using nlA = Netlink.open(nsA)
  using nlB = Netlink.open(nsB)
  await nlA.createVeth({
    name: VETH.a,
    netns: { fd: nsA.fd },
    peer: { name: VETH.b, netns: { fd: nsB.fd } },
  })
  if (!pipelined) {
    const ia = (await nlA.getLink(VETH.a)).index
    const ib = (await nlB.getLink(VETH.b)).index
    await nlA.addAddress(ia, VETH.cidrA)
    await nlB.addAddress(ib, VETH.cidrB)
    await nlA.setLink(ia, { up: true })
    await nlA.setLink('lo', { up: true })
    await nlB.setLink(ib, { up: true })
    await nlB.setLink('lo', { up: true })
    return
  }
  // Same requests, in flight together where they do not depend on each other.
  const [la, lb] = await Promise.all([
    nlA.getLink(VETH.a),
    nlB.getLink(VETH.b),
    nlA.setLink(VETH.a, { up: true }),
    nlA.setLink('lo', { up: true }),
    nlB.setLink(VETH.b, { up: true }),
    nlB.setLink('lo', { up: true }),
  ])
  await Promise.all([nlA.addAddress(la.index, VETH.cidrA), nlB.addAddress(lb.index, VETH.cidrB)])
}

/** A veth variant: fresh namespace pairs made before timing, the last pair checked, all deleted after. */
function vethVariant(
  v: Omit<Variant, 'run'>,
  tag: string,
  body: (prefix: string, count: number) => Promise<number[]>,
): Variant {
  const prefix = `${PREFIX}2${tag}-`
  return {
    ...v,
    run: async (count) => {
      try {
        makePairs(prefix, count)
        await sleep(SETTLE_MS.afterSetup)
        const ms = await body(prefix, count)
        verifyPair(prefix, count - 1, v.label)
        return ms
      } finally {
        sweep(prefix)
      }
    },
  }
}

/**
 * The ip -batch variant needs one process per namespace: iproute2 (6.1 here)
 * takes no -n/-netns on a batch line ("Object "-n" is unknown"), and an
 * address can only be added from inside its namespace, so it is
 * `ip -n A -batch` (the pair, A's side) then `ip -n B -batch` (B's side).
 */
function scenarioVeth(): Scenario {
  const ipLines = (prefix: string, i: number) => {
    const [a, b] = [`${prefix}a${i}`, `${prefix}b${i}`]
    return {
      a,
      b,
      add: `link add ${VETH.a} netns ${a} type veth peer name ${VETH.b} netns ${b}`,
      inA: [`addr add ${VETH.cidrA} dev ${VETH.a}`, `link set ${VETH.a} up`, 'link set lo up'],
      inB: [`addr add ${VETH.cidrB} dev ${VETH.b}`, `link set ${VETH.b} up`, 'link set lo up'],
    }
  }
  return {
    id: 'veth-pair',
    title: 'veth pair across two namespaces, IPv4 on each end, ends + lo up',
    iterations: ITERATIONS.veth,
    timed: 'the link work only, given two fresh named namespaces (made before timing, deleted after)',
    variants: [
      vethVariant(
        {
          id: 'nslab',
          label: 'nslab',
          does: 'openNetns x2, Netlink.open x2, createVeth, getLink x2, addAddress x2, setLink up x4 (each awaited)',
        },
        'n',
        async (prefix, count) => {
          const ms: number[] = []
          for (const i of range(count))
            ms.push(await timeAsync(() => nslabVeth(`${prefix}a${i}`, `${prefix}b${i}`, false)))
          return ms
        },
      ),
      vethVariant(
        {
          id: 'nslab-pipelined',
          label: 'nslab, requests pipelined',
          does: 'the same calls, independent ones in flight together (Promise.all): 3 round trips',
        },
        'p',
        async (prefix, count) => {
          const ms: number[] = []
          for (const i of range(count))
            ms.push(await timeAsync(() => nslabVeth(`${prefix}a${i}`, `${prefix}b${i}`, true)))
          return ms
        },
      ),
      vethVariant(
        {
          id: 'ip',
          label: 'ip (one process per command)',
          does: '7 processes: ip link add ... netns A ... peer ... netns B; ip -n NS addr add x2; ip -n NS link set up x4',
        },
        'i',
        async (prefix, count) =>
          range(count).map((i) => {
            const l = ipLines(prefix, i)
            const cmds = [
              l.add.split(' '),
              ...l.inA.map((c) => ['-n', l.a, ...c.split(' ')]),
              ...l.inB.map((c) => ['-n', l.b, ...c.split(' ')]),
            ]
            return time(() => {
              for (const c of cmds) ip(c)
            })
          }),
      ),
      vethVariant(
        {
          id: 'ip-batch',
          label: 'ip -batch (one per namespace)',
          does: '2 processes: ip -n A -batch FILE (link add + A side), ip -n B -batch FILE (B side)',
        },
        'b',
        async (prefix, count) =>
          range(count)
            .map((i) => {
              const l = ipLines(prefix, i)
              const fa = join(workDir, `veth-${i}-a.batch`)
              const fb = join(workDir, `veth-${i}-b.batch`)
              writeFileSync(fa, [l.add, ...l.inA, ''].join('\n'))
              writeFileSync(fb, [...l.inB, ''].join('\n'))
              return { ...l, fa, fb }
            })
            .map((l) =>
              time(() => {
                ip(['-n', l.a, '-batch', l.fa])
                ip(['-n', l.b, '-batch', l.fb])
              }),
            ),
      ),
      vethVariant(
        {
          id: 'floor',
          label: 'floor (C, raw syscalls)',
          does: 'open x2, setns + socket x2, one datagram of 4 requests to A and one of 3 to B (NLM_F_ACK each), 7 ACKs read',
          skip: floor.available ? undefined : floor.reason,
        },
        'f',
        async (prefix, count) =>
          floor.available ? runFloor(floor.exe, ['veth', String(count), prefix, NETNS_RUN_DIR]) : [],
      ),
      vethVariant(
        {
          id: 'floor-seq',
          label: 'floor, unbatched (C)',
          does: 'the same 7 requests, each sent alone and its ACK read before the next (what batching buys)',
          skip: floor.available ? undefined : floor.reason,
        },
        's',
        async (prefix, count) =>
          floor.available ? runFloor(floor.exe, ['veth-seq', String(count), prefix, NETNS_RUN_DIR]) : [],
      ),
    ],
  }
}

// ------------------------------------------------------ 3. 100 namespaces

function scenarioMany(): Scenario {
  const p = (tag: string, i: number): string => `${PREFIX}3${tag}-${i}-`
  const names = (tag: string, i: number): string[] => range(MANY).map((j) => `${p(tag, i)}${j}`)
  return {
    id: 'netns-100',
    title: `${MANY}-namespace build and teardown`,
    iterations: ITERATIONS.many,
    timed: `create ${MANY} named namespaces, then delete them all`,
    variants: [
      {
        id: 'nslab',
        label: 'nslab',
        does: `addNetns x${MANY}, deleteNetns x${MANY}`,
        run: async (count) =>
          range(count).map((i) => {
            const ns = names('n', i)
            return time(() => {
              for (const n of ns) addNetns(n)
              for (const n of ns) deleteNetns(n)
            })
          }),
      },
      {
        id: 'ip',
        label: 'ip (one process per command)',
        does: `${2 * MANY} processes: ip netns add x${MANY}, ip netns delete x${MANY}`,
        run: async (count) =>
          range(count).map((i) => {
            const ns = names('i', i)
            return time(() => {
              for (const n of ns) ip(['netns', 'add', n])
              for (const n of ns) ip(['netns', 'delete', n])
            })
          }),
      },
      {
        id: 'ip-batch',
        label: 'ip -batch',
        does: `one process, ${2 * MANY} lines`,
        run: async (count) => {
          const files = range(count).map((i) => {
            const ns = names('b', i)
            const f = join(workDir, `many-${i}.batch`)
            writeFileSync(
              f,
              [...ns.map((n) => `netns add ${n}`), ...ns.map((n) => `netns delete ${n}`), ''].join('\n'),
            )
            return f
          })
          return files.map((f) => time(() => ip(['-batch', f])))
        },
      },
      floorVariant(`the same syscalls as scenario 1, ${MANY} adds then ${MANY} deletes`, (count) => [
        'many',
        String(count),
        `${PREFIX}3f-`,
        NETNS_RUN_DIR,
        String(MANY),
      ]),
    ],
  }
}

// ------------------------------------------------------------- the driver

async function runScenario(s: Scenario, settle: number): Promise<ScenarioResult> {
  const variants: ScenarioResult['variants'] = {}
  for (const v of s.variants) {
    if (v.skip) {
      variants[v.id] = { label: v.label, does: v.does, skipped: v.skip }
      continue
    }
    let all: number[]
    try {
      all = await v.run(WARMUP + s.iterations)
    } finally {
      await sleep(settle)
    }
    expectNoneLeft(PREFIX, `${s.id}/${v.id}`)
    const samples = all.slice(WARMUP)
    variants[v.id] = { label: v.label, does: v.does, summary: summarize(samples), samples }
  }
  const m = (id: VariantId): Summary | undefined => variants[id]?.summary
  const nslabFloor = ratio(m('nslab'), m('floor'))
  return {
    id: s.id,
    title: s.title,
    iterations: s.iterations,
    warmup: WARMUP,
    timed: s.timed,
    variants,
    ratios: {
      'ip/nslab': ratio(m('ip'), m('nslab')),
      'ip-batch/nslab': ratio(m('ip-batch'), m('nslab')),
      'nslab/floor': nslabFloor,
      ...(m('nslab-pipelined') ? { 'nslab-pipelined/floor': ratio(m('nslab-pipelined'), m('floor')) } : {}),
      ...(m('floor-seq') ? { 'nslab/floor-unbatched': ratio(m('nslab'), m('floor-seq')) } : {}),
    },
    withinTargetOfFloor: nslabFloor === undefined ? null : nslabFloor <= TARGET,
  }
}

function table(rows: string[][], right: boolean[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)))
  return rows
    .map((r) =>
      r
        .map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

function printScenario(n: number, s: Scenario, r: ScenarioResult): void {
  console.log(`\n${n}. ${r.title}: ${r.iterations} iterations after ${r.warmup} warm-up`)
  console.log(`   timed: ${r.timed}`)
  const rows = [['   variant', 'median ms', 'p10 .. p90 ms', 'min .. max ms']]
  const notes: string[] = []
  for (const v of s.variants) {
    const res = r.variants[v.id]
    if (!res) continue
    const x = res.summary
    rows.push(
      x
        ? [
            `   ${res.label}`,
            fmtMs(x.median),
            `${fmtMs(x.p10)} .. ${fmtMs(x.p90)}`,
            `${fmtMs(x.min)} .. ${fmtMs(x.max)}`,
          ]
        : [`   ${res.label}`, 'skipped', '-', '-'],
    )
    notes.push(`     ${res.label}: ${x ? res.does : `skipped: ${res.skipped}`}`)
  }
  console.log(table(rows, [false, true, true, true]))
  const ratios = Object.entries(r.ratios)
    .map(([k, v]) => `${k} ${fmtRatio(v)}`)
    .join('   ')
  const within = r.withinTargetOfFloor === null ? 'n/a (no floor)' : r.withinTargetOfFloor ? 'yes' : 'no'
  console.log(`   ${ratios}`)
  console.log(`   within ${TARGET}x of floor: ${within}`)
  console.log('   one iteration:')
  for (const n of notes) console.log(n)
}

function printSummary(results: ScenarioResult[]): void {
  const med = (r: ScenarioResult, id: VariantId): string => {
    const x = r.variants[id]?.summary
    return x ? fmtMs(x.median) : '-'
  }
  const rows = [
    [
      'scenario (median ms)',
      'nslab',
      'ip',
      'ip -batch',
      'floor',
      'ip/nslab',
      'ip-batch/nslab',
      'nslab/floor',
      `within ${TARGET}x`,
    ],
    ...results.map((r) => [
      r.id,
      med(r, 'nslab'),
      med(r, 'ip'),
      med(r, 'ip-batch'),
      med(r, 'floor'),
      fmtRatio(r.ratios['ip/nslab']),
      fmtRatio(r.ratios['ip-batch/nslab']),
      fmtRatio(r.ratios['nslab/floor']),
      r.withinTargetOfFloor === null ? 'n/a' : r.withinTargetOfFloor ? 'yes' : 'no',
    ]),
  ]
  console.log('\nsummary')
  console.log(table(rows, [false, true, true, true, true, true, true, true, true]))
}

function onSignal(sig: NodeJS.Signals): void {
  console.error(`\nbench: ${sig}, cleaning up`)
  sweep()
  if (workDir) rmSync(workDir, { recursive: true, force: true })
  process.exit(sig === 'SIGINT' ? 130 : 143)
}

async function main(): Promise<number> {
  const started = performance.now()
  const ipv = ipVersion()
  if (!ipv) throw new Error('`ip` (iproute2) is missing: apt-get install -y iproute2')
  workDir = mkdtempSync(join(os.tmpdir(), 'nslab-bench-'))
  floor = buildFloor(workDir)
  const machine = {
    kernel: os.release(),
    node: process.version,
    iproute2: ipv,
    compiler: floor.available ? floor.compiler : null,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    loadavgBefore: os.loadavg(),
  }
  console.log(
    `nslab bench: kernel ${machine.kernel}, node ${machine.node}, ${machine.iproute2}, ${machine.cpus} x ${machine.cpuModel}`,
  )
  console.log(`load average before: ${machine.loadavgBefore.map((l) => l.toFixed(2)).join(' ')}`)
  console.log(
    floor.available
      ? `floor: bench/floor.c compiled with ${floor.compiler}`
      : `floor: skipped (${floor.reason})`,
  )

  const scenarios: Scenario[] = [scenarioNetns(), scenarioVeth(), scenarioMany()]
  const results: ScenarioResult[] = []
  await sleep(SETTLE_MS.block) // let whatever ran before settle, as between blocks
  for (const [i, s] of scenarios.entries()) {
    const r = await runScenario(s, SETTLE_MS.block)
    results.push(r)
    printScenario(i + 1, s, r)
  }
  printSummary(results)

  const loadavgAfter = os.loadavg()
  const seconds = (performance.now() - started) / 1000
  console.log(
    `\nload average after: ${loadavgAfter.map((l) => l.toFixed(2)).join(' ')}; took ${seconds.toFixed(1)} s`,
  )
  mkdirSync(join(REPORT, '..'), { recursive: true })
  const report = {
    generatedAt: new Date().toISOString(),
    machine: { ...machine, loadavgAfter },
    floor: floor.available ? { available: true } : { available: false, reason: floor.reason },
    target: `nslab within ${TARGET}x of the floor (median)`,
    seconds,
    scenarios: results,
  }
  // Times to 0.1 µs: more digits than that are noise.
  const round = (_: string, v: unknown): unknown =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1e4) / 1e4 : v
  writeFileSync(REPORT, JSON.stringify(report, round, 2) + '\n')
  console.log(`wrote ${REPORT}`)
  return 0
}

process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)
let code = 1
try {
  code = await main()
} catch (err) {
  console.error(`\nbench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  code = 1
} finally {
  sweep()
  if (workDir) rmSync(workDir, { recursive: true, force: true })
  try {
    const left = ipNetnsList().filter((n) => n.startsWith(PREFIX))
    if (left.length > 0) {
      console.error(`\nBENCH LEFT NAMESPACES BEHIND (ip netns list): ${left.join(', ')}`)
      code = 1
    } else {
      console.log(`cleanup: ip netns list shows none of ${PREFIX}*`)
    }
  } catch (err) {
    console.error(`\nbench: could not check for leftovers with ip netns list: ${(err as Error).message}`)
    code = 1
  }
}
process.exitCode = code
