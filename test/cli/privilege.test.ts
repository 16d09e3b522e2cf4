/**
 * Without CAP_SYS_ADMIN and CAP_NET_ADMIN the commands that need them stop at
 * once with exit 3 and one sentence naming what is missing (README: 3 for a
 * missing capability), instead of exit 1 and a raw EACCES; a permission error
 * from the kernel anywhere maps to exit 3 too; `nslab down` never claims a
 * removal that did not happen. The CLI runs as nobody (setpriv) and as root
 * with the two capabilities dropped.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { nslab, runScript } from '../support/cli.js'
import { exitCodeFor } from '../../harness/cli/program.js'
import {
  PrivilegeError,
  effectiveCapabilities,
  missingCapabilities,
  permissionMessage,
} from '../../harness/cli/privilege.js'
import { removalReport } from '../../harness/cli/removal.js'
import { NetlinkError } from '../../harness/netlink/transport/errors.js'
import { listNetns } from '../../harness/netns/index.js'
import { SysError, isPermissionError } from '../../harness/sys/errors.js'

const root = join(import.meta.dirname, '../..')
const dir = mkdtempSync(join(tmpdir(), 'nslab-priv-'))
chmodSync(dir, 0o755) // nobody reads the scenario files
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all']
const WITHOUT_CAPS = ['setpriv', '--inh-caps=-sys_admin,-net_admin', '--bounding-set=-sys_admin,-net_admin']

function run(args: string[], prefix: string[] = []) {
  return nslab(args, { prefix })
}

function scenario(name: string, text: string): string {
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, text, { mode: 0o644 })
  return file
}

const pair = scenario('pair', 'name: pair\ntopology:\n  hosts: [a, b]\n  links: [[a, b]]\n')
const NEEDS =
  /^nslab (run|exec|down|netns add) needs CAP_SYS_ADMIN( and CAP_NET_ADMIN)?, which this process does not have: run it as root \(sudo\), or give it th(ose|at) capabilit(ies|y)$/

describe('capabilities', () => {
  it('reads the effective set from /proc/self/status', () => {
    const status = 'Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n'
    expect(effectiveCapabilities(status)).toBe(0x1fffeffffffn)
    expect(missingCapabilities(['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'], status)).toEqual([])
    const dropped = 'CapEff:\t000001fffedfefff\n' // without bit 21 (SYS_ADMIN) and 12 (NET_ADMIN)
    expect(missingCapabilities(['CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_NET_RAW'], dropped)).toEqual([
      'CAP_SYS_ADMIN',
      'CAP_NET_ADMIN',
    ])
    expect(missingCapabilities(['CAP_NET_ADMIN'], 'CapEff:\t0000000000000000\n')).toEqual(['CAP_NET_ADMIN'])
    expect(missingCapabilities(['CAP_NET_ADMIN'], 'garbage')).toEqual(['CAP_NET_ADMIN'])
  })

  it('maps a permission error from the kernel or the file system to exit 3, with what to do', () => {
    const sys = new SysError('unshare', 1)
    const nl = Object.assign(Object.create(NetlinkError.prototype) as NetlinkError, {
      message: 'EPERM: Operation not permitted',
      code: 'EPERM',
    })
    const fsErr = Object.assign(new Error("EACCES: permission denied, open '/run/nslab/labs/x.json'"), {
      code: 'EACCES',
    })
    for (const e of [sys, nl, fsErr, new Error('wrapped', { cause: fsErr })]) {
      expect(isPermissionError(e)).toBe(true)
      expect(exitCodeFor(e)).toBe(3)
    }
    expect(exitCodeFor(new PrivilegeError('nslab run', ['CAP_SYS_ADMIN']))).toBe(3)
    expect(isPermissionError(new Error('EEXIST'))).toBe(false)
    expect(permissionMessage(fsErr, 'CapEff:\t0000000000000000\n')).toBe(
      "EACCES: permission denied, open '/run/nslab/labs/x.json' (nslab needs CAP_SYS_ADMIN and CAP_NET_ADMIN, which this process does not have: run it as root (sudo), or give it those capabilities)",
    )
    expect(permissionMessage(fsErr, 'CapEff:\t000001ffffffffff\n')).toBe(
      "EACCES: permission denied, open '/run/nslab/labs/x.json' (the kernel refused although this process has CAP_SYS_ADMIN and CAP_NET_ADMIN: a seccomp or LSM policy, or a user namespace, may forbid it)",
    )
    expect(permissionMessage(sys)).toBe(sys.message) // it already says what to do
  })

  it('as nobody, nslab run and exec stop at once with exit 3 and one sentence; a bad file is still exit 2', async () => {
    const ran = await run(['run', pair], AS_NOBODY)
    expect(ran.signal).toBeNull()
    expect(ran.stderr.trim()).toMatch(NEEDS)
    expect(ran.code).toBe(3)
    expect(ran.stdout).not.toMatch(/build/)
    const exec = await run(['exec', 'zzzz', 'a', '--', 'true'], AS_NOBODY)
    expect(exec.stderr.trim()).toMatch(NEEDS)
    expect(exec.code).toBe(3)
    const bad = await run(['run', scenario('bad', 'topology:\n  hosts: [a]\n  lnks: []\n')], AS_NOBODY)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/unknown key "lnks"/)
    const ls = await run(['ls'], AS_NOBODY) // needs nothing
    expect(ls.code).toBe(0)
  })

  it('as root without CAP_SYS_ADMIN and CAP_NET_ADMIN, nslab run and netns add exit 3', async () => {
    const ran = await run(['run', pair], WITHOUT_CAPS)
    expect(ran.stderr.trim()).toMatch(NEEDS)
    expect(ran.code).toBe(3)
    const add = await run(['netns', 'add', `nslab-t${process.pid.toString(36)}-priv`], WITHOUT_CAPS)
    expect(add.stderr.trim()).toMatch(NEEDS)
    expect(add.code).toBe(3)
  })

  it('runScenario throws a build the kernel refused for want of privilege, once the lab is gone', async () => {
    const script = join(dir, 'run.mjs')
    writeFileSync(
      script,
      [
        `const { parseScenario, runScenario } = await import(${JSON.stringify(join(root, 'harness/scenario/index.ts'))})`,
        `const { listOwners } = await import(${JSON.stringify(join(root, 'harness/lab/owner.ts'))})`,
        'try {',
        "  await runScenario(parseScenario('topology:\\n  hosts: [a, b]\\n  links: [[a, b]]\\n'))",
        "  console.log('returned')",
        '} catch (err) {',
        '  console.log(`threw ${err.name} ${err.code}`)',
        '}',
        'console.log(`mine left: ${listOwners().filter((o) => o.pid === process.pid).length}`)',
      ].join('\n'),
    )
    const r = await runScript(script, [], { prefix: WITHOUT_CAPS })
    expect(r.stdout.trim().split('\n'), r.stderr).toEqual(['threw SysError EPERM', 'mine left: 0'])
  })

  it('nslab down without the capability changes nothing and says so (exit 3); with it, removes the lab', async () => {
    const up = await run(['up', pair])
    expect(up.code, up.stdout + up.stderr).toBe(0)
    const id = /lab (\w+) is left up/.exec(up.stdout)![1]!
    const mine = (): string[] => listNetns().filter((n) => n.startsWith(`nslab-${id}-`))
    try {
      expect(mine()).toHaveLength(2)
      for (const prefix of [AS_NOBODY, WITHOUT_CAPS]) {
        const down = await run(['down', id], prefix)
        expect(down.stdout).not.toMatch(/removed/)
        expect(down.stderr.trim()).toMatch(NEEDS)
        expect(down.code).toBe(3)
        expect(mine()).toHaveLength(2)
      }
    } finally {
      const down = await run(['down', id])
      expect(down.stdout.trim()).toBe(`removed lab ${id}: 2 namespace(s)`)
      expect(down.code).toBe(0)
    }
    expect(mine()).toEqual([])
  })

  it('nslab down reports what is still there, never "removed", when a removal fails', () => {
    const report = {
      reaped: [{ id: 'ab12', pid: 1, namespaces: ['nslab-ab12-a', 'nslab-ab12-b'], killed: [], paths: [] }],
      live: [],
      kept: [],
      errors: ['delete nslab-ab12-a: EPERM from umount2 on /run/netns/nslab-ab12-a: Operation not permitted'],
    }
    expect(removalReport(report, ['nslab-ab12-a', 'other'])).toEqual({
      out: [],
      err: [
        'error: delete nslab-ab12-a: EPERM from umount2 on /run/netns/nslab-ab12-a: Operation not permitted',
        'could not remove lab ab12: 1 of 2 namespace(s) still there (nslab-ab12-a)',
      ],
      code: 3,
    })
    expect(removalReport({ ...report, errors: ['kill 7 in nslab-ab12-a: ESRCH'] }, [])).toEqual({
      out: ['removed lab ab12: 2 namespace(s)'],
      err: ['error: kill 7 in nslab-ab12-a: ESRCH'],
      code: 1,
    })
    expect(removalReport({ ...report, errors: [] }, ['x'])).toEqual({
      out: ['removed lab ab12: 2 namespace(s)'],
      err: [],
      code: 0,
    })
  })
})
