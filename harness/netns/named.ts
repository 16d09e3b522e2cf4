/**
 * Named network namespaces exactly as iproute2 makes them (ip/ipnetns.c):
 * an empty file under /run/netns with the namespace's nsfs file bind-mounted
 * on it, /run/netns itself a shared mount so the bind mounts propagate to
 * every mount namespace (including the ones `ip netns exec` makes).
 */
import { closeSync, mkdirSync, openSync, readdirSync, unlinkSync, constants as fsc } from 'node:fs'
import { MNT_DETACH, MS_BIND, MS_REC, MS_SHARED, isSysError, mount, umount2 } from '../sys/index.js'
import { NetnsError } from './errors.js'
import { NotANetnsError, openNetns } from './handle.js'
import { NETNS_RUN_DIR, netnsPath, validateNetnsName } from './names.js'
import { withNewNetns } from './thread.js'

let runDirReady = false

/**
 * Make /run/netns exist and be a shared mount point, as `ip netns add` does:
 * try MS_SHARED|MS_REC; if the directory is not a mount point yet (EINVAL),
 * bind-mount it onto itself and try again.
 */
export function prepareNetnsRunDir(): void {
  if (runDirReady) return
  mkdirSync(NETNS_RUN_DIR, { recursive: true, mode: 0o755 })
  let madeMount = false
  for (;;) {
    try {
      mount('none', NETNS_RUN_DIR, 'none', MS_SHARED | MS_REC)
      break
    } catch (err) {
      if (!isSysError(err, 'EINVAL') || madeMount) throw err
      mount(NETNS_RUN_DIR, NETNS_RUN_DIR, 'none', MS_BIND | MS_REC)
      madeMount = true
    }
  }
  runDirReady = true
}

/**
 * Create a named network namespace, as `ip netns add NAME` does. The calling
 * thread is back in its own namespace when this returns, whether it succeeded
 * or not; on failure nothing is left under /run/netns.
 */
export function addNetns(name: string): void {
  const path = netnsPath(name)
  prepareNetnsRunDir()
  try {
    closeSync(openSync(path, fsc.O_RDONLY | fsc.O_CREAT | fsc.O_EXCL, 0))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new NetnsError(
        'EEXIST',
        `namespace ${name} already exists (left by a crashed run? run: nslab gc)`,
      )
    throw err
  }
  try {
    withNewNetns(() => mount('/proc/thread-self/ns/net', path, 'none', MS_BIND))
  } catch (err) {
    unlinkQuietly(path)
    throw err
  }
}

/**
 * Delete a named namespace, as `ip netns delete NAME` does: detach the bind
 * mount and remove the file. The namespace itself lives on while a process,
 * thread or open fd still holds it.
 */
export function deleteNetns(name: string): void {
  const path = netnsPath(name)
  try {
    umount2(path, MNT_DETACH)
  } catch (err) {
    if (isSysError(err, 'ENOENT'))
      throw new NetnsError('ENOENT', `namespace ${name} does not exist (see: ip netns list)`)
    // EINVAL: not a mount point (half-made by a crashed run); remove the file anyway.
    if (!isSysError(err, 'EINVAL')) throw err
  }
  try {
    unlinkSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NetnsError('ENOENT', `namespace ${name} does not exist (see: ip netns list)`)
    throw err
  }
}

/** Names under /run/netns, sorted, as `ip netns list` shows them. */
export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_RUN_DIR).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

/** True when /run/netns/NAME exists and is a mounted network namespace. */
export function netnsExists(name: string): boolean {
  validateNetnsName(name)
  try {
    openNetns(name).close()
    return true
  } catch (err) {
    if (err instanceof NotANetnsError) return false
    throw err
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path)
  } catch {
    // already gone
  }
}
