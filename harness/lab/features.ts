/**
 * Kernel features a lab may need, detected once per process (in a throwaway
 * namespace, never in the host's) and cached. Each missing feature comes
 * with one sentence naming it and the way out.
 */
import { randomBytes } from 'node:crypto'
import { addNetns, deleteNetns, exec } from '../netns/index.js'

export type Feature = 'netem' | 'tbf' | 'nftables'

const MODULE: Record<Feature, string> = {
  netem: 'the netem qdisc (sch_netem)',
  tbf: 'the tbf qdisc (sch_tbf)',
  nftables: 'nftables (nf_tables) and the `nft` tool',
}

/** A kernel feature the lab needs is missing. */
export class FeatureMissingError extends Error {
  override readonly name = 'FeatureMissingError'
  readonly feature: Feature
  constructor(feature: Feature, what: string) {
    super(
      `${what} needs ${MODULE[feature]}, which this kernel lacks; run the suite in the VM runner (nslab vm run) for a full kernel`,
    )
    this.feature = feature
  }
}

let probed: Promise<Record<Feature, boolean>> | undefined

/** Probe every feature once per process; later calls return the cached result. */
export function kernelFeatures(): Promise<Record<Feature, boolean>> {
  probed ??= probe()
  return probed
}

async function probe(): Promise<Record<Feature, boolean>> {
  const ns = `nslab-t${process.pid.toString(36)}-probe${randomBytes(2).toString('hex')}`
  addNetns(ns)
  try {
    const ok = async (argv: string[]): Promise<boolean> => {
      try {
        return (await exec(ns, argv, { timeout: 5000 })).code === 0
      } catch {
        return false
      }
    }
    await ok(['ip', 'link', 'set', 'lo', 'up'])
    const netem = await ok([
      'tc',
      'qdisc',
      'add',
      'dev',
      'lo',
      'root',
      'handle',
      '1:',
      'netem',
      'delay',
      '1ms',
    ])
    const tbf = await ok([
      'tc',
      'qdisc',
      'replace',
      'dev',
      'lo',
      'root',
      'tbf',
      'rate',
      '1mbit',
      'burst',
      '32kbit',
      'latency',
      '50ms',
    ])
    const nftables = await ok(['nft', 'add', 'table', 'inet', 'nslab_probe'])
    return { netem, tbf, nftables }
  } finally {
    deleteNetns(ns)
  }
}

/** Throw FeatureMissingError unless the kernel has `feature`. */
export async function requireFeature(feature: Feature, what: string): Promise<void> {
  if (!(await kernelFeatures())[feature]) throw new FeatureMissingError(feature, what)
}
