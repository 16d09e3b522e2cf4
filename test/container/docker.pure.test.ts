// Finding the Docker daemon: DOCKER_HOST parsing and the /_ping probe, against a real unix socket.
import { spawnSync } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DEFAULT_SOCKET, dockerSocket, pingDocker } from '../../harness/container/docker.js'

describe('dockerSocket', () => {
  it('defaults to /var/run/docker.sock, follows unix:// and leaves tcp:// to testcontainers', () => {
    expect(dockerSocket('')).toBe(DEFAULT_SOCKET)
    expect(dockerSocket(undefined)).toBe(DEFAULT_SOCKET)
    expect(dockerSocket('unix:///run/user/0/docker.sock')).toBe('/run/user/0/docker.sock')
    expect(dockerSocket('tcp://127.0.0.1:2375')).toBeUndefined()
  })
})

describe('pingDocker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nslab-ping-'))
  const servers: Server[] = []
  afterAll(() => {
    for (const s of servers) s.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const serve = (status: number) =>
    new Promise<string>((resolve) => {
      const path = join(dir, `s${servers.length}.sock`)
      const s = createServer((req, res) => {
        res.statusCode = req.url === '/_ping' ? status : 404
        res.end('OK')
      })
      servers.push(s)
      s.listen(path, () => resolve(path))
    })

  it('is true when the socket answers /_ping with 200', async () => {
    expect(await pingDocker(await serve(200))).toBe(true)
  })
  it('is false for an error answer, a missing socket, or a socket nobody answers on', async () => {
    expect(await pingDocker(await serve(500))).toBe(false)
    expect(await pingDocker(join(dir, 'absent.sock'))).toBe(false)
    const silent = createNetServer(() => {}) // accepts, never answers
    const path = join(dir, 'silent.sock')
    await new Promise<void>((r) => silent.listen(path, r))
    try {
      expect(await pingDocker(path, 200)).toBe(false)
    } finally {
      silent.close()
    }
  })
})

describe('ensureDocker', () => {
  it('names the package to install when no daemon answers and dockerd is not installed (exit 3)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'harness/cli/main.ts', 'container', 'gc'], {
      cwd: resolve(import.meta.dirname, '../..'),
      encoding: 'utf8',
      // A socket nobody listens on, and a PATH without /usr/sbin (where Debian's dockerd lives).
      env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock', PATH: '/nonexistent' },
    })
    expect(r.status).toBe(3)
    expect(r.stderr).toContain(
      'Docker is missing: no daemon answers on /nonexistent/docker.sock and dockerd is not installed; install it with: apt-get install -y docker.io',
    )
  })
})
