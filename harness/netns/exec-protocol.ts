/** Messages between the main thread and the exec worker (exec-worker.ts). */

/**
 * The spawn gate's states (one Int32 in a SharedArrayBuffer both threads
 * hold): open, a spawn in progress (the worker is inside a namespace,
 * forking), closed for good by a process dying of a signal.
 */
export const GATE_OPEN = 0
export const GATE_SPAWNING = 1
export const GATE_CLOSED = 2

export interface SpawnRequest {
  op: 'spawn'
  id: number
  /** An fd (dup'd for the worker, which closes it) on the target namespace. */
  nsFd: number
  /** The namespace's name under /run/netns, for /etc/netns/NAME binds; none for unnamed ones. */
  nsName: string | undefined
  argv: string[]
  env: Record<string, string> | undefined
  cwd: string | undefined
  stdin: boolean
  /** Bind mounts made in the child's mount namespace, in order. */
  mounts: { source: string; target: string }[]
  sysReadOnly: boolean
  /** Start the child in a process group (and session) of its own, so a kill can reach all it started. */
  group: boolean
}

export type ToWorker =
  | SpawnRequest
  | { op: 'stdin'; id: number; data: Uint8Array }
  | { op: 'stdin-end'; id: number }
  /** `group`: signal the child's whole process group (only for children started with `group`). */
  | { op: 'kill'; id: number; signal: string; group: boolean }

export type FromWorker =
  | { op: 'spawned'; id: number; pid: number }
  | { op: 'spawn-error'; id: number; message: string; code: string | undefined }
  | { op: 'out'; id: number; stream: 'stdout' | 'stderr'; data: Uint8Array }
  | { op: 'exit'; id: number; code: number | null; signal: string | null }
