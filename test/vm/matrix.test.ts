import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type KernelReport, kernelMatrix, matrixMarkdown, readKernelReports } from '../../vm/matrix.js'

const host: KernelReport = {
  kernel: '6.18.44-fc-v669',
  where: 'host',
  date: '2026-11-23T00:00:00Z',
  claims: { 'a new namespace has only lo, and it is down': { pass: true } },
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
    'a new namespace has only lo, and it is down': { pass: true },
    'setns moves only the calling thread': { pass: false, error: 'expected 2 threads' },
  },
  features: { veth: { present: true }, netem: { present: true }, wireguard: { present: true } },
}

describe('kernel matrix', () => {
  it('puts every claim and feature against every kernel, null where a kernel did not report it', () => {
    const m = kernelMatrix([host, vm])
    expect(m.kernels).toEqual(['6.18.44-fc-v669', '6.1.0-56-amd64'])
    expect(m.claims).toEqual({
      'a new namespace has only lo, and it is down': { '6.18.44-fc-v669': true, '6.1.0-56-amd64': true },
      'setns moves only the calling thread': { '6.18.44-fc-v669': null, '6.1.0-56-amd64': false },
    })
    expect(m.features.netem).toEqual({ '6.18.44-fc-v669': false, '6.1.0-56-amd64': true })
    expect(m.features.wireguard).toEqual({ '6.18.44-fc-v669': null, '6.1.0-56-amd64': true })
    expect(m.errors).toEqual({ netem: { '6.18.44-fc-v669': 'Error: Specified qdisc kind is unknown.' } })
  })

  it('renders Markdown tables, with the kernels words for what is missing', () => {
    const md = matrixMarkdown(kernelMatrix([host, vm]))
    expect(md).toContain('| claim | 6.18.44-fc-v669 | 6.1.0-56-amd64 |')
    expect(md).toContain('| setns moves only the calling thread | - | **FAIL** |')
    expect(md).toContain('| netem | no | yes |')
    expect(md).toContain('- netem on 6.18.44-fc-v669: Error: Specified qdisc kind is unknown.')
  })

  it('reads a directory of reports and names a file that is not one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nslab-matrix-'))
    try {
      writeFileSync(join(dir, `${vm.kernel}.json`), JSON.stringify(vm))
      writeFileSync(join(dir, `${host.kernel}.json`), JSON.stringify(host))
      expect(readKernelReports(dir).map((r) => r.kernel)).toEqual(['6.1.0-56-amd64', '6.18.44-fc-v669'])
      writeFileSync(join(dir, 'bad.json'), '{"kernel": 1}')
      expect(() => readKernelReports(dir)).toThrow(`${join(dir, 'bad.json')} is not a kernel report`)
    } finally {
      rmSync(dir, { recursive: true })
    }
    expect(() => readKernelReports('/nonexistent/reports')).toThrow('run the kernel suite first')
  })
})
