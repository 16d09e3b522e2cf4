/**
 * errno numbers and their symbolic names (Linux generic values, as in
 * asm-generic/errno-base.h and errno.h). Kept here so messages never depend on
 * the C library's locale.
 */
const NAMES: Record<number, [name: string, text: string]> = {
  1: ['EPERM', 'Operation not permitted'],
  2: ['ENOENT', 'No such file or directory'],
  3: ['ESRCH', 'No such process'],
  4: ['EINTR', 'Interrupted system call'],
  5: ['EIO', 'Input/output error'],
  9: ['EBADF', 'Bad file descriptor'],
  11: ['EAGAIN', 'Resource temporarily unavailable'],
  12: ['ENOMEM', 'Cannot allocate memory'],
  13: ['EACCES', 'Permission denied'],
  14: ['EFAULT', 'Bad address'],
  16: ['EBUSY', 'Device or resource busy'],
  17: ['EEXIST', 'File exists'],
  19: ['ENODEV', 'No such device'],
  20: ['ENOTDIR', 'Not a directory'],
  21: ['EISDIR', 'Is a directory'],
  22: ['EINVAL', 'Invalid argument'],
  23: ['ENFILE', 'Too many open files in system'],
  24: ['EMFILE', 'Too many open files'],
  25: ['ENOTTY', 'Inappropriate ioctl for device'],
  28: ['ENOSPC', 'No space left on device'],
  30: ['EROFS', 'Read-only file system'],
  34: ['ERANGE', 'Numerical result out of range'],
  36: ['ENAMETOOLONG', 'File name too long'],
  38: ['ENOSYS', 'Function not implemented'],
  39: ['ENOTEMPTY', 'Directory not empty'],
  61: ['ENODATA', 'No data available'],
  71: ['EPROTO', 'Protocol error'],
  75: ['EOVERFLOW', 'Value too large for defined data type'],
  88: ['ENOTSOCK', 'Socket operation on non-socket'],
  90: ['EMSGSIZE', 'Message too long'],
  92: ['ENOPROTOOPT', 'Protocol not available'],
  93: ['EPROTONOSUPPORT', 'Protocol not supported'],
  95: ['EOPNOTSUPP', 'Operation not supported'],
  97: ['EAFNOSUPPORT', 'Address family not supported by protocol'],
  98: ['EADDRINUSE', 'Address already in use'],
  99: ['EADDRNOTAVAIL', 'Cannot assign requested address'],
  100: ['ENETDOWN', 'Network is down'],
  101: ['ENETUNREACH', 'Network is unreachable'],
  103: ['ECONNABORTED', 'Software caused connection abort'],
  104: ['ECONNRESET', 'Connection reset by peer'],
  105: ['ENOBUFS', 'No buffer space available'],
  106: ['EISCONN', 'Transport endpoint is already connected'],
  107: ['ENOTCONN', 'Transport endpoint is not connected'],
  110: ['ETIMEDOUT', 'Connection timed out'],
  111: ['ECONNREFUSED', 'Connection refused'],
  113: ['EHOSTUNREACH', 'No route to host'],
  114: ['EALREADY', 'Operation already in progress'],
  115: ['EINPROGRESS', 'Operation now in progress'],
  122: ['EDQUOT', 'Disk quota exceeded'],
}

/** Symbolic name of an errno value (`17` -> `EEXIST`), or `E<number>` when unknown. */
export function errnoName(errno: number): string {
  return NAMES[errno]?.[0] ?? `E${errno}`
}

/** Human text of an errno value, as strerror(3) gives it in the C locale. */
export function errnoText(errno: number): string {
  return NAMES[errno]?.[1] ?? `Unknown error ${errno}`
}

/** errno value of a symbolic name (`EEXIST` -> 17). */
export function errnoValue(name: string): number | undefined {
  for (const [num, [n]] of Object.entries(NAMES)) if (n === name) return Number(num)
  return undefined
}

export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EINVAL: 22,
  ENOTTY: 25,
  ENAMETOOLONG: 36,
  ENOTSUP: 95,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  ENETUNREACH: 101,
  ENOBUFS: 105,
  ECONNREFUSED: 111,
} as const
