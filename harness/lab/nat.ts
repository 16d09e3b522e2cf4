/**
 * NAT: a router that masquerades what it forwards out through one link
 * (nftables in its namespace). The outside then gets no route back to the
 * inside (routing.ts reads the model's NAT edges).
 */
import { TopologyError } from './errors.js'
import { requireFeature } from './features.js'
import type { LabModel } from './model.js'
import type { LabNode } from './node.js'

export const NAT_TABLE = 'nslab_nat'

/** The ruleset masquerading traffic that leaves through `device`. */
export function natRuleset(device: string): string {
  return [
    `table inet ${NAT_TABLE} {`,
    '  chain post {',
    '    type nat hook postrouting priority srcnat;',
    `    oifname "${device}" masquerade`,
    '  }',
    '}',
    '',
  ].join('\n')
}

/** Make `router` masquerade towards `outside`, and record the NAT edge in the model. */
export async function addNat(
  model: LabModel,
  router: LabNode | string,
  outside: LabNode | string,
): Promise<void> {
  const { a: r, portA } = model.link(router, outside)
  if (r.kind !== 'router') throw new TopologyError(`${r.name} is not a router: only routers can NAT`)
  await requireFeature('nftables', `NAT on ${r.name}`)
  const res = await r.exec(['nft', '-f', '-'], { input: natRuleset(portA.device), timeout: 10_000 })
  if (res.code !== 0) throw new Error(`NAT rules failed in ${r.netns}: ${res.stderr.trim()}`)
  model.natOutside.set(r, portA.segment)
}
