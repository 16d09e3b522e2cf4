/**
 * The suite on a chosen kernel (npm run test:vm): Vitest runs here on the
 * host, each test file's worker runs inside a QEMU VM booting that kernel
 * (vm/vitest-pool.ts). NSLAB_VM_KERNEL names the kernel (a path or an
 * installed Debian version; default: the newest in /boot).
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'
import { DIST_EXTERNAL, distModules, ensureBuilt } from './vm/dist-modules.js'
import { vmPool } from './vm/vitest-pool.js'

// The library's modules reach the guest's node from dist/ (built first when a source is newer),
// not one by one through Vitest's module runner: see vm/dist-modules.ts.
const root = fileURLToPath(new URL('.', import.meta.url))
ensureBuilt(root)

export default defineConfig({
  ...base,
  plugins: [distModules(root)],
  test: {
    ...base.test,
    server: { deps: { external: [DIST_EXTERNAL] } },
    pool: vmPool({
      kernel: process.env.NSLAB_VM_KERNEL || undefined,
      onProgress: process.env.NSLAB_VM_PROGRESS ? (l) => console.error(`nslab vm: ${l}`) : undefined,
    }),
    // The guest has no network device at all: sealed by construction, nothing to check on the host.
    globalSetup: [],
    outputFile: { junit: 'reports/junit-vm.xml' },
    // Transformed modules cached on disk across runs (node_modules/.experimental-vitest-cache):
    // each test file's imports are fetched one by one from the guest, so the host's transform
    // time is on the way to the first test (here about 0.5 s cold, 0.1 s cached).
    experimental: { fsModuleCache: true },
  },
})
