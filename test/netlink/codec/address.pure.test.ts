import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesToMac, macToBytes } from '../../../harness/netlink/codec/address.js'
import {
  bytesToIp,
  bytesToIpv6,
  canonicalIp,
  formatCidr,
  ipFamily,
  ipToBytes,
  ipv4ToBytes,
  ipv6ToBytes,
  parseCidr,
} from '../../../harness/util/ip.js'
import { AF } from '../../../harness/netlink/codec/constants.js'
import { InvalidAddressError } from '../../../harness/netlink/codec/errors.js'

/** WHATWG URL host serialisation: an independent RFC 5952-style canonical IPv6 form. */
function urlCanonical(text: string): string {
  return new URL(`http://[${text}]/`).hostname.slice(1, -1)
}

function isMapped(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff
}

describe('IPv4', () => {
  it('converts dotted quads', () => {
    expect(ipv4ToBytes('198.18.0.1').toString('hex')).toBe('c6120001')
    expect(bytesToIp(Buffer.from('c6120001', 'hex'))).toBe('198.18.0.1')
    expect(ipFamily('198.18.0.1')).toBe(AF.INET)
  })

  it.each([
    ['198.18.0', /four dot-separated numbers/],
    ['198.18.0.256', /larger than 255/],
    ['198.18.0.01', /without leading zeros/],
    ['198.18.0.-1', /not a decimal number/],
    ['198.18..1', /not a decimal number/],
    ['', /four dot-separated/],
  ])('rejects %j', (text, reason) => {
    expect(() => ipv4ToBytes(text)).toThrow(InvalidAddressError)
    expect(() => ipv4ToBytes(text)).toThrow(reason)
  })
})

describe('IPv6', () => {
  it.each([
    ['fd00::1', 'fd00::1'],
    ['FD00:0:0:0:0:0:0:0001', 'fd00::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // RFC 5952 4.2.3: first of equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:0db8::0001', '2001:db8::1'],
    ['fe80::105e:62ff:fe8a:7d7e', 'fe80::105e:62ff:fe8a:7d7e'], // as `ip -6 addr` printed it
    ['ff02::1:ff8a:7d7e', 'ff02::1:ff8a:7d7e'],
    ['::ffff:198.18.0.1', '::ffff:198.18.0.1'],
    ['::ffff:c612:1', '::ffff:198.18.0.1'],
    ['64:ff9b::198.18.0.1', '64:ff9b::c612:1'],
    ['1:2:3:4:5:6:198.18.0.1', '1:2:3:4:5:6:c612:1'],
  ])('canonicalises %s as %s', (text, canonical) => {
    expect(canonicalIp(text)).toBe(canonical)
    expect(ipFamily(text)).toBe(AF.INET6)
  })

  it.each([
    ['1:2:3:4:5:6:7', /8 groups/],
    ['1:2:3:4:5:6:7:8:9', /8 groups/],
    ['1::2::3', /only once/],
    ['1:2:3:4::5:6:7:8', /at least one zero group/],
    ['12345::', /1 to 4 hex digits/],
    ['g::', /1 to 4 hex digits/],
    ['fe80::1%eth0', /zone/],
    [':1:2:3:4:5:6:7', /1 to 4 hex digits/],
    ['::1.2.3', /four dot-separated/],
  ])('rejects %j', (text, reason) => {
    expect(() => ipv6ToBytes(text)).toThrow(InvalidAddressError)
    expect(() => ipv6ToBytes(text)).toThrow(reason)
  })

  it('matches the WHATWG canonical form for random addresses (zero runs included)', () => {
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.nat({ max: 0xffff }))
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const bytes = Buffer.alloc(16)
        groups.forEach((g, i) => bytes.writeUInt16BE(g, i * 2))
        const text = bytesToIpv6(bytes)
        expect(ipv6ToBytes(text)).toEqual(bytes)
        if (!isMapped(bytes)) expect(text).toBe(urlCanonical(text))
      }),
      { numRuns: 500 },
    )
  })

  it('parses any textual form fast-check generates, to the same bytes as the URL parser', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const bytes = ipv6ToBytes(text)
        expect(ipv6ToBytes(urlCanonical(text))).toEqual(bytes)
        expect(canonicalIp(canonicalIp(text))).toBe(canonicalIp(text))
      }),
      { numRuns: 500 },
    )
  })
})

