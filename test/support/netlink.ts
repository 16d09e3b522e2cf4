/**
 * Shared setup of the rtnetlink operation tests (test/netlink/link, addr,
 * route, neigh, transport; test/netns/sysctl): each cross-checks nslab with
 * iproute2 (`ip -j`): what nslab makes, `ip` sees, and what `ip` makes,
 * nslab sees.
 */
import { afterEach } from 'vitest'
import { type Netns, addNetns, openNetns } from '../../harness/netns/index.js'
import { Netlink } from '../../harness/netlink/index.js'
import { netnsNames } from './names.js'

/** A fresh named namespace, its handle and a netlink socket in it. */
export interface TestNs {
  name: string
  handle: Netns
  nl: Netlink
}

/**
 * Namespaces for one test file: `ns()` makes one; `keep(x)` closes `x` after
 * the test. Everything is closed after each test (last opened first), then
 * the namespaces are deleted.
 */
export function netlinkNamespaces(tag = 'nl'): { ns(): TestNs; keep(o: { close(): void }): void } {
  const name = netnsNames(tag)
  const open: { close(): void }[] = []
  afterEach(() => {
    for (const o of open.splice(0).reverse()) o.close()
  })
  return {
    ns() {
      const n = name()
      addNetns(n)
      const handle = openNetns(n)
      const nl = Netlink.open(handle)
      open.push(handle, nl)
      return { name: n, handle, nl }
    },
    keep(o) {
      open.push(o)
    },
  }
}

/** One link as `ip -j link` reports it. */
export interface IpLink {
  ifname: string
  ifindex: number
  mtu: number
  operstate: string
  flags: string[]
  address: string
  master?: string
  linkinfo?: { info_kind: string }
}
