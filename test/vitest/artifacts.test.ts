// A failing test carries the lab's state and its packets: run a tiny Vitest
// file that fails on purpose (and one that passes), in a child Vitest, and
// read what it reported: the JUnit report, the terminal, and the pcapng
// through tshark (Wireshark's reader is the judge of the file).
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tsharkFields, tsharkNamed } from '../capture/tshark.js'

const root = resolve(import.meta.dirname, '../..')
const dir = mkdtempSync(join(tmpdir(), 'nslab-artifacts-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function runChild(env: Record<string, string>, cwd = dir): { code: number; stdout: string; junit: string } {
  const junit = join(cwd, 'junit.xml')
  let code = 0
  let stdout = ''
  try {
    execFileSync(
      join(root, 'node_modules/.bin/vitest'),
      ['run', '--root', cwd, '--reporter=default', '--reporter=junit', `--outputFile.junit=${junit}`],
      {
        cwd,
        encoding: 'utf8',
        stdio: 'pipe',
        env: { ...process.env, NSLAB_ALLOW_UNSEALED: '1', ...env },
      },
    )
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string }
    code = e.status
    stdout = `${e.stdout}\n${e.stderr}` // the terminal: Vitest reports failures on stderr
  }
  return { code, stdout, junit: readFileSync(junit, 'utf8') }
}

describe('failure artifacts', () => {
  it("attach the lab's state and a pcapng of its links to the failed test, and nothing to a passing one", () => {
    writeFileSync(
      join(dir, 'fails.test.ts'),
      `
      import { test, expect } from '${join(root, 'harness/vitest/index.ts')}'
      test('fails on purpose', async ({ lab }) => {
        const [a, b] = await lab.addHosts('a', 'b')
        await lab.connect(a, b, { subnet: '10.77.0.0/30' })
        const p = a.spawn(['sh', '-c', 'echo marker-output; exec sleep 30'])
        await new Promise((r) => p.stdout.once('data', r))
        await expect(a).toPing(b, { count: 2 })
        await lab.partition([a], [b])
        await expect(a).toPing(b, { count: 1, timeout: 100 })
      })
      test('passes', async ({ lab }) => {
        const [a, b] = await lab.addHosts('a', 'b')
        await lab.connect(a, b)
        await expect(a).toPing(b, { count: 1 })
      })
      `,
    )
    writeFileSync(join(dir, 'vitest.config.mjs'), `export default { test: { include: ['*.test.ts'] } }`)
    const out = join(dir, 'artifacts')
    const { code, stdout, junit } = runChild({ NSLAB_ARTIFACTS_DIR: out })
    expect(code).toBe(1)
    // The state, as before, now as an annotation.
    expect(junit).toContain('expected a [nslab-')
    expect(junit).toMatch(/lab state: .*fails-on-purpose.*\.state\.txt/)
    expect(junit).toContain('at the moment of failure')
    expect(junit).toContain('10.77.0.1/30 dev')
    expect(junit).toContain('table inet nslab_partition')
    expect(junit).toContain('out| marker-output')
    // The packets: named in the report and the terminal, one file, only for the failed test.
    expect(junit).toMatch(/packets: .*fails-on-purpose.*\.pcapng/)
    expect(stdout).toMatch(/packets: .*\.pcapng \(\d+ packet\(s\) on \d+ interface\(s\)/)
    const files = readdirSync(out).sort()
    expect(files.filter((f) => f.endsWith('.pcapng'))).toHaveLength(1)
    expect(files.every((f) => f.startsWith('fails.test.ts--fails-on-purpose--'))).toBe(true)
    const pcap = join(
      out,
      files.find((f) => f.endsWith('.pcapng'))!,
    )
    // Wireshark's reader: a's echo requests leave a's interface outbound, with node names.
    const requests = tsharkFields(
      pcap,
      ['frame.interface_name', 'frame.packet_flags_direction'],
      'icmp.type == 8',
    )
    expect(requests.length).toBeGreaterThanOrEqual(2)
    expect(requests.some(([iface, dir]) => iface!.startsWith('a/') && dir === '0x00000002')).toBe(true)
    expect(requests.some(([iface, dir]) => iface!.startsWith('b/') && dir === '0x00000001')).toBe(true)
    const named = tsharkNamed(pcap, ['ip.src_host', 'ip.dst_host'], 'icmp.type == 8')
    expect(named).toContainEqual(['a', 'b'])
  }, 60_000)

  it("a failed scenarioTest attaches its scenario's pcapng and trace, named in its failure too", () => {
    const sub = join(dir, 'scenario')
    mkdirSync(sub)
    writeFileSync(
      join(sub, 'cut.yaml'),
      [
        'name: reach-on-purpose',
        'topology:',
        '  hosts: [a, b]',
        '  links:',
        '    - [a, b]',
        'expect:',
        '  - notReach: { from: a, to: b }',
        '',
      ].join('\n'),
    )
    writeFileSync(
      join(sub, 'scenario.test.ts'),
      `
      import { scenarioTest } from '${join(root, 'harness/vitest/index.ts')}'
      scenarioTest('${join(sub, 'cut.yaml')}')
      `,
    )
    writeFileSync(join(sub, 'vitest.config.mjs'), `export default { test: { include: ['*.test.ts'] } }`)
    const out = join(dir, 'artifacts-scenario')
    const { code, stdout, junit } = runChild({ NSLAB_ARTIFACTS_DIR: out }, sub)
    expect(code, stdout).toBe(1)
    const files = readdirSync(out).sort()
    const pcapng = files.filter((f) => f.endsWith('.pcapng'))
    const html = files.filter((f) => f.endsWith('.trace.html'))
    expect(pcapng, files.join(' ')).toEqual([expect.stringMatching(/^cut--[0-9a-f]+\.pcapng$/)])
    expect(html).toHaveLength(1)
    // On the test (annotations, in JUnit as in the terminal) and in the failure's report.
    expect(junit).toMatch(/packets: .*cut--[0-9a-f]+\.pcapng/)
    expect(junit).toMatch(/trace: .*cut--[0-9a-f]+\.trace\.html/)
    expect(stdout).toMatch(/scenario reach-on-purpose failed/)
    // Wireshark's reader: the pings that reached b (so the expectation failed) are in the file, with node names.
    expect(tsharkNamed(join(out, pcapng[0]!), ['ip.src_host'], 'icmp.type == 8')).toContainEqual(['a'])
  }, 60_000)

  it('NSLAB_CAPTURE=off writes no pcapng but still the state', () => {
    const out = join(dir, 'artifacts-off')
    const { code } = runChild({ NSLAB_ARTIFACTS_DIR: out, NSLAB_CAPTURE: 'off' })
    expect(code).toBe(1)
    const files = readdirSync(out)
    expect(files.some((f) => f.endsWith('.state.txt'))).toBe(true)
    expect(files.some((f) => f.endsWith('.pcapng'))).toBe(false)
  }, 60_000)
})
