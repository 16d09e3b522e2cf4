import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hostTscKhz, tscKhzFromCpuinfo } from '../../vm/host-tsc.js'

const cpu = (flags: string, mhz = '2596.142') =>
  `processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu MHz\t\t: ${mhz}\nflags\t\t: fpu tsc msr ${flags}\n\nprocessor\t: 1\ncpu MHz\t\t: 1200.000\nflags\t\t: fpu\n`

describe('the host TSC frequency from /proc/cpuinfo', () => {
  it('reads the first CPU\'s "cpu MHz" as kHz when the TSC is constant and nonstop and the CPU has no APERF/MPERF', () => {
    expect(tscKhzFromCpuinfo(cpu('constant_tsc nonstop_tsc tsc_known_freq'))).toBe(2596142)
    expect(tscKhzFromCpuinfo(cpu('constant_tsc nonstop_tsc', '3000.0004'))).toBe(3000000)
  })

  it('gives nothing where "cpu MHz" is a core clock or the TSC drifts', () => {
    expect(tscKhzFromCpuinfo(cpu('constant_tsc nonstop_tsc aperfmperf'))).toBeUndefined()
    expect(tscKhzFromCpuinfo(cpu('constant_tsc'))).toBeUndefined()
    expect(tscKhzFromCpuinfo(cpu('nonstop_tsc'))).toBeUndefined()
    expect(tscKhzFromCpuinfo(cpu('constant_tsc nonstop_tsc', 'unknown'))).toBeUndefined()
    expect(tscKhzFromCpuinfo(cpu('constant_tsc nonstop_tsc', '0.5'))).toBeUndefined()
    expect(tscKhzFromCpuinfo('')).toBeUndefined()
    expect(hostTscKhz('/nonexistent/cpuinfo')).toBeUndefined()
  })

  it('never throws on any text, and what it gives is a plausible frequency', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc
            .tuple(
              fc.subarray(['constant_tsc', 'nonstop_tsc', 'aperfmperf']),
              fc.oneof(fc.double().map(String), fc.string()),
            )
            .map(([flags, mhz]) => cpu(flags.join(' '), mhz)),
        ),
        (t) => {
          const k = tscKhzFromCpuinfo(t)
          expect(k === undefined || (Number.isInteger(k) && k >= 100_000 && k <= 100_000_000)).toBe(true)
        },
      ),
    )
  })
})
