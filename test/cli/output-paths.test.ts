/**
 * Output paths on the command line (--json, --junit, -o, --results,
 * --copy-out) are checked before any work: never under /proc, /sys or /dev
 * (Node 20's recursive mkdirSync spins forever under /proc, deaf to Ctrl-C),
 * and only where the directory can be made. Exit 2 with one sentence. The
 * commands run as child processes with a hard timeout, so a regression that
 * spins fails here instead of hanging the suite.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { outputPathProblem } from '../../harness/cli/paths.js'
import { nslab } from '../support/cli.js'

const dir = mkdtempSync(join(tmpdir(), 'nslab-paths-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The nslab CLI, killed (SIGKILL: a spinning mkdirSync hears nothing else) after `ms`. */
const run = (args: string[], ms = 20_000) =>
  // Scenarios that fail on purpose keep their packets out of the project's reports/.
  nslab(args, { env: { NSLAB_ARTIFACTS_DIR: join(dir, 'artifacts') }, timeoutMs: ms })

const scenario = join(dir, 'pair.yaml')
writeFileSync(scenario, 'name: pair\ntopology:\n  hosts: [a, b]\n  links: [[a, b]]\n')
const toProc = join(dir, 'to-proc')
symlinkSync('/proc/self', toProc)
const file = join(dir, 'a-file')
writeFileSync(file, '')

describe('output paths', () => {
  it('refuses /proc, /sys and /dev, also through a symbolic link, naming where it leads', () => {
    expect(outputPathProblem('/proc/x/r.json', 'file')).toBe(
      '/proc/x/r.json is under /proc, a kernel file system where nslab cannot write; give a path in an ordinary directory',
    )
    expect(outputPathProblem('/sys/kernel/x', 'dir')).toMatch(/^\/sys\/kernel\/x is under \/sys, /)
    expect(outputPathProblem('/dev/x.xml', 'file')).toMatch(/^\/dev\/x\.xml is under \/dev, /)
    expect(outputPathProblem('/proc', 'dir')).toMatch(/is under \/proc/)
    expect(outputPathProblem(join(toProc, 'x/r.json'), 'file')).toMatch(
      new RegExp(`^${join(toProc, 'x/r.json')} \\(that is /proc/\\d+/x/r\\.json\\) is under /proc, `),
    )
  })

  it('refuses a path whose directory cannot be made, or a directory given for a file', () => {
    expect(outputPathProblem(join(file, 'x/r.json'), 'file')).toBe(
      `cannot make the directory of ${join(file, 'x/r.json')}: ${file} is a file, not a directory`,
    )
    expect(outputPathProblem(dir, 'file')).toBe(`${dir} is a directory; give a file name`)
    expect(outputPathProblem(file, 'dir')).toBe(`${file} is a file, not a directory`)
    expect(outputPathProblem('', 'file')).toBe('an empty path; give a file name')
  })

  it('takes new and existing ordinary paths, relative ones too', () => {
    expect(outputPathProblem(join(dir, 'out/deeper/r.json'), 'file')).toBeUndefined()
    expect(outputPathProblem(file, 'file')).toBeUndefined()
    expect(outputPathProblem(join(dir, 'results'), 'dir')).toBeUndefined()
    expect(outputPathProblem('reports/x.json', 'file', dir)).toBeUndefined()
    expect(outputPathProblem('x/r.json', 'file', '/proc/1')).toMatch(
      /^x\/r\.json \(that is \/proc\/1\/x\/r\.json\) is under \/proc, /,
    )
  })

  it('nslab run --json under /proc exits 2 at once, before building anything', async () => {
    const r = await run(['run', scenario, '--json', '/proc/x/r.json'])
    expect(r.signal, 'killed: it hung').toBeNull()
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--json .*\/proc\/x\/r\.json is under \/proc, a kernel file system/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stdout).not.toMatch(/build/)
  })

  it('nslab run --junit through a symlink to /proc, graph -o and vm run --results under /proc exit 2', async () => {
    const junit = await run(['run', scenario, '--junit', join(toProc, 'x/r.xml')])
    expect(junit.signal, 'killed: it hung').toBeNull()
    expect(junit.code).toBe(2)
    expect(junit.stderr).toMatch(/is under \/proc/)
    const graph = await run(['graph', scenario, '-o', '/proc/x/g.svg'])
    expect(graph.signal, 'killed: it hung').toBeNull()
    expect(graph.code).toBe(2)
    const vm = await run(['vm', 'run', '--results', '/proc/x', '--', 'true'])
    expect(vm.signal, 'killed: it hung').toBeNull()
    expect(vm.code).toBe(2)
    expect(vm.stderr).toMatch(/--results .*is under \/proc/)
    const notDir = await run(['graph', scenario, '-o', join(file, 'g.svg')])
    expect(notDir.code).toBe(2)
    expect(notDir.stderr).toMatch(/is a file, not a directory/)
  })
})
