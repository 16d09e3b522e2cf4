// A small demo lab: two named namespaces, a server socket born in one and
// served from the main thread, a client run inside the namespace, identity
// checks, and a clean teardown. Run with: npm run demo
import { once } from 'node:events'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import {
  addNetns,
  deleteNetns,
  exec,
  listNetns,
  openCurrentNetns,
  openNetns,
  socketIn,
} from '../harness/netns/index.js'
import { AF_INET, SOCK_STREAM, bind, listen, sockaddrIp } from '../harness/sys/index.js'

const id = randomBytes(2).toString('hex')
const names = [`nslab-demo${id}-a`, `nslab-demo${id}-b`]
const t0 = performance.now()
try {
  for (const n of names) addNetns(n)
  console.log(`created ${names.join(', ')} in ${(performance.now() - t0).toFixed(1)} ms`)
  console.log(
    'ip netns list:',
    listNetns()
      .filter((n) => names.includes(n))
      .join(' '),
  )
  const [a, b] = names as [string, string]
  await exec(a, ['ip', 'link', 'set', 'lo', 'up'])

  using home = openCurrentNetns()
  using nsA = openNetns(a)
  using nsB = openNetns(b)
  console.log(`identity: a is b? ${nsA.is(nsB)}; a is this thread's? ${nsA.is(home)}`)

  const fd = socketIn(a, AF_INET, SOCK_STREAM)
  bind(fd, sockaddrIp('127.0.0.1', 0))
  listen(fd, 8)
  const server = net.createServer((c) => c.end(`hello from ${a}, served by the main thread\n`))
  server.listen({ fd })
  await once(server, 'listening')
  const port = (server.address() as net.AddressInfo).port
  const r = await exec(a, ['bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${port}; cat <&3`])
  process.stdout.write(`client inside ${a} got: ${r.stdout}`)
  const fromB = await exec(b, [
    'bash',
    '-c',
    `exec 3<>/dev/tcp/127.0.0.1/${port} 2>&1 || echo "no route: $?"`,
  ])
  console.log(`client inside ${b} (lo down, other namespace): ${fromB.stdout.trim() || fromB.stderr.trim()}`)
  server.close()
  const links = JSON.parse((await exec(a, ['ip', '-j', 'link'])).stdout) as {
    ifname: string
    operstate: string
  }[]
  console.log(`devices in ${a}:`, links.map((l) => `${l.ifname} (${l.operstate})`).join(', '))
} finally {
  for (const n of names) if (listNetns().includes(n)) deleteNetns(n)
  const left = listNetns().filter((n) => names.includes(n))
  console.log(`torn down; left behind: ${left.length === 0 ? 'nothing' : left.join(', ')}`)
}
