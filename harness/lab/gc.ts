/**
 * Removing what a lab made, from its record (harness/lab/owner.ts): the
 * processes inside its namespaces, the namespaces (mounts and files under
 * /run/netns), their /etc/netns/NAME directories, the files it made outside
 * them, and the record. `nslab gc` does it for every lab whose owner is
 * dead, `nslab down` for one lab, and a lab's own signal teardown for
 * itself. Only what a record names is touched: a namespace made by
 * `ip netns add`, or by a live nslab process, stays, whatever its name.
 */
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NETNS_ETC_DIR, NETNS_RUN_DIR, deleteNetns, listNetns } from '../netns/index.js'
import { type OwnerRecord, listOwners, ownerAlive, readRecords, releaseLab, staleTempFiles } from './owner.js'

/**
 * Where wireguard-go puts its control sockets, one directory shared by every
 * namespace (harness/vpn/wireguard.ts). A SIGKILLed wireguard-go leaves its socket.
 */
export const WG_SOCKET_DIR = '/var/run/wireguard'

export interface ReapedLab {
  id: string
  pid: number
  /** Namespaces deleted. */
  namespaces: string[]
  /** Processes killed inside them. */
  killed: number[]
  /** Files and directories removed. */
  paths: string[]
}

export interface GcReport {
  /** Labs reaped (owner dead). */
  reaped: ReapedLab[]
  /** Labs left alone because their owner lives. */
  live: { id: string; pid: number }[]
  /** Labs left up on purpose (`nslab up`); `nslab down ID` removes them. */
  kept: { id: string }[]
  errors: string[]
}

function emptyReport(): GcReport {
  return { reaped: [], live: [], kept: [], errors: [] }
}

/** `device:inode` of a file (a namespace is the same namespace only if both match). */
function fileKey(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true })
    return `${st.dev}:${st.ino}`
  } catch {
    return undefined
  }
}

/** The identity of a named namespace (its nsfs file), or undefined when it is not there. */
function netnsInode(name: string): string | undefined {
  return fileKey(join(NETNS_RUN_DIR, name))
}

/** Pids (not this process) whose network namespace is one of `inodes`, from one pass over /proc. */
export function pidsInNetnsInodes(inodes: ReadonlySet<string>): number[] {
  if (inodes.size === 0) return []
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    const c = entry.charCodeAt(0)
    if (c < 48 || c > 57) continue // not a pid
    const pid = Number(entry)
    if (pid === process.pid) continue
    const key = fileKey(`/proc/${entry}/ns/net`) // undefined: gone, or not ours to read
    if (key !== undefined && inodes.has(key)) pids.push(pid)
  }
  return pids
}

/** Pids whose network namespace is the one bound at /run/netns/NAME (like `ip netns pids`). */
export function pidsInNetns(name: string): number[] {
  const ino = netnsInode(name)
  return ino === undefined ? [] : pidsInNetnsInodes(new Set([ino]))
}

/**
 * Delete `namespaces` and their /etc/netns/NAME directories. With
 * `killInside` (the default), first SIGKILL every process inside them, and
 * after deleting kill again what entered in between (a process forked while
 * we were killing keeps its namespace alive unnamed, where nothing could
 * find it later). Returns the pids killed; failures go to `errors`.
 */
export function killAndDelete(
  namespaces: readonly string[],
  errors: string[],
  options: { killInside?: boolean } = {},
): number[] {
  const killInside = options.killInside ?? true
  const inodes = new Set<string>()
  if (killInside)
    for (const ns of namespaces) {
      const ino = netnsInode(ns)
      if (ino !== undefined) inodes.add(ino)
    }
  const killed: number[] = []
  const killAll = (): void => {
    for (const pid of pidsInNetnsInodes(inodes)) {
      try {
        process.kill(pid, 'SIGKILL')
        killed.push(pid)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH')
          errors.push(`kill ${pid}: ${(err as Error).message}`)
      }
    }
  }
  killAll()
  waitForExit(killed)
  for (const ns of namespaces) {
    try {
      if (netnsInode(ns) !== undefined) deleteNetns(ns)
    } catch (err) {
      errors.push(`delete ${ns}: ${(err as Error).message}`)
    }
    rmSync(join(NETNS_ETC_DIR, ns), { recursive: true, force: true })
  }
  // Again until a pass finds nobody: a process killed now may have forked
  // just before, and its child holds the namespace, no longer named.
  for (let pass = 0; pass < 8; pass++) {
    const before = killed.length
    killAll()
    if (killed.length === before) break
    waitForExit(killed.slice(before))
  }
  return killed
}

const pause = new Int32Array(new SharedArrayBuffer(4))

/**
 * Wait (up to `ms`) until every pid has exited: gone, or a zombie. SIGKILL
 * is delivered asynchronously, so a process killed a moment ago may still be
 * running, holding its namespace; teardown returns only once it is not.
 * Synchronous (the signal teardown has no event loop left): it sleeps 1 ms
 * between looks.
 */
