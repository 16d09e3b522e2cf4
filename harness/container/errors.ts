/**
 * A container run that could not happen: one sentence saying what failed and
 * what to do, and the nslab exit code it maps to (2 bad input, 3 missing
 * Docker or privilege, 1 anything else).
 */
export class ContainerError extends Error {
  override readonly name = 'ContainerError'
  constructor(
    message: string,
    readonly exitCode: 1 | 2 | 3 = 1,
  ) {
    super(message)
  }
}
