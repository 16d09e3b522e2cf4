import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { cpioArchive } from '../../vm/cpio.js'
import { runScript, shellQuote } from '../../vm/guest-script.js'
import { isStaticElf } from '../../vm/initramfs.js'
import { chooseMachine, kernelCmdline, qemuArgv } from '../../vm/qemu.js'

const serial = { console: '/t/console.sock', stdout: '/t/stdout.sock', stderr: '/t/stderr.sock' }
const base = {
  accel: 'tcg' as const,
  kernel: '/boot/vmlinuz-6.1.0-56-amd64',
  initrd: '/c/initramfs.cpio',
  memory: 1536,
  cpus: 2,
  serial,
  shares: [
    { tag: 'hostroot', path: '/', readonly: true },
    { tag: 'nslabctl', path: '/tmp/nslab-vm-x', readonly: false },
  ],
}

/** The value following `flag` each time it occurs. */
function values(argv: string[], flag: string): string[] {
  return argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []))
}

describe('QEMU argv', () => {
  it('boots the kernel with the initramfs, no devices but ours, never rebooting', () => {
    const argv = qemuArgv(base)
    expect(argv).toEqual(expect.arrayContaining(['-nodefaults', '-no-user-config', '-no-reboot']))
    expect(values(argv, '-accel')).toEqual(['tcg'])
    expect(values(argv, '-kernel')).toEqual([base.kernel])
    expect(values(argv, '-initrd')).toEqual([base.initrd])
    expect(values(argv, '-m')).toEqual(['1536'])
    expect(values(argv, '-cpu')).toEqual(['max'])
    expect(values(qemuArgv({ ...base, accel: 'kvm' }), '-cpu')).toEqual(['host'])
  })

  it('shares the host root read-only and the control directory writable, over virtio-9p with remapped devices', () => {
    const argv = qemuArgv(base)
    expect(values(argv, '-fsdev')).toEqual([
      'local,id=fs0,path=/,security_model=none,multidevs=remap,readonly=on',
      'local,id=fs1,path=/tmp/nslab-vm-x,security_model=none,multidevs=remap',
    ])
    expect(values(argv, '-device')).toEqual([
      'virtio-9p-pci,fsdev=fs0,mount_tag=hostroot',
      'virtio-9p-pci,fsdev=fs1,mount_tag=nslabctl',
    ])
    expect(() => qemuArgv({ ...base, shares: [{ tag: 'x', path: '/a,b', readonly: true }] })).toThrow('","')
  })

  it('adds no virtio-serial device without channels, and one port per channel with one', () => {
    expect(qemuArgv(base)).not.toContain('virtio-serial-pci,id=vser0')
    const argv = qemuArgv({ ...base, channels: [{ name: 'nslab.pool', socket: '/t/chan.sock' }] })
    expect(values(argv, '-device')).toEqual(
      expect.arrayContaining([
        'virtio-serial-pci,id=vser0',
        'virtserialport,bus=vser0.0,chardev=chan0,name=nslab.pool',
      ]),
    )
    expect(values(argv, '-chardev')).toContain('socket,id=chan0,path=/t/chan.sock,server=off')
    expect(() => qemuArgv({ ...base, channels: [{ name: 'a,b', socket: '/t/c.sock' }] })).toThrow(
      'channel name',
    )
    expect(() => qemuArgv({ ...base, channels: [{ name: 'a', socket: '/t/c,d.sock' }] })).toThrow('","')
  })

  it('connects ttyS0, ttyS1, ttyS2 (console, stdout, stderr) to our sockets, in that order', () => {
    const argv = qemuArgv(base)
    expect(values(argv, '-serial')).toEqual(['chardev:console', 'chardev:stdout', 'chardev:stderr'])
    expect(values(argv, '-chardev')).toEqual([
      'socket,id=console,path=/t/console.sock,server=off',
      'socket,id=stdout,path=/t/stdout.sock,server=off',
      'socket,id=stderr,path=/t/stderr.sock,server=off',
    ])
  })

  it('passes a kernel command line without the command (it travels as a script), panics ending the VM', () => {
    const line = values(qemuArgv({ ...base, append: ['loglevel=7'] }), '-append')[0]!
    expect(line).toBe(kernelCmdline(['loglevel=7'], { accel: 'tcg' }))
    expect(line.split(' ')).toEqual(
      expect.arrayContaining(['console=ttyS0', 'panic=-1', 'rdinit=/init', 'loglevel=7']),
    )
  })

  it('under TCG trusts the TSC and gives its frequency when known; under KVM leaves the clock to the kernel', () => {
    const words = (accel: 'tcg' | 'kvm', tscKhz?: number) => kernelCmdline([], { accel, tscKhz }).split(' ')
    expect(words('tcg', 2596142)).toEqual(expect.arrayContaining(['tsc=reliable', 'tsc_early_khz=2596142']))
    expect(words('tcg')).toContain('tsc=reliable')
    expect(words('tcg').some((w) => w.startsWith('tsc_early_khz'))).toBe(false)
    expect(words('kvm', 2596142).some((w) => w.startsWith('tsc'))).toBe(false)
    expect(words('kvm')).toContain('cryptomgr.notests')
  })
})

