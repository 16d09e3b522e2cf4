/**
 * `nslab container`: run a command (the suite) inside a container started
 * through testcontainers, build the runner image, reap containers of dead
 * owners. Registered on the program by one call from program.ts.
 */
import type { Command } from 'commander'
import { ContainerError } from '../container/errors.js'
import { outputDir } from './paths.js'

const collect = (value: string, previous: string[]) => [...previous, value]
// --copy-out PATH:DIR: DIR is checked as an output directory at once (not under /proc...).
const collectCopyOut = (value: string, previous: string[]) => {
  const colon = value.indexOf(':')
  if (colon > 0) outputDir(value.slice(colon + 1))
  return [...previous, value]
}

/** Run an action; a ContainerError prints its sentence and sets its exit code (2 input, 3 Docker missing). */
async function guarded(fn: () => Promise<void>): Promise<void> {
  try {
    await fn()
  } catch (err) {
    if (!(err instanceof ContainerError)) throw err
    console.error(`nslab container: ${err.message}`)
    process.exitCode = err.exitCode
  }
}

const info = (line: string) => console.error(`nslab container: ${line}`)

export function registerContainerCommand(program: Command): void {
  const container = program
    .command('container')
    .description('run commands (the test suite) inside a container started through testcontainers')

  container
    .command('run')
    .description('run COMMAND in a fresh container; streams its output and exits with its exit code')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option(
      '--image <ref>',
      'use this image as it is (default: the runner image, built offline when missing)',
    )
    .option('--base <ref>', 'build the runner image on this base image instead of debootstrap')
    .option('--suite <name>', 'Debian suite for debootstrap', 'bookworm')
    .option('--mirror <url>', 'Debian mirror for debootstrap (default: from /etc/apt/sources.list(.d))')
    .option(
      '--project <dir>',
      'directory mounted at its own path and used as working directory',
      process.cwd(),
    )
    .option('-e, --env <KEY=VALUE>', 'set a variable in the container (repeatable)', collect, [])
    .option('--mount <HOST[:CONTAINER][:ro]>', 'bind-mount another host path (repeatable)', collect, [])
    .option(
      '--copy-out <PATH:DIR>',
      'copy PATH out of the container into DIR after the command (repeatable)',
      collectCopyOut,
      [],
    )
    .addHelpText(
      'after',
      '\nThe container gets NET_ADMIN, SYS_ADMIN and NET_RAW, seccomp unconfined, network mode none,\nand is removed afterwards, also when the command fails.\n\nExample:\n  nslab container run -- node scripts/sealed.mjs -- vitest run test/netns',
    )
    .action(
      async (
        command: string[],
        opts: {
          image?: string
          base?: string
          suite: string
          mirror?: string
          project: string
          env: string[]
          mount: string[]
          copyOut: string[]
        },
      ) =>
        guarded(async () => {
          const { runInContainer } = await import('../container/run.js')
          const abort = new AbortController()
          let signalled: NodeJS.Signals | undefined
          const onSignal = (sig: NodeJS.Signals) => {
            if (signalled) return
            signalled = sig
            info(`${sig}: removing the container`)
            abort.abort()
          }
          // `on`, not `once`: signal-exit (in testcontainers' dependencies) re-raises a signal that
          // no other listener is left to handle, which would kill us before the container is removed.
          process.on('SIGINT', onSignal)
          process.on('SIGTERM', onSignal)
          try {
            const r = await runInContainer({
              command,
              projectDir: opts.project,
              image: opts.image,
              base: opts.base,
              suite: opts.suite,
              mirror: opts.mirror,
              env: opts.env,
              mounts: opts.mount,
              copyOut: opts.copyOut,
              signal: abort.signal,
              log: info,
            })
            process.exitCode = signalled ? 128 + (signalled === 'SIGINT' ? 2 : 15) : r.exitCode
          } finally {
            process.off('SIGINT', onSignal)
            process.off('SIGTERM', onSignal)
          }
        }),
    )

  container
    .command('image')
    .description('build the runner image unless one with the same content hash exists; print its tag')
    .option('--base <ref>', 'build on this base image instead of debootstrap')
    .option('--suite <name>', 'Debian suite for debootstrap', 'bookworm')
    .option('--mirror <url>', 'Debian mirror for debootstrap')
    .action(async (opts: { base?: string; suite: string; mirror?: string }) =>
      guarded(async () => {
        const { ensureDocker } = await import('../container/docker.js')
        const { ensureImage } = await import('../container/image.js')
        await ensureDocker({ log: info })
        const r = await ensureImage({ ...opts, log: info })
        if (!r.built) info(`${r.tag} exists (content hash ${r.hash}): nothing to build`)
        console.log(r.tag)
      }),
    )

  container
    .command('gc')
    .description('remove containers whose owning nslab process is dead')
    .action(async () =>
      guarded(async () => {
        const { ensureDocker } = await import('../container/docker.js')
        const { reapContainers } = await import('../container/reap.js')
        await ensureDocker({ log: info })
        const r = await reapContainers()
        for (const c of r.removed) console.log(`removed container ${c.id} (owner pid ${c.ownerPid} is dead)`)
        for (const c of r.kept) console.log(`kept container ${c.id}: its owner pid ${c.ownerPid} is alive`)
        for (const e of r.errors) console.error(`error: ${e}`)
        if (r.removed.length === 0) console.log('no container to reap')
        if (r.errors.length) process.exitCode = 1
      }),
    )
}
