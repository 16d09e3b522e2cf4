import { describe, expect, it } from 'vitest'
import { parseEnvDump, parsePushReply, pushedConfig } from '../../harness/vpn/index.js'

// What OpenVPN 2.6 gave the --up script in this repository's own run (trimmed), NUL-separated as `env -0` writes it.
const DUMP = [
  'route_vpn_gateway=100.64.0.1',
  'dev=ovpn0',
  'route_network_1=10.5.0.0',
  'route_netmask_1=255.255.0.0',
  'route_gateway_1=100.64.0.1',
  'route_network_2=10.6.0.0',
  'route_netmask_2=255.255.255.0',
  'route_metric_2=50',
  'ifconfig_local=100.64.0.2',
  'ifconfig_netmask=255.255.255.0',
  'trusted_ip=198.18.0.1',
  'trusted_port=1194',
  'tun_mtu=1400',
  'foreign_option_1=dhcp-option DNS 10.50.0.53',
  'foreign_option_2=dhcp-option DOMAIN corp.example',
  'foreign_option_3=dhcp-option DNS 10.50.0.54',
  'foreign_option_4=dhcp-option DOMAIN-SEARCH lab.example',
  '',
].join('\0')

const LOG =
  "2026-11-23 05:16:31 PUSH: Received control message: 'PUSH_REPLY,route 10.5.0.0 255.255.0.0,redirect-gateway def1,route-gateway 100.64.0.1,topology subnet'\n"

describe('OpenVPN --up environment', () => {
  it('becomes typed data: address, peer, MTU, routes with gateways and metrics, DNS and domains in order', () => {
    expect(pushedConfig(parseEnvDump(DUMP))).toEqual({
      device: 'ovpn0',
      localAddress: '100.64.0.2',
      prefixLen: 24,
      peer: '198.18.0.1',
      peerPort: 1194,
      gateway: '100.64.0.1',
      mtu: 1400,
      routes: [
        { dst: '10.5.0.0/16', gateway: '100.64.0.1', metric: undefined },
        { dst: '10.6.0.0/24', gateway: '100.64.0.1', metric: 50 },
      ],
      dns: ['10.50.0.53', '10.50.0.54'],
      domain: 'corp.example',
      search: ['corp.example', 'lab.example'],
      redirectGateway: false,
      pushReply: [],
    })
  })

  it('redirect-gateway comes from the logged PUSH_REPLY', () => {
    const reply = parsePushReply(LOG)
    expect(reply).toEqual([
      'route 10.5.0.0 255.255.0.0',
      'redirect-gateway def1',
      'route-gateway 100.64.0.1',
      'topology subnet',
    ])
    expect(pushedConfig(parseEnvDump(DUMP), reply).redirectGateway).toBe(true)
  })

  it('a dump without the client configuration says what is missing', () => {
    expect(() => pushedConfig(parseEnvDump('dev=tun0\0'))).toThrow(/lacks ifconfig_local/)
  })
})
