#!/usr/bin/env node
import { CommanderError } from 'commander'
import { buildProgram, exitCodeFor } from './program.js'

// `nslab graph ... | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

try {
  await buildProgram().parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2
  } else {
    console.error(`nslab: ${(err as Error).message}`)
    process.exitCode = exitCodeFor(err)
  }
}
