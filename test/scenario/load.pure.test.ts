/**
 * The scenario parser: every problem is reported with file, line and column
 * and one actionable sentence, before anything touches the kernel; garbage
 * in gives a ScenarioError, never a crash.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ScenarioError } from '../../harness/scenario/diagnostics.js'
import { loadScenario, parseScenario } from '../../harness/scenario/load.js'

function problems(text: string): string[] {
  try {
    parseScenario(text, 'x.yaml')
  } catch (err) {
    if (err instanceof ScenarioError) return err.message.split('\n')
    throw err
  }
  return []
}

function loadErrors(file: string): string[] {
  try {
    loadScenario(file)
  } catch (err) {
    if (err instanceof ScenarioError) return err.message.split('\n')
    throw err
  }
  return []
}

describe('parseScenario', () => {
  it('accepts every file in scenarios/', () => {
    const dir = join(import.meta.dirname, '../../scenarios')
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'))
    expect(files.length).toBeGreaterThanOrEqual(12)
    for (const f of files) expect(() => parseScenario(readFileSync(join(dir, f), 'utf8'), f)).not.toThrow()
  })

  it('takes short and long forms to the same topology', () => {
    const s = parseScenario('topology:\n  hosts: [a, b]\n  links: [[a, b], { between: [b, a], mtu: 1400 }]\n')
    expect(s.name).toBe('<scenario>')
    expect(s.scenario.topology.links).toHaveLength(2)
  })

  it('takes numbers in a command as the text YAML read them from', () => {
    const s = parseScenario(
      'topology: { hosts: [a] }\nsteps:\n  - run: { host: a, cmd: [ip, -4, route, show, table, 254] }\n',
    )
    expect(s.scenario.steps![0]!.run!.cmd).toEqual(['ip', '-4', 'route', 'show', 'table', '254'])
  })

  it('places a misspelt key at its line and column and names the nearest valid key', () => {
    expect(problems('topology:\n  hosts: [a]\n  linkz: []\n')).toEqual([
      'x.yaml:3:3: topology: unknown key "linkz" (did you mean "links"?)',
    ])
    expect(
      problems('topology: { hosts: [a, b] }\nsteps:\n  - lnk: { between: [a, b], state: down }\n'),
    ).toEqual(['x.yaml:3:5: steps[0]: unknown key "lnk" (did you mean "link"?)'])
  })

  it('lists the valid keys when nothing is close', () => {
    expect(problems('topology: { hosts: [a] }\nexpect:\n  - zzzzzzzz: {}\n')[0]).toMatch(
      /unknown key "zzzzzzzz"; expected one of: reach, notReach, ping, tcp/,
    )
  })

  it('says what was expected for a wrong value, following the union branch that fits', () => {
    const out = problems(
      [
        'topology: { hosts: [a, b], links: [[a, b]] }',
        'steps:',
        '  - link: { between: [a, b], state: sideways }',
        '  - flap: { between: [a, b], down: 5 parsecs }',
        '  - mtu: { between: [a, b] }',
      ].join('\n'),
    )
    expect(out).toEqual([
      'x.yaml:3:37: steps[0].link.state: expected one of "up", "down", got string "sideways"',
      'x.yaml:4:36: steps[1].flap.down: expected a duration such as 500ms, 2s or 1m, got string "5 parsecs"',
      'x.yaml:5:10: steps[2].mtu.mtu: missing "mtu": expected number',
    ])
  })

  it('says what is missing, and what it found for a value out of range (never "undefined")', () => {
    expect(
      problems(
        [
          'topology: { hosts: [a, b], links: [[a, b]], tunnels: [{ between: [a, b] }] }',
          'steps:',
          '  - link: { between: [a, b] }',
          '  - sleep: -1',
          '  - partition: [[a]]',
        ].join('\n'),
      ),
    ).toEqual([
      'x.yaml:1:55: topology.tunnels[0].type: missing "type": expected one of "openvpn", "wireguard", "ipsec"',
      'x.yaml:3:11: steps[0].link.state: missing "state": expected one of "up", "down"',
      'x.yaml:4:12: steps[1].sleep: expected number to be >=0, got number -1',
      'x.yaml:5:16: steps[2].partition: a partition is two groups of nodes: [[a, b], [c]], got a list of 1',
    ])
  })

  it('parses every address, subnet and regular expression while validating, placed in the file', () => {
    const out = problems(
      [
        'topology:',
        '  hosts:',
        '    a: { dns: { nameservers: ["1.2.3"] }, hosts: { web: "${b.addr.a}", db: "10.0.0.256" } }',
        '    b: { processes: [{ name: p, cmd: [sleep, "1"], ready: { output: "(" } }] }',
        '  links:',
        '    - { between: [a, b], subnet: 10.0.0.0/30, addresses: { a: "1.2.3", b: { v6: 10.0.0.2 } } }',
        '    - { between: [a, b], subnet: 10.0.1.0/33 }',
        '  tunnels: [{ between: [a, b], type: openvpn, routes: [10.9.0.0] }]',
        'expect:',
        '  - exec: { host: a, cmd: [ip, addr], stdout: { matches: "(" } }',
        '  - event: { host: a, kind: address, address: "fd00::1::2/64" }',
      ].join('\n'),
    )
    expect(out).toEqual([
      'x.yaml:3:31: topology.hosts.a.dns.nameservers[0]: expected an IP address such as 10.0.0.1 or fd00::1, got string "1.2.3": an IPv4 address has four dot-separated numbers',
      'x.yaml:3:76: topology.hosts.a.hosts.db: expected an IP address such as 10.0.0.1 or fd00::1, got string "10.0.0.256": 256 is larger than 255',
      'x.yaml:4:69: topology.hosts.b.processes[0].ready.output: expected a regular expression, got string "(": Invalid regular expression: /(/: Unterminated group',
      'x.yaml:6:63: topology.links[0].addresses.a: expected an IPv4 address such as 10.0.0.1, got string "1.2.3": an IPv4 address has four dot-separated numbers',
      'x.yaml:6:81: topology.links[0].addresses.b.v6: expected an IPv6 address such as fd00::1, got string "10.0.0.2": that is an IPv4 address; give it as v4',
      'x.yaml:7:34: topology.links[1].subnet: expected a subnet such as 10.0.0.0/24 or fd00:1::/64, got string "10.0.1.0/33": prefix length 33 is larger than 32',
      'x.yaml:8:56: topology.tunnels[0].routes[0]: expected a subnet such as 10.0.0.0/24 or fd00:1::/64, got string "10.9.0.0"',
      'x.yaml:10:58: expect[0].exec.stdout.matches: expected a regular expression, got string "(": Invalid regular expression: /(/m: Unterminated group',
      'x.yaml:11:47: expect[1].event.address: expected an address such as 10.0.0.1, with or without a /prefix length, got string "fd00::1::2/64": "::" may appear only once',
    ])
  })

  it('wants exactly one kind per step', () => {
    expect(problems('topology: { hosts: [a] }\nsteps:\n  - { heal: true, sleep: 1s }\n')).toEqual([
      'x.yaml:3:5: steps[0]: a step has exactly one kind, got heal and sleep (split it into several steps)',
    ])
  })

  it('catches duplicate names, unknown nodes, bad links and address clashes before building', () => {
    const out = problems(
      [
        'topology:',
        '  hosts: [a, b, a]',
        '  switches: [s1, s2]',
        '  links:',
        '    - [a, c]',
        '    - [s1, s2]',
        '    - { between: [a, b], subnet: 10.0.0.0/30, addresses: { a: 10.0.0.9 } }',
        '    - { between: [a, b], subnet: 10.0.1.0/30, addresses: { a: 10.0.1.1, b: 10.0.1.1 } }',
      ].join('\n'),
    )
    expect(out).toEqual([
      'x.yaml:2:17: topology.hosts[2]: duplicate node name "a" (already a host)',
      'x.yaml:5:11: topology.links[0][1]: unknown node "c"; the topology has: a, b, s1, s2',
      'x.yaml:6:7: topology.links[1]: cannot link switch s1 to switch s2: put a router between them',
      'x.yaml:7:7: topology.links[2]: address 10.0.0.9 for a is outside 10.0.0.0/30 of link a--b',
      'x.yaml:8:7: topology.links[3]: address clash: 10.0.1.1 is given twice on link a--b',
    ])
  })

  it('refuses a plan that runs out, a name too long, and two links reusing a subnet on one node', () => {
    const hosts = Array.from({ length: 7 }, (_, i) => `h${i}`)
    expect(
      problems(
        `topology:\n  hosts: [${hosts.join(', ')}]\n  switches: { sw: { subnet: 10.0.0.0/29 } }\n  links: [${hosts.map((h) => `[${h}, sw]`).join(', ')}]\n`,
      ).some((l) => /ran out|no free|full|outside/.test(l)),
    ).toBe(true)
    expect(problems(`topology:\n  hosts: [${'x'.repeat(65)}]\n`)[0]).toMatch(/at most 64 characters/)
    expect(
      problems(
        'topology:\n  hosts: [a, b, c]\n  links:\n    - { between: [a, b], subnet: 10.9.0.0/30 }\n    - { between: [a, c], subnet: 10.9.0.0/30 }\n',
      ),
    ).toEqual([
      'x.yaml:5:7: topology.links[1]: address clash on a: link a--c would reuse 10.9.0.0/30, already on link a--b; give one of them another subnet',
    ])
  })

  it('refuses what a bridge or tc cannot take, before building: switch sizes, ports, impairments', () => {
    expect(problems('topology:\n  switches: { sw: { members: 0 } }\n')).toEqual([
      'x.yaml:2:30: topology.switches.sw.members: a switch holds 1 to 1024 members (a Linux bridge takes at most 1024 ports), got number 0',
    ])
    expect(problems('topology:\n  switches: { sw: { members: 1025 } }\n')[0]).toMatch(
      /members: a switch holds 1 to 1024 members .*, got number 1025$/,
    )
    const hosts = Array.from({ length: 1025 }, (_, i) => `h${i}`)
    expect(
      problems(
        `topology:\n  hosts: [${hosts.join(', ')}]\n  switches: { sw: { subnet: 10.0.0.0/16 } }\n  links:\n${hosts.map((h) => `    - [${h}, sw]\n`).join('')}`,
      ),
    ).toEqual([
      'x.yaml:1029:7: topology.links[1024]: switch sw is full: a Linux bridge takes at most 1024 ports and h1024 would be port 1025; split its members over several switches joined by a router',
    ])
    expect(
      problems(
        [
          'topology:',
          '  hosts: [a, b]',
          '  links: [{ between: [a, b], impair: { rate: 1bit, delay: 2m } }]',
          'steps:',
          '  - impair: { between: [a, b], jitter: 5ms }',
        ].join('\n'),
      ),
    ).toEqual([
      'x.yaml:3:46: topology.links[0].impair.rate: impairment rate must be at least 8 bit/s (tc counts whole bytes per second) and at most 1 Tbit/s, got 1 bit/s (from "1bit")',
      'x.yaml:3:59: topology.links[0].impair.delay: impairment delay must be a number of milliseconds from 0 to 60000, got 120000 (from "2m")',
      'x.yaml:5:40: steps[0].impair.jitter: impairment jitter needs a delay: give delay too',
    ])
  })

  it('checks references in steps and expectations, ${...} included', () => {
    const out = problems(
      [
        'topology: { hosts: [a, b], links: [[a, b]] }',
        'steps:',
        '  - stop: { name: web }',
        '  - run: { host: a, cmd: [ping, "${b.addr.zz}", "${a.ip}"] }',
        '  - link: { between: [a, a], state: down }',
        'expect:',
        '  - session: { name: s1, alive: true }',
        '  - reach: { from: a, to: q }',
      ].join('\n'),
    )
    expect(out.join('\n')).toMatchInlineSnapshot(`
      "x.yaml:3:19: steps[0].stop.name: no process named web was started before this step
      x.yaml:4:33: steps[1].run.cmd[1]: unknown node "zz"; the topology has: a, b
      x.yaml:4:49: steps[1].run.cmd[2]: unknown reference \${a.ip}: write \${node.netns}, \${node.addr.peer}, \${node.addr6.peer} or \${node.dev.peer}
      x.yaml:5:22: steps[2].link.between: there is no link between a and a in the topology
      x.yaml:7:22: expect[0].session.name: no session named s1 was opened before this point
      x.yaml:8:27: expect[1].reach.to: unknown node "q"; the topology has: a, b"
    `)
  })

  it('reports YAML syntax errors and duplicate keys at their place', () => {
    expect(problems('topology:\n  hosts: [a\n')[0]).toMatch(/^x\.yaml:\d+:\d+: /)
    expect(problems('topology:\n  hosts: [a]\n  hosts: [b]\n')[0]).toMatch(/^x\.yaml:3:3: .*unique/)
    expect(problems('- a\n- b\n')).toEqual(['x.yaml:1:1: a scenario file is a map with at least `topology:`'])
  })

  it('refuses a file over 1 MiB before reading it: fstat for files, a bounded read for pipes and devices', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nslab-load-'))
    try {
      const big = join(dir, 'big.yaml')
      writeFileSync(big, '')
      truncateSync(big, 50 * 1024 * 1024) // sparse: 50 MiB of nothing, never read
      expect(loadErrors(big)).toEqual([
        `${big}: a scenario file is at most 1.0 MiB, this one is 50.0 MiB (is it a scenario file?)`,
      ])
      expect(loadErrors('/dev/zero')).toEqual([
        '/dev/zero: a scenario file is at most 1.0 MiB, this one is more than that (is it a scenario file?)',
      ])
      expect(loadErrors(dir)).toEqual([`${dir}: it is a directory, not a scenario file`])
      expect(loadErrors(join(dir, 'none.yaml'))).toEqual([`${join(dir, 'none.yaml')}: no such file`])
      const ok = join(dir, 'ok.yaml')
      writeFileSync(ok, 'topology: { hosts: [a] }\n')
      expect(loadScenario(ok).name).toBe('ok')
      expect(() => loadScenario(ok, { maxBytes: 10 })).toThrow(
        'a scenario file is at most 10 bytes, this one is 25 bytes',
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    expect(problems(`topology: { hosts: [a] }\n#${'x'.repeat(1024 * 1024)}\n`)).toEqual([
      'x.yaml: a scenario file is at most 1.0 MiB, this one is 1.0 MiB (is it a scenario file?)',
    ])
  })

  it('lists the first 50 problems and counts the rest; diagnostics keep them all', () => {
    const text = `topology: { hosts: [a] }\n${Array.from({ length: 200 }, (_, i) => `k${i}: 1`).join('\n')}\n`
    let err: ScenarioError | undefined
    try {
      parseScenario(text, 'x.yaml')
    } catch (e) {
      err = e as ScenarioError
    }
    expect(err?.diagnostics).toHaveLength(200)
    const lines = err!.message.split('\n')
    expect(lines).toHaveLength(51)
    expect(lines[0]).toMatch(/^x\.yaml:2:1: unknown key "k0"/)
    expect(lines[50]).toBe('... and 150 more problem(s)')
  })

  it('refuses nesting deeper than 64 levels as it parses, and through aliases', () => {
    expect(problems(`topology: ${'['.repeat(100_000)}`)).toEqual([
      'x.yaml:1:75: nested more than 64 levels deep; a scenario needs a handful (is this a scenario file?)',
    ])
    const chain = ['topology: { hosts: [a] }', `x0: &x0 ${'['.repeat(40)}${']'.repeat(40)}`]
    for (let i = 1; i < 4; i++) chain.push(`x${i}: &x${i} ${'['.repeat(40)}*x${i - 1}${']'.repeat(40)}`)
    expect(problems(chain.join('\n'))[0]).toMatch(
      /^x\.yaml:\d+:\d+: x\d(\[0\])+: nested more than 64 levels deep; .* \(through aliases\)$/,
    )
    expect(problems(`topology: ${'['.repeat(60)}${']'.repeat(60)}`)[0]).toMatch(/expected object, got a list/)
  })

  it('refuses a key given twice in any map, however many keys it has', () => {
    expect(problems('topology: { hosts: [a] }\nsteps: [{ sleep: 1s, sleep: 2s }]\n')).toEqual([
      'x.yaml:2:22: duplicate key "sleep": a map\'s keys must be unique',
    ])
    const keys = Array.from({ length: 40_000 }, (_, i) => `h${i}:`)
    expect(problems(`topology:\n  hosts:\n${[...keys, 'h7:'].map((k) => `    ${k}`).join('\n')}\n`)).toEqual([
      'x.yaml:40003:5: duplicate key "h7": a map\'s keys must be unique',
    ])
  })

  it('refuses alias bombs instead of expanding them', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      ...'bcdefghij'.split('').map(
        (c, i) =>
          `${c}: &${c} [${Array(9)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(', ')}]`,
      ),
      'topology: { hosts: *j }',
    ].join('\n')
    expect(problems(bomb)[0]).toMatch(/alias|Excessive/i)
  })
})
