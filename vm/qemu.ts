/**
 * QEMU's command line for an nslab VM, and finding QEMU on the host.
 * Building the argv is pure (unit-tested); running it is in supervise.ts.
 */
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { VmPrerequisiteError } from './initramfs.js'

export type Accel = 'kvm' | 'tcg'

/** A host directory the guest mounts over 9p. */
export interface Share {
  tag: string
  path: string
  readonly: boolean
}

export interface QemuConfig {
  accel: Accel
  kernel: string
  initrd: string
  /** Guest memory in MiB. */
  memory: number
  cpus: number
  shares: Share[]
  /** Unix socket paths QEMU connects the serial ports to. */
  serial: Record<SerialPort, string>
  /** Extra kernel command-line words. */
  append?: string[]
  /**
   * Byte channels to the guest: virtio-serial ports named `name` (the guest
   * finds them in /sys/class/virtio-ports/<port>/name, at /dev/<port>), each
   * connected to a Unix socket the host listens on.
   */
  channels?: Channel[]
}

/** A virtio-serial port and the host socket QEMU connects it to. */
export interface Channel {
  name: string
  socket: string
}

/**
 * The three serial ports, in order: the console (ttyS0, kernel log and init
 * markers), the command's stdout (ttyS1) and its stderr (ttyS2). QEMU
 * connects each to a Unix socket the host listens on (`serial` in QemuConfig).
 */
export const SERIAL_PORTS = ['console', 'stdout', 'stderr'] as const
export type SerialPort = (typeof SERIAL_PORTS)[number]

/** The kernel command line: a script path, never a command (values split on spaces). */
export function kernelCmdline(extra: string[] = []): string {
  return [
    'console=ttyS0',
    'loglevel=5',
    'printk.time=1', // emerg..warning reach the console: panics, oopses, BUGs, WARNINGs
    'panic=-1', // a panic reboots at once, and -no-reboot turns that into QEMU exiting
    'rdinit=/init',
    'mitigations=off',
    'i8042.noaux',
    'i8042.nokbd',
    'i8042.nopnp',
    ...extra,
  ].join(' ')
}

export function qemuArgv(c: QemuConfig): string[] {
  if (/\s/.test(c.kernel) || /\s/.test(c.initrd))
    throw new TypeError(
      'kernel and initramfs paths must not contain spaces (QEMU splits its options on them)',
    )
  const argv = [
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-machine',
    'pc',
    '-accel',
    c.accel,
    '-cpu',
    c.accel === 'kvm' ? 'host' : 'max',
    '-m',
    String(c.memory),
    '-smp',
    String(c.cpus),
    '-kernel',
    c.kernel,
    '-initrd',
    c.initrd,
    '-append',
    kernelCmdline(c.append),
  ]
  for (const id of SERIAL_PORTS) {
    if (c.serial[id].includes(',')) throw new TypeError(`a socket path must not contain ",": ${c.serial[id]}`)
    argv.push('-chardev', `socket,id=${id},path=${c.serial[id]},server=off`, '-serial', `chardev:${id}`)
  }
  const channels = c.channels ?? []
  if (channels.length) argv.push('-device', 'virtio-serial-pci,id=vser0')
  channels.forEach((ch, i) => {
    if (!/^[A-Za-z0-9_.-]+$/.test(ch.name))
      throw new TypeError(`a channel name may hold only letters, digits, "_", "." and "-": ${ch.name}`)
    if (ch.socket.includes(',')) throw new TypeError(`a socket path must not contain ",": ${ch.socket}`)
    argv.push(
      '-chardev',
      `socket,id=chan${i},path=${ch.socket},server=off`,
      '-device',
      `virtserialport,bus=vser0.0,chardev=chan${i},name=${ch.name}`,
    )
  })
  c.shares.forEach((s, i) => {
    if (s.path.includes(','))
      throw new TypeError(`a shared directory must not contain "," (QEMU option syntax): ${s.path}`)
    argv.push(
      '-fsdev',
      `local,id=fs${i},path=${s.path},security_model=none,multidevs=remap${s.readonly ? ',readonly=on' : ''}`,
      '-device',
      `virtio-9p-pci,fsdev=fs${i},mount_tag=${s.tag}`,
    )
  })
  return argv
}

/** qemu-system-x86_64 on PATH (or NSLAB_QEMU), or an error naming the Debian package. */
export function findQemu(path = process.env.PATH ?? ''): string {
  if (process.env.NSLAB_QEMU) return process.env.NSLAB_QEMU
  for (const dir of [...path.split(delimiter), '/usr/bin', '/usr/local/bin']) {
    if (!dir) continue
    const p = join(dir, 'qemu-system-x86_64')
    if (existsSync(p)) return p
  }
  throw new VmPrerequisiteError(
    'qemu-system-x86_64 is missing (the VM runner boots kernels with it); install it: apt-get install -y qemu-system-x86',
  )
}
