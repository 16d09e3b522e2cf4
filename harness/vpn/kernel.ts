/**
 * Which tunnel implementations this kernel allows, from the lab's own
 * feature probes (run once per process in a throwaway namespace).
 */
import { probeFeatures } from '../lab/probes.js'

let probed: Promise<{ wireguard: boolean; tun: boolean }> | undefined

export function tunnelKernelFeatures(): Promise<{ wireguard: boolean; tun: boolean }> {
  probed ??= probeFeatures(['wireguard', 'tun']).then((r) => ({
    wireguard: !!r.wireguard?.present,
    tun: !!r.tun?.present,
  }))
  return probed
}
