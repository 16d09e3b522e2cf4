/**
 * Run self-contained functions on a worker thread that lives inside a
 * namespace (like Playwright's page.evaluate: the function is sent as source
 * text, so it can use only its arguments, globals and what it imports
 * itself, e.g. `const net = await import('node:net')`). One worker per
 * runtime, reused across calls; `close()` terminates it.
 */
import type { Worker } from 'node:worker_threads'
import { dup } from '../sys/index.js'
import { type NetnsRef, usingNetns } from './handle.js'
import type { FromRuntime, ToRuntime } from './runtime-protocol.js'
import { startWorker } from './worker-url.js'

/** An error thrown by the function inside the namespace, rebuilt on this side. */
export class RuntimeError extends Error {
  override readonly name: string
  readonly code: string | undefined
  constructor(netns: string, e: { name: string; message: string; stack?: string; code?: string }) {
    super(`in namespace ${netns}: ${e.message}`)
    this.name = e.name
    this.code = e.code
    if (e.stack) this.stack = `${this.name}: ${this.message}\n${e.stack.split('\n').slice(1).join('\n')}`
  }
}

export class NetnsRuntime {
  readonly netns: string
  private readonly worker: Worker
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private nextId = 1
  private closed = false
  private failure: Error | undefined

  constructor(ref: NetnsRef) {
    const { fd, label } = usingNetns(ref, (ns) => ({ fd: dup(ns.fd), label: ns.label }))
    this.netns = label
    this.worker = startWorker(import.meta.url, 'runtime-worker', { workerData: { nsFd: fd, label } })
    this.worker.unref()
    this.worker.on('message', (msg: FromRuntime) => {
      const p = this.pending.get(msg.id)
      if (!p) return
      this.pending.delete(msg.id)
      this.updateRef()
      if (msg.ok) p.resolve(msg.value)
      else p.reject(new RuntimeError(this.netns, msg.error))
    })
    this.worker.on('error', (err) => this.failAll(err))
    this.worker.on('exit', (code) => {
      if (!this.closed)
        this.failAll(new Error(`the runtime worker for namespace ${label} exited (code ${code})`))
    })
  }

  /** Run `fn(...args)` inside the namespace and resolve with its (structured-cloneable) result. */
  run<A extends unknown[], R>(fn: (...args: A) => R | Promise<R>, ...args: A): Promise<Awaited<R>> {
    if (typeof fn !== 'function') return Promise.reject(new TypeError('run() takes a function'))
    if (this.closed) return Promise.reject(new Error(`the runtime for namespace ${this.netns} is closed`))
    if (this.failure) return Promise.reject(this.failure)
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.updateRef()
      try {
        this.worker.postMessage({ id, source: fn.toString(), args } satisfies ToRuntime)
      } catch (err) {
        this.pending.delete(id)
        this.updateRef()
        reject(new TypeError(`run() arguments must be structured-cloneable: ${(err as Error).message}`))
      }
    })
  }

  private updateRef(): void {
    if (this.pending.size > 0) this.worker.ref()
    else this.worker.unref()
  }

  private failAll(err: Error): void {
    this.failure = err
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
  }

  /** Terminate the worker; calls still running are rejected. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.failAll(new Error(`the runtime for namespace ${this.netns} was closed`))
    await this.worker.terminate()
  }
}
