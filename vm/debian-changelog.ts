/**
 * Debian changelogs (debian/changelog, shipped as
 * usr/share/doc/<package>/changelog.Debian.gz), parsed into entries, and the
 * entries between two package versions: what changed from the last good
 * kernel build to the first bad one. Pure.
 */
import { compareDebianVersions } from './debian-version.js'

export interface ChangelogEntry {
  /** The source package ("linux"). */
  source: string
  version: string
  /** "unstable", "bookworm-security", ... */
  distribution: string
  /** The entry's lines between the header and the trailer, as written. */
  body: string[]
  /** The trailer's maintainer and date (" -- Name <mail>  date"). */
  trailer: string
}

const HEADER = /^(\S+) \(([^)\s]+)\) ([^;]+);/

/** Every entry of a changelog, newest first as written. Lines outside an entry are ignored. */
export function parseChangelog(text: string): ChangelogEntry[] {
  const out: ChangelogEntry[] = []
  let cur: ChangelogEntry | undefined
  for (const line of text.split('\n')) {
    const h = HEADER.exec(line)
    if (h) {
      cur = { source: h[1]!, version: h[2]!, distribution: h[3]!.trim(), body: [], trailer: '' }
      out.push(cur)
    } else if (cur && line.startsWith(' -- ')) {
      cur.trailer = line.slice(4).trim()
      cur = undefined
    } else if (cur) cur.body.push(line)
  }
  for (const e of out) {
    while (e.body.length && e.body[0]!.trim() === '') e.body.shift()
    while (e.body.length && e.body.at(-1)!.trim() === '') e.body.pop()
  }
  return out
}

/**
 * The version a backport or stable rebuild was made from: "6.17.8-1" from
 * "6.17.8-1~bpo13+1" or "6.12.118-1~deb12u1" (a "~" sorts before the end, so
 * the rebuild is older than its source by dpkg's order).
 */
export function baseVersion(version: string): string {
  return version.replace(/~(bpo|deb)\d[^~]*$/, '')
}

/**
 * The entries after the last good package version up to the first bad one,
 * newest first. Both are taken as the uploads they were rebuilt from, so a
 * backport's range holds the unstable entries it carries: after
 * 6.16.12-1~bpo13+1 up to 6.17.8-1~bpo13+1 are the entries above 6.16.12-1
 * up to 6.17.8-1, and the backport's own.
 */
export function entriesBetween(entries: ChangelogEntry[], after: string, upTo: string): ChangelogEntry[] {
  const low = baseVersion(after)
  const high = baseVersion(upTo)
  return entries.filter(
    (e) =>
      compareDebianVersions(e.version, low) > 0 &&
      (compareDebianVersions(e.version, high) <= 0 || compareDebianVersions(e.version, upTo) <= 0),
  )
}

/**
 * Entries as text for a terminal: each header, then its first `maxLines`
 * body lines ("... N more lines" after), so a new upstream release (its
 * whole shortlog) does not flood the screen.
 */
export function formatEntries(entries: ChangelogEntry[], maxLines = 12): string {
  return entries
    .map((e) => {
      const shown = e.body.slice(0, maxLines)
      const more = e.body.length - shown.length
      return [
        `${e.source} (${e.version}) ${e.distribution}`,
        ...shown,
        ...(more > 0 ? [`    ... ${more} more line(s)`] : []),
        ` -- ${e.trailer}`,
      ].join('\n')
    })
    .join('\n\n')
}

/** The upstream version of a Debian kernel package version: "6.17.8" from "6.17.8-1~bpo13+1", "5.10.223" from "5.10.223-1". */
export function upstreamVersion(packageVersion: string): string {
  const noEpoch = packageVersion.replace(/^\d+:/, '')
  const hyphen = noEpoch.lastIndexOf('-')
  return hyphen > 0 ? noEpoch.slice(0, hyphen) : noEpoch
}
