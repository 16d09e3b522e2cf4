/**
 * Output paths given on the command line (--json, --junit, -o, --results,
 * --copy-out), checked when the command line is read, before any work:
 * never under /proc, /sys or /dev (kernel file systems: Node 20's recursive
 * mkdirSync spins forever under /proc and Ctrl-C cannot stop it), and only
 * where the missing directories can be made. Symbolic links in the part of
 * the path that exists are resolved first.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { InvalidArgumentError } from 'commander'

const KERNEL_FS = ['/proc', '/sys', '/dev']

/** The part of `abs` that exists (symlinks resolved) and the names below it that do not. */
function existingPart(abs: string): { existing: string; rest: string[] } {
  const rest: string[] = []
  let existing = abs
  for (;;) {
    try {
      if (statSync(existing, { throwIfNoEntry: false })) break
    } catch (err) {
      // ENOTDIR: a file on the way; the walk up finds it.
      if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err
    }
    const up = dirname(existing)
    if (up === existing) break
    rest.unshift(basename(existing))
    existing = up
  }
  return { existing: realpathSync(existing), rest }
}

/**
 * Why nslab cannot write `path` (a file, or a directory it makes), in one
 * sentence; undefined when it can. Relative paths are taken from `cwd`.
 */
export function outputPathProblem(
  path: string,
  kind: 'file' | 'dir',
  cwd = process.cwd(),
): string | undefined {
  if (path === '') return `an empty path; give a ${kind === 'file' ? 'file name' : 'directory'}`
  const abs = resolve(cwd, path)
  let found: { existing: string; rest: string[] }
  try {
    found = existingPart(abs)
  } catch (err) {
    return `cannot check ${path}: ${(err as Error).message}`
  }
  const { existing, rest } = found
  const real = join(existing, ...rest)
  const named = real === path ? path : `${path} (that is ${real})`
  const fs = KERNEL_FS.find((p) => real === p || real.startsWith(`${p}/`))
  if (fs)
    return `${named} is under ${fs}, a kernel file system where nslab cannot write; give a path in an ordinary directory`
  const st = statSync(existing)
  if (rest.length > 0 && !st.isDirectory())
    return `cannot make the directory of ${path}: ${existing} is a file, not a directory`
  if (rest.length === 0 && kind === 'file' && st.isDirectory())
    return `${path} is a directory; give a file name`
  if (rest.length === 0 && kind === 'dir' && !st.isDirectory()) return `${path} is a file, not a directory`
  try {
    accessSync(existing, constants.W_OK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return `cannot write ${path}: ${existing} is not writable (${code === 'EROFS' ? 'a read-only file system' : code})`
  }
  return undefined
}

/** Commander argument parsers: the value, or InvalidArgumentError (exit 2) with the sentence. */
export function outputFile(value: string): string {
  const problem = outputPathProblem(value, 'file')
  if (problem) throw new InvalidArgumentError(problem)
  return value
}

export function outputDir(value: string): string {
  const problem = outputPathProblem(value, 'dir')
  if (problem) throw new InvalidArgumentError(problem)
  return value
}
