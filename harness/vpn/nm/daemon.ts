/**
 * NetworkManager as a lab process: started in one host's namespace, in a
 * mount namespace of its own where
 *   /run                     is <dir>/run (its private bus socket is /run/dbus/system_bus_socket there,
 *                            the machine's /run/dbus and /run/NetworkManager are out of sight),
 *   /var/lib/NetworkManager  is <dir>/lib,
 *   /etc/NetworkManager      is <dir>/etc (config and keyfile connections),
 *   /sys                     is the namespace's sysfs, read-only: NM then does not wait for udev
 *                            (which knows nothing of this namespace's devices) and manages them at once,
 * in a PID namespace of its own (`unshare --pid --fork --kill-child`), so killing it takes its
 * VPN plugin, openvpn and helpers with it. NM never writes /etc/resolv.conf (rc-manager=unmanaged):
 * its DNS goes to its own /run/NetworkManager/resolv.conf, i.e. <dir>/run/NetworkManager/resolv.conf.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LabNode } from '../../lab/index.js'
import type { NetnsProcess } from '../../netns/index.js'

/** Host directories NM's own mount namespace covers; they must exist (the network-manager package makes them). */
const COVERED = ['/run', '/var/lib/NetworkManager', '/etc/NetworkManager'] as const

export interface NmDaemonOptions {
  /** NM log level (default INFO); its log is the process's stderr. */
  logLevel?: 'ERR' | 'WARN' | 'INFO' | 'DEBUG' | 'TRACE'
  /** Extra log domains (default: NM's default set). */
  logDomains?: string[]
}

export interface NmDaemon {
  readonly process: NetnsProcess
  /** NM's generated resolv.conf, as the lab sees it. */
  readonly resolvConf: string
  /** Everything NM logged so far. */
  log(): string
  /** Kill NM and everything it started (its PID namespace); resolves when they are gone. */
  close(): Promise<void>
}

export function nmConfig(options: NmDaemonOptions = {}): string {
  return `# nslab: NetworkManager in one lab host, on a private bus
[main]
plugins=keyfile
dns=default
rc-manager=unmanaged
no-auto-default=*
auth-polkit=root-only
hostname-mode=none
systemd-resolved=false

[keyfile]
unmanaged-devices=none

[logging]
level=${options.logLevel ?? 'INFO'}
${options.logDomains ? `domains=${options.logDomains.join(',')}` : ''}
`
}

export function startNmDaemon(host: LabNode, dir: string, options: NmDaemonOptions = {}): NmDaemon {
  for (const d of COVERED)
    if (!existsSync(d))
      throw new Error(
        `${d} does not exist, so NetworkManager cannot get a private one in ${host}: install network-manager (apt-get install network-manager network-manager-openvpn)`,
      )
  const dirs = {
    run: join(dir, 'run'),
    lib: join(dir, 'lib'),
    etc: join(dir, 'etc'),
    empty: join(dir, 'conf.d'),
  }
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true })
  mkdirSync(join(dirs.etc, 'system-connections'), { recursive: true })
  mkdirSync(join(dirs.run, 'NetworkManager'), { recursive: true })
  writeFileSync(join(dirs.etc, 'NetworkManager.conf'), nmConfig(options))
  const resolvConf = join(dirs.run, 'NetworkManager', 'resolv.conf')
  writeFileSync(resolvConf, '# nslab: NetworkManager has not written its DNS yet\n')

  const proc = host.spawn(
    [
      'unshare',
      '--pid',
      '--fork',
      '--kill-child',
      'NetworkManager',
      '--debug',
      '--config=/etc/NetworkManager/NetworkManager.conf',
      `--config-dir=${dirs.empty}`,
      `--system-config-dir=${dirs.empty}`,
    ],
    {
      // Only what NM needs: never the caller's DBUS_* variables.
      env: {
        PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
        DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/run/dbus/system_bus_socket',
      },
      mounts: [
        { source: dirs.run, target: '/run' },
        { source: dirs.lib, target: '/var/lib/NetworkManager' },
        { source: dirs.etc, target: '/etc/NetworkManager' },
      ],
      sysReadOnly: true,
    },
  )
  return {
    process: proc,
    resolvConf,
    log: () => proc.output().stderr,
    async close() {
      if (proc.exitedAlready) return
      // NM is pid 1 of its PID namespace: when it dies the kernel kills the rest
      // (plugin, openvpn, helpers), and unshare exits only after that.
      const nm = proc.pid === undefined ? undefined : childOf(proc.pid)
      if (nm !== undefined) process.kill(nm, 'SIGKILL')
      else proc.kill('SIGKILL')
      await proc.exited
    },
  }
}

function childOf(pid: number): number | undefined {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0]
    return first ? Number(first) : undefined
  } catch {
    return undefined
  }
}
