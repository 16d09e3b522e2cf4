/**
 * A private temporary directory per tunnel or daemon (keys, certificates,
 * configs, captured environments), named after the lab's namespace so a
 * leftover is recognisable, named in the lab's record before it is made (so
 * `nslab gc` removes it if the process dies first), and removed when its
 * owner stops.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface WorkDir {
  readonly path: string
  file(name: string): string
  remove(): void
}

/** The prefix of every tunnel work directory under the system temp dir. */
export const WORKDIR_PREFIX = 'nslab-vpn-'

/** What a work directory needs of its node: its namespace name and the lab's record. */
export interface WorkDirOwner {
  readonly netns: string
  ownPath(path: string): void
  disownPath(path: string): void
}

export function makeWorkDir(owner: WorkDirOwner, prefix = WORKDIR_PREFIX): WorkDir {
  for (let attempt = 0; ; attempt++) {
    const path = join(tmpdir(), `${prefix}${owner.netns}-${randomBytes(4).toString('hex')}`)
    owner.ownPath(path)
    try {
      mkdirSync(path, { mode: 0o700 })
    } catch (err) {
      owner.disownPath(path)
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 10) continue
      throw err
    }
    return {
      path,
      file: (name) => join(path, name),
      remove: () => {
        rmSync(path, { recursive: true, force: true })
        owner.disownPath(path)
      },
    }
  }
}
