/**
 * A namespace operation that failed for a reason a person can act on. `code`
 * is the errno-style name (EEXIST, ENOENT, ...), the message says what to do.
 */
export class NetnsError extends Error {
  override readonly name = 'NetnsError'
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options)
    this.code = code
  }
}
