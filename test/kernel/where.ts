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
    /** 'vm' inside the VM runner's guest, 'host' otherwise. */
    where?: 'vm' | 'host'
  }
}

/** Call at the top of a kernel-suite file. */
export function recordKernel(): void {
  beforeEach(({ task }) => {
    task.meta.kernel = release()
    task.meta.where = process.env.NSLAB_VM === '1' ? 'vm' : 'host'
  })
}
