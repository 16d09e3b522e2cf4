import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  type KernelReport,
  cellText,
  headline,
  kernelMatrix,
  matrixFailed,
  matrixKernels,
  matrixMarkdown,
  parseKernelReport,
  readKernelReports,
  reportFileName,
} from '../../vm/matrix.js'

const host: KernelReport = {
  kernel: '6.18.44-fc-v669',
  where: 'host',
  date: '2026-11-23T00:00:00Z',
  claims: { 'a new namespace has only lo, and it is down': { status: 'pass', ms: 450 } },
  scenarios: { 'impairment-delay': { status: 'needs-feature', feature: 'netem', ms: 40 } },
  features: {
    veth: { present: true },
    netem: { present: false, error: 'Error: Specified qdisc kind is unknown.' },
  },
}
const vm: KernelReport = {
  kernel: '6.1.0-56-amd64',
  where: 'vm',
  date: '2026-11-23T00:00:00Z',
  claims: {
    'a new namespace has only lo, and it is down': { status: 'pass', ms: 1200 },
    'setns moves only the calling thread': { status: 'fail', ms: 30, error: 'expected 2 threads' },
  },
  scenarios: { 'impairment-delay': { status: 'pass', ms: 5200 } },
  differences: { 'ipv6-force-forwarding': { status: 'fail', ms: 9000, error: 'sysctl: cannot stat' } },
  features: { veth: { present: true }, netem: { present: true }, wireguard: { present: true } },
}
const old510: KernelReport = { ...vm, kernel: '5.10.0-32-amd64', claims: {}, scenarios: {}, differences: {} }

