/**
 * The nslab command on scenario files, end to end on the real kernel: exit
 * codes (0 held, 1 failed, 2 bad file, 3 missing kernel feature), reports,
 * --keep, up/exec/down, graph, and Ctrl-C leaving nothing behind.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { kernelFeatures, listOwners, ownerAlive, removeLab } from '../../harness/lab/index.js'
import { listNetns } from '../../harness/netns/index.js'

const root = join(import.meta.dirname, '../..')
const dir = mkdtempSync(join(tmpdir(), 'nslab-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Wall time from spawn to exit, ms. */
  ms: number
}

/**
 * Run the CLI to its end. With `hardKill`, a CLI still running after that
 * many ms is SIGKILLed and the promise rejects: a command that does not exit
 * on its own fails the test instead of hanging it.
 */
function nslab(
  args: string[],
  onStdout?: (text: string, kill: (s: NodeJS.Signals) => void) => void,
  options: { hardKill?: number } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'harness/cli/main.ts'), ...args], {
      cwd: root,
      // Scenarios that fail on purpose keep their packets out of the project's reports/.
      env: { ...process.env, NSLAB_ARTIFACTS_DIR: join(dir, 'artifacts') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let hung = false
    const timer =
      options.hardKill === undefined
        ? undefined
        : setTimeout(() => {
            hung = true
            child.kill('SIGKILL')
          }, options.hardKill)
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      onStdout?.(stdout, (s) => child.kill(s))
    })
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (hung) {
        // The killed CLI could not tear its lab down: do it here.
        const files = args.filter((a) => a.endsWith('.yaml'))
        for (const o of listOwners())
          if (files.some((f) => o.command.includes(f)) && !ownerAlive(o)) removeLab(o.id)
        reject(
          new Error(
            `nslab ${args.join(' ')} did not exit within ${options.hardKill} ms (killed); stdout: ${stdout}\nstderr: ${stderr}`,
          ),
        )
      } else resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 })
    })
  })
}

