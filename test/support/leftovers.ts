/**
 * What a lab could leave on the machine, looked up the way a person would
 * (namespaces, mounts, temp directories, wireguard-go sockets, records,
 * processes), and the soak fixture's driver.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { WG_SOCKET_DIR } from '../../harness/index.js'
import { OWNER_DIR } from '../../harness/lab/owner.js'
import { listNetns } from '../../harness/netns/index.js'

const root = join(import.meta.dirname, '../..')

/** Pids of live (not zombie) processes with an argument that is `marker` (or passes it, a test). */
export function processesWith(marker: string | ((arg: string) => boolean)): number[] {
  const match = typeof marker === 'string' ? (a: string) => a === marker : marker
  const out: number[] = []
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0')
      if (!argv.some(match)) continue
      const state = readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]!.slice(0, 1)
      if (state !== 'Z') out.push(Number(e))
    } catch {
      // gone
    }
  }
  return out
}

/** Everything a lab with this id/prefix could leave on the machine, as one list (empty: nothing). */
export function leftovers(id: string, prefix: string): string[] {
  const left: string[] = []
  for (const n of listNetns()) if (n.startsWith(prefix)) left.push(`namespace ${n}`)
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n'))
    if (line.includes(`/netns/${prefix}`)) left.push(`mount ${line.split(' ')[1]}`)
  for (const e of readdirSync(tmpdir()))
    if (e.startsWith(`nslab-vpn-${prefix}`) || e.startsWith(`nslab-nm-${prefix}`)) left.push(`dir ${e}`)
  if (existsSync(WG_SOCKET_DIR))
    for (const e of readdirSync(WG_SOCKET_DIR)) if (e.startsWith(`wg${id}`)) left.push(`socket ${e}`)
  for (const e of readdirSync(OWNER_DIR)) if (e.includes(id)) left.push(`record ${e}`)
  for (const pid of processesWith((a) => a.startsWith(`wg${id}`))) left.push(`process ${pid}`)
  return left
}

/** Start a soak fixture (test/fixtures/NAME.ts); resolves with its lab once it printed `until`, and the child. */
export async function startSoakLab(
  marker: string,
  until: string | ((line: string) => boolean),
  fixture = 'soak-lab',
) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, `test/fixtures/${fixture}.ts`), marker],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const exited = new Promise<[number | null, string | null]>((r) => child.once('exit', (c, s) => r([c, s])))
  const lines = createInterface({ input: child.stdout })
  let id = ''
  let prefix = ''
  const done = typeof until === 'string' ? (l: string) => l === until : until
  for await (const line of lines) {
    const m = /^lab (\S+) (\S+)$/.exec(line)
    if (m) [, id, prefix] = m as unknown as [string, string, string]
    if (done(line)) break
  }
  return { child, exited, id, prefix }
}