describe('kernel matrix', () => {
  it('puts every claim, scenario and feature against every kernel, null where a kernel did not report it', () => {
    const m = kernelMatrix([host, vm])
    // VM kernels first (oldest first), then the host, then the container.
    expect(m.kernels).toEqual(['6.1.0-56-amd64', 'host 6.18.44-fc-v669'])
    expect(m.claims).toEqual({
      'a new namespace has only lo, and it is down': {
        'host 6.18.44-fc-v669': { status: 'pass', ms: 450 },
        '6.1.0-56-amd64': { status: 'pass', ms: 1200 },
      },
      'setns moves only the calling thread': {
        'host 6.18.44-fc-v669': null,
        '6.1.0-56-amd64': { status: 'fail', ms: 30, error: 'expected 2 threads' },
      },
    })
    expect(m.scenarios['impairment-delay']!['host 6.18.44-fc-v669']).toEqual({
      status: 'needs-feature',
      feature: 'netem',
      ms: 40,
    })
    expect(m.features.netem).toEqual({ 'host 6.18.44-fc-v669': false, '6.1.0-56-amd64': true })
    expect(m.features.wireguard).toEqual({ 'host 6.18.44-fc-v669': null, '6.1.0-56-amd64': true })
    expect(m.errors).toEqual({ netem: { 'host 6.18.44-fc-v669': 'Error: Specified qdisc kind is unknown.' } })
    expect(kernelMatrix([vm, old510, host]).kernels).toEqual([
      '5.10.0-32-amd64',
      '6.1.0-56-amd64',
      'host 6.18.44-fc-v669',
    ])
  })

  it('renders Markdown tables: pass / FAIL / needs FEATURE with the time, and the errors', () => {
    const md = matrixMarkdown(kernelMatrix([host, vm]))
    expect(md).toContain('| claim | 6.1.0-56-amd64 | host 6.18.44-fc-v669 |')
    expect(md).toContain('| setns moves only the calling thread | **FAIL** 30 ms | - |')
    expect(md).toContain('| impairment-delay | pass 5.2 s | needs netem 40 ms |')
    expect(md).toContain('| ipv6-force-forwarding | fail 9.0 s | - |')
    expect(md).toContain('| netem | yes | no |')
    expect(md).toContain('- setns moves only the calling thread on 6.1.0-56-amd64: expected 2 threads')
    expect(md).toContain('- ipv6-force-forwarding on 6.1.0-56-amd64: sysctl: cannot stat')
    expect(md).toContain('- netem on host 6.18.44-fc-v669: Error: Specified qdisc kind is unknown.')
    expect(cellText(null)).toBe('-')
    expect(
      headline(
        'scenario x failed: step 1 failed\nx\n  ✗ check 1 expectation(s) (6.8 s)\n      ✗ ping a -> b x300: 54% loss\n',
      ),
    ).toBe('✗ ping a -> b x300: 54% loss')
    expect(headline('expected 2 threads\nat line')).toBe('expected 2 threads')
  })

  it("names the files a failed cell left (its trace and pcapng) after the failure's first line", () => {
    const failed: KernelReport = {
      ...vm,
      scenarios: {
        'impairment-loss': {
          status: 'fail',
          ms: 5200,
          error: 'ping a -> b: 42% loss',
          artifacts: ['reports/nslab/impairment-loss.html', 'reports/nslab/impairment-loss.pcapng'],
        },
      },
      differences: {
        'ipv6-force-forwarding': {
          status: 'fail',
          ms: 9000,
          error: 'sysctl: cannot stat',
          artifacts: ['reports/nslab/6.1.0-56-amd64--ipv6-force-forwarding--ab12.trace.html'],
        },
      },
    }
    const md = matrixMarkdown(kernelMatrix([failed]))
    expect(md).toContain(
      '- ipv6-force-forwarding on 6.1.0-56-amd64: sysctl: cannot stat (left: `reports/nslab/6.1.0-56-amd64--ipv6-force-forwarding--ab12.trace.html`)',
    )
    expect(md).toContain(
      '- impairment-loss on 6.1.0-56-amd64: ping a -> b: 42% loss (left: `reports/nslab/impairment-loss.html`, `reports/nslab/impairment-loss.pcapng`)',
    )
    expect(md).toContain('- setns moves only the calling thread on 6.1.0-56-amd64: expected 2 threads\n')
  })

  it('merges the reports of one column (shards), the newer result winning', () => {
    const a: KernelReport = {
      ...host,
      date: '2026-11-23T01:00:00Z',
      claims: { c1: { status: 'pass', ms: 1 } },
    }
    const b: KernelReport = {
      ...host,
      date: '2026-11-23T02:00:00Z',
      claims: { c2: { status: 'pass', ms: 2 } },
      scenarios: { 'impairment-delay': { status: 'pass', ms: 3 } },
    }
    const m = kernelMatrix([b, a])
    expect(m.kernels).toEqual(['host 6.18.44-fc-v669'])
    expect(Object.keys(m.claims)).toEqual(['c1', 'c2'])
    expect(m.scenarios['impairment-delay']!['host 6.18.44-fc-v669']).toEqual({ status: 'pass', ms: 3 })
  })

  it('fails on a failed claim or scenario, never on a kernel difference', () => {
    expect(matrixFailed(kernelMatrix([vm]))).toBe(true)
    const noClaimFail = { ...vm, claims: {} }
    expect(matrixFailed(kernelMatrix([noClaimFail]))).toBe(false)
  })

  it('reads older reports (pass: boolean), and names a file that is not one', () => {
    const r = parseKernelReport(
      {
        kernel: '6.1.0-1-amd64',
        claims: { x: { pass: false, error: 'e' }, y: { pass: true } },
        features: {},
      },
      'f',
    )
    expect(r.claims).toEqual({ x: { status: 'fail', ms: 0, error: 'e' }, y: { status: 'pass', ms: 0 } })
    const dir = mkdtempSync(join(tmpdir(), 'nslab-matrix-'))
    try {
      writeFileSync(join(dir, reportFileName(vm.kernel, 'vm')), JSON.stringify(vm))
      writeFileSync(join(dir, reportFileName(host.kernel, 'host')), JSON.stringify(host))
      writeFileSync(join(dir, 'matrix.json'), '{}')
      mkdirSync(join(dir, 'shard-1'))
      writeFileSync(join(dir, 'shard-1', 'matrix.json'), '{}')
      expect(readKernelReports(dir).map((x) => x.kernel)).toEqual(['6.1.0-56-amd64', '6.18.44-fc-v669'])
      writeFileSync(join(dir, 'bad.json'), '{"kernel": 1}')
      expect(() => readKernelReports(dir)).toThrow(`${join(dir, 'bad.json')} is not a kernel report`)
    } finally {
      rmSync(dir, { recursive: true })
    }
    expect(() => readKernelReports('/nonexistent/reports')).toThrow('run the kernel suite first')
    expect(reportFileName('6.18.44-fc', 'container')).toBe('container-6.18.44-fc.json')
  })

  it('picks the newest build of each line by default, 7.3 over sid 7.2', () => {
    const builds = [
      '5.10.0-30-amd64',
      '5.10.0-32-amd64',
      '6.1.0-56-amd64',
      '6.1.0-57-amd64',
      '6.12.118+deb12-amd64',
      '6.12.117+deb13-amd64',
      '6.16.3+deb13-amd64',
      '6.19.14+deb13-amd64',
      '7.3.4+deb13-amd64',
      '7.2.13+deb14-amd64',
      '6.6.1-amd64',
    ].map((version) => ({ version }))
    expect(matrixKernels(builds)).toEqual([
      '5.10.0-32-amd64',
      '6.1.0-57-amd64',
      '6.12.118+deb12-amd64',
      '6.19.14+deb13-amd64',
      '7.3.4+deb13-amd64',
    ])
    expect(matrixKernels(builds, ['7.x', '5.10'])).toEqual(['5.10.0-32-amd64', '7.3.4+deb13-amd64'])
    expect(() => matrixKernels(builds, ['6.6'])).toThrow('unknown kernel line 6.6: the lines are 5.10, 6.1')
  })
})
