/**
 * Processes a scenario starts by name: in a lab host, optionally waiting
 * until their output matches `ready`, optionally writing their output to a
 * log file (so they outlive `nslab up`).
 */
import { mkdirSync, readFileSync, watch, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RunContext } from './context.js'
import { durationMs } from './units.js'

export interface ProcessSpec {
  name: string
  cmd: string[]
  ready?: { output: string; timeout?: number | string }
}

export async function startProcess(
  ctx: RunContext,
  host: string,
  spec: ProcessSpec,
  logDir?: string,
): Promise<void> {
  const node = ctx.node(host)
  let argv = spec.cmd
  let log: string | undefined
  if (logDir) {
    mkdirSync(logDir, { recursive: true })
    log = join(logDir, `${host}.${spec.name}.log`)
    writeFileSync(log, '')
    argv = ['sh', '-c', 'exec "$@" >>"$0" 2>&1 </dev/null', log, ...spec.cmd]
  }
  const proc = node.spawn(argv)
  ctx.processes.set(spec.name, { node: host, proc })
  if (!spec.ready) return
  const re = new RegExp(spec.ready.output)
  const timeout = durationMs(spec.ready.timeout ?? '10s')
  const watcher = log ? watch(log) : undefined
  await new Promise<void>((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `process ${spec.name} in ${host} did not print /${spec.ready!.output}/ within ${timeout} ms; it printed: ${JSON.stringify(seen.slice(-300))}`,
          ),
        ),
      timeout,
    )
    const check = (chunk: Buffer | string): void => {
      seen += chunk.toString()
      if (re.test(seen)) {
        clearTimeout(timer)
        resolve()
      }
    }
    if (log)
      watcher!.on('change', () => {
        seen = '' // the file holds everything printed so far
        check(readFileSync(log, 'utf8'))
      })
    else {
      proc.stdout.on('data', check)
      proc.stderr.on('data', check)
    }
    void proc.exited.then((r) => {
      clearTimeout(timer)
      reject(
        new Error(
          `process ${spec.name} in ${host} exited (code ${r.code}) before it was ready: ${JSON.stringify(seen.slice(-300))}`,
        ),
      )
    })
  }).finally(() => watcher?.close())
}
