/**
 * Per-namespace sysctls (net.*). /proc/sys/net resolves against the network
 * namespace of the thread that opens the file, so each read or write runs
 * inside the namespace with withNetns (synchronous fs calls stay on the
 * calling thread).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { type NetnsRef } from './handle.js'
import { withNetns } from './thread.js'

/** Turn `net.ipv4.conf.all.rp_filter` into its /proc/sys path, refusing anything outside net.* */
export function sysctlPath(key: string): string {
  if (!/^net(\.[A-Za-z0-9_-]+)+$/.test(key) && !/^net\/[A-Za-z0-9_/.-]+$/.test(key))
    throw new TypeError(
      `sysctl ${JSON.stringify(key)} is not a per-namespace network setting (only net.* keys are namespaced; nslab never changes the host's)`,
    )
  const parts = key.includes('/') ? key.split('/') : key.split('.')
  if (parts.some((p) => p === '..' || p === '.' || p === ''))
    throw new TypeError(`bad sysctl key ${JSON.stringify(key)}`)
  return `/proc/sys/${parts.join('/')}`
}

export function getSysctl(ns: NetnsRef, key: string): string {
  const path = sysctlPath(key)
  return withNetns(ns, () => readFileSync(path, 'utf8')).trim()
}

export function setSysctl(ns: NetnsRef, key: string, value: string | number): void {
  const path = sysctlPath(key)
  withNetns(ns, () => writeFileSync(path, `${value}\n`))
}

/** Set several at once, in order, with one namespace switch. */
export function setSysctls(ns: NetnsRef, values: Record<string, string | number>): void {
  const entries = Object.entries(values).map(([k, v]) => [sysctlPath(k), v] as const)
  withNetns(ns, () => {
    for (const [path, v] of entries) writeFileSync(path, `${v}\n`)
  })
}
