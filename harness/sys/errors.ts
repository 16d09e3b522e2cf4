import { errnoName, errnoText } from './errno.js'

/** What a person can do about a given errno from a given syscall. */
function hintFor(syscall: string, code: string): string | undefined {
  if (code === 'EPERM' || code === 'EACCES') {
    if (syscall === 'setns' || syscall === 'unshare' || syscall === 'mount' || syscall === 'umount2')
      return 'nslab needs CAP_SYS_ADMIN; run as root'
    if (syscall === 'socket' || syscall === 'bind' || syscall === 'setsockopt')
      return 'nslab needs CAP_NET_ADMIN (and CAP_NET_RAW for raw sockets); run as root'
    return 'run as root'
  }
  if (code === 'EMFILE' || code === 'ENFILE')
    return 'too many open file descriptors; raise `ulimit -n` or close namespaces you no longer use'
  return undefined
}

/**
 * A failed libc call: which syscall, which errno (number and symbolic code),
 * on what, and what to do about it.
 *
 *   EPERM from setns: Operation not permitted (nslab needs CAP_SYS_ADMIN; run as root)
 */
export class SysError extends Error {
  override readonly name = 'SysError'
  readonly syscall: string
  readonly errno: number
  readonly code: string
  /** The object of the call (a path, a namespace name), when there is one. */
  readonly target: string | undefined

  constructor(syscall: string, errno: number, options: { target?: string; hint?: string } = {}) {
    const code = errnoName(errno)
    const hint = options.hint ?? hintFor(syscall, code)
    const on = options.target ? ` on ${options.target}` : ''
    super(`${code} from ${syscall}${on}: ${errnoText(errno)}${hint ? ` (${hint})` : ''}`)
    this.syscall = syscall
    this.errno = errno
    this.code = code
    this.target = options.target
  }
}

/** True when `err` is a SysError with the given symbolic code. */
export function isSysError(err: unknown, code?: string): err is SysError {
  return err instanceof SysError && (code === undefined || err.code === code)
}

/**
 * True when `err` (or what caused it) is a permission error: EPERM or EACCES
 * from a syscall, the kernel's netlink answer, or Node's file system calls.
 */
export function isPermissionError(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as Error).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (code === 'EPERM' || code === 'EACCES') return true
  }
  return false
}
