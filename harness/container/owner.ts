/** This process as the owner named on the containers it starts (pid, start time, boot). */
import { readFileSync } from 'node:fs'
import { processStartTime } from '../lab/owner.js'
import type { Owner } from './config.js'

export function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
}

export function currentOwner(): Owner {
  return { pid: process.pid, startTime: processStartTime(process.pid) ?? 0, bootId: bootId() }
}

export { processStartTime }
