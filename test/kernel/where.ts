/**
 * Each kernel-suite test records which kernel ran it (uname -r where the test
 * code runs: the guest's under the VM pool, whose reporter runs on the host).
 */
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

/**
 * Where this process runs: the VM runner's guest (NSLAB_VM=1), a container
 * (NSLAB_WHERE=container, which npm run test:container sets), or the host.
 * Not guessed from /.dockerenv: a development machine may itself be a
 * container, and its kernel is still "the host's".
 */
export function where(): Where {
  if (process.env.NSLAB_VM === '1') return 'vm'
  return process.env.NSLAB_WHERE === 'container' ? 'container' : 'host'
}

/** Call at the top of a kernel-suite file. */
export function recordKernel(): void {
  beforeEach(({ task }) => {
    task.meta.kernel = release()
    task.meta.where = where()
  })
}
