/**
 * Each kernel-suite test records which kernel ran it (uname -r where the test
 * code runs: the guest's under the VM pool, whose reporter runs on the host).
 */
import { existsSync } from 'node:fs'
import { release } from 'node:os'
import { beforeEach } from 'vitest'

declare module 'vitest' {
  interface TaskMeta {
    /** uname -r of the kernel the test ran on. */
    kernel?: string
    /** 'vm' inside the VM runner's guest, 'container' in a container, 'host' otherwise. */
    where?: Where
  }
}

export type Where = 'vm' | 'container' | 'host'

/** Where this process runs: the VM runner's guest, a container (Docker's or Podman's marker file), or the host. */
export function where(): Where {
  if (process.env.NSLAB_VM === '1') return 'vm'
  return existsSync('/.dockerenv') || existsSync('/run/.containerenv') ? 'container' : 'host'
}

/** Call at the top of a kernel-suite file. */
export function recordKernel(): void {
  beforeEach(({ task }) => {
    task.meta.kernel = release()
    task.meta.where = where()
  })
}
