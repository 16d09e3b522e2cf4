/**
 * `nslab capture LAB HOST` streams a running lab's packets as pcapng: to a
 * file or a pipe, stopping after --count packets, and Wireshark's reader
 * reads what it wrote (interfaces named after the host, directions, names).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Lab } from '../../harness/lab/lab.js'
import type { LabNode } from '../../harness/lab/node.js'
import { tsharkFields, tsharkNamed } from '../capture/tshark.js'

const root = join(import.meta.dirname, '../..')
const dir = mkdtempSync(join(tmpdir(), 'nslab-live-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function nslab(args: string[]): { done: Promise<{ code: number | null; stderr: string; stdout: Buffer }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'harness/cli/main.ts'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
    killSignal: 'SIGKILL',
  })
  const out: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => out.push(d))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  return {
    done: new Promise((resolve) =>
      child.on('exit', (code) => resolve({ code, stderr, stdout: Buffer.concat(out) })),
    ),
  }
}

/** Run `nslab capture ARGS` and ping a -> b until it has had enough (it starts a moment after the command). */
async function captureWhilePinging(
  args: string[],
  a: LabNode,
  b: LabNode,
): Promise<{ code: number | null; stderr: string }> {
  const run = nslab(['capture', ...args])
  let result: { code: number | null; stderr: string } | undefined
  void run.done.then((r) => (result = r))
  for (let i = 0; i < 400 && !result; i++) {
    await a.ping(b, { count: 1, timeout: 200 })
    await new Promise((r) => setTimeout(r, 50))
  }
  return run.done
}

describe('nslab capture', () => {
  it('streams packets of a running lab to a file until --count, and tshark reads it', async () => {
    const lab = await Lab.create()
    try {
      const [a, b] = await lab.addHosts('a', 'b')
      await lab.connect(a, b)
      const file = join(dir, 'ab.pcapng')
      const r = await captureWhilePinging([lab.id, 'a', 'b', '-w', file, '--count', '20'], a, b)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toContain(`capturing on a b of lab ${lab.id}`)
      const frames = tsharkFields(file, ['frame.interface_name', 'frame.packet_flags_direction', 'icmp.type'])
      expect(frames).toHaveLength(20)
      expect(new Set(frames.map(([i]) => i!.split('/')[0]))).toEqual(new Set(['a', 'b']))
      const requestsOut = frames.filter(([i, d, t]) => i!.startsWith('a/') && d === '0x00000002' && t === '8')
      expect(requestsOut.length).toBeGreaterThan(0)
      expect(tsharkNamed(file, ['ip.src_host', 'ip.dst_host'], 'icmp.type == 8')[0]).toEqual(['a', 'b'])
    } finally {
      await lab.destroy()
    }
  }, 60_000)

  it('--filter keeps only what its words say, counted by --count; words it cannot read get one sentence', async () => {
    const lab = await Lab.create()
    try {
      const [a, b] = await lab.addHosts('a', 'b')
      await lab.connect(a, b)
      const file = join(dir, 'requests.pcapng')
      const r = await captureWhilePinging(
        [lab.id, 'a', 'b', '-w', file, '--count', '6', '--filter', 'icmp echo-request'],
        a,
        b,
      )
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toContain('(filtered)')
      // Only echo requests (no reply, no ARP), out of a and into b.
      const frames = tsharkFields(file, ['frame.interface_name', 'icmp.type'])
      expect(frames).toHaveLength(6)
      expect(new Set(frames.map(([, t]) => t))).toEqual(new Set(['8']))
      expect(new Set(frames.map(([i]) => i!.split('/')[0]))).toEqual(new Set(['a', 'b']))
      const bad = await nslab([
        'capture',
        lab.id,
        'a',
        '-w',
        join(dir, 'y.pcapng'),
        '--filter',
        'tcp portt 80',
      ]).done
      expect(bad.code).toBe(2)
      expect(bad.stderr.trim()).toBe(
        `nslab: filter "tcp portt 80": "portt" at 5: unknown word; known: arp, ip, ip6, icmp, icmp6, tcp, udp, host, src, dst, from, to, port, not, and, or, and ICMP message names after icmp/icmp6`,
      )
    } finally {
      await lab.destroy()
    }
  }, 60_000)

  it('says which hosts a lab has when one is unknown, and that there is no such lab', async () => {
    const lab = await Lab.create()
    try {
      await lab.addHosts('a')
      const r = await nslab(['capture', lab.id, 'zz', '-w', join(dir, 'x.pcapng')]).done
      expect(r.code).toBe(2)
      expect(r.stderr).toContain(`lab ${lab.id} has no host "zz"; it has: a`)
      const none = await nslab(['capture', 'nolab1', 'a']).done
      expect(none.code).toBe(2)
      expect(none.stderr).toContain('there is no lab "nolab1"')
    } finally {
      await lab.destroy()
    }
  }, 60_000)
})
