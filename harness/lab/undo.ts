/**
 * The lab's teardown, written down as it builds: every step that makes
 * something registers how to undo it right there (the kernel selftests'
 * `defer`), and teardown runs the steps last-first. A failed build unwinds
 * to where its operation began; destroy() unwinds everything. One step's
 * failure does not stop the others.
 */
export type UndoStep = () => void | Promise<void>

export class UndoStack {
  private readonly steps: { what: string; run: UndoStep }[] = []

  /** Register how to undo something just made. Returns a function that drops the step (its maker undid it). */
  defer(what: string, run: UndoStep): () => void {
    const entry = { what, run }
    this.steps.push(entry)
    return () => {
      const i = this.steps.lastIndexOf(entry)
      if (i >= 0) this.steps.splice(i, 1)
    }
  }

  /** How many steps are registered: a mark to unwind to after a half-done operation. */
  get size(): number {
    return this.steps.length
  }

  /** What the steps undo, first made first (for reports and tests). */
  get pending(): string[] {
    return this.steps.map((s) => s.what)
  }

  /**
   * Run the steps registered after `mark` (default: all), last first, and
   * drop them. Resolves with the errors of the steps that failed, each
   * naming what it was undoing.
   */
  async unwind(mark = 0): Promise<Error[]> {
    const errors: Error[] = []
    while (this.steps.length > mark) {
      const { what, run } = this.steps.pop()!
      try {
        await run()
      } catch (err) {
        errors.push(new Error(`undo ${what}: ${(err as Error).message}`, { cause: err }))
      }
    }
    return errors
  }

  /**
   * Run `op`; if it throws, unwind what it registered and rethrow (with the
   * unwinding's own failures attached as the error's `undoErrors`).
   */
  async atomically<T>(op: () => Promise<T>): Promise<T> {
    const mark = this.size
    try {
      return await op()
    } catch (err) {
      const errors = await this.unwind(mark)
      if (errors.length > 0 && err instanceof Error) Object.assign(err, { undoErrors: errors })
      throw err
    }
  }
}
