/**
 * `${...}` references in scenario strings, replaced when a step runs:
 *   ${a.netns}      the namespace name of node a
 *   ${a.addr.b}     a's IPv4 address on the link facing b (${a.addr} its first)
 *   ${a.addr6.b}    the same, IPv6
 *   ${a.dev.b}      a's device facing b
 *   ${lab.id}       the lab's id
 */

export const VAR = /\$\{([^}]*)\}/g

export interface VarRef {
  text: string
  node: string
  attr: 'netns' | 'addr' | 'addr6' | 'dev' | 'id'
  peer: string | undefined
}

/** Parse one reference body (`a.addr.b`); a string is an error sentence. */
export function parseVar(body: string): VarRef | string {
  const parts = body.split('.')
  if (parts[0] === 'lab') {
    if (parts.length === 2 && parts[1] === 'id')
      return { text: body, node: 'lab', attr: 'id', peer: undefined }
    return `unknown reference \${${body}}: the lab has only \${lab.id}`
  }
  const [node, attr, peer, ...rest] = parts
  if (!node || !attr || rest.length > 0 || !['netns', 'addr', 'addr6', 'dev'].includes(attr))
    return `unknown reference \${${body}}: write \${node.netns}, \${node.addr.peer}, \${node.addr6.peer} or \${node.dev.peer}`
  if (attr === 'netns' && peer !== undefined)
    return `\${${body}}: netns takes no peer (write \${${node}.netns})`
  if (attr === 'dev' && peer === undefined)
    return `\${${body}}: name the peer the device faces (\${${node}.dev.PEER})`
  return { text: body, node, attr: attr as VarRef['attr'], peer }
}

/** Every reference in a string. */
export function varsIn(text: string): (VarRef | string)[] {
  return [...text.matchAll(VAR)].map((m) => parseVar(m[1]!))
}

/** Replace references with values from `resolve`. */
export function substitute(text: string, resolve: (ref: VarRef) => string): string {
  return text.replace(VAR, (_, body: string) => {
    const ref = parseVar(body)
    if (typeof ref === 'string') throw new TypeError(ref)
    return resolve(ref)
  })
}

/** Replace references in every string of a value (deeply). */
export function substituteDeep<T>(value: T, resolve: (ref: VarRef) => string): T {
  if (typeof value === 'string') return substitute(value, resolve) as T
  if (Array.isArray(value)) return value.map((v: unknown) => substituteDeep(v, resolve)) as T
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteDeep(v, resolve)])) as T
  return value
}
