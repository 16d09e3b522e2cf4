import { Buffer } from 'node:buffer'
import { join } from 'node:path'

/** Where iproute2 keeps named network namespaces (bind mounts of nsfs files). */
export const NETNS_RUN_DIR = process.env.NSLAB_NETNS_RUN_DIR ?? '/run/netns'
/** Where `ip netns exec` finds per-namespace configuration files. */
export const NETNS_ETC_DIR = process.env.NSLAB_NETNS_ETC_DIR ?? '/etc/netns'

/** Longest name a file under /run/netns may have (NAME_MAX). */
export const NETNS_NAME_MAX = 255

/** Invalid namespace name: one sentence saying why. */
export class NetnsNameError extends TypeError {
  override readonly name = 'NetnsNameError'
}

/**
 * Check a namespace name the way a file name under /run/netns must look:
 * non-empty, not `.`/`..`, no `/`, no NUL, at most NAME_MAX bytes.
 */
export function validateNetnsName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new NetnsNameError('namespace name is empty')
  if (name === '.' || name === '..')
    throw new NetnsNameError(`namespace name ${JSON.stringify(name)} is not allowed`)
  if (name.includes('/')) throw new NetnsNameError(`namespace name ${JSON.stringify(name)} contains "/"`)
  if (name.includes('\0'))
    throw new NetnsNameError(`namespace name ${JSON.stringify(name)} contains a NUL byte`)
  const bytes = Buffer.byteLength(name)
  if (bytes > NETNS_NAME_MAX)
    throw new NetnsNameError(
      `namespace name is ${bytes} bytes long; at most ${NETNS_NAME_MAX} fit in a file name`,
    )
  return name
}

/**
 * `join(NETNS_RUN_DIR, NAME)` up to the name: a valid name is one path
 * segment, which join() appends as it is, so netnsPath concatenates (it runs
 * on every open of a namespace by name).
 */
const RUN_DIR_PREFIX = join(NETNS_RUN_DIR, 'x').slice(0, -1)

/** `/run/netns/NAME` for a valid name. */
export function netnsPath(name: string): string {
  return RUN_DIR_PREFIX + validateNetnsName(name)
}
