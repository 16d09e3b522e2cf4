/**
 * `capture({ netlink: true })`: each node's netlink traffic as an interface
 * of its own, through an nlmon device, in the same pcapng; Wireshark
 * dissects it as rtnetlink. Where the kernel has no nlmon (this host's), the
 * capture says so in one sentence; the VM runner's Debian kernels have it
 * (npm run test:vm runs this file there).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Lab, kernelFeatures } from '../../harness/index.js'
import { tsharkFields } from './tshark.js'

describe('netlink traffic in the capture', () => {
  it('rtnetlink messages of each node on its own nlmon0 interface, or one sentence without nlmon', async () => {
    const { nlmon } = await kernelFeatures()
    const lab = await Lab.create()
    const dir = mkdtempSync(join(tmpdir(), 'nslab-nlmon-'))
    try {
      const [a, b] = await lab.addHosts('a', 'b')
      const cap = lab.capture({ netlink: true })
      if (!nlmon) {
        await expect(cap.ready()).rejects.toThrow(
          'capturing the netlink traffic of a needs the netlink monitor device (nlmon), which this kernel lacks; run the suite in the VM runner (nslab vm run) for a full kernel',
        )
        return
      }
      await cap.ready()
      await lab.connect(a, b)
      await lab.linkDown(a, b)
      const file = join(dir, 'nl.pcapng')
      await cap.write(file)
      const rows = tsharkFields(
        file,
        ['frame.interface_name', 'frame.interface_description', 'frame.protocols'],
        'netlink',
      )
      const onA = rows.filter(([iface]) => iface === 'a/nlmon0')
      expect(onA.length).toBeGreaterThan(0)
      expect(onA[0]![1]).toBe('a: netlink messages of its namespace (nlmon)')
      // Wireshark found rtnetlink messages inside (the cooked header named the family).
      expect(rows.some((r) => r[2]!.includes('netlink-route'))).toBe(true)
      expect(rows.some(([iface]) => iface === 'b/nlmon0')).toBe(true)
    } finally {
      await lab.destroy()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
