/**
 * A packet filter written as words, for the command line (`nslab capture
 * --filter`): a small subset of tcpdump's language, read into a
 * PacketFilter (match.ts), which does the matching.
 *
 *   icmp                          a protocol: arp ip ip6 icmp icmp6 tcp udp
 *   icmp or icmp6                 protocols joined by `or` (any of them)
 *   icmp echo-request             an ICMP/ICMPv6 message by name (echo-reply, frag-needed, ...)
 *   host 198.18.0.1               either address (a subnet too: host 198.18.0.0/15)
 *   src 198.18.0.1, dst fd00::2   one direction (`from`/`to` mean the same)
 *   port 53, src port 53, dst port 53
 *   not arp                       `not` before one primitive
 *   tcp and port 80 and not host 198.18.0.9   `and` between terms (or nothing: terms are anded)
 *
 * What it cannot say (`or` between other terms, parentheses) is refused in
 * one sentence naming the word and its position, as is anything else it
 * does not know; a filter is never half read.
 */
import {
  ICMP_NAMES,
  type PacketFilter,
  PacketFilterError,
  type PacketPredicate,
  PROTOCOLS,
  type Protocol,
  compileFilter,
} from './match.js'

/** Longest filter text read (a command line's, with room to spare). */
export const MAX_FILTER_TEXT = 4096

interface Token {
  word: string
  /** 1-based position of the word's first character. */
  at: number
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  const re = /\S+/g
  let m: RegExpExecArray | null
  while ((m = re.exec(text)) !== null) tokens.push({ word: m[0], at: m.index + 1 })
  return tokens
}

const isProtocol = (w: string): w is Protocol => (PROTOCOLS as readonly string[]).includes(w)

const KNOWN = `${PROTOCOLS.join(', ')}, host, src, dst, from, to, port, not, and, or`

/** Read a filter written as words; throws PacketFilterError with one sentence for anything it cannot read. */
export function parseFilterText(text: string): PacketFilter {
  if (text.length > MAX_FILTER_TEXT)
    throw new PacketFilterError('filter', `filter: ${text.length} characters, more than ${MAX_FILTER_TEXT}`)
  const tokens = tokenize(text)
  if (tokens.length === 0)
    throw new PacketFilterError('filter', 'filter: empty (say what to keep, e.g. "icmp")')
  const quoted = JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)
  const fail = (t: Token | undefined, why: string): never => {
    throw new PacketFilterError(
      'filter',
      t === undefined
        ? `filter ${quoted}: ${why} at the end`
        : `filter ${quoted}: ${JSON.stringify(t.word)} at ${t.at}: ${why}`,
    )
  }
  let i = 0
  const next = (): Token | undefined => tokens[i++]
  const peek = (): Token | undefined => tokens[i]

  const filter: PacketFilter = {}
  const not: PacketFilter[] = []
  const protocols: Protocol[] = []
  const addAddress = (into: PacketFilter, key: 'host' | 'from' | 'to', t: Token | undefined): void => {
    if (t === undefined) return fail(t, `${key} wants an address`)
    into[key] = [...(into[key] ?? []), t.word]
  }
  const portNumber = (t: Token | undefined): number => {
    if (t === undefined || !/^\d{1,5}$/.test(t.word) || Number(t.word) > 65535)
      return fail(t, 'port wants a number from 0 to 65535')
    return Number(t.word)
  }

  /** One primitive into `into`; `negated` forbids protocol lists and `or` inside `not`. */
  const primitive = (into: PacketFilter, negated: boolean): void => {
    const t = next()
    if (t === undefined) return fail(t, 'a term is missing')
    const w = t.word.toLowerCase()
    if (isProtocol(w)) {
      const list = [w]
      while (!negated && peek()?.word.toLowerCase() === 'or') {
        next()
        const p = next()
        if (p === undefined || !isProtocol(p.word.toLowerCase()))
          return fail(p, `\`or\` joins protocols only (${PROTOCOLS.join(', ')})`)
        list.push(p.word.toLowerCase() as Protocol)
      }
      if (negated) into.protocol = w
      else if (protocols.length > 0) return fail(t, 'a second protocol: join protocols with `or`')
      else protocols.push(...list)
      const name = peek()
      if ((w === 'icmp' || w === 'icmp6') && name && ICMP_NAMES[name.word] !== undefined) {
        next()
        if (into.icmpType !== undefined) return fail(name, 'one ICMP message name per filter')
        into.icmpType = name.word
      }
      return
    }
    switch (w) {
      case 'host':
        return addAddress(into, 'host', next())
      case 'src':
      case 'from':
      case 'dst':
      case 'to': {
        const dir = w === 'src' || w === 'from' ? 'from' : 'to'
        if (peek()?.word.toLowerCase() === 'port') {
          next()
          if (dir === 'from') into.srcPort = portNumber(next())
          else into.dstPort = portNumber(next())
          return
        }
        return addAddress(into, dir, next())
      }
      case 'port':
        into.port = portNumber(next())
        return
      case 'not':
        return fail(t, '`not not` says nothing')
      case 'and':
      case 'or':
        return fail(t, `\`${w}\` stands between two terms`)
      default:
        return fail(t, `unknown word; known: ${KNOWN}, and ICMP message names after icmp/icmp6`)
    }
  }

  for (;;) {
    const t = peek()
    if (t === undefined) break
    if (t.word.toLowerCase() === 'not') {
      next()
      const n: PacketFilter = {}
      primitive(n, true)
      not.push(n)
    } else primitive(filter, false)
    const sep = peek()
    if (sep === undefined) break
    const s = sep.word.toLowerCase()
    if (s === 'and') {
      next()
      if (peek() === undefined) fail(undefined, '`and` wants a term after it')
    } else if (s === 'or') fail(sep, '`or` joins protocols only (write two captures, or filter afterwards)')
  }
  if (protocols.length > 0) filter.protocol = protocols.length === 1 ? protocols[0]! : protocols
  if (not.length > 0) filter.not = not
  return filter
}

/** Read and compile a filter written as words (addresses and names checked): one sentence when it cannot be used. */
export function compileFilterText(text: string): PacketPredicate {
  return compileFilter(parseFilterText(text), 'filter')
}
