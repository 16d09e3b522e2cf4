/**
 * Probes of kernel networking features, each run inside one throwaway
 * namespace (never the host's), each answering present, or missing with the
 * kernel's own words. The kernel-behaviour suite puts them in its per-kernel
 * report; the lab's own needs (features.ts) come from the same probes.
 */
import { Netlink, NetlinkError } from '../netlink/index.js'
import { createTunTap, exec } from '../netns/index.js'
import { ScratchNetns } from './scratch.js'

export interface FeatureResult {
  present: boolean
  /** Why it is missing, as the kernel (or the tool in front of it) said. */
  error?: string
}

interface Ctx {
  ns: string
  nl: Netlink
  /** Index of veth end pv<n> (its peer is pw<n>), a parent for vlan, macvlan, ipvlan; one each, as
   * macvlan and ipvlan cannot share a parent. */
  parent(n?: number): Promise<number>
  run(argv: string[]): Promise<void>
}

export interface FeatureProbe {
  /** The kernel modules that provide it (for telling "not shipped" from "broken"). */
  modules: string[]
  probe(c: Ctx): Promise<void>
}

const KEY = '0x00112233445566778899aabbccddeeff'

/** Every probed feature. A probe throws (with the kernel's error) when the feature is missing. */
export const FEATURE_PROBES: Record<string, FeatureProbe> = {
  veth: { modules: ['veth'], probe: async (c) => void (await c.parent()) },
  bridge: { modules: ['bridge'], probe: (c) => c.nl.createBridge('pbr0') },
  vxlan: { modules: ['vxlan'], probe: (c) => c.nl.createVxlan('pvx0', { id: 42, port: 4789 }) },
  macvlan: {
    modules: ['macvlan'],
    probe: async (c) => c.nl.createMacvlan('pmv0', { lower: await c.parent() }),
  },
  ipvlan: {
    modules: ['ipvlan'],
    probe: async (c) => {
      await c.parent(1)
      await c.run(['ip', 'link', 'add', 'link', 'pv1', 'name', 'pipv0', 'type', 'ipvlan', 'mode', 'l2'])
    },
  },
  vlan: {
    modules: ['8021q'],
    probe: async (c) => {
      await c.parent()
      await c.run(['ip', 'link', 'add', 'link', 'pv0', 'name', 'pvl0', 'type', 'vlan', 'id', '10'])
    },
  },
  dummy: { modules: ['dummy'], probe: (c) => c.nl.createLink('pdum0', 'dummy') },
  nlmon: { modules: ['nlmon'], probe: (c) => c.nl.createLink('pnlm0', 'nlmon') },
  ifb: { modules: ['ifb'], probe: (c) => c.nl.createLink('pifb0', 'ifb') },
  bond: { modules: ['bonding'], probe: (c) => c.nl.createLink('pbond0', 'bond') },
  gre: {
    modules: ['ip_gre'],
    // With no endpoints it would clash with the fallback device gre0 (EEXIST).
    probe: (c) =>
      c.run(['ip', 'link', 'add', 'pgre0', 'type', 'gre', 'local', '198.18.0.1', 'remote', '198.18.0.2']),
  },
  wireguard: { modules: ['wireguard'], probe: (c) => c.nl.createLink('pwg0', 'wireguard') },
  vrf: {
    modules: ['vrf'],
    probe: (c) => c.run(['ip', 'link', 'add', 'pvrf0', 'type', 'vrf', 'table', '100']),
  },
  tun: { modules: ['tun'], probe: async (c) => createTunTap(c.ns, 'ptun0', 'tun') },
  netem: {
    modules: ['sch_netem'],
    probe: (c) => c.run(['tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']),
  },
  tbf: {
    modules: ['sch_tbf'],
    probe: async (c) => {
      await c.parent()
      await c.run([
        'tc',
        'qdisc',
        'add',
        'dev',
        'pw0',
        'root',
        'tbf',
        'rate',
        '1mbit',
        'burst',
        '32kbit',
        'latency',
        '50ms',
      ])
    },
  },
  nftables: { modules: ['nf_tables'], probe: (c) => c.run(['nft', 'add', 'table', 'inet', 'nslab_probe']) },
  'xfrm-state': {
    modules: ['xfrm_user', 'esp4'],
    probe: (c) =>
      c.run(
        [
          'ip',
          'xfrm',
          'state',
          'add',
          'src',
          '198.18.0.1',
          'dst',
          '198.18.0.2',
          'proto',
          'esp',
          'spi',
          '0x100',
        ].concat(['enc', 'cbc(aes)', KEY, 'auth', 'hmac(sha256)', KEY + '00112233445566778899aabbccddeeff']),
      ),
  },
  'xfrm-policy': {
    modules: ['xfrm_user'],
    probe: (c) =>
      c.run(
        [
          'ip',
          'xfrm',
          'policy',
          'add',
          'src',
          '198.18.0.1',
          'dst',
          '198.18.0.2',
          'dir',
          'out',
          'tmpl',
        ].concat(['src', '198.18.0.1', 'dst', '198.18.0.2', 'proto', 'esp', 'mode', 'transport']),
      ),
  },
}

function kernelWords(err: unknown): string {
  if (err instanceof NetlinkError)
    return err.kernelMessage ? `${err.code}: ${err.kernelMessage}` : err.message
  return (err as Error).message
}

/** Probe `names` (default: all) in one throwaway namespace, one after the other. */
export async function probeFeatures(
  names: string[] = Object.keys(FEATURE_PROBES),
): Promise<Record<string, FeatureResult>> {
  const scratch = ScratchNetns.create('probe')
  const ns = scratch.name
  let nl: Netlink
  try {
    nl = Netlink.open(ns)
  } catch (err) {
    scratch.delete()
    throw err
  }
  const parents = new Map<number, number>()
  const ctx: Ctx = {
    ns,
    nl,
    async parent(n = 0) {
      let index = parents.get(n)
      if (index === undefined) {
        await nl.createVeth({ name: `pv${n}`, peer: { name: `pw${n}` } })
        index = (await nl.getLink(`pv${n}`)).index
        parents.set(n, index)
      }
      return index
    },
    async run(argv) {
      // Generous: loading a module and self-testing its crypto takes seconds under TCG.
      const r = await exec(ns, argv, { timeout: 120_000 })
      if (r.timedOut) throw new Error(`${argv.join(' ')} did not finish within 120 s`)
      if (r.code !== 0)
        throw new Error((r.stderr.trim() || `${argv[0]} exited with ${r.code ?? r.signal}`).split('\n')[0])
    },
  }
  const out: Record<string, FeatureResult> = {}
  try {
    await ctx.run(['ip', 'link', 'set', 'lo', 'up']).catch(() => {})
    for (const name of names) {
      const p = FEATURE_PROBES[name]
      if (!p) throw new TypeError(`unknown feature ${name}; known: ${Object.keys(FEATURE_PROBES).join(', ')}`)
      try {
        await p.probe(ctx)
        out[name] = { present: true }
      } catch (err) {
        out[name] = { present: false, error: kernelWords(err) }
      }
    }
  } finally {
    nl.close()
    scratch.delete()
  }
  return out
}
