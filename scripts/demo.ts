// A small demo lab: two LANs joined by a router, pings across it, a TCP
// server whose socket lives in one host but is served by the main thread, a
// function run on a worker inside another host, and a clean teardown.
// Run with: npm run demo
import { Lab, listNetns } from '../harness/index.js'

const t0 = performance.now()
const lab = await Lab.create()
try {
  const [lan1, lan2] = [await lab.addSwitch('lan1'), await lab.addSwitch('lan2')]
  const gw = await lab.addRouter('gw')
  const [a, b, c] = await lab.addHosts('a', 'b', 'c')
  await lab.connect(a, lan1)
  await lab.connect(b, lan1)
  await lab.connect(c, lan2)
  await lab.connect(gw, lan1)
  await lab.connect(gw, lan2)
  console.log(
    `lab ${lab.id}: 6 namespaces, 5 links, routes computed, in ${(performance.now() - t0).toFixed(1)} ms`,
  )
  for (const n of lab.allNodes)
    console.log(`  ${n.kind.padEnd(6)} ${n.name.padEnd(5)} ip netns exec ${n.netns} ...`)
  for (const n of lab.hosts)
    console.log(
      `  ${n.name}: ${n
        .addresses()
        .map((x) => `${x.device} ${x.v4} ${x.v6}`)
        .join(', ')}`,
    )

  for (const [x, y] of [
    [a, b],
    [a, c],
    [c, b],
  ] as const) {
    const r4 = await x.ping(y)
    const r6 = await x.ping(y, { family: 6 })
    console.log(
      `ping ${x.name} -> ${y.name}: IPv4 ${r4.received}/${r4.sent} avg ${r4.rtt?.avg.toFixed(3)} ms, IPv6 ${r6.received}/${r6.sent}`,
    )
  }

  const server = await a.listen({ port: 7000 }, (s) =>
    s.end(`hello from ${a.name}, served by the main thread\n`),
  )
  const reply = await c.run(async (host: string) => {
    const net = await import('node:net')
    return await new Promise<string>((resolve, reject) => {
      const s = net.connect({ host, port: 7000 })
      let d = ''
      s.on('data', (x) => (d += x))
      s.on('end', () => resolve(d))
      s.on('error', reject)
    })
  }, a.address(lan1))
  process.stdout.write(`c (worker inside ${c.netns}) got: ${reply}`)
  server.close()
  const routes = await c.exec(['ip', 'route'])
  console.log(`routes in c (ip netns exec ${c.netns} ip route):\n${routes.stdout.replace(/^/gm, '  ')}`)
} finally {
  await lab.destroy()
  const left = listNetns().filter((n) => n.startsWith(lab.prefix))
  console.log(`destroyed; left behind: ${left.length === 0 ? 'nothing' : left.join(', ')}`)
}
