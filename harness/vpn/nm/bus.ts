/**
 * A private D-Bus system bus for one lab host: a dbus-daemon started in the
 * host's namespace with a config file of our own, listening on a unix socket
 * under the lab's temp dir. Nothing here ever talks to the machine's system
 * bus (/run/dbus/system_bus_socket): the host's D-Bus daemons are not
 * namespaced, and a lab NetworkManager on them would manage the real machine.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LabNode } from '../../lab/index.js'
import type { NetnsProcess } from '../../netns/index.js'

/** Bus names NetworkManager and its OpenVPN plugin own; root may own them, nobody else. */
export const NM_BUS_NAMES = ['org.freedesktop.NetworkManager', 'org.freedesktop.NetworkManager.openvpn']

export interface PrivateBus {
  /** The socket as the lab sees it (`<dir>/run/dbus/system_bus_socket`). */
  readonly socketPath: string
  /** `unix:path=...` for clients in this process. */
  readonly address: string
  readonly process: NetnsProcess
  close(): Promise<void>
}

function busConfig(socketPath: string): string {
  const own = NM_BUS_NAMES.map((n) => `    <allow own_prefix="${n}"/>`).join('\n')
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- nslab: a private bus for one lab host; no service directories, so nothing is activated. -->
<busconfig>
  <listen>unix:path=${socketPath}</listen>
  <auth>EXTERNAL</auth>
  <policy user="root">
${own}
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <policy context="default">
    <deny own="*"/>
    <deny send_destination="*"/>
    <allow send_destination="org.freedesktop.DBus"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`
}

/**
 * Start a dbus-daemon in `host`'s namespace whose socket is
 * `<dir>/run/dbus/system_bus_socket`, so a process that sees `<dir>/run` as
 * its /run finds it at the standard system bus path. Resolves once the
 * daemon prints its address (it listens by then).
 */
export async function startPrivateBus(host: LabNode, dir: string): Promise<PrivateBus> {
  const runDbus = join(dir, 'run', 'dbus')
  mkdirSync(runDbus, { recursive: true })
  const socketPath = join(runDbus, 'system_bus_socket')
  const configPath = join(dir, 'bus.conf')
  writeFileSync(configPath, busConfig(socketPath))
  const proc = host.spawn(['dbus-daemon', `--config-file=${configPath}`, '--nofork', '--print-address=1'], {
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
  })
  await proc.started.catch((err: unknown) => {
    throw new Error(
      `could not start dbus-daemon in ${host}: ${(err as Error).message}; install the dbus package (apt-get install dbus)`,
    )
  })
  await new Promise<void>((resolve, reject) => {
    let out = ''
    const onData = (b: Buffer): void => {
      out += b.toString()
      if (out.includes('\n')) {
        proc.stdout.off('data', onData)
        resolve()
      }
    }
    proc.stdout.on('data', onData)
    void proc.exited.then(({ code, signal }) =>
      reject(
        new Error(
          `dbus-daemon in ${host} exited (${code ?? signal}) before listening: ${proc.output().stderr.trim()}`,
        ),
      ),
    )
  })
  const address = `unix:path=${socketPath}`
  return {
    socketPath,
    address,
    process: proc,
    async close() {
      proc.kill('SIGTERM')
      await proc.exited
    },
  }
}
