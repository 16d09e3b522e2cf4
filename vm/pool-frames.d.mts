// Types of pool-frames.mjs (plain JavaScript, shared by the host and the guest agent).

export declare const FRAME: Readonly<{
  spawn: 1
  message: 2
  kill: 3
  shutdown: 4
  ready: 16
  reply: 17
  stdout: 18
  stderr: 19
  exit: 20
  error: 21
}>

export declare const MAX_FRAME: number

export declare class FrameError extends Error {}

export interface Frame {
  kind: number
  worker: number
  payload: Buffer
}

export declare function encodeFrame(kind: number, worker: number, payload?: Uint8Array): Buffer

export declare class FrameReader {
  push(chunk: Uint8Array): Frame[]
  readonly pending: number
}
