/**
 * A private temporary directory per tunnel (keys, certificates, configs,
 * captured environments), named after the lab's namespace so a leftover is
 * recognisable, and removed when the tunnel is destroyed.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface WorkDir {
  readonly path: string
  file(name: string): string
  remove(): void
}

/** The prefix of every tunnel work directory under the system temp dir. */
export const WORKDIR_PREFIX = 'nslab-vpn-'

export function makeWorkDir(owner: string): WorkDir {
  const path = mkdtempSync(join(tmpdir(), `${WORKDIR_PREFIX}${owner}-`))
  return {
    path,
    file: (name) => join(path, name),
    remove: () => rmSync(path, { recursive: true, force: true }),
  }
}