describe('QEMU argv on the microvm machine', () => {
  const micro = { ...base, machine: 'microvm' as const, tscKhz: 2596142 }

  it('uses virtio-mmio devices, the one ISA serial port for the console, and ports for stdout and stderr', () => {
    const argv = qemuArgv({ ...micro, channels: [{ name: 'nslab.pool', socket: '/t/chan.sock' }] })
    expect(values(argv, '-machine')[0]).toMatch(/^microvm,acpi=on,/)
    expect(values(argv, '-serial')).toEqual(['chardev:console'])
    expect(values(argv, '-device')).toEqual([
      'virtio-serial-device,id=vser0',
      'virtserialport,bus=vser0.0,chardev=chan0,name=nslab.pool',
      'virtserialport,bus=vser0.0,chardev=chan1,name=nslab.stdout',
      'virtserialport,bus=vser0.0,chardev=chan2,name=nslab.stderr',
      'virtio-9p-device,fsdev=fs0,mount_tag=hostroot',
      'virtio-9p-device,fsdev=fs1,mount_tag=nslabctl',
    ])
    expect(values(argv, '-chardev')).toEqual([
      'socket,id=console,path=/t/console.sock,server=off',
      'socket,id=chan0,path=/t/chan.sock,server=off',
      'socket,id=chan1,path=/t/stdout.sock,server=off',
      'socket,id=chan2,path=/t/stderr.sock,server=off',
    ])
    expect(values(argv, '-append')[0]).toContain('tsc_early_khz=2596142')
  })

  it('refuses microvm under TCG without the TSC frequency (the guest could hang calibrating it)', () => {
    expect(() => qemuArgv({ ...micro, tscKhz: undefined })).toThrow('TSC frequency')
    expect(() => qemuArgv({ ...micro, accel: 'kvm', tscKhz: undefined })).not.toThrow()
  })
})

describe('choosing the machine', () => {
  it('takes microvm under TCG when the TSC frequency is known, pc otherwise, and what is asked for', () => {
    expect(chooseMachine(undefined, 'tcg', 2596142)).toBe('microvm')
    expect(chooseMachine(undefined, 'tcg', undefined)).toBe('pc')
    expect(chooseMachine(undefined, 'kvm', 2596142)).toBe('pc')
    expect(chooseMachine('', 'tcg', 2596142)).toBe('microvm')
    expect(chooseMachine('pc', 'tcg', 2596142)).toBe('pc')
    expect(chooseMachine('microvm', 'kvm', undefined)).toBe('microvm')
    expect(() => chooseMachine('microvm', 'tcg', undefined)).toThrow('use the pc machine')
    expect(() => chooseMachine('q35', 'tcg', 1)).toThrow(
      'unknown machine type "q35" (nslab boots pc or microvm)',
    )
  })
})

describe('guest scripts', () => {
  it('quotes words for the shell, so any argv survives', () => {
    expect(shellQuote('plain/path-1.0')).toBe('plain/path-1.0')
    expect(shellQuote("it's $HOME; rm -rf /")).toBe(`'it'\\''s $HOME; rm -rf /'`)
    expect(shellQuote('')).toBe("''")
  })

  it('exports the environment, enters the directory and execs the command', () => {
    expect(runScript(['sh', '-c', 'echo "$A"'], '/work/x y', { A: 'b c' })).toBe(
      "# written by nslab vm: the command to run in the guest\nexport A='b c'\ncd '/work/x y' || exit 125\nexec sh -c 'echo \"$A\"'\n",
    )
    expect(() => runScript([], '/', {})).toThrow('needs a command')
    expect(() => runScript(['true'], '/', { 'A B': '1' })).toThrow('not an environment variable name')
  })
})

describe('initramfs pieces', () => {
  it('writes newc cpio records the kernel can unpack, padded to 4 bytes, ending with TRAILER!!!', () => {
    const a = cpioArchive([
      { path: 'bin', type: 'dir', mode: 0o755 },
      { path: 'init', type: 'file', mode: 0o755, data: 'abc' },
      { path: 'bin/sh', type: 'symlink', mode: 0o777, data: 'busybox' },
    ])
    expect(a.length % 4).toBe(0)
    const names: string[] = []
    for (let at = 0; at < a.length;) {
      expect(a.toString('ascii', at, at + 6)).toBe('070701')
      const field = (i: number) => parseInt(a.toString('ascii', at + 6 + i * 8, at + 14 + i * 8), 16)
      const [mode, size, nameLen] = [field(1), field(6), field(11)]
      const name = a.toString('ascii', at + 110, at + 110 + nameLen - 1)
      names.push(`${name}:${(mode >> 12).toString(8)}:${size}`)
      at += Math.ceil((110 + nameLen) / 4) * 4 + Math.ceil(size / 4) * 4
      if (name === 'TRAILER!!!') break
    }
    expect(names).toEqual(['bin:4:0', 'init:10:3', 'bin/sh:12:7', 'TRAILER!!!:0:0'])
    expect(() => cpioArchive([{ path: '/abs', type: 'dir', mode: 0 }])).toThrow('relative')
  })

  it('tells a static busybox (apt-get install -y busybox-static) from a dynamic executable', () => {
    expect(isStaticElf(readFileSync('/bin/busybox'))).toBe(true)
    expect(isStaticElf(readFileSync(process.execPath))).toBe(false)
    expect(isStaticElf(Buffer.from('#!/bin/sh\n'))).toBe(false)
  })
})
