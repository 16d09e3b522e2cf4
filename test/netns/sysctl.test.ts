// Per-namespace sysctls (harness/netns/sysctl.ts) cross-checked with sysctl(8).
import { describe, expect, it } from 'vitest'
import { getSysctl, setSysctl, sysctlPath } from '../../harness/netns/index.js'
import { ip } from '../support/names.js'
import { netlinkNamespaces } from '../support/netlink.js'

const { ns } = netlinkNamespaces()

describe('sysctl per namespace', () => {
  it('reads and writes net.* in one namespace only', () => {
    const a = ns()
    const b = ns()
    setSysctl(a.handle, 'net.ipv4.ip_forward', 1)
    expect(getSysctl(a.handle, 'net.ipv4.ip_forward')).toBe('1')
    expect(getSysctl(b.handle, 'net.ipv4.ip_forward')).toBe('0')
    expect(ip('netns', 'exec', a.name, 'sysctl', '-n', 'net.ipv4.ip_forward').trim()).toBe('1')
    setSysctl(a.name, 'net.ipv4.conf.all.rp_filter', 2)
    expect(getSysctl(a.name, 'net.ipv4.conf.all.rp_filter')).toBe('2')
    setSysctl(a.name, 'net.ipv6.conf.all.disable_ipv6', 1)
    expect(getSysctl(a.name, 'net.ipv6.conf.all.disable_ipv6')).toBe('1')
  })

  it('refuses keys that are not per-namespace network settings', () => {
    expect(() => sysctlPath('kernel.hostname')).toThrow('not a per-namespace network setting')
    expect(() => sysctlPath('net.ipv4..ip_forward')).toThrow()
    expect(() => sysctlPath('net/../kernel/hostname')).toThrow()
  })
})
