/** The scenario format's tunnels: checked before anything is built, with line and column. */
import { describe, expect, it } from 'vitest'
import { ScenarioError, parseScenario } from '../../harness/scenario/index.js'

function problems(text: string): string[] {
  try {
    parseScenario(text, 'x.yaml')
  } catch (err) {
    if (err instanceof ScenarioError) return err.message.split('\n')
    throw err
  }
  return []
}

describe('scenario tunnels', () => {
  it('accepts tunnels, the tunnel step and the tunnel expectation', () => {
    expect(
      problems(
        [
          'topology:',
          '  hosts: [a, b]',
          '  links: [[a, b]]',
          '  tunnels:',
          '    - { between: [a, b], type: openvpn, name: t, mode: full, routes: [10.5.0.0/24], mtu: 1300 }',
          'steps:',
          '  - tunnel: { name: t, state: down }',
          'expect:',
          '  - tunnel: { name: t, up: false, implementation: openvpn }',
        ].join('\n'),
      ),
    ).toEqual([])
  })

  it('catches unknown ends, switch ends, a tunnel to itself, duplicate names and unknown tunnels', () => {
    const out = problems(
      [
        'topology:',
        '  hosts: [a, b]',
        '  switches: [sw]',
        '  links: [[a, b], [a, sw]]',
        '  tunnels:',
        '    - { between: [a, c], type: wireguard }',
        '    - { between: [a, sw], type: wireguard }',
        '    - { between: [a, a], type: openvpn, name: self }',
        '    - { between: [a, b], type: wireguard }',
        '    - { between: [a, b], type: wireguard }',
        'steps:',
        '  - tunnel: { name: nope, state: up }',
        'expect:',
        '  - tunnel: { name: wireguard-a-b, up: true }',
      ].join('\n'),
    )
    expect(out.join('\n')).toMatchInlineSnapshot(`
      "x.yaml:6:22: topology.tunnels[0].between[1]: unknown node "c"; the topology has: a, b, sw
      x.yaml:7:22: topology.tunnels[1].between[1]: sw is a switch: tunnel ends are hosts or routers
      x.yaml:8:18: topology.tunnels[2].between: a tunnel from a to itself
      x.yaml:10:7: topology.tunnels[4]: duplicate tunnel name "wireguard-a-b" (the default <type>-<a>-<b>): give each tunnel a name
      x.yaml:12:21: steps[0].tunnel.name: unknown tunnel "nope"; the topology has: wireguard-a-c, wireguard-a-sw, self, wireguard-a-b"
    `)
  })

  it('refuses an unknown tunnel type and unknown tunnel keys at their place', () => {
    const out = problems(
      'topology:\n  hosts: [a, b]\n  tunnels:\n    - { between: [a, b], type: gre, colour: red }\n',
    )
    expect(out.join('\n')).toMatch(
      /x\.yaml:4:\d+: topology\.tunnels\[0\]\.type: expected one of .*"openvpn".*"wireguard"/,
    )
    expect(out.join('\n')).toMatch(/colour/)
  })
})
