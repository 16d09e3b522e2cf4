/** Helpers shared by the VPN tests: labs torn down after each test, TCP through inner addresses, ip -j. */
import { once } from 'node:events'
import type net from 'node:net'
import { afterEach } from 'vitest'
import { Lab, type LabNode } from '../../harness/index.js'

const labs: Lab[] = []
afterEach(async () => {
  for (const lab of labs.splice(0)) await lab.destroy()
})

export async function newLab(): Promise<Lab> {
  const lab = await Lab.create()
  labs.push(lab)
  return lab
}

/** `ip -j ARGS` run in the node, parsed. */
export async function ipJson<T>(node: LabNode, ...args: string[]): Promise<T> {
  const r = await node.exec(['ip', '-j', ...args], { timeout: 10_000 })
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')} in ${node.name}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

export interface RouteJson {
  dst: string
  dev: string
  gateway?: string
}

/** The device `ip route get` picks for `to` in `node`. */
export async function routeDevice(node: LabNode, to: string): Promise<string> {
  const [r] = await ipJson<RouteJson[]>(node, 'route', 'get', to)
  return r!.dev
}

/**
 * `server` answers a TCP connection with a greeting naming itself and the
 * address the connection came from; `client` connects to `address`.
 */
export async function tcpHello(
  client: LabNode,
  server: LabNode,
  address: string,
): Promise<{ greeting: string; seenFrom: string }> {
  let seenFrom = ''
  const srv = await server.listen({ port: 0, host: '0.0.0.0' }, (s) => {
    seenFrom = s.remoteAddress ?? ''
    s.end(`hello from ${server.name}`)
  })
  try {
    const port = (srv.address() as net.AddressInfo).port
    const sock = await client.connect({ port, host: address, timeout: 5000 })
    let greeting = ''
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => (greeting += d))
    await once(sock, 'end')
    sock.destroy()
    return { greeting, seenFrom }
  } finally {
    srv.close()
  }
}

/** Give `node` an extra address on lo: something to reach behind a tunnel end. */
export async function addLoopbackAddress(node: LabNode, cidr: string): Promise<void> {
  const r = await node.exec(['ip', 'addr', 'add', cidr, 'dev', 'lo'])
  if (r.code !== 0) throw new Error(`ip addr add ${cidr} dev lo in ${node.name}: ${r.stderr}`)
}

/** Pids of processes whose command line starts with `program` (for nothing-left-behind checks). */
export function alive(pids: (number | undefined)[]): number[] {
  return pids.filter((p): p is number => {
    if (p === undefined) return false
    try {
      process.kill(p, 0)
      return true
    } catch {
      return false
    }
  })
}

/**
 * A hub and two sites b and c whose LANs (bl, cl) use the same 10.1.0.0/24
 * with the same addresses; the hub serves 10.50.0.1 on its loopback.
 */
export async function twoSitesOneHub(): Promise<{
  lab: Lab
  hub: LabNode
  b: LabNode
  c: LabNode
  bl: LabNode
  cl: LabNode
}> {
  const lab = await newLab()
  const [hub, b, c, bl, cl] = await lab.addHosts('hub', 'b', 'c', 'bl', 'cl')
  await lab.connect(hub, b)
  await lab.connect(hub, c)
  await lab.connect(b, bl, {
    subnet: '10.1.0.0/24',
    addresses: { b: { v4: '10.1.0.1' }, bl: { v4: '10.1.0.2' } },
  })
  await lab.connect(c, cl, {
    subnet: '10.1.0.0/24',
    addresses: { c: { v4: '10.1.0.1' }, cl: { v4: '10.1.0.2' } },
  })
  await addLoopbackAddress(hub, '10.50.0.1/32')
  return { lab, hub, b, c, bl, cl }
}
