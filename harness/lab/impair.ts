/**
 * Impairments on a link, set and changed at runtime, on one direction or
 * both. netem does everything where the kernel has it; where it does not,
 * rate goes through tbf and random loss through an nftables `numgen` rule,
 * and delay, jitter, duplication, corruption and reordering fail with one
 * sentence naming the missing feature. Impairments shape egress: the
 * direction a->b is set on a's end of the link.
 */
import { type ExecResult } from '../netns/index.js'
import { FeatureMissingError, kernelFeatures, requireFeature } from './features.js'
import { type Impairment, checkImpairment } from './impairment.js'
import type { LabNode, Port } from './node.js'

export type { Impairment } from './impairment.js'

async function run(node: LabNode, argv: string[]): Promise<ExecResult> {
  const r = await node.exec(argv, { timeout: 10_000 })
  if (r.code !== 0)
    throw new Error(`${argv.join(' ')} failed in ${node.netns}: ${r.stderr.trim() || `exit ${r.code}`}`)
  return r
}

function tableName(port: Port): string {
  return `nslab_loss_${port.device.replace(/[^A-Za-z0-9_]/g, '_')}`
}

/** Remove every impairment from one port. */
export async function clearImpairment(node: LabNode, port: Port): Promise<void> {
  await node.exec(['tc', 'qdisc', 'del', 'dev', port.device, 'root'])
  await node.exec(['nft', 'delete', 'table', 'inet', tableName(port)])
  delete port.impairment
}

/** Set (replace) the impairment on egress of `port` of `node`. An empty impairment clears it. */
export async function applyImpairment(node: LabNode, port: Port, i: Impairment): Promise<void> {
  checkImpairment(i)
  const features = await kernelFeatures()
  const active = Object.entries(i).filter(([, v]) => v !== undefined && v !== 0)
  await clearImpairment(node, port)
  if (active.length === 0) return
  if (features.netem) {
    const argv = ['tc', 'qdisc', 'replace', 'dev', port.device, 'root', 'netem', 'limit', '100000']
    if (i.delay) argv.push('delay', `${i.delay}ms`, ...(i.jitter ? [`${i.jitter}ms`] : []))
    if (i.loss) argv.push('loss', `${i.loss}%`)
    if (i.duplicate) argv.push('duplicate', `${i.duplicate}%`)
    if (i.corrupt) argv.push('corrupt', `${i.corrupt}%`)
    if (i.reorder) argv.push('reorder', `${i.reorder}%`)
    if (i.rate) argv.push('rate', `${Math.round(i.rate)}bit`)
    await run(node, argv)
    port.impairment = Object.fromEntries(active) as Impairment
    return
  }
  for (const k of ['delay', 'jitter', 'duplicate', 'corrupt', 'reorder'] as const)
    if (i[k]) throw new FeatureMissingError('netem', `impairment "${k}" on ${port.device} in ${node.netns}`)
  if (i.rate) {
    await requireFeature('tbf', `rate limit on ${port.device}`)
    const burst = Math.max(1600, Math.round(i.rate / 8 / 100))
    await run(node, [
      'tc',
      'qdisc',
      'replace',
      'dev',
      port.device,
      'root',
      'tbf',
      'rate',
      `${Math.round(i.rate)}bit`,
      'burst',
      `${burst}`,
      'latency',
      '200ms',
    ])
  }
  if (i.loss) {
    await requireFeature('nftables', `packet loss on ${port.device}`)
    const basis = Math.round(i.loss * 100) // in 1/10000
    const t = tableName(port)
    await run(node, ['nft', 'add', 'table', 'inet', t])
    await run(node, [
      'nft',
      'add',
      'chain',
      'inet',
      t,
      'out',
      '{ type filter hook postrouting priority 0 ; }',
    ])
    await run(node, [
      'nft',
      'add',
      'rule',
      'inet',
      t,
      'out',
      'oifname',
      `"${port.device}"`,
      'numgen',
      'random',
      'mod',
      '10000',
      '<',
      String(basis),
      'drop',
    ])
  }
  port.impairment = Object.fromEntries(active) as Impairment
}
