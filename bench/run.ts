// nslab against `ip` (one process per command), `ip -batch`, and a floor of
// raw syscalls + batched rtnetlink (bench/floor.c), measured in one run.
//
//   npm run bench        (runs this inside a sealed namespace, as root)
//
// Prints a table per scenario and a summary, and writes reports/bench.json.
// Every namespace it makes is named nslab-bench-<pid>-...; all of them are
// deleted at the end, also on error or Ctrl-C, and the run fails loudly if
// `ip netns list` still shows one.
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Lab, type LabNode } from '../harness/lab/index.js'
import { tcpThroughput } from '../harness/checks/index.js'
import { Netlink } from '../harness/netlink/index.js'
import { NETNS_RUN_DIR, addNetns, deleteNetns, listNetns, openNetns } from '../harness/netns/index.js'
import { type CodecKind, decodeRounds, encodeRounds, messagesPerPass } from './codec.js'
import { type Floor, buildFloor, runFloor, runFloorDetailed } from './floor.js'
import { checkVethEnd, ip, ipNetnsList, ipVersion } from './iproute2.js'
import { type Summary, fmtMs, fmtRatio, pairedRatio, ratio, summarize } from './stats.js'
import { scenarioVmBoot, scenarioVmBootOn, vmBootKernels } from './vm-boot.js'

const PREFIX = `nslab-bench-${process.pid}-`
const WARMUP = 1
const ITERATIONS = { netns: 100, veth: 100, many: 8, labPair: 150, matrix: 3 }
const MANY = 100
/** Star sizes and iterations (after WARMUP, none for the biggest: one 500-host ip script takes ~10 s). */
const STARS = [
  { n: 10, iterations: 10, warmup: WARMUP },
  { n: 100, iterations: 4, warmup: WARMUP },
  { n: 500, iterations: 2, warmup: 0 },
]
const MATRIX = { hosts: 50, concurrency: 16 }
/**
 * Variants are measured interleaved: each variant's iterations are split
 * into ROUNDS blocks (fewer when it has fewer iterations), and every round
 * runs one block of each variant, the order rotated by one each round
 * (A B C, B C A, C A B...), so no variant always follows the same one.
 * Between blocks (and between the iterations of the big stars, after making
 * the veth scenario's namespaces) the run waits for the kernel to settle: it
 * tears deleted namespaces down asynchronously in cleanup_net, under
 * rtnl_lock, and the next block's work would queue behind it. The C floor
 * watches for that (`floor settle`: rtnl answers a no-op at once several
 * times in a row), at least SETTLE_MS.min and at most SETTLE_MS.max; without
 * a C compiler the run pauses SETTLE_MS.fixed instead.
 */
const ROUNDS = 5
const SETTLE_MS = { min: 50, max: 3000, fixed: 1500 }
const TARGET = 1.5
const REPORT = fileURLToPath(new URL('../reports/bench.json', import.meta.url))

const VETH = { a: 'bench-a', b: 'bench-b', cidrA: '198.18.0.1/30', cidrB: '198.18.0.2/30' }

type VariantId =
  | 'nslab'
  | 'nslab-capture'
  | 'nslab-trace'
  | 'nslab-awaited'
  | 'nslab-in-guest'
  | 'ip'
  | 'ip-batch'
  | 'floor'
  | 'floor-seq'

interface Variant {
  id: VariantId
  label: string
  /** What one timed iteration does. */
  does: string
  /** Runs `count` iterations (the first WARMUP are warm-up) and returns every iteration's ms. */
  run(count: number): Promise<number[]>
  /** Set by run(), read after it: a line for the table and the JSON. */
  note?: () => string | undefined
  /** Why it is not measured, if it is not. */
  skip?: string
  /**
   * Interleaved with the scenario's other such variants iteration by
   * iteration (A B C A B C... inside a round, each run(1)), not block by
   * block: for in-process variants whose difference is smaller than the drift
   * of the kernel's state across a block (its namespace cleanup backlog).
   */
  perIteration?: boolean
  /** This process's CPU time (user + system) per iteration run, ms, warm-up first; read after the runs. */
  cpu?: number[]
}

interface Scenario {
  id: string
  title: string
  iterations: number
  /** Warm-up iterations (default WARMUP), in each variant's first block. */
  warmup?: number
  /** How many blocks the iterations are split into (default ROUNDS). */
  rounds?: number
  timed: string
  variants: Variant[]
  /** Untimed, before the first variant / after the last (also on error). */
  setup?(): Promise<void>
  teardown?(): Promise<void>
  /** Namespace prefixes the scenario's setup made, kept between its variants. */
  keep?: () => string[]
  /** Something the table should say about how it was measured. */
  note?: () => string | undefined
}

