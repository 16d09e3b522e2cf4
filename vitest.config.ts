import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Needs the network (deb.debian.org) and QEMU boots: npm run test:kernels.
    exclude: [
      ...configDefaults.exclude,
      ...(process.env.NSLAB_TEST_DEBIAN === '1'
        ? []
        : ['test/vm/debian-kernels.test.ts', 'test/vm/debian-bisect.test.ts']),
    ],
    // Namespaces are per thread: each test file gets a process of its own, so a
    // thread switched into a namespace by one file never affects another.
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // test/kernel/reporter.ts writes reports/kernel/<uname -r>.json when the kernel suite ran.
    reporters: [...(process.env.CI ? ['default', 'junit'] : ['default']), './test/kernel/reporter.ts'],
    outputFile: { junit: 'reports/junit.xml' },
  },
})
