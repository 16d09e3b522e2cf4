/**
 * Garbage collection of what crashed runs left: for every lab record whose
 * owner is dead, kill the processes still inside its namespaces, delete the
 * namespaces (mounts and files under /run/netns), their /etc/netns/NAME
 * directories, and the record. Nothing else is touched: a namespace made by
 * `ip netns add`, or by a live nslab process, stays.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NETNS_ETC_DIR, NETNS_RUN_DIR, deleteNetns, listNetns } from '../netns/index.js'
import { type OwnerRecord, listOwners, ownerAlive, releaseLab } from './owner.js'

/**
 * Where wireguard-go puts its control sockets, one directory shared by every
 * namespace; a lab's are named `wg<lab id><tunnel number><end>.sock`
 * (harness/vpn/wireguard.ts). A SIGKILLed wireguard-go leaves its socket.
 */
export const WG_SOCKET_DIR = '/var/run/wireguard'

export interface GcReport {
  /** Labs reaped (owner dead). */
  reaped: { id: string; pid: number; namespaces: string[]; killed: number[] }[]
  /** Labs left alone because their owner lives. */
  live: { id: string; pid: number }[]
  /** Labs left up on purpose (`nslab up`); `nslab down ID` removes them. */
  kept: { id: string }[]
  errors: string[]
}

/** Pids whose network namespace is the one bound at /run/netns/NAME (like `ip netns pids`). */
export function pidsInNetns(name: string): number[] {
  let ino: bigint
  try {
    ino = statSync(join(NETNS_RUN_DIR, name), { bigint: true }).ino
  } catch {
    return []
  }
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (statSync(`/proc/${entry}/ns/net`, { bigint: true }).ino === ino) pids.push(Number(entry))
    } catch {
      // gone, or not ours to read
    }
  }
  return pids
}

/**
 * Remove one lab whatever its owner's state (`nslab down`): processes,
 * namespaces, /etc/netns files, record. Throws if there is no such lab.
 */
export function removeLab(id: string): GcReport {
  const record = listOwners().find((r) => r.id === id)
  if (!record) throw new LabNotFoundError(id)
  const report: GcReport = { reaped: [], live: [], kept: [], errors: [] }
  reap(record, report)
  return report
}

export class LabNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`there is no lab ${JSON.stringify(id)} on this machine (see: nslab ls)`)
    this.name = 'LabNotFoundError'
  }
}

function reap(record: OwnerRecord, report: GcReport): void {
  const namespaces = listNetns().filter((n) => n.startsWith(record.prefix))
  const killed: number[] = []
  for (const ns of namespaces) {
    for (const pid of pidsInNetns(ns)) {
      if (pid === process.pid) continue
      try {
        process.kill(pid, 'SIGKILL')
        killed.push(pid)
      } catch (err) {
        report.errors.push(`kill ${pid} in ${ns}: ${(err as Error).message}`)
      }
    }
    try {
      deleteNetns(ns)
    } catch (err) {
      report.errors.push(`delete ${ns}: ${(err as Error).message}`)
    }
    rmSync(join(NETNS_ETC_DIR, ns), { recursive: true, force: true })
  }
  // Work directories of tunnels and NetworkManager instances (harness/vpn):
  // /tmp/nslab-vpn-<namespace>-*, /tmp/nslab-nm-<namespace>-*.
  let temp: string[] = []
  try {
    temp = readdirSync(tmpdir())
  } catch {
    // no temp dir to read
  }
  for (const entry of temp)
    if (entry.startsWith(`nslab-vpn-${record.prefix}`) || entry.startsWith(`nslab-nm-${record.prefix}`))
      rmSync(join(tmpdir(), entry), { recursive: true, force: true })
  removeWireguardSockets(record.id)
  releaseLab(record.id)
  report.reaped.push({ id: record.id, pid: record.pid, namespaces, killed })
}

/** `wg<id><tunnel number><end>.sock` for lab `id`: what follows the id is a number and an end. */
function wireguardSocketOf(id: string, file: string): boolean {
  return file.startsWith(`wg${id}`) && /^[0-9a-z]+[ab]\.sock$/.test(file.slice(2 + id.length))
}

/**
 * The wireguard-go control sockets of lab `id`, whose processes are dead by
 * now. A name that could also be a live lab's whose id starts with this one
 * (labs `ab` and `ab1` both fit `wgab12a.sock`) stays.
 */
function removeWireguardSockets(id: string, dir = WG_SOCKET_DIR): void {
  let entries: string[] = []
  try {
    entries = readdirSync(dir)
  } catch {
    return // no wireguard-go has run here
  }
  const longer = listOwners()
    .map((r) => r.id)
    .filter((other) => other !== id && other.startsWith(id))
  for (const e of entries)
    if (wireguardSocketOf(id, e) && !longer.some((other) => wireguardSocketOf(other, e)))
      rmSync(join(dir, e), { force: true })
}

/**
 * Namespaces nslab makes outside a Lab (the Vitest `netns` fixture, feature
 * probes) are named `nslab-t<pid in base 36>-...`: they belong to that pid.
 */
export const PID_NAMED = /^nslab-t([0-9a-z]+)-/

/** Reap every lab whose owner is dead, and pid-named namespaces whose process is gone. */
export function gc(): GcReport {
  const report: GcReport = { reaped: [], live: [], kept: [], errors: [] }
  for (const r of listOwners()) {
    if (r.kept) report.kept.push({ id: r.id })
    else if (r.pid > 0 && ownerAlive(r)) report.live.push({ id: r.id, pid: r.pid })
    else reap(r, report)
  }
  const orphans = new Set<number>()
  for (const ns of listNetns()) {
    const m = PID_NAMED.exec(ns)
    if (!m) continue
    const pid = parseInt(m[1]!, 36)
    if (!existsSync(`/proc/${pid}`)) orphans.add(pid)
  }
  for (const pid of orphans) {
    const id = `t${pid.toString(36)}`
    reap({ id, prefix: `nslab-${id}-`, pid, startTime: -1, createdAt: '', command: '' }, report)
  }
  return report
}
