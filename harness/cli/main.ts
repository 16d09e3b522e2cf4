#!/usr/bin/env node
import { CommanderError } from 'commander'
import { isPermissionError } from '../sys/errors.js'
import { PrivilegeError, permissionMessage } from './privilege.js'
import { buildProgram, exitCodeFor } from './program.js'

// `nslab graph ... | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

/** One line for an error: a permission error says what was refused and what to do. */
function sentence(err: unknown): string {
  if (err instanceof PrivilegeError) return err.message // `nslab run needs CAP_SYS_ADMIN ...`
  return `nslab: ${isPermissionError(err) ? permissionMessage(err) : (err as Error).message}`
}

// A permission error that escapes on its own (an event handler, a callback)
// still ends with its sentence and exit 3, not a stack; anything else
// crashes as Node would.
for (const event of ['uncaughtException', 'unhandledRejection'] as const)
  process.on(event, (err: unknown) => {
    if (!isPermissionError(err)) {
      console.error(err)
      process.exit(1)
    }
    console.error(sentence(err))
    process.exit(3)
  })

try {
  await buildProgram().parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2
  } else {
    console.error(sentence(err))
    process.exitCode = exitCodeFor(err)
  }
}
