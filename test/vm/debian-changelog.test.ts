import { describe, expect, it } from 'vitest'
import {
  baseVersion,
  entriesBetween,
  formatEntries,
  parseChangelog,
  upstreamVersion,
} from '../../vm/debian-changelog.js'

const LOG = `linux (6.17.8-1~bpo13+1) trixie-backports; urgency=medium

  * Rebuild for trixie-backports.

 -- Ben Hutchings <benh@debian.org>  Sun, 16 Nov 2025 23:30:52 +0100

linux (6.17.8-1) unstable; urgency=medium

  * New upstream stable update:
    https://www.kernel.org/pub/linux/kernel/v6.x/ChangeLog-6.17.8
    - ipv6: something
    - net: something else

 -- Salvatore Bonaccorso <carnil@debian.org>  Sat, 15 Nov 2025 09:08:08 +0100

linux (6.17~rc7-1~exp1) experimental; urgency=medium

  * New upstream release candidate

 -- Bastian Blank <waldi@debian.org>  Sun, 21 Sep 2025 13:55:46 +0100

linux (6.16.12-1) unstable; urgency=medium

  * New upstream stable update

 -- Salvatore Bonaccorso <carnil@debian.org>  Sat, 11 Oct 2025 09:08:08 +0100
`

describe('Debian changelogs', () => {
  it('parses entries: source, version, distribution, body, trailer', () => {
    const e = parseChangelog(LOG)
    expect(e.map((x) => x.version)).toEqual(['6.17.8-1~bpo13+1', '6.17.8-1', '6.17~rc7-1~exp1', '6.16.12-1'])
    expect(e[1]).toEqual({
      source: 'linux',
      version: '6.17.8-1',
      distribution: 'unstable',
      body: [
        '  * New upstream stable update:',
        '    https://www.kernel.org/pub/linux/kernel/v6.x/ChangeLog-6.17.8',
        '    - ipv6: something',
        '    - net: something else',
      ],
      trailer: 'Salvatore Bonaccorso <carnil@debian.org>  Sat, 15 Nov 2025 09:08:08 +0100',
    })
  })

  it('keeps the entries after the last good package version up to the first bad one (~ sorts first)', () => {
    const between = entriesBetween(parseChangelog(LOG), '6.16.12-1~bpo13+1', '6.17.8-1~bpo13+1')
    expect(between.map((x) => x.version)).toEqual(['6.17.8-1~bpo13+1', '6.17.8-1', '6.17~rc7-1~exp1'])
    // A backport after the upload it was made from: nothing between them by dpkg's order.
    expect(entriesBetween(parseChangelog(LOG), '6.17.8-1', '6.17.8-1~bpo13+1').map((x) => x.version)).toEqual(
      [],
    )
    expect(baseVersion('6.12.118-1~deb12u1')).toBe('6.12.118-1')
    expect(baseVersion('6.17~rc7-1~exp1')).toBe('6.17~rc7-1~exp1')
  })

  it('formats entries with long bodies cut short', () => {
    const text = formatEntries(parseChangelog(LOG).slice(1, 2), 2)
    expect(text).toBe(
      [
        'linux (6.17.8-1) unstable',
        '  * New upstream stable update:',
        '    https://www.kernel.org/pub/linux/kernel/v6.x/ChangeLog-6.17.8',
        '    ... 2 more line(s)',
        ' -- Salvatore Bonaccorso <carnil@debian.org>  Sat, 15 Nov 2025 09:08:08 +0100',
      ].join('\n'),
    )
  })

  it('gives the upstream version of a package version', () => {
    expect(upstreamVersion('6.17.8-1~bpo13+1')).toBe('6.17.8')
    expect(upstreamVersion('5.10.223-1')).toBe('5.10.223')
    expect(upstreamVersion('1:2.3-4')).toBe('2.3')
  })
})
