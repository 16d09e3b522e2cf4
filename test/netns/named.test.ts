import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  NetnsError,
  NetnsNameError,
  NotANetnsError,
  addNetns,
  deleteNetns,
  listNetns,
  netnsExists,
  openCurrentNetns,
  openNetns,
  openNetnsOfPid,
  openNetnsPath,
} from '../../harness/netns/index.js'
import { ip, ipJson, netnsNames } from '../support/names.js'

const name = netnsNames('named')

function mountsOf(path: string): number {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4] === path).length
}

describe('named namespaces, iproute2-compatible', () => {
  it('add makes /run/netns/NAME a bind mount that `ip netns` lists and can exec in', () => {
    const n = name()
    addNetns(n)
    expect(existsSync(`/run/netns/${n}`)).toBe(true)
    expect(mountsOf(`/run/netns/${n}`)).toBe(1)
    expect(ip('netns', 'list')).toContain(n)
    const links = JSON.parse(
      execFileSync('ip', ['netns', 'exec', n, 'ip', '-j', 'link'], { encoding: 'utf8' }),
    )
    // A new namespace has only lo, and it is down.
    expect(links.map((l: { ifname: string }) => l.ifname)).toEqual(['lo'])
    expect(links[0].operstate).toBe('DOWN')
  })

  it('a namespace made by `ip netns add` opens, lists and deletes with nslab', () => {
    const n = name()
    ip('netns', 'add', n)
    expect(listNetns()).toContain(n)
    expect(netnsExists(n)).toBe(true)
    const ns = openNetns(n)
    ns.close()
    deleteNetns(n)
    expect(ip('netns', 'list')).not.toContain(n)
    expect(existsSync(`/run/netns/${n}`)).toBe(false)
  })

  it('a namespace made by nslab is deleted by `ip netns delete`', () => {
    const n = name()
    addNetns(n)
    ip('netns', 'delete', n)
    expect(listNetns()).not.toContain(n)
    expect(mountsOf(`/run/netns/${n}`)).toBe(0)
  })

  it('delete removes the mount and the file', () => {
    const n = name()
    addNetns(n)
    deleteNetns(n)
    expect(existsSync(`/run/netns/${n}`)).toBe(false)
    expect(mountsOf(`/run/netns/${n}`)).toBe(0)
    expect(netnsExists(n)).toBe(false)
  })

  it('refuses to add a name that exists, saying what to do, and changes nothing', () => {
    const n = name()
    addNetns(n)
    const id = openNetns(n)
    try {
      expect(() => addNetns(n)).toThrow(NetnsError)
      expect(() => addNetns(n)).toThrow(
        `EEXIST: namespace ${n} already exists (left by a crashed run? run: nslab gc)`,
      )
      using again = openNetns(n)
      expect(again.is(id)).toBe(true)
    } finally {
      id.close()
    }
  })

  it('refuses to delete a namespace that does not exist', () => {
    const n = name()
    expect(() => deleteNetns(n)).toThrow(`ENOENT: namespace ${n} does not exist`)
  })

  it.each([
    ['', 'empty'],
    ['a/b', 'contains "/"'],
    ['..', 'not allowed'],
    ['.', 'not allowed'],
    ['x'.repeat(256), 'at most 255'],
    ['a\0b', 'NUL'],
  ])('rejects the bad name %j before touching anything', (bad, why) => {
    const before = listNetns()
    expect(() => addNetns(bad)).toThrow(NetnsNameError)
    expect(() => addNetns(bad)).toThrow(why)
    expect(() => deleteNetns(bad)).toThrow(NetnsNameError)
    expect(() => openNetns(bad)).toThrow(NetnsNameError)
    expect(listNetns()).toEqual(before)
  })

  it('never leaves the calling thread in the new namespace', () => {
    using home = openCurrentNetns()
    const n = name()
    addNetns(n)
    using now = openCurrentNetns()
    expect(now.is(home)).toBe(true)
    using made = openNetns(n)
    expect(made.is(home)).toBe(false)
  })
})

describe('opening and identity: a namespace is known by the device and inode of its ns file, however it was opened', () => {
  it('compares namespaces by device and inode, whichever way they were opened', () => {
    const n = name()
    addNetns(n)
    using byName = openNetns(n)
    using byPath = openNetnsPath(`/run/netns/${n}`)
    expect(byName.is(byPath)).toBe(true)
    expect(byName.id.ino).toBe(byPath.id.ino)
    using mine = openNetnsOfPid(process.pid)
    expect(mine.is(byName)).toBe(false)
    using current = openCurrentNetns()
    expect(current.is(mine)).toBe(true)
    // `ip netns identify PID` finds the name of a process's namespace the same way.
    const child = execFileSync('ip', ['netns', 'exec', n, 'sh', '-c', 'ip netns identify $$'], {
      encoding: 'utf8',
    })
    expect(child.trim().split(/\s+/)).toContain(n)
  })

  it('opens the namespace of a process by pid', async () => {
    const n = name()
    addNetns(n)
    const { spawn } = await import('node:child_process')
    const child = spawn('ip', ['netns', 'exec', n, 'sleep', '30'], { stdio: 'ignore' })
    try {
      // `ip netns exec` execs sleep in place, so child.pid is in the namespace once `ip netns pids` shows it.
      await expect
        .poll(() => ip('netns', 'pids', n).trim(), { timeout: 5000, interval: 20 })
        .toContain(String(child.pid))
      using byPid = openNetnsOfPid(child.pid!)
      using byName = openNetns(n)
      expect(byPid.is(byName)).toBe(true)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('refuses a path that is not a namespace, and a pid that does not exist', () => {
    expect(() => openNetnsPath('/etc/hostname')).toThrow(NotANetnsError)
    expect(() => openNetnsPath('/etc/hostname')).toThrow('is not a namespace file')
    expect(() => openNetnsPath('/proc/self/ns/mnt')).toThrow('not a network namespace')
    expect(() => openNetnsPath('/nonexistent/ns')).toThrow('does not exist')
    expect(() => openNetnsOfPid(0)).toThrow(TypeError)
    expect(() => openNetnsOfPid(2 ** 22 + 1)).toThrow('does not exist')
    const n = name()
    expect(() => openNetns(n)).toThrow(`namespace ${n} does not exist`)
  })

  it('lists what `ip -j netns list` lists', () => {
    const a = name()
    const b = name()
    addNetns(a)
    ip('netns', 'add', b)
    const theirs = ipJson<{ name: string }[]>('netns', 'list').map((x) => x.name)
    const ours = listNetns()
    expect(ours).toContain(a)
    expect(ours).toContain(b)
    expect([...ours].sort()).toEqual([...theirs].sort())
  })
})
