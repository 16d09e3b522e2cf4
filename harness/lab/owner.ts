/**
 * Who owns a lab, and what it made: a record under /run/nslab/labs/<id>.json
 * holding the owner's pid and start time (so a pid reused by another process
 * is not mistaken for the owner), the namespaces the lab made and the files
 * it made outside them (tunnel work directories, wireguard-go sockets). The
 * record is the proof of ownership `nslab gc` and `nslab down` act on: they
 * remove what a record names, never what merely looks like a lab's name.
 *
 * Every write is atomic (a temporary file, then link(2) for the first write
 * and rename(2) after), so a reader never sees a half-written record; a name
 * is added to the record before the thing is made, so a crash in between
 * leaves a record that names something absent (harmless), never a thing no
 * record names.
 */
import {
  linkSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { isAbsolute, join, normalize } from 'node:path'

export const OWNER_DIR = process.env.NSLAB_OWNER_DIR ?? '/run/nslab/labs'

export interface OwnerRecord {
  id: string
  /** Prefix of every namespace the lab makes (`nslab-<id>-`). */
  prefix: string
  pid: number
  /** The owner's start time in clock ticks since boot (/proc/PID/stat field 22). */
  startTime: number
  createdAt: string
  /** The owner's command line, for people reading `nslab ls`. */
  command: string
  /** Left up on purpose (`nslab up`): gc leaves it alone; `nslab down ID` removes it. */
  kept?: boolean
  /**
   * Namespaces (names under /run/netns) this lab made, each written here
   * before it was made. Absent only in records of nslab versions before
   * this field, whose namespaces are those starting with `prefix`.
   */
  namespaces?: string[]
  /** Files and directories this lab made outside its namespaces, removed with it. */
  paths?: string[]
}

const ID_RE = /^[a-z0-9]{1,8}$/

/** Start time of a process (field 22 of /proc/PID/stat), or undefined if it is gone. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[19])
  } catch {
    return undefined
  }
}

/** True while the process that made the record still runs (same pid, same start time). */
export function ownerAlive(r: Pick<OwnerRecord, 'pid' | 'startTime'>): boolean {
  return r.pid > 0 && processStartTime(r.pid) === r.startTime
}

function recordFile(id: string): string {
  return join(OWNER_DIR, `${id}.json`)
}

/** A temporary file beside the records, named after its writer (gc removes a dead writer's). */
function tempFile(id: string): string {
  return join(OWNER_DIR, `.${id}.json.${process.pid}.tmp`)
}

/**
 * Write `record` to a temporary file and put it in place: `link` (the record
 * must not exist yet: EEXIST) or `rename` (replacing it). The temporary file
 * is gone afterwards, whatever happened.
 */
function writeAtomically(record: OwnerRecord, how: 'link' | 'rename'): void {
  const tmp = tempFile(record.id)
  writeFileSync(tmp, JSON.stringify(record, null, 2) + '\n', { mode: 0o644 })
  try {
    if (how === 'link') linkSync(tmp, recordFile(record.id))
    else renameSync(tmp, recordFile(record.id))
  } catch (err) {
    rmSync(tmp, { force: true })
    throw err
  }
  // A rename took the temporary name with it; a link left it.
  if (how === 'link') unlinkSync(tmp)
}

/** This process's own start time, read once (it does not change). */
let ownStartTime: number | undefined

/**
 * A path a record may name: absolute, normalised, and nslab's own by its
 * last component (`nslab-...` in a temp dir, `wg....sock` for wireguard-go),
 * so a damaged record can never make gc remove `/` or a user's directory.
 */
export function ownablePath(path: string): boolean {
  if (typeof path !== 'string' || !isAbsolute(path) || normalize(path) !== path) return false
  const base = path.slice(path.lastIndexOf('/') + 1)
  return /^nslab-[\w.-]+$/.test(base) || /^wg[a-z0-9]+\.sock$/.test(base)
}

/**
 * The record of a lab this process owns. Made by `claim` (exclusively: two
 * processes can never own one id), updated as the lab makes things, removed
 * by `release` when the lab is gone.
 */
export class LabRecord {
  private data: OwnerRecord

  private constructor(data: OwnerRecord) {
    this.data = data
  }

  /** Claim `id` for this process, or undefined when another lab holds it. */
  static claim(id: string, prefix: string): LabRecord | undefined {
    mkdirSync(OWNER_DIR, { recursive: true, mode: 0o755 })
    const data: OwnerRecord = {
      id,
      prefix,
      pid: process.pid,
      startTime: (ownStartTime ??= processStartTime(process.pid) ?? 0),
      createdAt: new Date().toISOString(),
      command: process.argv.join(' ').slice(0, 500),
      namespaces: [],
      paths: [],
    }
    try {
      // link(2) fails with EEXIST when the name is taken, and publishes a complete file at once.
      writeAtomically(data, 'link')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined
      throw err
    }
    return new LabRecord(data)
  }

  get id(): string {
    return this.data.id
  }

  /** A copy of what the record says now. */
  snapshot(): OwnerRecord {
    return structuredClone(this.data)
  }

  /** Name namespaces before making them. */
  addNamespaces(names: readonly string[]): void {
    if (names.length === 0) return
    this.update({ namespaces: [...new Set([...(this.data.namespaces ?? []), ...names])] })
  }

  /** Forget namespaces that were not made (EEXIST: someone else's) or are gone. */
  removeNamespaces(names: readonly string[]): void {
    const drop = new Set(names)
    const kept = (this.data.namespaces ?? []).filter((n) => !drop.has(n))
    if (kept.length !== this.data.namespaces?.length) this.update({ namespaces: kept })
  }

  /** Name a file or directory before making it (it must be ownablePath). */
  addPath(path: string): void {
    if (!ownablePath(path))
      throw new TypeError(
        `${JSON.stringify(path)} cannot be owned by a lab: use an absolute path whose name starts with nslab-`,
      )
    if (this.data.paths?.includes(path)) return
    this.update({ paths: [...(this.data.paths ?? []), path] })
  }

  /** Forget a file or directory its maker removed. */
  removePath(path: string): void {
    const kept = (this.data.paths ?? []).filter((p) => p !== path)
    if (kept.length !== this.data.paths?.length) this.update({ paths: kept })
  }

  /** Left up on purpose: gc keeps it until `nslab down`. */
  markKept(): void {
    this.update({ kept: true })
  }

  /** Remove the record (and the lab's log directory). */
  release(): void {
    releaseLab(this.data.id)
  }

  private update(patch: Partial<OwnerRecord>): void {
    const next = { ...this.data, ...patch }
    writeAtomically(next, 'rename')
    this.data = next
  }
}

/** Mark a lab as left up on purpose: its owner may exit, gc keeps it until `nslab down ID`. */
export function markKept(id: string): void {
  const record = readRecord(id)
  writeAtomically({ ...record, kept: true }, 'rename')
}

/** Remove a lab's record and its directory of process logs (`nslab up`). */
export function releaseLab(id: string): void {
  try {
    unlinkSync(recordFile(id))
  } catch {
    // already gone
  }
  rmSync(join(OWNER_DIR, id), { recursive: true, force: true })
}

/** A record file that is not a valid record: never acted on, reported. */
export class BadRecordError extends Error {
  override readonly name = 'BadRecordError'
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`lab record ${file} is not valid (${reason}); left alone: inspect it, then remove it by hand`)
  }
}

