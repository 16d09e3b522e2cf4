import { describe, expect, it } from 'vitest'
import {
  ModuleNotFoundError,
  loadOrder,
  moduleName,
  parseModulesBuiltin,
  parseModulesDep,
} from '../../vm/modules.js'

// Lines from Debian 6.1's modules.dep.
const DEP = `kernel/fs/netfs/netfs.ko:
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/fs/overlayfs/overlay.ko:
kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/net/9p/9pnet.ko:
kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
`

describe('module load order', () => {
  it('loads every module after what it depends on, each once', () => {
    const order = loadOrder(parseModulesDep(DEP), ['virtio_pci', '9pnet_virtio', '9p', 'overlay']).map(
      moduleName,
    )
    expect(order).toEqual([
      'virtio_ring',
      'virtio',
      'virtio_pci_modern_dev',
      'virtio_pci_legacy_dev',
      'virtio_pci',
      '9pnet',
      '9pnet_virtio',
      'netfs',
      'fscache',
      '9p',
      'overlay',
    ])
  })

  it('skips built-in modules and names one that is neither', () => {
    const deps = parseModulesDep(DEP)
    const builtin = parseModulesBuiltin('kernel/drivers/net/veth.ko\nkernel/net/bridge/bridge.ko\n')
    expect(loadOrder(deps, ['veth', 'overlay'], builtin).map(moduleName)).toEqual(['overlay'])
    expect(() => loadOrder(deps, ['wireguard'], builtin)).toThrow(ModuleNotFoundError)
    expect(() => loadOrder(deps, ['wireguard'], builtin)).toThrow(
      'kernel module wireguard is neither in modules.dep',
    )
  })

  it('names modules like modprobe: no directory, no .ko(.xz), dashes as underscores', () => {
    expect(moduleName('kernel/net/8021q/8021q.ko.xz')).toBe('8021q')
    expect(moduleName('kernel/drivers/char/hw_random/virtio-rng.ko')).toBe('virtio_rng')
  })
})
