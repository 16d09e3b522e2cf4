// The kernel report's cells from Vitest's test cases (test/kernel/reporter.ts).
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { TestCase } from 'vitest/node'
import { cellOf, featureOf } from './reporter.js'

/** The parts of a TestCase the reporter reads. */
function testCase(o: {
  state: 'passed' | 'failed' | 'skipped'
  message?: string
  annotations?: { message: string; type?: string; attachment?: { path?: string; contentType?: string } }[]
}): TestCase {
  return {
    result: () => ({ state: o.state, errors: o.message ? [{ message: o.message }] : [] }),
    diagnostic: () => ({ duration: 1234.4 }),
    annotations: () => (o.annotations ?? []).map((a) => ({ type: 'notice', ...a })),
  } as unknown as TestCase
}

describe('kernel report cells', () => {
  it('a failure keeps its first error and the trace and pcapng its fixture attached (relative to the project)', () => {
    const html = join(process.cwd(), 'reports/nslab/x--lab.html')
    const cell = cellOf(
      testCase({
        state: 'failed',
        message: 'ping a -> b: 42% loss',
        annotations: [
          {
            message: 'lab state: ...',
            type: 'nslab',
            attachment: { path: '/tmp/s.txt', contentType: 'text/plain' },
          },
          {
            message: 'packets: ...',
            type: 'nslab',
            attachment: { path: '/tmp/x.pcapng', contentType: 'application/vnd.tcpdump.pcap' },
          },
          { message: 'trace: ...', type: 'nslab', attachment: { path: html, contentType: 'text/html' } },
        ],
      }),
    )
    expect(cell).toEqual({
      status: 'fail',
      ms: 1234,
      error: 'ping a -> b: 42% loss',
      artifacts: ['/tmp/x.pcapng', 'reports/nslab/x--lab.html'],
    })
    expect(cellOf(testCase({ state: 'failed', message: 'boom' }))).toEqual({
      status: 'fail',
      ms: 1234,
      error: 'boom',
    })
  })

  it('a pass that a missing feature explains is needs-feature, naming it', () => {
    const sentence = 'needs kernel feature netem, which this kernel lacks; the scenario was skipped'
    expect(
      cellOf(testCase({ state: 'passed', annotations: [{ message: sentence, type: 'notice' }] })),
    ).toEqual({
      status: 'needs-feature',
      ms: 1234,
      feature: 'netem',
    })
    expect(featureOf('something else')).toBe('something else')
    expect(cellOf(testCase({ state: 'skipped' }))).toBeUndefined()
  })
})
