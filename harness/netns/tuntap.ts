/**
 * tun/tap devices. rtnetlink cannot create them: like `ip tuntap add`
 * (ip/iptuntap.c) we open /dev/net/tun, TUNSETIFF and TUNSETPERSIST. The
 * device is born in the namespace of the thread that opened /dev/net/tun.
 */
import { type NetnsRef } from './handle.js'
import { withNetns } from './thread.js'
import { O_CLOEXEC, O_RDWR, close, ioctlBuffer, ioctl, open } from '../sys/index.js'

const TUNSETIFF = 0x400454ca
const TUNSETPERSIST = 0x400454cb
const IFF_TUN = 0x0001
const IFF_TAP = 0x0002
const IFF_NO_PI = 0x1000

/** Create a persistent tun or tap device in a namespace. */
export function createTunTap(ns: NetnsRef, name: string, mode: 'tun' | 'tap'): void {
  if (Buffer.byteLength(name) > 15)
    throw new TypeError(`interface name ${JSON.stringify(name)} is longer than 15 bytes`)
  withNetns(ns, () => {
    const fd = open('/dev/net/tun', O_RDWR | O_CLOEXEC)
    try {
      const ifr = Buffer.alloc(40)
      ifr.write(name, 0, 15)
      ifr.writeUInt16LE((mode === 'tun' ? IFF_TUN : IFF_TAP) | IFF_NO_PI, 16)
      ioctlBuffer(fd, TUNSETIFF, ifr, name)
      ioctl(fd, TUNSETPERSIST, 1, name)
    } finally {
      close(fd)
    }
  })
}