/** State of a process (R, S, Z...) from /proc, or undefined when there is no such process. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
  } catch {
    return undefined
  }
}

function scenario(name: string, text: string): string {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, text)
  return file
}

const pair = 'topology:\n  hosts: [a, b]\n  links: [[a, b]]\n'
const labNamespaces = (id: string): string[] => listNetns().filter((n) => n.startsWith(`nslab-${id}-`))

describe('nslab run', () => {
  it('exits 0 when every expectation holds and writes JSON and JUnit reports', async () => {
    const file = scenario(
      'ok',
      `name: ok\n${pair}expect:\n  - reach: { from: a, to: b }\n  - tcp: { from: b, to: a }\n`,
    )
    const json = join(dir, 'out/r.json')
    const junit = join(dir, 'out/r.xml')
    const r = await nslab(['run', file, '--json', json, '--junit', junit])
    expect(r.stderr).not.toMatch(/nslab:/)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/✓ a reaches b \(icmp\)/)
    expect(r.stdout).toMatch(/^PASS ok /m)
    expect(r.stdout).not.toContain('\x1b[') // no colour off a terminal
    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      scenarios: { status: string; expectations: unknown[] }[]
    }
    expect(report.scenarios[0]).toMatchObject({ status: 'passed' })
    expect(report.scenarios[0]!.expectations).toHaveLength(2)
    expect(readFileSync(junit, 'utf8')).toContain('<testsuite name="ok"')
  })

  it('exits 1 when an expectation fails, saying what was expected and what happened', async () => {
    const file = scenario('fails', `name: fails\n${pair}expect:\n  - notReach: { from: a, to: b }\n`)
    const r = await nslab(['run', file])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/✗ a does not reach b \(icmp\)/)
    expect(r.stdout).toMatch(/3\/3 echo replies from 198\.18\./)
    expect(r.stdout).toMatch(/^FAIL fails /m)
  })

  it('a host that was never connected is unreachable: notReach, tcp/udp ok: false and a 100% loss ping hold', async () => {
    const file = scenario(
      'lonely',
      `name: lonely\ntopology:\n  hosts: [a, b, c]\n  links: [[a, b]]\nexpect:\n  - notReach: { from: a, to: c }\n  - notReach: { from: c, to: a, protocol: udp }\n  - tcp: { from: a, to: c, ok: false }\n  - udp: { from: c, to: a, ok: false }\n  - ping: { from: a, to: c, count: 2, loss: { min: 100% } }\n  - reach: { from: a, to: c }\n`,
    )
    const r = await nslab(['run', file])
    expect(r.stdout).toMatch(
      /✓ a does not reach c \(icmp\).*\n.*host c \(nslab-\w+-c\) has no IPv4 address yet: connect it first/,
    )
    expect(r.stdout).toMatch(/✓ c does not reach a \(udp\)/)
    expect(r.stdout).toMatch(/✓ tcp a -> c fails/)
    expect(r.stdout).toMatch(/✓ udp c -> a fails/)
    expect(r.stdout).toMatch(/✓ ping a -> c x2/)
    // The one that expects c reachable fails, and says why.
    expect(r.stdout).toMatch(/✗ a reaches c \(icmp\).*\n.*has no IPv4 address yet/)
    expect(r.stdout).toMatch(/1 of 6 expectation\(s\) failed/)
    expect(r.code).toBe(1)
  })

  it('exits 2 on an invalid file before building anything, naming file, line and column', async () => {
    const file = scenario('bad', `${pair}steps:\n  - lnk: { between: [a, b], state: down }\n`)
    const r = await nslab(['run', file])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${file}:5:5: steps[0]: unknown key "lnk" (did you mean "link"?)`)
    expect(r.stdout).not.toMatch(/build/) // refused before any lab existed
  })

  it('exits 3 for a kernel feature this kernel lacks, with one sentence naming it', async () => {
    const have = await kernelFeatures()
    const r = await nslab(['run', join(root, 'scenarios/impairment-delay.yaml')])
    if (have.netem) expect(r.code).toBe(0)
    else {
      expect(r.code).toBe(3)
      expect(r.stdout).toMatch(/NEEDS KERNEL FEATURE impairment-delay/)
      expect(r.stdout).toMatch(/needs kernel feature netem, which this kernel lacks; .*nslab vm run/)
    }
  })

  it('--keep leaves a failed lab up, says how to enter it, and nslab exec/down work on it', async () => {
    const file = scenario('keep', `name: keep\n${pair}expect:\n  - notReach: { from: a, to: b }\n`)
    const r = await nslab(['run', '--keep', file])
    // (A run killed by the helper's 30 s timeout, or by a signal, says so with its output.)
    expect(r.code, `signal ${r.signal}\n${r.stdout}\n${r.stderr}`).toBe(1)
    const id = /lab (\w+) is left up/.exec(r.stdout)?.[1]
    expect(id, r.stdout).toBeDefined()
    try {
      expect(r.stdout).toContain(`ip netns exec nslab-${id}-a bash`)
      expect(labNamespaces(id!)).toHaveLength(2)
      const ls = await nslab(['ls'])
      expect(ls.stdout).toMatch(new RegExp(`^${id} .*left up \\(nslab down ${id}\\)`, 'm'))
      const ex = await nslab(['exec', id!, 'a', '--', 'ip', '-br', 'addr'])
      expect(ex.code).toBe(0)
      expect(ex.stdout).toMatch(/198\.18\./)
      const gc = await nslab(['gc'])
      expect(gc.stdout).toContain(`kept lab ${id}: left up on purpose`)
      expect(labNamespaces(id!)).toHaveLength(2)
    } finally {
      const down = await nslab(['down', id!])
      expect(down.code).toBe(0)
    }
    expect(labNamespaces(id!)).toEqual([])
    const again = await nslab(['down', id!])
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/there is no lab .* \(see: nslab ls\)/)
  })

  it('exits by itself after a TCP check that is expected to stall (its sockets are closed)', async () => {
    // b drops every packet longer than 1000 bytes: the handshake and small
    // segments pass, a 64 KiB transfer stalls with data unacknowledged, so the
    // server's end never hears the client's FIN.
    const drop =
      'add table inet t; add chain inet t in { type filter hook input priority 0; }; add rule inet t in meta length > 1000 drop'
    const file = scenario(
      'stall',
      `name: stall\n${pair}needs: [nftables]\nsteps:\n  - run: { host: b, cmd: [nft, '${drop}'] }\nexpect:\n  - tcp: { from: a, to: b, bytes: 64k, ok: false, timeout: 1s }\n  - tcp: { from: a, to: b }\n`,
    )
    const r = await nslab(['run', file], undefined, { hardKill: 20_000 })
    expect(r.stdout).toMatch(/✓ tcp 64k a -> b fails/)
    expect(r.stdout).toMatch(/ETIMEDOUT/)
    expect(r.code).toBe(0)
  })

  it('kills a run step that times out, with its children, and fails it at once', async () => {
    const pidFile = join(dir, 'sleep.pid')
    const file = scenario(
      'run-timeout',
      `name: run-timeout\ntopology:\n  hosts: [a]\nsteps:\n  - run: { host: a, cmd: [sh, -c, 'sleep 30 & echo $! > ${pidFile}; wait'], timeout: 1s }\n`,
    )
    const r = await nslab(['run', file], undefined, { hardKill: 25_000 })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^FAIL run-timeout /m)
    expect(r.stdout).toMatch(/did not finish within 1000 ms/)
    expect(r.ms).toBeLessThan(15_000)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    expect(pid).toBeGreaterThan(0)
    // Gone, or dead and waiting for its new parent (init) to collect it: not running.
    expect(procState(pid) ?? 'gone').toMatch(/^(gone|Z)$/)
  })

  it('leaves nothing behind when interrupted with Ctrl-C in the middle of a run', async () => {
    const file = scenario('slow', `name: slow\n${pair}steps:\n  - sleep: 20s\n`)
    let id: string | undefined
    const r = await nslab(['run', file], (out, kill) => {
      if (!id && out.includes('✓ build')) {
        id = listOwners().find((o) => o.command.includes(file))?.id
        kill('SIGINT')
      }
    })
    expect(id).toBeDefined()
    expect(r.code === 130 || r.signal === 'SIGINT').toBe(true)
    expect(labNamespaces(id!)).toEqual([])
    expect(listOwners().some((o) => o.id === id)).toBe(false)
  })
})

describe('nslab up / down / graph', () => {
  it('up builds the lab and its processes and leaves them running; down removes everything', async () => {
    const file = scenario(
      'up',
      `name: up\ntopology:\n  hosts:\n    a:\n      processes: [{ name: sleeper, cmd: [sleep, '300'] }]\n    b:\n  links: [[a, b]]\n`,
    )
    const r = await nslab(['up', file])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const id = /lab (\w+) is left up/.exec(r.stdout)![1]!
    try {
      const ex = await nslab(['exec', id, 'a', '--', 'ping', '-c1', '-W1', '198.18.0.2'])
      expect(ex.stdout).toContain('1 received')
      const ps = await nslab(['exec', id, 'b', '--', 'ip', 'netns', 'pids', `nslab-${id}-a`])
      expect(ps.stdout.trim()).toMatch(/^\d+$/) // the sleeper outlived `nslab up`
      expect(existsSync(`/run/nslab/labs/${id}/a.sleeper.log`)).toBe(true)
    } finally {
      const down = await nslab(['down', id])
      expect(down.stdout).toMatch(/removed lab \w+: 2 namespace\(s\), killed \d+/)
    }
    expect(labNamespaces(id)).toEqual([])
    expect(existsSync(`/run/nslab/labs/${id}`)).toBe(false)
  })

  it('monitor prints the netlink events of a running lab as they happen', async () => {
    const r = await nslab(['up', scenario('mon', `name: mon\n${pair}`)])
    const id = /lab (\w+) is left up/.exec(r.stdout)![1]!
    try {
      const dev = (await nslab(['exec', id, 'a', '--', 'ip', '-o', 'link'])).stdout.match(
        /^\d+: ([^@:]+)@/m,
      )![1]!
      let changed = false
      const mon = await nslab(['monitor', id], (out, kill) => {
        if (!changed && out.includes('watching 2 namespace(s)')) {
          changed = true
          void nslab(['exec', id, 'a', '--', 'ip', 'link', 'set', dev, 'down'])
        }
        if (out.includes(`nslab-${id}-a new link ${dev} DOWN`)) kill('SIGTERM')
      })
      expect(mon.stdout).toContain(`nslab-${id}-a new link ${dev} DOWN`)
    } finally {
      await nslab(['down', id])
    }
  })

  it('graph writes Mermaid, DOT and SVG', async () => {
    const file = join(root, 'scenarios/nat-private-network.yaml')
    const mermaid = await nslab(['graph', file])
    expect(mermaid.stdout).toMatch(/^graph LR\n/)
    const svgFile = join(dir, 'g.svg')
    const svg = await nslab(['graph', file, '-f', 'svg', '-o', svgFile])
    expect(svg.code).toBe(0)
    expect(readFileSync(svgFile, 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n?$/)
    const bad = await nslab(['graph', file, '-f', 'png'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/unknown format "png": use mermaid, dot or svg/)
  })
})
