// NLM_F_DUMP_INTR for real: a dump of thousands of addresses comes back in
// many datagrams, and the kernel marks it interrupted when the address
// generation of the namespace changed between two of them. Another process
// (`ip -batch` fed by a shell loop) adds and deletes one address while this
// one dumps, so some dumps get interrupted; the transport runs those again,
// and every list it returns is complete and has each address once.
import { type ChildProcess, spawn } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { Netlink } from '../../harness/netlink/index.js'
import { addNetns, openNetns } from '../../harness/netns/index.js'
import { netnsNames } from '../support/names.js'

const name = netnsNames('intr')
const ADDRESSES = 2000
/** The churner's pause between changes: several dumps fit between two, so most come back whole. */
const PACE_S = '0.01'
const MAX_DUMPS = 400

let churner: ChildProcess | undefined
afterEach(() => {
  if (churner?.pid !== undefined && churner.exitCode === null) process.kill(-churner.pid, 'SIGKILL')
  churner = undefined
})

const fixed = (i: number): string => `198.18.${i >> 8}.${i & 255}`

describe('dumps interrupted by concurrent changes (NLM_F_DUMP_INTR)', () => {
  it('are retried, and every list returned is complete, each address once', async () => {
    const ns = name()
    addNetns(ns)
    using handle = openNetns(ns)
    using nl = Netlink.open(handle)
    await nl.createBridge('br0', { index: 2 })
    for (let k = 0; k < ADDRESSES; k += 500)
      await Promise.all(
        Array.from({ length: Math.min(500, ADDRESSES - k) }, (_, j) =>
          nl.addAddress(2, `${fixed(k + j)}/32`),
        ),
      )
    const want = new Set(Array.from({ length: ADDRESSES }, (_, i) => fixed(i)))

    // Another process changes the table while we dump: one address in, out, in...
    const loop = `while :; do echo "addr add 198.19.255.1/32 dev br0"; sleep ${PACE_S}; echo "addr del 198.19.255.1/32 dev br0"; sleep ${PACE_S}; done`
    churner = spawn('bash', ['-c', `${loop} | ip -force -n ${ns} -batch -`], {
      stdio: 'ignore',
      detached: true,
    })

    const before = nl.socket.stats.dumpRetries
    let dumps = 0
    while (dumps < MAX_DUMPS && nl.socket.stats.dumpRetries - before < 3) {
      const list = await nl.listAddresses({ family: 4 })
      dumps++
      const seen = list.map((a) => a.address)
      expect(new Set(seen).size, 'an address listed twice').toBe(seen.length)
      const ours = seen.filter((a) => want.has(a))
      expect(ours.length, `dump ${dumps} lost addresses`).toBe(ADDRESSES)
      expect(seen.filter((a) => !want.has(a) && a !== '198.19.255.1')).toEqual([])
    }
    // The retry path really ran: the kernel said NLM_F_DUMP_INTR and the dump was sent again.
    expect(nl.socket.stats.dumpRetries - before).toBeGreaterThan(0)
  })
})