/** Parse and check a record's text; throws BadRecordError naming what is wrong. */
export function parseRecord(file: string, text: string): OwnerRecord {
  let r: unknown
  try {
    r = JSON.parse(text)
  } catch (err) {
    throw new BadRecordError(file, `not JSON: ${(err as Error).message}`)
  }
  const bad = (what: string): never => {
    throw new BadRecordError(file, what)
  }
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return bad('not an object')
  const o = r as Record<string, unknown>
  if (typeof o.id !== 'string' || !ID_RE.test(o.id)) bad(`id ${JSON.stringify(o.id)} is not a lab id`)
  if (o.prefix !== `nslab-${String(o.id)}-`) bad(`prefix ${JSON.stringify(o.prefix)} is not nslab-<id>-`)
  if (!Number.isSafeInteger(o.pid) || (o.pid as number) <= 0) bad(`pid ${JSON.stringify(o.pid)}`)
  if (typeof o.startTime !== 'number') bad(`startTime ${JSON.stringify(o.startTime)}`)
  if (o.namespaces !== undefined) {
    if (!Array.isArray(o.namespaces)) bad('namespaces is not a list')
    for (const n of o.namespaces as unknown[])
      if (typeof n !== 'string' || !n.startsWith(o.prefix as string) || n.includes('/'))
        bad(`namespace ${JSON.stringify(n)} does not carry the lab's prefix`)
  }
  if (o.paths !== undefined) {
    if (!Array.isArray(o.paths)) bad('paths is not a list')
    for (const p of o.paths as unknown[])
      if (!ownablePath(p as string)) bad(`path ${JSON.stringify(p)} is not one nslab makes`)
  }
  return {
    id: o.id as string,
    prefix: o.prefix as string,
    pid: o.pid as number,
    startTime: o.startTime as number,
    createdAt: typeof o.createdAt === 'string' ? o.createdAt : '',
    command: typeof o.command === 'string' ? o.command : '',
    ...(o.kept === true ? { kept: true } : {}),
    ...(o.namespaces ? { namespaces: [...(o.namespaces as string[])] } : {}),
    ...(o.paths ? { paths: [...(o.paths as string[])] } : {}),
  }
}

/** The record of lab `id`; throws ENOENT if there is none, BadRecordError if it is damaged. */
export function readRecord(id: string): OwnerRecord {
  const file = recordFile(id)
  return parseRecord(file, readFileSync(file, 'utf8'))
}

export interface RecordList {
  records: OwnerRecord[]
  /** Record files that could not be read or are not valid records. */
  bad: BadRecordError[]
}

/** Every lab record on the machine, and the files that are not valid records. */
export function readRecords(): RecordList {
  const out: RecordList = { records: [], bad: [] }
  let names: string[]
  try {
    names = readdirSync(OWNER_DIR).filter((n) => n.endsWith('.json') && !n.startsWith('.'))
  } catch {
    return out
  }
  for (const n of names) {
    const file = join(OWNER_DIR, n)
    try {
      out.records.push(parseRecord(file, readFileSync(file, 'utf8')))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue // released meanwhile
      out.bad.push(err instanceof BadRecordError ? err : new BadRecordError(file, (err as Error).message))
    }
  }
  return out
}

/** Every valid lab record on the machine. */
export function listOwners(): OwnerRecord[] {
  return readRecords().records
}

/** Temporary record files whose writer is dead (a crash between write and rename). */
export function staleTempFiles(): string[] {
  let names: string[]
  try {
    names = readdirSync(OWNER_DIR)
  } catch {
    return []
  }
  const out: string[] = []
  for (const n of names) {
    const m = /^\.[a-z0-9]+\.json\.(\d+)\.tmp$/.exec(n)
    if (m && processStartTime(Number(m[1])) === undefined) out.push(join(OWNER_DIR, n))
  }
  return out
}
