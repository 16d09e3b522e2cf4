/**
 * Who owns a lab: a record under /run/nslab/labs/<id>.json written before the
 * lab makes anything, holding the owner's pid and its start time (so a pid
 * reused by another process is not mistaken for the owner), removed when the
 * lab is destroyed. `nslab gc` reaps the labs whose owner is dead.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
  constants as fsc,
} from 'node:fs'
import { join } from 'node:path'

export const OWNER_DIR = process.env.NSLAB_OWNER_DIR ?? '/run/nslab/labs'

export interface OwnerRecord {
  id: string
  /** Prefix of every namespace the lab makes. */
  prefix: string
  pid: number
  /** The owner's start time in clock ticks since boot (/proc/PID/stat field 22). */
  startTime: number
  createdAt: string
  /** The owner's command line, for people reading `nslab ls`. */
  command: string
  /** Left up on purpose (`nslab up`): gc leaves it alone; `nslab down ID` removes it. */
  kept?: boolean
}

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
  return processStartTime(r.pid) === r.startTime
}

/**
 * Claim a lab id for this process: create its record exclusively (O_EXCL),
 * so two processes can never own the same id. Returns false if it is taken.
 */
export function claimLab(id: string, prefix: string): boolean {
  mkdirSync(OWNER_DIR, { recursive: true, mode: 0o755 })
  const record: OwnerRecord = {
    id,
    prefix,
    pid: process.pid,
    startTime: processStartTime(process.pid) ?? 0,
    createdAt: new Date().toISOString(),
    command: process.argv.join(' ').slice(0, 500),
  }
  let fd: number
  try {
    fd = openSync(join(OWNER_DIR, `${id}.json`), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  try {
    writeSync(fd, JSON.stringify(record, null, 2) + '\n')
  } finally {
    closeSync(fd)
  }
  return true
}

/** Mark a lab as left up on purpose: its owner may exit, gc keeps it until `nslab down`. */
export function markKept(id: string): void {
  const file = join(OWNER_DIR, `${id}.json`)
  const record = JSON.parse(readFileSync(file, 'utf8')) as OwnerRecord
  writeFileSync(file, JSON.stringify({ ...record, kept: true }, null, 2) + '\n')
}

/** Remove a lab's record and its directory of process logs (`nslab up`). */
export function releaseLab(id: string): void {
  try {
    unlinkSync(join(OWNER_DIR, `${id}.json`))
  } catch {
    // already gone
  }
  rmSync(join(OWNER_DIR, id), { recursive: true, force: true })
}

/** Every lab record on the machine (unreadable ones are reported with pid 0). */
export function listOwners(): OwnerRecord[] {
  let names: string[]
  try {
    names = readdirSync(OWNER_DIR).filter((n) => n.endsWith('.json'))
  } catch {
    return []
  }
  const out: OwnerRecord[] = []
  for (const n of names) {
    try {
      out.push(JSON.parse(readFileSync(join(OWNER_DIR, n), 'utf8')) as OwnerRecord)
    } catch {
      const id = n.slice(0, -5)
      out.push({
        id,
        prefix: `nslab-${id}-`,
        pid: 0,
        startTime: -1,
        createdAt: '',
        command: '(unreadable record)',
      })
    }
  }
  return out
}
