/**
 * The connections a check's server accepted, destroyed with the check.
 * `server.close()` only stops listening: an accepted socket whose peer never
 * closes (a stalled transfer, a partition) would stay open for good, holding
 * the event loop and the namespace it was born in, even after the lab is gone.
 */
import type net from 'node:net'

export class Connections {
  private readonly sockets = new Set<net.Socket>()

  /** Track an accepted socket; its errors (a reset by the client) are the check's result, not a crash. */
  accept(socket: net.Socket): void {
    this.sockets.add(socket)
    socket.on('error', () => undefined)
    socket.once('close', () => this.sockets.delete(socket))
  }

  /** Destroy every connection still open. */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
  }
}
