/**
 * The host's TSC frequency, which a TCG guest needs told: QEMU's TCG hands
 * the guest the host's own TSC, and on the microvm machine (no HPET, no ACPI
 * PM timer) the guest kernel has only the PIT to calibrate it against, which
 * under emulation fails now and then ("tsc: Unable to calibrate against
 * PIT"), after which boot can hang waiting for a timer tick. With
 * `tsc_early_khz=` the kernel skips that calibration.
 */
import { readFileSync } from 'node:fs'

/**
 * The TSC frequency in kHz from /proc/cpuinfo's text, or undefined when it
 * cannot be told from it. "cpu MHz" is the kernel's cpu_khz (equal to the TSC
 * frequency to a few ppm) only where the CPU has no APERF/MPERF counters
 * (virtual machines, mostly); elsewhere it is the current clock of a core.
 * The TSC must also tick at a constant rate, also in deep idle.
 */
export function tscKhzFromCpuinfo(text: string): number | undefined {
  const first = text.split(/\n\s*\n/)[0] ?? ''
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(first)?.[1]?.trim()
  const flags = new Set((field('flags') ?? '').split(/\s+/))
  if (!flags.has('tsc') || !flags.has('constant_tsc') || !flags.has('nonstop_tsc') || flags.has('aperfmperf'))
    return undefined
  const mhz = Number(field('cpu MHz'))
  if (!Number.isFinite(mhz) || mhz < 100 || mhz > 100_000) return undefined
  return Math.round(mhz * 1000)
}

/** This host's TSC frequency in kHz, or undefined (see tscKhzFromCpuinfo). */
export function hostTscKhz(cpuinfo = '/proc/cpuinfo'): number | undefined {
  try {
    return tscKhzFromCpuinfo(readFileSync(cpuinfo, 'utf8'))
  } catch {
    return undefined
  }
}