describe('IP round trips', () => {
  it('canonical text -> bytes -> same text (IPv4 and IPv6)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
        const canonical = canonicalIp(text)
        expect(bytesToIp(ipToBytes(canonical))).toBe(canonical)
      }),
      { numRuns: 500 },
    )
  })

  it('bytes -> text -> same bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
        ),
        (raw) => {
          expect(ipToBytes(bytesToIp(raw))).toEqual(Buffer.from(raw))
        },
      ),
      { numRuns: 500 },
    )
  })

  it('rejects byte strings of other lengths', () => {
    expect(() => bytesToIp(Buffer.alloc(5))).toThrow(/4 or 16 bytes, not 5/)
  })
})

describe('MAC', () => {
  it('converts like ip prints', () => {
    expect(macToBytes('02:00:00:00:00:0A').toString('hex')).toBe('02000000000a')
    expect(macToBytes('2:0:0:0:0:a').toString('hex')).toBe('02000000000a')
    expect(macToBytes('02-00-00-00-00-0a').toString('hex')).toBe('02000000000a')
    expect(bytesToMac(Buffer.from('33:33:ff:8a:7d:7e'.replaceAll(':', ''), 'hex'))).toBe('33:33:ff:8a:7d:7e')
    expect(bytesToMac(Buffer.alloc(0))).toBe('')
  })

  it.each([
    ['02:00:00:00:00'],
    ['02:00:00:00:00:00:00'],
    ['02:00:00:00:00:0g'],
    ['020:00:00:00:00:00'],
    [''],
  ])('rejects %j', (text) => {
    expect(() => macToBytes(text)).toThrow(InvalidAddressError)
  })

  it('round-trips: canonical text -> bytes -> same text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (raw) => {
        const text = bytesToMac(raw)
        expect(text).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/)
        expect(bytesToMac(macToBytes(text))).toBe(text)
        expect(bytesToMac(macToBytes(text.toUpperCase()))).toBe(text)
      }),
    )
  })
})

describe('parseCidr', () => {
  it('parses IPv4 and IPv6 prefixes', () => {
    expect(parseCidr('198.18.0.1/30')).toEqual({
      family: AF.INET,
      address: '198.18.0.1',
      prefixLen: 30,
      bytes: Buffer.from('c6120001', 'hex'),
    })
    expect(parseCidr('FD00::1/64')).toMatchObject({ family: AF.INET6, address: 'fd00::1', prefixLen: 64 })
    expect(parseCidr('198.18.0.1')).toMatchObject({ prefixLen: 32 })
    expect(parseCidr('::/0')).toMatchObject({ prefixLen: 0, address: '::' })
    expect(formatCidr({ address: 'fd00:0::1', prefixLen: 64 })).toBe('fd00::1/64')
  })

  it.each([
    ['198.18.0.1/33', /larger than 32/],
    ['fd00::1/129', /larger than 128/],
    ['198.18.0.1/', /not a decimal number/],
    ['198.18.0.1/024', /not a decimal number/],
    ['198.18.0.1/a', /not a decimal number/],
    ['198.18.0.1/24/1', /not a decimal number/],
    ['nonsense/24', /four dot-separated/],
  ])('rejects %j', (text, reason) => {
    expect(() => parseCidr(text)).toThrow(InvalidAddressError)
    expect(() => parseCidr(text)).toThrow(reason)
  })

  it('says which input was wrong', () => {
    expect(() => parseCidr('198.18.0.300/24')).toThrow(
      'invalid address "198.18.0.300/24": 300 is larger than 255',
    )
  })
})
