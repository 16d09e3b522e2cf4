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
  /** The machine type (default pc); see MACHINES. */
  machine?: Machine
  /** The host's TSC frequency in kHz (vm/host-tsc.ts), given to a TCG guest. */
  tscKhz?: number
}

/** What the kernel command line depends on besides the extra words. */
export interface CmdlineHost {
  accel: Accel
  tscKhz?: number
}

/**
 * QEMU machine types: `pc` (i440FX, ACPI, PCI, an HPET, three ISA serial
 * ports) or `microvm` (no PCI, a small ACPI DSDT, virtio-mmio devices, one
 * ISA serial port), whose kernel reaches init about 0.9 s sooner under TCG.
 * On microvm the command's stdout and stderr travel as virtio-serial ports
 * named nslab.stdout and nslab.stderr, which the guest's init looks up, and
 * a TCG guest must be told the TSC frequency (see host-tsc.ts).
 */
export const MACHINES = ['pc', 'microvm'] as const
export type Machine = (typeof MACHINES)[number]

/**
 * The machine to boot: the one asked for (option, or NSLAB_VM_MACHINE), else
 * microvm under TCG when the host's TSC frequency is known (it boots sooner),
 * else pc.
 */
export function chooseMachine(asked: string | undefined, accel: Accel, tscKhz: number | undefined): Machine {
  if (asked !== undefined && asked !== '') {
    if (!(MACHINES as readonly string[]).includes(asked))
      throw new VmPrerequisiteError(`unknown machine type "${asked}" (nslab boots ${MACHINES.join(' or ')})`)
    if (asked === 'microvm' && !microvmBoots(accel, tscKhz))
      throw new VmPrerequisiteError(
        "the microvm machine under TCG needs the host's TSC frequency, which /proc/cpuinfo does not tell here (a CPU with APERF/MPERF, or a TSC that is not constant); use the pc machine",
      )
    return asked as Machine
  }
  return accel === 'tcg' && microvmBoots(accel, tscKhz) ? 'microvm' : 'pc'
}

/** microvm has no HPET or ACPI PM timer: under TCG its kernel must be told the TSC frequency, or it may hang calibrating it. */
function microvmBoots(accel: Accel, tscKhz: number | undefined): boolean {
  return accel !== 'tcg' || tscKhz !== undefined
}

/** A virtio-serial port and the host socket QEMU connects it to. */
export interface Channel {
  name: string
  socket: string
}

/**
 * The three serial ports, in order: the console (ttyS0, kernel log and init
 * markers), the command's stdout (ttyS1) and its stderr (ttyS2); on microvm,
 * which has one ISA serial port, stdout and stderr are virtio-serial ports
 * instead. QEMU connects each to a Unix socket the host listens on (`serial`
 * in QemuConfig).
 */
export const SERIAL_PORTS = ['console', 'stdout', 'stderr'] as const
export type SerialPort = (typeof SERIAL_PORTS)[number]

/**
 * The kernel command line: a script path, never a command (values split on
 * spaces). Under TCG the guest reads the host's TSC, whose frequency we pass
 * when we know it, and which is taken as reliable: QEMU derives every vCPU's
 * TSC from the one host counter, and without that word the kernel finds the
 * vCPUs' TSCs "unsynchronized" and falls back to the HPET (pc; every clock
 * read a trip into QEMU) or to jiffies (microvm; 4 ms steps).
 */
export function kernelCmdline(extra: string[] = [], host: CmdlineHost = { accel: 'kvm' }): string {
  const tcg = host.accel === 'tcg'
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
    'cryptomgr.notests', // the crypto self-tests take 0.2-0.5 s of boot under TCG
    ...(tcg ? ['tsc=reliable'] : []),
    ...(tcg && host.tscKhz ? [`tsc_early_khz=${host.tscKhz}`] : []),
    ...extra,
  ].join(' ')
}

export function qemuArgv(c: QemuConfig): string[] {
  if (/\s/.test(c.kernel) || /\s/.test(c.initrd))
    throw new TypeError(
      'kernel and initramfs paths must not contain spaces (QEMU splits its options on them)',
    )
  const micro = c.machine === 'microvm'
  if (micro && !microvmBoots(c.accel, c.tscKhz))
    throw new TypeError(
      "the microvm machine under TCG needs the host's TSC frequency (tscKhz): without it the guest kernel may hang calibrating its clock",
    )
  const argv = [
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-machine',
    micro ? 'microvm,acpi=on,pcie=off,rtc=on,pit=on,pic=on' : 'pc',
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
    kernelCmdline(c.append, { accel: c.accel, tscKhz: c.tscKhz }),
  ]
  const channels = [...(c.channels ?? [])]
  for (const id of SERIAL_PORTS) {
    if (c.serial[id].includes(',')) throw new TypeError(`a socket path must not contain ",": ${c.serial[id]}`)
    if (micro && id !== 'console') channels.push({ name: `nslab.${id}`, socket: c.serial[id] })
    else argv.push('-chardev', `socket,id=${id},path=${c.serial[id]},server=off`, '-serial', `chardev:${id}`)
  }
  const bus = micro ? 'device' : 'pci'
  if (channels.length) argv.push('-device', `virtio-serial-${bus},id=vser0`)
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
      `virtio-9p-${bus},fsdev=fs${i},mount_tag=${s.tag}`,
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
