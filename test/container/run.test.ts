// A real container through testcontainers: the capabilities suffice for namespaces and veth pairs,
// exit codes and output come back, and the container is gone afterwards, whatever the command did.
// Needs Docker: when it is missing this fails with the sentence naming the package (never skipped).
import { spawn } from 'node:child_process'
import { PassThrough } from 'node:stream'
import { resolve } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ensureDocker } from '../../harness/container/docker.js'
import { ensureImage } from '../../harness/container/image.js'
import { runInContainer } from '../../harness/container/run.js'
import { loadTestcontainers } from '../../harness/container/testcontainers.js'

const root = resolve(import.meta.dirname, '../..')
let image = ''

beforeAll(async () => {
  await ensureDocker()
  image = (await ensureImage()).tag // built once (about a minute), then found by its content hash
}, 600_000)

function sink() {
  const s = new PassThrough()
  let text = ''
  s.on('data', (d: Buffer) => (text += d.toString()))
  return { s, text: () => text }
}

async function gone(id: string): Promise<boolean> {
  const tc = await loadTestcontainers()
  const docker = (await tc.getContainerRuntimeClient()).container.dockerode
  try {
    await docker.getContainer(id).inspect()
    return false
  } catch (err) {
    return (err as { statusCode?: number }).statusCode === 404
  }
}

function run(command: string[], signal?: AbortSignal) {
  const out = sink()
  const err = sink()
  const result = runInContainer({ command, projectDir: root, image, stdout: out.s, stderr: err.s, signal })
  return { result, out, err }
}

describe('nslab container run', () => {
  it('creates namespaces and a veth pair between them inside the container, then removes it', async () => {
    const script = [
      'set -e',
      'ip netns add nslab-ct-a',
      'ip netns add nslab-ct-b',
      'ip link add va netns nslab-ct-a type veth peer name vb netns nslab-ct-b',
      'ip -n nslab-ct-a addr add 198.18.0.1/30 dev va && ip -n nslab-ct-a link set va up',
      'ip -n nslab-ct-b addr add 198.18.0.2/30 dev vb && ip -n nslab-ct-b link set vb up',
      'ip netns exec nslab-ct-a ping -c1 -W5 198.18.0.2 >/dev/null',
      'ip -n nslab-ct-b -j link show vb',
      'echo to-stderr >&2',
    ].join('\n')
    const { result, out, err } = run(['sh', '-c', script])
    const r = await result
    expect(r.exitCode).toBe(0)
    const [link] = JSON.parse(out.text()) as Array<{ ifname: string; operstate: string; link_type: string }>
    expect(link).toMatchObject({ ifname: 'vb', link_type: 'ether' })
    expect(err.text()).toBe('to-stderr\n')
    expect(await gone(r.containerId)).toBe(true)
  })

  it("returns a failing command's exit code and still removes the container", async () => {
    const { result, out } = run(['sh', '-c', 'echo before; exit 7'])
    const r = await result
    expect(r.exitCode).toBe(7)
    expect(out.text()).toBe('before\n')
    expect(await gone(r.containerId)).toBe(true)
  })

  it('a command that does not exist fails with a non-zero code, and the container goes', async () => {
    const { result } = run(['/no/such/program'])
    const r = await result
    expect(r.exitCode).not.toBe(0)
    expect(await gone(r.containerId)).toBe(true)
  })

  it('aborting removes the container under a running command', async () => {
    const abort = new AbortController()
    const { result, out } = run(['sh', '-c', 'echo ready; exec sleep 300'], abort.signal)
    out.s.on('data', () => abort.abort())
    const r = await result
    expect(r.exitCode).not.toBe(0)
    expect(await gone(r.containerId)).toBe(true)
  })

  it('the nslab command streams stdout and stderr apart and exits with the command code', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'harness/cli/main.ts',
        'container',
        'run',
        '--image',
        image,
        '--',
        'sh',
        '-c',
        'echo out; echo err >&2; exit 5',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const code = await new Promise((r) => child.on('exit', r))
    expect(code).toBe(5)
    expect(stdout).toBe('out\n')
    expect(stderr).toContain('err\n')
    const id = /container ([0-9a-f]{12}) from/.exec(stderr)?.[1]
    expect(id).toBeDefined()
    expect(await gone(id!)).toBe(true)
  })

  it('SIGTERM to the nslab command removes the container under a running command (exit 143)', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'harness/cli/main.ts', 'container', 'run', '--image', image, '--', 'sleep', '300'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stderr = ''
    const id = await new Promise<string>((resolve) =>
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString()
        const m = /container ([0-9a-f]{12}) from/.exec(stderr)
        if (m) resolve(m[1]!)
      }),
    )
    child.kill('SIGTERM')
    const code = await new Promise((r) => child.on('exit', r))
    expect(code).toBe(143)
    expect(stderr).toContain('SIGTERM: removing the container')
    expect(await gone(id)).toBe(true)
  })
})
