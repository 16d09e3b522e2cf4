/** The process tree under a daemon, from /proc: what NetworkManager started (its VPN plugin, openvpn). */
import { readFileSync } from 'node:fs'

/** Every descendant of `pid`, depth first; processes that vanish meanwhile are skipped. */
export function descendants(pid: number): number[] {
  let kids: number[] = []
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
  } catch {
    return []
  }
  return kids.flatMap((k) => [k, ...descendants(k)])
}

/** A process's command name (/proc/PID/comm, at most 15 characters), or '' once it is gone. */
export function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return ''
  }
}
