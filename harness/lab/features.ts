/**
 * Kernel features a lab may need, detected once per process (in a throwaway
 * namespace, never in the host's) and cached. Each missing feature comes
 * with one sentence naming it and the way out. The probes themselves are in
 * probes.ts (shared with the kernel-behaviour suite's report).
 */
import { probeFeatures } from './probes.js'

export type Feature = 'netem' | 'tbf' | 'nftables' | 'xfrm-state' | 'nlmon'

const MODULE: Record<Feature, string> = {
  netem: 'the netem qdisc (sch_netem)',
  tbf: 'the tbf qdisc (sch_tbf)',
  nftables: 'nftables (nf_tables) and the `nft` tool',
  'xfrm-state': 'IPsec ESP (the esp4/esp6 modules)',
  nlmon: 'the netlink monitor device (nlmon)',
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
  const r = await probeFeatures(['netem', 'tbf', 'nftables', 'xfrm-state', 'nlmon'])
  return {
    netem: !!r.netem?.present,
    tbf: !!r.tbf?.present,
    nftables: !!r.nftables?.present,
    'xfrm-state': !!r['xfrm-state']?.present,
    nlmon: !!r.nlmon?.present,
  }
}

/** Throw FeatureMissingError unless the kernel has `feature`. */
export async function requireFeature(feature: Feature, what: string): Promise<void> {
  if (!(await kernelFeatures())[feature]) throw new FeatureMissingError(feature, what)
}