interface VariantResult {
  label: string
  does: string
  summary?: Summary
  samples?: number[]
  skipped?: string
  /** What the variant checked or how it was measured (e.g. pairs that answered). */
  note?: string
  /** This process's CPU time per iteration (in-process variants that measure it). */
  cpu?: Summary
}

interface ScenarioResult {
  id: string
  title: string
  iterations: number
  warmup: number
  /** Iterations per block: the variants ran one block each per round, interleaved (see ROUNDS). */
  blocks: number[]
  /** The untimed waits for the kernel to settle, between blocks and big-star iterations. */
  settle: Summary | undefined
  timed: string
  note?: string
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

/** Prefixes (nslab-<id>-) of the labs this run made: their namespaces are not under PREFIX. */
const labPrefixes = new Set<string>()
const isMine = (n: string): boolean => n.startsWith(PREFIX) || [...labPrefixes].some((p) => n.startsWith(p))

/** Delete every namespace of this run that still exists under /run/netns; returns their names. */
function sweep(prefix?: string): string[] {
  const mine = listNetns().filter((n) => (prefix === undefined ? isMine(n) : n.startsWith(prefix)))
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
function expectNoneLeft(who: string, keep: readonly string[] = []): void {
  const left = listNetns().filter((n) => isMine(n) && !keep.some((k) => n.startsWith(k)))
  for (const n of left) deleteNetns(n)
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

/** Every wait settle() made, for the report. */
const settleWaits: number[] = []

/** Wait until the kernel's deferred namespace teardown is done (see ROUNDS); returns the ms waited. */
async function settle(): Promise<number> {
  const t0 = performance.now()
  if (floor.available) runFloor(floor.exe, ['settle', '1', '-', '-', String(SETTLE_MS.max)])
  else await sleep(SETTLE_MS.fixed)
  const waited = performance.now() - t0
  if (waited < SETTLE_MS.min) await sleep(SETTLE_MS.min - waited)
  const ms = performance.now() - t0
  settleWaits.push(ms)
  return ms
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

/** The ifindex both veth ends ask for: a fresh namespace has only lo (1), as floor.c assumes too. */
const VETH_INDEX = 2

/**
 * The fast path, the floor's work in the floor's shape: both ends get a
 * chosen ifindex (no round trip to learn it), A's end is born up, and all six
 * requests are made at once. The transport sends the requests made together
 * on one socket as one datagram, sockets in the order of their first request:
 * A's datagram (the pair, A's address, lo up), then B's (B's address, B's end
 * and lo up); rtnetlink handles A's inside sendto(), so B's end exists when
 * B's goes out.
 */
async function nslabVeth(a: string, b: string): Promise<void> {
  using nsA = openNetns(a)
  using nsB = openNetns(b)
  using nlA = Netlink.open(nsA)
  using nlB = Netlink.open(nsB)
  await Promise.all([
    nlA.createVeth({
      name: VETH.a,
      index: VETH_INDEX,
      up: true,
      netns: { fd: nsA.fd },
      peer: { name: VETH.b, index: VETH_INDEX, netns: { fd: nsB.fd } },
    }),
    nlA.addAddress(VETH_INDEX, VETH.cidrA),
    nlA.setLink(1, { up: true }),
    nlB.addAddress(VETH_INDEX, VETH.cidrB),
    nlB.setLink(VETH_INDEX, { up: true }),
    nlB.setLink(1, { up: true }),
  ])
}

/** The convenient path: each request awaited before the next, indexes asked of the kernel. */
async function nslabVethAwaited(a: string, b: string): Promise<void> {
  using nsA = openNetns(a)
  using nsB = openNetns(b)
  using nlA = Netlink.open(nsA)
  using nlB = Netlink.open(nsB)
  await nlA.createVeth({
    name: VETH.a,
    netns: { fd: nsA.fd },
    peer: { name: VETH.b, netns: { fd: nsB.fd } },
  })
  const ia = (await nlA.getLink(VETH.a)).index
  const ib = (await nlB.getLink(VETH.b)).index
  await nlA.addAddress(ia, VETH.cidrA)
  await nlB.addAddress(ib, VETH.cidrB)
  await nlA.setLink(ia, { up: true })
  await nlA.setLink('lo', { up: true })
  await nlB.setLink(ib, { up: true })
  await nlB.setLink('lo', { up: true })
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
        await settle()
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
      add: `link add ${VETH.a} netns ${a} up type veth peer name ${VETH.b} netns ${b}`,
      inA: [`addr add ${VETH.cidrA} dev ${VETH.a}`, 'link set lo up'],
      inB: [`addr add ${VETH.cidrB} dev ${VETH.b}`, `link set ${VETH.b} up`, 'link set lo up'],
    }
  }
  return {
    id: 'veth-pair',
    title: 'veth pair across two namespaces, IPv4 on each end, ends + lo up',
    iterations: ITERATIONS.veth,
    // Enough for V8 to optimise the netlink path (one warm-up left it partly interpreted: 41 iterations
    // call each encoder about 40 times); the C floor and ip get the same.
    warmup: 20,
    timed: 'the link work only, given two fresh named namespaces (made before timing, deleted after)',
    variants: [
      vethVariant(
        {
          id: 'nslab',
          label: 'nslab',
          does: "openNetns x2, Netlink.open x2, createVeth (both ifindexes chosen, A's end born up), addAddress x2, setLink up x3; all made at once: one datagram of 3 requests to A, then one of 3 to B",
        },
        'n',
        async (prefix, count) => {
          const ms: number[] = []
          for (const i of range(count))
            ms.push(await timeAsync(() => nslabVeth(`${prefix}a${i}`, `${prefix}b${i}`)))
          return ms
        },
      ),
      vethVariant(
        {
          id: 'nslab-awaited',
          label: 'nslab, each request awaited',
          does: 'openNetns x2, Netlink.open x2, createVeth, getLink x2 (the kernel picks indexes), addAddress x2, setLink up x4: 9 requests, each awaited',
        },
        'w',
        async (prefix, count) => {
          const ms: number[] = []
          for (const i of range(count))
            ms.push(await timeAsync(() => nslabVethAwaited(`${prefix}a${i}`, `${prefix}b${i}`)))
          return ms
        },
      ),
      vethVariant(
        {
          id: 'ip',
          label: 'ip (one process per command)',
          does: '6 processes: ip link add ... netns A up type veth peer ... netns B; ip -n NS addr add x2; ip -n NS link set up x3',
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
          does: "open x2, setns + socket x2, one datagram of 3 requests to A (the pair, A's end born up; address; lo up) and one of 3 to B (NLM_F_ACK each), 6 ACKs read",
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
          does: 'the same 6 requests, each sent alone and its ACK read before the next (what batching buys)',
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

// ------------------------------------------------------------ 4-6. the Lab

/** Lab.create, remembering its prefix so that sweep() and the final check cover its namespaces. */
async function newLab(): Promise<Lab> {
  const lab = await Lab.create()
  labPrefixes.add(lab.prefix)
  return lab
}

/** Run one bash script; throws with its stderr when it fails (scripts are `set -e`). */
function bash(file: string): void {
  const r = spawnSync('bash', [file], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
  if (r.error) throw new Error(`could not run bash ${file}: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`bash ${file} failed (${r.status ?? r.signal}): ${r.stderr.trim()}`)
}

/** Write one script per iteration before timing; returns the files. */
function scripts(tag: string, count: number, body: (i: number) => string[]): string[] {
  return range(count).map((i) => {
    const f = join(workDir, `${tag}-${i}.sh`)
    writeFileSync(f, ['set -e', ...body(i), ''].join('\n'))
    return f
  })
}

const ipv4 = (base: string, n: number): string => {
  const [a, b, c, d] = base.split('.').map(Number) as [number, number, number, number]
  const x = ((a << 24) | (b << 16) | (c << 8) | d) + n
  return [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.')
}

/** One host's part of a script: namespace, lo up, veth into `peerNs`, v4 + v6 address, up. */
function ipHost(ns: string, peerNs: string, peerDev: string, v4: string, v6: string): string[] {
  return [
    `ip netns add ${ns}`,
    `ip -n ${ns} link set lo up`,
    `ip link add eth0 netns ${ns} type veth peer name ${peerDev} netns ${peerNs}`,
    `ip -n ${ns} addr add ${v4} dev eth0`,
    `ip -n ${ns} addr add ${v6} dev eth0 nodad`,
    `ip -n ${ns} link set eth0 up`,
  ]
}

/**
 * The lab-pair fixture `count` times, timed whole; with `capture`, packets
 * captured; with `trace` too, the timeline's netlink recording and a test
 * start event: what nslab/vitest's fixture does by default.
 */
async function pairFixture(
  count: number,
  capture: boolean,
  trace: boolean,
  cpu: number[],
): Promise<number[]> {
  const ms: number[] = []
  for (const _ of range(count)) {
    const c0 = process.cpuUsage()
    ms.push(
      await timeAsync(async () => {
        const lab = await newLab()
        try {
          const cap = capture ? lab.capture() : undefined
          if (trace) {
            lab.recordNetlink()
            lab.timeline.record({ kind: 'step', title: 'test lab-pair' })
          }
          const [a, b] = await lab.addHosts('a', 'b')
          await lab.connect(a, b)
          const r = await a.ping(b, { count: 1 })
          if (r.received !== 1) throw new Error(`lab-pair: a.ping(b) got no reply: ${JSON.stringify(r)}`)
          cap?.clear() // the test passed: nothing is written
          if (trace) lab.timeline.clear()
        } finally {
          await lab.destroy()
        }
      }),
    )
    const c = process.cpuUsage(c0)
    cpu.push((c.user + c.system) / 1000)
  }
  return ms
}

function scenarioLabPair(): Scenario {
  const p = (i: number): string => `${PREFIX}4i-${i}-`
  const cpus = { nslab: [] as number[], capture: [] as number[], trace: [] as number[] }
  return {
    id: 'lab-pair',
    title: 'Lab pair fixture: create, 2 hosts, connect, one ping a->b, destroy',
    iterations: ITERATIONS.labPair,
    timed: 'the whole fixture, from nothing to nothing left',
    variants: [
      {
        id: 'nslab',
        label: 'nslab Lab',
        does: "Lab.create(); addHosts('a', 'b'); connect(a, b); a.ping(b, { count: 1 }); destroy()",
        perIteration: true,
        cpu: cpus.nslab,
        run: (count) => pairFixture(count, false, false, cpus.nslab),
      },
      {
        id: 'nslab-capture',
        label: 'nslab Lab, capture on-failure',
        does: 'the same with lab.capture() right after create, and the test passing: cap.clear() before destroy()',
        perIteration: true,
        cpu: cpus.capture,
        run: (count) => pairFixture(count, true, false, cpus.capture),
      },
      {
        id: 'nslab-trace',
        label: 'nslab Lab, capture + trace on-failure',
        does: "the same with lab.recordNetlink() too (each node's netlink socket joined to the link, address, route and neighbour groups, every announcement on the timeline) and a test-start event: what nslab/vitest's fixture does by default; the test passing: the timeline cleared",
        perIteration: true,
        cpu: cpus.trace,
        run: (count) => pairFixture(count, true, true, cpus.trace),
      },
      {
        id: 'ip',
        label: 'ip, one bash script',
        does: '15 processes: ip netns add x2, ip -n NS link set lo up x2, ip link add ... netns A ... peer ... netns B, ip -n NS addr add x4 (v4 + v6 nodad), ip -n NS link set up x2, ip netns exec A ping -c1 -W1 B, ip netns del x2',
        run: async (count) => {
          const files = scripts('pair', count, (i) => {
            const [a, b] = [`${p(i)}a`, `${p(i)}b`]
            return [
              `ip netns add ${b}`,
              `ip -n ${b} link set lo up`,
              ...ipHost(a, b, 'eth0', '198.18.0.1/30', 'fd00::1/64'),
              `ip -n ${b} addr add 198.18.0.2/30 dev eth0`,
              `ip -n ${b} addr add fd00::2/64 dev eth0 nodad`,
              `ip -n ${b} link set eth0 up`,
              `ip netns exec ${a} ping -c1 -W1 198.18.0.2 >/dev/null`,
              `ip netns del ${a}`,
              `ip netns del ${b}`,
            ]
          })
          return files.map((f) => time(() => bash(f)))
        },
      },
      floorVariant(
        "2 named namespaces (lo up; the Lab's host sysctls: ping_group_range, accept_dad x2), veth across (both ifindexes chosen) with IPv4 + IPv6 nodad on each end, up (one datagram per namespace), carriers waited for (RTM_GETLINK until IF_OPER_UP), one ICMP echo a->b over a ping socket, umount2 + unlink x2",
        (count) => ['lab-pair', String(count), `${PREFIX}4f-`, NETNS_RUN_DIR],
      ),
    ],
  }
}

/**
 * TCP across one veth pair, the transfer timed, without and with the lab's
 * capture on both ends: what capturing costs the traffic, and whether the
 * capture keeps up (the kernel's drop counter, reported in the note).
 */
function scenarioCaptureThroughput(): Scenario {
  const BYTES = 64 << 20
  let lab: Lab | undefined
  let ends: [LabNode, LabNode] | undefined
  const drops = { kernel: 0, read: 0, evicted: 0 }
  const transfer = async (count: number, capture: boolean): Promise<number[]> => {
    const [a, b] = ends!
    const ms: number[] = []
    for (const _ of range(count)) {
      if (capture) lab!.capture({ memory: 8 << 20 })
      try {
        const r = await tcpThroughput(a, b, { bytes: BYTES })
        ms.push(r.seconds * 1000)
      } finally {
        const st = await lab!.stopCapture()
        if (st) {
          drops.kernel += st.kernelDrops
          drops.read += st.read
          drops.evicted += st.memory.droppedPackets
        }
      }
    }
    return ms
  }
  return {
    id: 'capture-throughput',
    title: `TCP throughput across a veth pair (${BYTES >> 20} MiB), without and with capture on both ends`,
    iterations: 5,
    timed: 'the transfer, from the first byte sent to the last received',
    setup: async () => {
      lab = await newLab()
      const [a, b] = await lab.addHosts('a', 'b')
      await lab.connect(a, b)
      ends = [a, b]
    },
    teardown: async () => {
      await lab?.destroy()
    },
    keep: () => (lab ? [lab.prefix] : []),
    note: () =>
      `with capture: ${drops.read} frames read, ${drops.kernel} dropped by the kernel (the capture could not keep up), ${drops.evicted} let go of the 8 MiB memory ring`,
    variants: [
      {
        id: 'nslab',
        label: 'no capture',
        does: `tcpThroughput(a, b, { bytes: ${BYTES >> 20} MiB })`,
        run: (count) => transfer(count, false),
      },
      {
        id: 'nslab-capture',
        label: 'capture on a and b',
        does: 'the same with lab.capture() on (both ends: every frame read twice)',
        run: (count) => transfer(count, true),
      },
    ],
  }
}

/**
 * Between iterations of a big star (untimed): the kernel tears deleted
 * namespaces down asynchronously, and the next build would queue behind it.
 */
const starPause = async (n: number): Promise<void> => {
  if (n >= 100) await settle()
}

function scenarioLabStar(n: number, iterations: number, warmup: number): Scenario {
  const p = (i: number): string => `${PREFIX}5i${n}-${i}-`
  const names = range(n).map((j) => `h${j}`)
  /** `count` labs built by `build` and destroyed, timed whole. */
  const starRuns = async (count: number, build: (lab: Lab) => Promise<void>): Promise<number[]> => {
    const ms: number[] = []
    for (const i of range(count)) {
      if (i > 0) await starPause(n)
      ms.push(
        await timeAsync(async () => {
          const lab = await newLab()
          try {
            await build(lab)
          } finally {
            await lab.destroy()
          }
        }),
      )
    }
    return ms
  }
  return {
    id: `lab-star-${n}`,
    title: `Lab star: ${n} hosts on one switch, build + destroy`,
    iterations,
    warmup,
    timed: `a bridge in its own namespace, ${n} hosts each linked to it (v4 + v6, up), then everything deleted`,
    note: () =>
      n >= 100
        ? 'between iterations of a block, an untimed wait for the kernel to settle (namespace teardown)'
        : undefined,
    variants: [
      {
        id: 'nslab',
        label: 'nslab Lab, topology as data',
        does: `Lab.create(); lab.build({ hosts: x${n}, switches: [{ name: 'sw', hosts: ${n} }], links: x${n} }) (namespaces, the bridge, every pair, every end's addresses and up in one datagram per namespace, carriers together); destroy()`,
        run: (count) =>
          starRuns(count, async (lab) => {
            await lab.build({
              hosts: names,
              switches: [{ name: 'sw', hosts: n }],
              links: names.map((h) => [h, 'sw'] as const),
            })
          }),
      },
      {
        id: 'nslab-awaited',
        label: 'nslab Lab, each call awaited',
        does: `Lab.create(); addSwitch('sw', { hosts: ${n} }); addHosts(x${n}); connect(h, sw) x${n}, each awaited; destroy()`,
        run: (count) =>
          starRuns(count, async (lab) => {
            const sw = await lab.addSwitch('sw', { hosts: n })
            const hosts = await lab.addHosts(...names)
            for (const h of hosts) await lab.connect(h, sw)
          }),
      },
      {
        id: 'ip',
        label: 'ip, one bash script',
        does: `${4 + 7 * n + n + 1} processes: ip netns add + lo up + bridge add + up for the switch; per host netns add, lo up, link add veth (peer in the switch), addr add x2, link set up, link set master br0 up; ip netns del x${n + 1}`,
        run: async (count) => {
          const files = scripts(`star${n}`, count, (i) => {
            const sw = `${p(i)}sw`
            return [
              `ip netns add ${sw}`,
              `ip -n ${sw} link set lo up`,
              `ip -n ${sw} link add name br0 type bridge forward_delay 0 stp_state 0 mcast_snooping 0`,
              `ip -n ${sw} link set br0 up`,
              ...names.flatMap((h, j) => [
                ...ipHost(
                  `${p(i)}${h}`,
                  sw,
                  h,
                  `${ipv4('198.18.0.0', j + 1)}/22`,
                  `fd00::${(j + 1).toString(16)}/64`,
                ),
                `ip -n ${sw} link set ${h} master br0 up`,
              ]),
              ...names.map((h) => `ip netns del ${p(i)}${h}`),
              `ip netns del ${sw}`,
            ]
          })
          const ms: number[] = []
          for (const [i, f] of files.entries()) {
            if (i > 0) await starPause(n)
            ms.push(time(() => bash(f)))
          }
          return ms
        },
      },
      {
        id: 'floor',
        label: 'floor (C, raw syscalls)',
        does: `a switch namespace with the Lab's bridge (born up), ${n} hosts as in lab-pair (namespace, sysctls, lo up), each a veth to the switch with IPv4 + IPv6, up, the switch end up + enslaved (one datagram per namespace per host), every carrier waited for, then ${n + 1} namespaces deleted; the same untimed pauses as nslab`,
        skip: floor.available ? undefined : floor.reason,
        run: async (count) => {
          if (!floor.available) return []
          const ms: number[] = []
          for (const i of range(count)) {
            if (i > 0) await starPause(n)
            ms.push(
              ...runFloor(floor.exe, ['lab-star', '1', `${PREFIX}5f${n}-${i}-`, NETNS_RUN_DIR, String(n)]),
            )
          }
          return ms
        },
      },
    ],
  }
}

/** Run `jobs` with at most `width` in flight. */
async function pool(jobs: (() => Promise<void>)[], width: number): Promise<void> {
  let next = 0
  await Promise.all(
    range(Math.min(width, jobs.length)).map(async () => {
      while (next < jobs.length) await jobs[next++]!()
    }),
  )
}

/** `ip netns exec NS ping -c1 -W1 ADDR`; resolves true when ping exits 0 (a reply came). */
function spawnPing(ns: string, address: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'ping', '-c1', '-W1', address], { stdio: 'ignore' })
    child.on('error', reject)
    child.on('exit', (code) => resolve(code === 0))
  })
}

function scenarioLabMatrix(): Scenario {
  const n = MATRIX.hosts
  let lab: Lab | undefined
  let hosts: LabNode[] = []
  const pairs = (): { from: LabNode; to: LabNode }[] =>
    hosts.flatMap((from) => hosts.filter((to) => to !== from).map((to) => ({ from, to })))
  const labAnswered: number[] = []
  const ipAnswered: number[] = []
  const floorAnswered: number[] = []
  const answered = (a: number[]): string =>
    `pairs answered per iteration: ${a.map((x) => `${x}/${n * (n - 1)}`).join(', ')}`
  return {
    id: `lab-matrix-${n}`,
    title: `all-pairs reachability, ${n} hosts on one switch (${n * (n - 1)} ordered pairs)`,
    iterations: ITERATIONS.matrix,
    timed: 'probing every ordered pair once (IPv4), on one lab built before timing and destroyed after',
    note: () =>
      'lab.reachability() first gives every host permanent neighbour entries for the others (timed, part of the call; without them the machine-wide ARP table, gc_thresh3 = 1024, overflows and ~1,024 pairs answer); the ip variant runs on the same lab, after them',
    keep: () => (lab ? [lab.prefix] : []),
    setup: async () => {
      lab = await newLab()
      const sw = await lab.addSwitch('sw')
      hosts = await lab.addHosts(...range(n).map((j) => `h${j}`))
      for (const h of hosts) await lab.connect(h, sw)
      await settle()
    },
    teardown: async () => {
      await lab?.destroy()
    },
    variants: [
      {
        id: 'nslab',
        label: 'nslab lab.reachability',
        does: 'lab.reachability({ count: 1 }): permanent neighbour entries for the segment (2,450 requests, one datagram per host), then ICMP datagram sockets in each namespace, 64 pairs in flight, no process',
        note: () => answered(labAnswered),
        run: async (count) => {
          const ms: number[] = []
          for (const _ of range(count)) {
            let m: Awaited<ReturnType<Lab['reachability']>> | undefined
            ms.push(await timeAsync(async () => void (m = await lab!.reachability({ count: 1 }))))
            labAnswered.push(m!.pairs.filter((x) => x.received > 0).length)
          }
          return ms
        },
      },
      {
        id: 'ip',
        label: `ip netns exec ping, ${MATRIX.concurrency} at a time`,
        does: `${n * (n - 1)} processes: ip netns exec NS ping -c1 -W1 ADDR per ordered pair, ${MATRIX.concurrency} in flight`,
        note: () => answered(ipAnswered),
        run: async (count) => {
          const ms: number[] = []
          for (const _ of range(count)) {
            let ok = 0
            const jobs = pairs().map(({ from, to }) => async () => {
              if (await spawnPing(from.netns, to.address())) ok++
            })
            ms.push(await timeAsync(() => pool(jobs, MATRIX.concurrency)))
            ipAnswered.push(ok)
          }
          return ms
        },
      },
      {
        id: 'floor',
        label: 'floor (C, raw syscalls)',
        does: `its own star of ${n} hosts, built untimed as in lab-star; timed: permanent ARP entries for every pair (one datagram per host), one ping socket per host, one echo per ordered pair (all sent at once), replies collected with poll (1 s at most)`,
        skip: floor.available ? undefined : floor.reason,
        note: () => answered(floorAnswered),
        run: async (count) => {
          if (!floor.available) return []
          const r = runFloorDetailed(floor.exe, [
            'lab-matrix',
            String(count),
            `${PREFIX}6f-`,
            NETNS_RUN_DIR,
            String(n),
          ])
          floorAnswered.push(...(r.answered ?? []))
          return r.ms
        },
      },
    ],
  }
}

// ------------------------------------------------------------- 8. the codec

/**
 * The pure codec, no kernel: real dump replies decoded, requests encoded
 * (bench/codec.ts). Many rounds per iteration so one iteration lasts a few
 * milliseconds; warm-up long enough for V8 to optimise the decoders.
 */
const CODEC = { iterations: 40, warmup: 15, decodeRounds: 400, encodeRounds: 500 }

function scenarioCodecDecode(kind: CodecKind): Scenario {
  let count = 0
  return {
    id: `codec-decode-${kind}`,
    title: `codec: decode ${kind} dump replies (no kernel)`,
    iterations: CODEC.iterations,
    warmup: CODEC.warmup,
    timed: `decodeMessages over the captured \`ip\` ${kind} dump replies, ${CODEC.decodeRounds} times`,
    note: () =>
      `${messagesPerPass(kind) * CODEC.decodeRounds} messages per iteration` +
      (count > 0 ? '' : ' (none decoded?)'),
    variants: [
      {
        id: 'nslab',
        label: 'nslab',
        does: `decodeMessages(buf) for each captured ${kind} reply buffer`,
        run: async (n) =>
          range(n).map(() => time(() => void (count += decodeRounds(kind, CODEC.decodeRounds)))),
      },
    ],
  }
}

function scenarioCodecEncode(): Scenario {
  let bytes = 0
  return {
    id: 'codec-encode',
    title: 'codec: encode link/addr/route/neigh requests (no kernel)',
    iterations: CODEC.iterations,
    warmup: CODEC.warmup,
    timed: `encodeLink (veth with peer) + encodeAddr + encodeRoute + encodeNeigh, ${CODEC.encodeRounds} times`,
    note: () =>
      `${4 * CODEC.encodeRounds} requests, ${bytes / (CODEC.iterations + CODEC.warmup)} bytes per iteration`,
    variants: [
      {
        id: 'nslab',
        label: 'nslab',
        does: 'one request of each kind',
        run: async (n) => range(n).map(() => time(() => void (bytes += encodeRounds(CODEC.encodeRounds)))),
      },
    ],
  }
}

// ------------------------------------------------------------- the driver

/** `total` iterations in `rounds` blocks as even as can be (the first ones one longer). */
function blocks(total: number, rounds: number): number[] {
  const r = Math.max(1, Math.min(rounds, total))
  return range(r).map((i) => Math.floor(total / r) + (i < total % r ? 1 : 0))
}

async function runScenario(s: Scenario): Promise<ScenarioResult> {
  const variants: ScenarioResult['variants'] = {}
  const warmup = s.warmup ?? WARMUP
  const sizes = blocks(s.iterations, s.rounds ?? ROUNDS)
  const settledFrom = settleWaits.length
  try {
    await s.setup?.()
    const measured = s.variants.filter((v) => !v.skip)
    const samples = new Map<VariantId, number[]>(measured.map((v) => [v.id, []]))
    for (const [round, size] of sizes.entries()) {
      // Rotated by one each round: A B C, B C A, C A B...
      const order = measured.map((_, i) => measured[(i + round) % measured.length]!)
      const first = round === 0
      const together = order.filter((v) => v.perIteration)
      if (together.length > 0) {
        // One iteration of each in turn (the order rotated each iteration too); then one settle.
        try {
          for (const i of range((first ? warmup : 0) + size)) {
            for (const k of range(together.length)) {
              const v = together[(i + k) % together.length]!
              const [ms] = await v.run(1)
              if (!first || i >= warmup) samples.get(v.id)!.push(ms!)
            }
          }
        } finally {
          await settle()
        }
        expectNoneLeft(`${s.id}/${together.map((v) => v.id).join('+')}`, s.keep?.() ?? [])
      }
      for (const v of order.filter((x) => !x.perIteration)) {
        let all: number[]
        try {
          all = await v.run((first ? warmup : 0) + size)
        } finally {
          await settle()
        }
        expectNoneLeft(`${s.id}/${v.id}`, s.keep?.() ?? [])
        samples.get(v.id)!.push(...all.slice(first ? warmup : 0))
      }
    }
    for (const v of s.variants) {
      if (v.skip) {
        variants[v.id] = { label: v.label, does: v.does, skipped: v.skip }
        continue
      }
      const got = samples.get(v.id)!
      const note = v.note?.()
      variants[v.id] = {
        label: v.label,
        does: v.does,
        summary: summarize(got),
        samples: got,
        ...(note ? { note } : {}),
        // The first `warmup` CPU readings are the warm-up's, as for the times.
        ...(v.cpu && v.cpu.length > warmup ? { cpu: summarize(v.cpu.slice(warmup)) } : {}),
      }
    }
  } finally {
    await s.teardown?.()
  }
  const waits = settleWaits.slice(settledFrom)
  const m = (id: VariantId): Summary | undefined => variants[id]?.summary
  const cpu = (id: VariantId): Summary | undefined => variants[id]?.cpu
  const samplesOf = (id: VariantId): number[] | undefined => variants[id]?.samples
  const has = (id: VariantId): boolean => s.variants.some((v) => v.id === id)
  const nslabFloor = ratio(m('nslab'), m('floor'))
  const note = s.note?.()
  return {
    id: s.id,
    title: s.title,
    iterations: s.iterations,
    warmup,
    blocks: sizes,
    settle: waits.length > 0 ? summarize(waits) : undefined,
    timed: s.timed,
    ...(note ? { note } : {}),
    variants,
    ratios: {
      'ip/nslab': ratio(m('ip'), m('nslab')),
      ...(has('ip-batch') ? { 'ip-batch/nslab': ratio(m('ip-batch'), m('nslab')) } : {}),
      ...(has('floor') ? { 'nslab/floor': nslabFloor } : {}),
      ...(m('nslab-in-guest') ? { 'nslab-in-guest/nslab': ratio(m('nslab-in-guest'), m('nslab')) } : {}),
      ...(m('nslab-capture') ? { 'capture/nslab': ratio(m('nslab-capture'), m('nslab')) } : {}),
      ...(m('nslab-trace') ? { 'capture+trace/nslab': ratio(m('nslab-trace'), m('nslab')) } : {}),
      ...(cpu('nslab-capture') ? { 'capture/nslab cpu': ratio(cpu('nslab-capture'), cpu('nslab')) } : {}),
      ...(cpu('nslab-trace') ? { 'capture+trace/nslab cpu': ratio(cpu('nslab-trace'), cpu('nslab')) } : {}),
      ...(m('nslab-capture')
        ? { 'capture/nslab paired': pairedRatio(samplesOf('nslab-capture'), samplesOf('nslab')) }
        : {}),
      ...(m('nslab-trace')
        ? { 'capture+trace/nslab paired': pairedRatio(samplesOf('nslab-trace'), samplesOf('nslab')) }
        : {}),
      ...(m('nslab-awaited') && !m('floor-seq')
        ? { 'nslab-awaited/nslab': ratio(m('nslab-awaited'), m('nslab')) }
        : {}),
      ...(m('nslab-awaited') && m('floor-seq')
        ? { 'nslab-awaited/floor-unbatched': ratio(m('nslab-awaited'), m('floor-seq')) }
        : {}),
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
  console.log(
    `\n${n}. ${r.title}: ${r.iterations} iterations after ${r.warmup} warm-up, interleaved in blocks of ${r.blocks.join('+')}` +
      (r.settle ? ` (settled ${fmtMs(r.settle.median)} ms median, ${fmtMs(r.settle.max)} max, between)` : ''),
  )
  const together = s.variants.filter((v) => v.perIteration && r.variants[v.id]?.summary)
  if (together.length > 1)
    console.log(
      `   inside each block, ${together.map((v) => `"${r.variants[v.id]!.label}"`).join(', ')}: one iteration each in turn`,
    )
  console.log(`   timed: ${r.timed}`)
  if (r.note) console.log(`   note: ${r.note}`)
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
    if (res.note) notes.push(`       -> ${res.note}`)
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

  const only = process.env.BENCH_ONLY
  const scenarios: Scenario[] = [
    scenarioNetns(),
    scenarioVeth(),
    scenarioMany(),
    scenarioLabPair(),
    scenarioCaptureThroughput(),
    ...STARS.map((x) => scenarioLabStar(x.n, x.iterations, x.warmup)),
    scenarioLabMatrix(),
    ...(['link', 'addr', 'route', 'neigh'] as const).map(scenarioCodecDecode),
    scenarioCodecEncode(),
    ...(only?.split(',').includes('vm-boot') ? [scenarioVmBoot()] : []), // only when asked: ~10 s per boot
    // One row per kernel line (its newest installed or cached build), only when asked.
    ...(only?.split(',').includes('vm-boot-lines') ? vmBootKernels().map(scenarioVmBootOn) : []),
  ].filter((s) => !only || only.split(',').some((o) => s.id.startsWith(o)))
  const results: ScenarioResult[] = []
  await settle() // let whatever ran before settle, as between blocks
  for (const [i, s] of scenarios.entries()) {
    const r = await runScenario(s)
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
    const left = ipNetnsList().filter(isMine)
    if (left.length > 0) {
      console.error(`\nBENCH LEFT NAMESPACES BEHIND (ip netns list): ${left.join(', ')}`)
      code = 1
    } else {
      console.log(
        `cleanup: ip netns list shows none of ${PREFIX}*` +
          (labPrefixes.size > 0 ? ` nor of this run's ${labPrefixes.size} labs (nslab-<id>-*)` : ''),
      )
    }
  } catch (err) {
    console.error(`\nbench: could not check for leftovers with ip netns list: ${(err as Error).message}`)
    code = 1
  }
}
process.exitCode = code
