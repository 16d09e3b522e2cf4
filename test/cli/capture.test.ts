/**
 * `nslab run` hands over the packets of a failed scenario: a pcapng of every
 * lab link, named in the report (terminal, JSON, JUnit), read back by
 * tshark; a passing scenario writes nothing unless asked (`capture: always`
 * or --capture-always); --no-capture writes nothing at all.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tsharkFields, tsharkNamed } from '../capture/tshark.js'
import { nslab } from '../support/cli.js'

const dir = mkdtempSync(join(tmpdir(), 'nslab-capture-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const pair = `topology:
  hosts: [a, b]
  links: [[a, b]]
`

function scenario(name: string, body: string): string {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, `name: ${name}\n${body}`)
  return file
}

describe('nslab run --capture', () => {
  it("writes a failed scenario's packets, names the file in every report, and tshark reads it", async () => {
    const file = scenario(
      'ping-then-fail',
      `${pair}expect:
  - ping: { from: a, to: b, count: 3 }
  - notReach: { from: a, to: b }
`,
    )
    const out = join(dir, 'packets')
    const json = join(dir, 'r.json')
    const junit = join(dir, 'r.xml')
    const r = await nslab(['run', file, '--capture', out, '--json', json, '--junit', junit])
    expect(r.code).toBe(1)
    const [pcap] = readdirSync(out)
    expect(pcap).toMatch(/^ping-then-fail--[0-9a-f]+\.pcapng$/)
    const path = join(out, pcap!)
    expect(r.stdout).toContain(`packets: ${path}`)
    const report = JSON.parse(readFileSync(json, 'utf8')) as { scenarios: { capture: { file: string } }[] }
    expect(report.scenarios[0]!.capture.file).toBe(path)
    expect(readFileSync(junit, 'utf8')).toContain(`[[ATTACHMENT|${path}]]`)
    // Wireshark's reader: a's three echo requests, outbound on a's end, inbound on b's, with names.
    const requests = tsharkFields(
      path,
      ['frame.interface_name', 'frame.packet_flags_direction'],
      'icmp.type == 8',
    )
    const onA = requests.filter(([i, d]) => i!.startsWith('a/') && d === '0x00000002')
    const onB = requests.filter(([i, d]) => i!.startsWith('b/') && d === '0x00000001')
    expect(onA.length).toBeGreaterThanOrEqual(3)
    expect(onB.length).toBe(onA.length)
    expect(tsharkNamed(path, ['ip.src_host', 'ip.dst_host'], 'icmp.type == 0')).toContainEqual(['b', 'a'])
    const described = tsharkFields(path, ['frame.interface_description'], 'icmp.type == 8')
    expect(described.some(([d]) => /^a ⟷ b \(\S+\): 198\.18\.\d+\.\d+\/30/.test(d!))).toBe(true)
  }, 90_000)

  it('a passing scenario writes nothing, unless capture: always', async () => {
    const out = join(dir, 'passing')
    const quiet = scenario('passes', `${pair}expect:\n  - reach: { from: a, to: b }\n`)
    expect((await nslab(['run', quiet, '--capture', out])).code).toBe(0)
    expect(existsSync(out)).toBe(false)
    const loud = scenario('passes-always', `capture: always\n${pair}expect:\n  - reach: { from: a, to: b }\n`)
    const r = await nslab(['run', loud, '--capture', out])
    expect(r.code).toBe(0)
    // The pcapng and the trace page that links to it.
    expect(
      readdirSync(out)
        .map((f) => f.replace(/--\w+\./, '--ID.'))
        .sort(),
    ).toEqual(['passes-always--ID.pcapng', 'passes-always--ID.trace.html'])
    expect(r.stdout).toContain('packets: ')
    expect(r.stdout).toMatch(/trace: \S+\.trace\.html \(open it in a browser: nslab trace /)
  }, 90_000)

  it('--no-capture writes no packets', async () => {
    const out = join(dir, 'none')
    const file = scenario('fails-uncaptured', `${pair}expect:\n  - notReach: { from: a, to: b }\n`)
    const r = await nslab(['run', file, '--no-capture'], { env: { NSLAB_ARTIFACTS_DIR: out } })
    expect(r.code).toBe(1)
    expect(existsSync(out)).toBe(false)
    expect(r.stdout).not.toContain('packets: ')
  }, 90_000)
})
