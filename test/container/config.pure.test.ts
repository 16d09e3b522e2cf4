// The pure part of a container run: options in, container settings out.
import { describe, expect, it } from 'vitest'
import {
  CAPABILITIES,
  containerSpec,
  isOrphan,
  ownerLabels,
  parseCopyOut,
} from '../../harness/container/config.js'
import { ContainerError } from '../../harness/container/errors.js'

const owner = { pid: 4242, startTime: 777, bootId: 'boot-a' }

describe('containerSpec', () => {
  const spec = containerSpec(
    { image: 'nslab-runner:abc', projectDir: '/src/p', command: ['npm', 'test'] },
    owner,
    'run-1',
    { CI: 'true', NSLAB_X: '1', HOME: '/home/me', SECRET_TOKEN: 's', TERM: undefined },
  )

  it('asks for exactly the capabilities the suite needs, no privileged mode, no network', () => {
    expect(spec.capabilities).toEqual(['NET_ADMIN', 'SYS_ADMIN', 'NET_RAW', 'SYS_PTRACE'])
    expect(spec.capabilities).toEqual([...CAPABILITIES])
    expect(spec.securityOpt).toEqual(['seccomp=unconfined'])
    expect(spec.networkMode).toBe('none')
    expect(spec.readonlyPaths).not.toContain('/proc/sys')
    expect(spec.readonlyPaths).toContain('/proc/sysrq-trigger')
    expect(spec.devices).toEqual([])
  })

  it('adds apparmor=unconfined only where AppArmor runs, and /dev/net/tun only where it exists', () => {
    const s = containerSpec(
      { image: 'i', projectDir: '/p', command: ['true'], apparmor: true, tun: true },
      owner,
      'r',
      {},
    )
    expect(s.securityOpt).toEqual(['seccomp=unconfined', 'apparmor=unconfined'])
    expect(s.devices).toEqual(['/dev/net/tun'])
  })

  it('mounts the project at its own path and works there, idling until the command is exec-ed', () => {
    expect(spec.binds).toEqual([{ source: '/src/p', target: '/src/p', mode: 'rw' }])
    expect(spec.workingDir).toBe('/src/p')
    expect(spec.init).toEqual(['sleep', 'infinity'])
    expect(spec.command).toEqual(['npm', 'test'])
  })

  it("passes CI and NSLAB_* through, never the caller's other variables, and puts the project's bin first", () => {
    expect(spec.env).toEqual({
      HOME: '/root',
      PATH: '/src/p/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      CI: 'true',
      NSLAB_X: '1',
    })
  })

  it('labels the container with its owner and run', () => {
    expect(spec.labels).toEqual(ownerLabels(owner, 'run-1'))
    expect(spec.labels).toEqual({
      'nslab.owner.pid': '4242',
      'nslab.owner.start': '777',
      'nslab.owner.boot': 'boot-a',
      'nslab.run': 'run-1',
    })
  })

  it('parses --env and --mount, and refuses bad ones with exit code 2', () => {
    const s = containerSpec(
      {
        image: 'i',
        projectDir: '/p',
        command: ['true'],
        env: ['A=1', 'B=x=y'],
        mounts: ['/data', '/h:/c:ro', '/h2:/c2'],
      },
      owner,
      'r',
      {},
    )
    expect(s.env).toMatchObject({ A: '1', B: 'x=y' })
    expect(s.binds.slice(1)).toEqual([
      { source: '/data', target: '/data', mode: 'rw' },
      { source: '/h', target: '/c', mode: 'ro' },
      { source: '/h2', target: '/c2', mode: 'rw' },
    ])
    const bad = (o: object) => () =>
      containerSpec({ image: 'i', projectDir: '/p', command: ['true'], ...o }, owner, 'r', {})
    expect(bad({ env: ['NOEQUALS'] })).toThrow(/bad --env "NOEQUALS"/)
    expect(bad({ mounts: ['relative:/c'] })).toThrow(/bad --mount/)
    expect(bad({ command: [] })).toThrow(/no command given/)
    expect(bad({ projectDir: 'rel' })).toThrow(/must be absolute/)
    try {
      bad({ env: ['X'] })()
    } catch (err) {
      expect(err).toBeInstanceOf(ContainerError)
      expect((err as ContainerError).exitCode).toBe(2)
    }
  })
})

describe('isOrphan', () => {
  const labels = ownerLabels(owner, 'r')
  it('keeps containers whose owner runs (same pid, same start time, same boot)', () => {
    expect(isOrphan(labels, 'boot-a', (pid) => (pid === 4242 ? 777 : undefined))).toBe(false)
  })
  it('reaps when the owner is dead, its pid reused, or the machine rebooted', () => {
    expect(isOrphan(labels, 'boot-a', () => undefined)).toBe(true)
    expect(isOrphan(labels, 'boot-a', () => 778)).toBe(true)
    expect(isOrphan(labels, 'boot-b', () => 777)).toBe(true)
  })
  it('never judges containers without nslab owner labels', () => {
    expect(isOrphan({}, 'boot-a', () => undefined)).toBe(false)
    expect(isOrphan({ 'nslab.owner.pid': 'x' }, 'boot-a', () => undefined)).toBe(false)
  })
})

describe('parseCopyOut', () => {
  it('resolves the host side against the working directory', () => {
    expect(parseCopyOut('/nslab-out:reports/container', '/src/p')).toEqual({
      from: '/nslab-out',
      to: '/src/p/reports/container',
    })
    expect(parseCopyOut('/a/b/:/abs', '/x')).toEqual({ from: '/a/b', to: '/abs' })
  })
  it('refuses what is not /CONTAINER/PATH:HOST_DIR', () => {
    for (const s of ['nocolon', 'rel:dir', '/:dir', '/x:'])
      expect(() => parseCopyOut(s, '/w')).toThrow(/bad --copy-out/)
  })
})
