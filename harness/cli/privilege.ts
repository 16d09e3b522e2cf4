/**
 * The capabilities a command needs, checked up front from the effective set
 * in /proc/self/status (CapEff), so a command run without them stops at once
 * with exit 3 and one sentence instead of failing half-way with a raw EACCES;
 * and the sentence for a permission error the kernel gives anyway.
 */
import { readFileSync } from 'node:fs'
import { SysError } from '../sys/errors.js'

/** Bit numbers in the capability sets (linux/capability.h). */
export const CAPABILITIES = { CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_SYS_ADMIN: 21 } as const
export type Capability = keyof typeof CAPABILITIES

/** What namespaces and links need: setns, unshare, mount (SYS_ADMIN); links, addresses, routes (NET_ADMIN). */
export const LAB_CAPABILITIES: readonly Capability[] = ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN']
/** What entering, making and removing named namespaces needs. */
export const NETNS_CAPABILITIES: readonly Capability[] = ['CAP_SYS_ADMIN']

function ownStatus(): string {
  try {
    return readFileSync('/proc/self/status', 'utf8')
  } catch {
    return ''
  }
}

/** The effective capability set (the CapEff line), or undefined when there is none to read. */
export function effectiveCapabilities(status = ownStatus()): bigint | undefined {
  const m = /^CapEff:\s*([0-9a-fA-F]{1,16})\s*$/m.exec(status)
  return m ? BigInt(`0x${m[1]}`) : undefined
}

/** Those of `need` that the effective set lacks (all of them when it cannot be read). */
export function missingCapabilities(need: readonly Capability[], status = ownStatus()): Capability[] {
  const eff = effectiveCapabilities(status) ?? 0n
  return need.filter((c) => ((eff >> BigInt(CAPABILITIES[c])) & 1n) === 0n)
}

const list = (caps: readonly string[]): string =>
  caps.length <= 1 ? (caps[0] ?? '') : `${caps.slice(0, -1).join(', ')} and ${caps.at(-1)}`

/** `nslab run needs CAP_SYS_ADMIN and CAP_NET_ADMIN, which this process does not have: run it as root (sudo), ...` */
function needsSentence(command: string, need: readonly Capability[], missing: readonly Capability[]): string {
  const lacks =
    missing.length < need.length
      ? `; this process lacks ${list(missing)}`
      : ', which this process does not have'
  return `${command} needs ${list(need)}${lacks}: run it as root (sudo), or give it ${missing.length > 1 ? 'those capabilities' : 'that capability'}`
}

/** A command started without capabilities it needs (exit 3). */
export class PrivilegeError extends Error {
  override readonly name = 'PrivilegeError'
  constructor(
    readonly command: string,
    readonly missing: readonly Capability[],
    need: readonly Capability[] = missing,
  ) {
    super(needsSentence(command, need, missing))
  }
}

/** Throw a PrivilegeError unless this process has every capability in `need`. */
export function requireCapabilities(command: string, need: readonly Capability[]): void {
  const missing = missingCapabilities(need)
  if (missing.length > 0) throw new PrivilegeError(command, missing, need)
}

/**
 * A permission error as one line: what failed, and what to do about it (a
 * SysError already says). `status` is /proc/self/status, for the tests.
 */
export function permissionMessage(err: unknown, status = ownStatus()): string {
  const what = (err as Error).message?.split('\n')[0] ?? String(err)
  if (err instanceof SysError) return what
  const missing = missingCapabilities(LAB_CAPABILITIES, status)
  const advice = missing.length
    ? needsSentence('nslab', LAB_CAPABILITIES, missing)
    : `the kernel refused although this process has ${list(LAB_CAPABILITIES)}: a seccomp or LSM policy, or a user namespace, may forbid it`
  return `${what} (${advice})`
}
