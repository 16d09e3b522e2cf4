import { join, relative, resolve } from 'node:path'

/**
 * Where a failed test's artifacts go (its pcapng and trace):
 * NSLAB_ARTIFACTS_DIR, else reports/nslab under the working directory. The
 * Vitest fixtures write there; the VM pool shares it with its guests, so
 * what a test wrote in a VM is on the host at the path its failure names.
 */
export function artifactsDir(): string {
  return resolve(process.env.NSLAB_ARTIFACTS_DIR ?? join('reports', 'nslab'))
}

/** A path relative to the working directory when inside it, else absolute: as failures print it. */
export function shownPath(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel.startsWith('..') ? path : rel
}
