/** A topology the lab refuses, before anything touches the kernel: one sentence saying what and where. */
export class TopologyError extends Error {
  override readonly name: string = 'TopologyError'
}
