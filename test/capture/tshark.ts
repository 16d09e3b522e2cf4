// Wireshark's own readers as the independent check of the files we write
// (scripts/setup-system.sh installs them): tshark reads packets, capinfos
// summarises a file's blocks. Any warning or a non-zero exit fails the test.
import { spawnSync } from 'node:child_process'

/** Lines of tshark's stderr that say nothing about the file. */
const NOISE = /^Running as user "root" and group "root"\. This could be dangerous\.$/

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20 })
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    throw new Error(
      `${cmd} is not installed: the suite needs Wireshark's readers (bash scripts/setup-system.sh installs tshark)`,
    )
  if (r.error) throw r.error
  const stderr = r.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !NOISE.test(l))
    .join('\n')
  if (r.status !== 0 || stderr !== '')
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${stderr}`)
  return r.stdout
}

/**
 * `tshark -r FILE -T fields -e ...`, one row per frame, with preferences
 * (`-o name:value`) if given. Names come only from the file's name
 * resolution block (-N n with no external resolver).
 */
export function tsharkFields(
  file: string,
  fields: string[],
  filter?: string,
  prefs: string[] = [],
): string[][] {
  const args = ['-r', file, '-n', '-T', 'fields', '-E', 'separator=\t', '-E', 'quote=n']
  for (const p of prefs) args.push('-o', p)
  for (const f of fields) args.push('-e', f)
  if (filter) args.push('-Y', filter)
  return rows(run('tshark', args))
}

/** Like tsharkFields, with addresses resolved from the file's name resolution block. */
export function tsharkNamed(file: string, fields: string[], filter?: string): string[][] {
  const args = [
    '-r',
    file,
    '-N',
    'n',
    '-o',
    'nameres.use_external_name_resolver:FALSE',
    '-T',
    'fields',
    '-E',
    'separator=\t',
  ]
  for (const f of fields) args.push('-e', f)
  if (filter) args.push('-Y', filter)
  return rows(run('tshark', args))
}

function rows(out: string): string[][] {
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'))
}

/** capinfos' summary of a file (interfaces, name and secrets counts). */
export function capinfos(file: string): string {
  return run('capinfos', [file])
}
