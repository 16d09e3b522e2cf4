/**
 * KVM when it works, TCG otherwise. /dev/kvm existing is not enough (nested
 * setups have a /dev/kvm whose guests hang or abort): KVM counts as usable
 * when the chosen kernel, booted under it with no root filesystem, reaches
 * its "Kernel panic" about the missing root within a few seconds. The answer
 * is cached per host boot (/proc/sys/kernel/random/boot_id).
 */
import { spawn } from 'node:child_process'
import { constants, accessSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Accel } from './qemu.js'

export interface AccelChoice {
  accel: Accel
  /** Why: "NSLAB_VM_ACCEL=tcg", "no /dev/kvm", "KVM boots kernels", ... */
  reason: string
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return 'unknown'
  }
}

/** Boot `kernel` under KVM with no root filesystem; usable when it panics about that in time. */
export function probeKvm(
  qemu: string,
  kernel: string,
  timeoutMs = 5000,
): Promise<{ ok: boolean; why: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      qemu,
      [
        ...['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-machine', 'pc'],
        ...['-accel', 'kvm', '-cpu', 'host', '-m', '128', '-kernel', kernel, '-serial', 'stdio'],
        ...['-append', 'console=ttyS0 loglevel=1 panic=-1 root=/dev/nslab-none'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    let late = false
    const timer = setTimeout(() => {
      late = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      resolve({ ok: false, why: e.message })
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (out.includes('Kernel panic')) resolve({ ok: true, why: 'KVM boots kernels' })
      else if (late)
        resolve({ ok: false, why: `a kernel under KVM made no progress in ${timeoutMs / 1000} s` })
      else
        resolve({
          ok: false,
          why: `QEMU with KVM failed (${signal ?? `exit ${code}`}): ${err.trim().split('\n').pop() ?? ''}`,
        })
    })
  })
}

/** Pick the accelerator: NSLAB_VM_ACCEL if set, else KVM when the probe says it works. */
export async function chooseAccel(qemu: string, kernel: string, cache: string): Promise<AccelChoice> {
  const forced = process.env.NSLAB_VM_ACCEL
  if (forced === 'kvm' || forced === 'tcg') return { accel: forced, reason: `NSLAB_VM_ACCEL=${forced}` }
  if (!existsSync('/dev/kvm')) return { accel: 'tcg', reason: 'no /dev/kvm' }
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK)
  } catch {
    return { accel: 'tcg', reason: '/dev/kvm is not accessible' }
  }
  const file = join(cache, `kvm-${bootId()}.json`)
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as { ok: boolean; why: string }
    return { accel: c.ok ? 'kvm' : 'tcg', reason: `${c.why} (cached)` }
  } catch {
    // not probed yet on this boot
  }
  const r = await probeKvm(qemu, kernel)
  try {
    mkdirSync(cache, { recursive: true })
    writeFileSync(file, JSON.stringify(r))
  } catch {
    // a cache we cannot write only costs a probe next time
  }
  return { accel: r.ok ? 'kvm' : 'tcg', reason: r.why }
}
