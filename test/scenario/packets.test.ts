/**
 * The `packets` expectation: placed errors for what validation can see
 * (unknown node or address, a link that is not there, a mark not set yet,
 * an unknown ICMP name), and on a real lab a count that holds or fails with
 * the matching packets listed.
 */
import { describe, expect, it } from 'vitest'
import { ScenarioError, parseScenario, runScenario } from '../../harness/scenario/index.js'
import { countsPackets } from '../../harness/scenario/runner.js'

function problems(text: string): string[] {
  try {
    parseScenario(text, 'x.yaml')
  } catch (err) {
    if (err instanceof ScenarioError) return err.message.split('\n')
    throw err
  }
  return []
}

const TOPOLOGY = `topology:
  hosts: [a, b]
  routers: [r1]
  links: [[a, r1], [r1, b]]
`

describe('packets: validation', () => {
  it('places unknown nodes, bad addresses, missing links and marks', () => {
    const text = `${TOPOLOGY}steps:
  - expect:
      - packets: { on: a, since: later, count: 0 }
  - mark: later
  - mark: later
expect:
  - packets: { on: c, count: 0 }
  - packets: { on: { between: [a, b] }, count: 0 }
  - packets: { on: a, match: { to: [r1, q, 10.0.0.0/33], not: { from: 10.1.2 } }, count: 0 }
  - packets: { on: { node: a, device: eth0 }, match: { from: 198.18.0.0/15, host: fd00::1 }, since: later, count: { min: 1 } }
`
    expect(problems(text)).toEqual([
      'x.yaml:7:34: steps[0].expect[0].packets.since: no mark named "later" before this point: add a step `- mark: later` where counting should start',
      'x.yaml:9:11: steps[2].mark: duplicate mark "later"',
      'x.yaml:11:20: expect[0].packets.on: unknown node "c"; the topology has: a, b, r1',
      'x.yaml:12:31: expect[1].packets.on.between: there is no link between a and b in the topology',
      'x.yaml:13:41: expect[2].packets.match.to[1]: unknown node "q" (expected a node, an address or a subnet); the topology has: a, b, r1',
      'x.yaml:13:44: expect[2].packets.match.to[2]: "10.0.0.0/33" is not an address or subnet: invalid address "10.0.0.0/33": prefix length 33 is larger than 32',
      'x.yaml:13:71: expect[2].packets.match.not.from: "10.1.2" is not an address or subnet: invalid address "10.1.2": an IPv4 address has four dot-separated numbers',
    ])
  })

  it('refuses an unknown ICMP name, protocol or count shape with the choices', () => {
    const [icmp] = problems(
      `${TOPOLOGY}expect:\n  - packets: { on: a, match: { icmpType: frag }, count: 0 }\n`,
    )
    expect(icmp).toMatch(
      /^x\.yaml:6:42: expect\[0\]\.packets\.match\.icmpType: expected an ICMP message \(echo-request, .*frag-needed.*\) or a type number 0-255, got string "frag"$/,
    )
    const [proto] = problems(
      `${TOPOLOGY}expect:\n  - packets: { on: a, match: { protocol: sctp }, count: 0 }\n`,
    )
    expect(proto).toContain(
      'expect[0].packets.match.protocol: expected a protocol (arp, ip, ip6, icmp, icmp6, tcp, udp)',
    )
    const [count] = problems(`${TOPOLOGY}expect:\n  - packets: { on: a, count: { min: 3, max: 1 } }\n`)
    expect(count).toContain('expect[0].packets.count')
  })

  it('a scenario with a packets expectation anywhere captures', () => {
    const inWait = parseScenario(
      `${TOPOLOGY}steps:\n  - wait: { until: { packets: { on: a, count: { min: 1 } } } }\n`,
    )
    expect(countsPackets(inWait.scenario)).toBe(true)
    expect(countsPackets(parseScenario(`${TOPOLOGY}expect:\n  - reach: { from: a, to: b }\n`).scenario)).toBe(
      false,
    )
  })
})

describe('packets: on a lab', () => {
  it('counts what a ping sent, and fails listing the packets when there should be none', async () => {
    const loaded = parseScenario(
      `${TOPOLOGY}steps:
  - expect:
      - ping: { from: a, to: b, count: 1 }
  - mark: pinged
  - expect:
      - ping: { from: a, to: b, count: 2, interval: 20ms }
expect:
  - packets:
      { on: { between: [a, r1] }, direction: out, since: pinged, match: { icmpType: echo-request, to: b }, count: 2 }
  - packets: { on: b, direction: in, match: { protocol: icmp, from: a }, count: 3 }
  - packets: { on: r1, direction: out, match: { icmpType: echo-reply, from: b, to: a }, count: { min: 3, max: 3 } }
  - packets: { on: { between: [r1, b] }, match: { protocol: icmp }, count: 0 }
  - packets: { on: { node: a, device: nope0 }, count: 0 }
`,
      'x.yaml',
    )
    // Captures with no capture options at all, like test/scenarios does.
    const report = await runScenario(loaded)
    expect(report.status).toBe('failed')
    const [sincePinged, atB, replies, none, nope] = report.expectations
    expect(sincePinged).toMatchObject({ status: 'passed' })
    expect(sincePinged!.detail).toMatch(/^2 of \d+ packet\(s\) matched \(expected exactly 2\):\n/)
    expect(sincePinged!.detail).toMatch(
      /\d\d:\d\d:\d\d\.\d{6} a\/\S+ out icmp echo-request \(8\/0\) a → b, 84 bytes/,
    )
    expect(atB).toMatchObject({ status: 'passed' })
    expect(replies).toMatchObject({ status: 'passed' })
    expect(none).toMatchObject({ status: 'failed', label: expect.stringContaining('packets on r1/') })
    expect(none!.detail).toMatch(/^6 of \d+ packet\(s\) matched \(expected exactly 0\):\n/)
    expect(none!.detail).toMatch(/r1\/\S+ out icmp echo-request \(8\/0\) a → b/)
    expect(none!.detail).toMatch(/r1\/\S+ in icmp echo-reply \(0\/0\) b → a/)
    expect(none!.detail).toContain('... and 1 more')
    expect(nope).toMatchObject({ status: 'failed' })
    expect(nope!.detail).toMatch(/^a has no device nope0 and none was seen there; its devices: lo, \S+-r1/)
    expect(report.capture).toBeUndefined()
  })
})
