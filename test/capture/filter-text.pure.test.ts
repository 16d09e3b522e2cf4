/**
 * The filter words of `nslab capture --filter`: what each reads as, that the
 * compiled predicate keeps and drops real frames, one sentence for what it
 * cannot read, and (fuzzed) nothing but that sentence for any text at all.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_FILTER_TEXT, compileFilterText, parseFilterText } from '../../harness/capture/filter-text.js'
import { PacketFilterError, decodePacket } from '../../harness/capture/match.js'
import { FUZZ_TIMEOUT, fuzzRuns } from '../support/fuzz.js'

/** Ethernet + IPv4 + ICMP echo request 198.18.0.1 -> 198.18.0.2 (checksums not needed to decode). */
function echoRequest(src = [198, 18, 0, 1], dst = [198, 18, 0, 2], type = 8): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8)
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], 0)
  f.set([0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, ...src, ...dst], 14)
  f.set([type, 0, 0, 0, 0, 1, 0, 1], 34)
  return f
}

/** Ethernet + IPv4 + UDP 198.18.0.1:5353 -> 198.18.0.2:53. */
function udp(): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8)
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], 0)
  f.set([0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2], 14)
  f.set([0x14, 0xe9, 0, 53, 0, 8, 0, 0], 34)
  return f
}

describe('filter words', () => {
  it.each([
    ['icmp', { protocol: 'icmp' }],
    ['ICMP or icmp6', { protocol: ['icmp', 'icmp6'] }],
    ['icmp echo-request', { protocol: 'icmp', icmpType: 'echo-request' }],
    ['host 198.18.0.0/15', { host: ['198.18.0.0/15'] }],
    ['src 198.18.0.1 and dst fd00::2', { from: ['198.18.0.1'], to: ['fd00::2'] }],
    ['from 198.18.0.1 to 198.18.0.2', { from: ['198.18.0.1'], to: ['198.18.0.2'] }],
    ['udp src port 5353 dst port 53', { protocol: 'udp', srcPort: 5353, dstPort: 53 }],
    [
      'tcp and port 80 and not host 198.18.0.9',
      { protocol: 'tcp', port: 80, not: [{ host: ['198.18.0.9'] }] },
    ],
    ['not arp and not icmp6', { not: [{ protocol: 'arp' }, { protocol: 'icmp6' }] }],
  ])('%j reads as %j', (text, filter) => {
    expect(parseFilterText(text)).toEqual(filter)
  })

  it('keeps and drops real frames as the words say', () => {
    const req = decodePacket(echoRequest())
    const reply = decodePacket(echoRequest([198, 18, 0, 2], [198, 18, 0, 1], 0))
    const dns = decodePacket(udp())
    const keep = (text: string) => [req, reply, dns].map(compileFilterText(text))
    expect(keep('icmp')).toEqual([true, true, false])
    expect(keep('icmp echo-request')).toEqual([true, false, false])
    expect(keep('from 198.18.0.1')).toEqual([true, false, true])
    expect(keep('udp dst port 53')).toEqual([false, false, true])
    expect(keep('not icmp')).toEqual([false, false, true])
    expect(keep('host 198.18.0.0/30 and not port 53')).toEqual([true, true, false])
  })

  it.each([
    ['', /^filter: empty/],
    ['portt 80', /^filter "portt 80": "portt" at 1: unknown word; known: arp, /],
    ['tcp udp', /"udp" at 5: a second protocol: join protocols with `or`$/],
    ['tcp or port 80', /"port" at 8: `or` joins protocols only/],
    ['icmp and port 1 or udp', /"or" at 17: `or` joins protocols only/],
    ['port 70000', /"70000" at 6: port wants a number from 0 to 65535$/],
    ['port -1', /"-1" at 6: port wants a number/],
    ['host', /^filter "host": host wants an address at the end$/],
    ['icmp and', /`and` wants a term after it at the end$/],
    ['and icmp', /"and" at 1: `and` stands between two terms$/],
    ['not not arp', /"not" at 5: `not not` says nothing$/],
    ['host 1.2.3', /^filter\.host: "1\.2\.3" is not an address or subnet/],
    ['x'.repeat(MAX_FILTER_TEXT + 1), /^filter: 4097 characters, more than 4096$/],
  ])('%j is refused in one sentence', (text, message) => {
    let err: unknown
    try {
      compileFilterText(text)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(PacketFilterError)
    expect((err as Error).message).toMatch(message)
    expect((err as Error).message).not.toContain('\n')
  })
})

describe('filter words, fuzzed', () => {
  const words = fc.constantFrom(
    'icmp',
    'icmp6',
    'tcp',
    'udp',
    'arp',
    'ip',
    'ip6',
    'or',
    'and',
    'not',
    'host',
    'src',
    'dst',
    'from',
    'to',
    'port',
    '53',
    '70000',
    '198.18.0.1',
    'fd00::1',
    '198.18.0.0/15',
    'echo-request',
    'frag-needed',
    '(',
    'bogus',
  )

  it(
    'any sequence of its words, and any text at all: a filter or one PacketFilterError, never another error',
    () => {
      const text = fc.oneof(
        fc.array(words, { maxLength: 12 }).map((w) => w.join(' ')),
        fc.string({ maxLength: 200, unit: 'grapheme' }),
      )
      fc.assert(
        fc.property(text, (t) => {
          try {
            const predicate = compileFilterText(t)
            expect(typeof predicate(decodePacket(echoRequest()))).toBe('boolean')
          } catch (err) {
            expect(err).toBeInstanceOf(PacketFilterError)
            expect((err as Error).message.length).toBeLessThan(600)
          }
        }),
        fuzzRuns(3000),
      )
    },
    FUZZ_TIMEOUT,
  )

  it(
    'what it writes back in words reads as the same filter',
    () => {
      const proto = fc.constantFrom('icmp', 'icmp6', 'tcp', 'udp', 'arp', 'ip', 'ip6')
      const term = fc.oneof(
        fc.ipV4().map((a) => ({ text: `host ${a}`, f: { host: [a] } })),
        fc.ipV4().map((a) => ({ text: `src ${a}`, f: { from: [a] } })),
        fc.integer({ min: 0, max: 65535 }).map((p) => ({ text: `port ${p}`, f: { port: p } })),
        proto.map((p) => ({ text: `not ${p}`, f: { not: [{ protocol: p }] } })),
      )
      fc.assert(
        fc.property(fc.option(proto, { nil: undefined }), term, (p, t) => {
          const text = [p, t.text].filter(Boolean).join(' and ')
          expect(parseFilterText(text)).toEqual({ ...(p ? { protocol: p } : {}), ...t.f })
        }),
        fuzzRuns(1000),
      )
    },
    FUZZ_TIMEOUT,
  )
})