export function waitForExit(pids: readonly number[], ms = 2000): void {
  const deadline = performance.now() + ms
  let left = pids.filter(running)
  while (left.length > 0 && performance.now() < deadline) {
    Atomics.wait(pause, 0, 0, 1)
    left = left.filter(running)
  }
}

/** True while a process exists and is not a zombie. */
function running(pid: number): boolean {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return false
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  return state !== 'Z' && state !== 'X'
}

/** The namespaces of a record that exist now (records before the `namespaces` field: by prefix). */
export function recordNamespaces(record: OwnerRecord, present: readonly string[] = listNetns()): string[] {
  if (record.namespaces) {
    const named = new Set(record.namespaces)
    return present.filter((n) => named.has(n))
  }
  return present.filter((n) => n.startsWith(record.prefix))
}

/**
 * Remove everything `record` names, whatever its owner's state, and the
 * record. Used by gc (owner dead), `nslab down`, and a lab's signal teardown.
 */
export function reapRecord(record: OwnerRecord, report: GcReport): ReapedLab {
  const namespaces = recordNamespaces(record)
  const killed = killAndDelete(namespaces, report.errors)
  const paths: string[] = []
  for (const p of record.paths ?? []) {
    try {
      rmSync(p, { recursive: true, force: true })
      paths.push(p)
    } catch (err) {
      report.errors.push(`remove ${p}: ${(err as Error).message}`)
    }
  }
  if (!record.paths) paths.push(...removeLegacyFiles(record))
  // A namespace that could not be deleted stays named, so gc can try again
  // (and `nslab ls` still shows it); the record goes only with everything.
  const present = new Set(listNetns())
  if (!namespaces.some((n) => present.has(n))) releaseLab(record.id)
  const reaped = { id: record.id, pid: record.pid, namespaces, killed, paths }
  report.reaped.push(reaped)
  return reaped
}

/**
 * Records written before they named their files: tunnel and NetworkManager
 * work directories were `/tmp/nslab-{vpn,nm}-<namespace>-*` and wireguard-go
 * sockets `wg<id><tunnel number><end>.sock`.
 */
function removeLegacyFiles(record: OwnerRecord): string[] {
  const removed: string[] = []
  let temp: string[] = []
  try {
    temp = readdirSync(tmpdir())
  } catch {
    // no temp dir to read
  }
  for (const entry of temp)
    if (entry.startsWith(`nslab-vpn-${record.prefix}`) || entry.startsWith(`nslab-nm-${record.prefix}`)) {
      rmSync(join(tmpdir(), entry), { recursive: true, force: true })
      removed.push(join(tmpdir(), entry))
    }
  let sockets: string[] = []
  try {
    sockets = readdirSync(WG_SOCKET_DIR)
  } catch {
    return removed // no wireguard-go has run here
  }
  const longer = listOwners()
    .map((r) => r.id)
    .filter((other) => other !== record.id && other.startsWith(record.id))
  const socketOf = (id: string, file: string): boolean =>
    file.startsWith(`wg${id}`) && /^[0-9a-z]+[ab]\.sock$/.test(file.slice(2 + id.length))
  for (const s of sockets)
    if (socketOf(record.id, s) && !longer.some((other) => socketOf(other, s))) {
      rmSync(join(WG_SOCKET_DIR, s), { force: true })
      removed.push(join(WG_SOCKET_DIR, s))
    }
  return removed
}

export class LabNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`there is no lab ${JSON.stringify(id)} on this machine (see: nslab ls)`)
    this.name = 'LabNotFoundError'
  }
}

/** `nslab down` of a lab whose owner still runs it (not left up on purpose). */
export class LabInUseError extends Error {
  constructor(readonly record: OwnerRecord) {
    super(
      `lab ${record.id} belongs to process ${record.pid}, which is still running it (${record.command.slice(0, 80) || 'no command line'}); ` +
        `stop that process (its teardown removes the lab), or run: nslab down --force ${record.id}`,
    )
    this.name = 'LabInUseError'
  }
}

/**
 * Remove one lab (`nslab down`): one left up on purpose or whose owner is
 * dead; a lab its owner still runs only with `force`. Throws
 * LabNotFoundError if there is no such lab, LabInUseError if it is in use.
 */
export function removeLab(id: string, options: { force?: boolean } = {}): GcReport {
  const record = listOwners().find((r) => r.id === id)
  if (!record) throw new LabNotFoundError(id)
  if (!record.kept && ownerAlive(record) && !options.force) throw new LabInUseError(record)
  const report = emptyReport()
  reapRecord(record, report)
  return report
}

/**
 * Reap every lab whose owner is dead. Damaged records are reported, never
 * acted on; temporary record files of dead writers are removed.
 */
export function gc(): GcReport {
  const report = emptyReport()
  const { records, bad } = readRecords()
  for (const r of records) {
    if (r.kept) report.kept.push({ id: r.id })
    else if (ownerAlive(r)) report.live.push({ id: r.id, pid: r.pid })
    else reapRecord(r, report)
  }
  for (const b of bad) report.errors.push(b.message)
  for (const f of staleTempFiles()) rmSync(f, { force: true })
  return report
}
