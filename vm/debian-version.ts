/**
 * Debian version ordering (dpkg --compare-versions): [epoch:]upstream[-revision],
 * each part compared by alternating runs of non-digits (letters before other
 * characters, "~" before everything, even the end) and numbers.
 */

/** The sort weight of a non-digit character in dpkg's order; 0 for the end and digits. */
function order(s: string, i: number): number {
  if (i >= s.length) return 0
  const c = s.charCodeAt(i)
  if (c >= 48 && c <= 57) return 0
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return c
  if (c === 126) return -1 // ~
  return c + 256
}

const isDigit = (s: string, i: number): boolean =>
  i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57

/** dpkg's verrevcmp: compare one part (upstream or revision); negative, 0 or positive. */
function compareParts(a: string, b: string): number {
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a, i)) || (j < b.length && !isDigit(b, j))) {
      const d = order(a, i) - order(b, j)
      if (d !== 0) return d
      i++
      j++
    }
    while (a[i] === '0') i++
    while (b[j] === '0') j++
    let firstDiff = 0
    while (isDigit(a, i) && isDigit(b, j)) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j)
      i++
      j++
    }
    if (isDigit(a, i)) return 1
    if (isDigit(b, j)) return -1
    if (firstDiff !== 0) return firstDiff
  }
  return 0
}

interface Parsed {
  epoch: number
  upstream: string
  revision: string
}

function parse(v: string): Parsed {
  const colon = v.indexOf(':')
  const epoch = colon > 0 ? Number(v.slice(0, colon)) : 0
  const rest = colon > 0 ? v.slice(colon + 1) : v
  const hyphen = rest.lastIndexOf('-')
  return hyphen >= 0
    ? { epoch, upstream: rest.slice(0, hyphen), revision: rest.slice(hyphen + 1) }
    : { epoch, upstream: rest, revision: '' }
}

/** Compare two Debian versions as dpkg does: negative when a < b, 0 when equal, positive when a > b. */
export function compareDebianVersions(a: string, b: string): number {
  const x = parse(a.trim())
  const y = parse(b.trim())
  if (x.epoch !== y.epoch) return x.epoch - y.epoch
  return compareParts(x.upstream, y.upstream) || compareParts(x.revision, y.revision)
}
