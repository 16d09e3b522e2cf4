/**
 * The lab's capture names what it can: the plan's addresses and, asked of
 * the kernel when the file or the trace is written, each node's IPv6
 * link-local addresses (made from the devices' MACs, which the plan does not
 * know), so Wireshark and the trace page show `a → b` for neighbour
 * discovery and link-local traffic too.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Lab } from '../../harness/lab/lab.js'
import { traceData } from '../../harness/trace/collect.js'
import { tsharkNamed } from '../capture/tshark.js'

const dir = mkdtempSync(join(tmpdir(), 'nslab-lab-capture-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('lab capture names', () => {
  it("names the nodes' IPv6 link-local addresses in the pcapng and in the trace", async () => {
    const lab = await Lab.create()
    try {
      lab.capture()
      const [a, b] = await lab.addHosts('a', 'b')
      await lab.connect(a, b)
      const ll = (await b.netlink.listAddresses({ family: 6 })).find((x) => x.scope === 'link')
      expect(ll, 'b has a link-local address').toBeDefined()
      const dev = a.ports[0]!.device
      const r = await a.exec(['ping', '-6', '-c', '1', '-W', '2', `${ll!.address}%${dev}`])
      expect(r.code, r.stderr).toBe(0)
      const file = join(dir, 'link-local.pcapng')
      await lab.packetCapture!.write(file)
      // Wireshark's reader, names from our block only: the echo request from a's link-local to b's.
      expect(tsharkNamed(file, ['ipv6.src_host', 'ipv6.dst_host'], 'icmpv6.type == 128')).toContainEqual([
        'a',
        'b',
      ])
      const data = await traceData(lab, { title: 'link-local names' })
      const echo = data.packets.filter((p) => p.protocol === 'ICMPv6' && /Echo \(ping\) request/.test(p.info))
      expect(echo.length).toBeGreaterThan(0)
      for (const p of echo) expect([p.src, p.dst]).toEqual(['a', 'b'])
    } finally {
      await lab.destroy()
    }
  })
})
