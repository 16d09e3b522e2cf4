/**
 * Load testcontainers on demand: it is an optional peer dependency, needed
 * only by `nslab container`, so the library's other users never pay for it.
 * Ryuk (testcontainers' reaper) runs from an image that must be pulled, and
 * these machines reach no registry: it is switched off, and nslab reaps its
 * own containers by owner labels (reap.ts). The host override skips
 * testcontainers' lookup of the `bridge` network's gateway: nslab starts
 * dockerd without a bridge, and its containers publish no ports anyway.
 */
import type * as TestcontainersModule from 'testcontainers'
import { ContainerError } from './errors.js'

export type Testcontainers = typeof TestcontainersModule

let loaded: Promise<Testcontainers> | undefined

export function loadTestcontainers(): Promise<Testcontainers> {
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true'
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost'
  loaded ??= import('testcontainers').catch((err: unknown) => {
    loaded = undefined
    throw new ContainerError(
      `nslab container needs the testcontainers package, which did not load (${(err as Error).message}); install it: npm install --save-dev testcontainers@11`,
      3,
    )
  })
  return loaded
}
