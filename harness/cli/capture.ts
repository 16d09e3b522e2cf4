/**
 * `nslab capture LAB [HOST[:DEV]...]`: packets of a running lab (one kept up
 * with `nslab up` or `--keep`, or one another process runs) as a live pcapng
 * stream, from AF_PACKET sockets born in its namespaces:
 *
 *   nslab capture 3f2a a | wireshark -k -i -
 *   nslab capture 3f2a a:3f2a-r1 b -w /tmp/ab.pcapng --count 100
 */
import { createWriteStream } from 'node:fs'
import type { Writable } from 'node:stream'
import type { Command } from 'commander'
import { Capture, type CaptureTarget, PcapngStream } from '../capture/index.js'
import { compileFilterText } from '../capture/filter-text.js'
import { type PacketPredicate, decodePacket } from '../capture/match.js'
import { LabNotFoundError, listOwners, recordNamespaces } from '../lab/index.js'
import { type Netns, openNetns } from '../netns/index.js'
import { Netlink } from '../netlink/index.js'
import { outputFile } from './paths.js'
import { LAB_CAPABILITIES, requireCapabilities } from './privilege.js'

interface CaptureCliOptions {
  write?: string
  count?: number
  duration?: number
  filter?: PacketPredicate
}

function positiveInteger(what: string): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!Number.isInteger(n) || n <= 0)
      throw new TypeError(`${what} must be a whole number above 0, got ${JSON.stringify(value)}`)
    return n
  }
}

function positiveNumber(what: string): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!Number.isFinite(n) || n <= 0)
      throw new TypeError(`${what} must be a number of seconds above 0, got ${JSON.stringify(value)}`)
    return n
  }
}

/** The lab's hosts (namespaces its record names), by host name. */
function labHosts(id: string): Map<string, string> {
  const record = listOwners().find((o) => o.id === id)
  if (!record) throw new LabNotFoundError(id)
  return new Map(recordNamespaces(record).map((ns) => [ns.slice(record.prefix.length), ns]))
}

/** Every address in each namespace → its host name, and each device's addresses, for names and descriptions. */
async function addressBook(
  hosts: ReadonlyMap<string, Netns>,
): Promise<{ names: { address: string; names: string[] }[]; devices: Map<string, string> }> {
  const names: { address: string; names: string[] }[] = []
  const devices = new Map<string, string>()
  for (const [host, ns] of hosts) {
    const nl = Netlink.open(ns)
    try {
      const links = new Map((await nl.listLinks()).map((l) => [l.index, l.name]))
      const byDevice = new Map<string, string[]>()
      for (const a of await nl.listAddresses()) {
        if (a.scope === 'global') names.push({ address: a.address, names: [host] })
        const dev = links.get(a.index)
        if (dev && a.scope !== 'link') byDevice.set(dev, [...(byDevice.get(dev) ?? []), a.cidr])
      }
      for (const [dev, cidrs] of byDevice) devices.set(`${host}/${dev}`, `${host} ${dev}: ${cidrs.join(' ')}`)
    } finally {
      nl.close()
    }
  }
  return { names, devices }
}

export function registerCaptureCommand(program: Command): void {
  program
    .command('capture <lab> [targets...]')
    .description(
      "stream a running lab's packets as pcapng (targets: HOST or HOST:DEVICE; default: every namespace)",
    )
    .option(
      '-w, --write <file>',
      'write to FILE (- for standard output, the default when it is not a terminal)',
      (v: string) => (v === '-' ? v : outputFile(v)),
    )
    .option('-c, --count <n>', 'stop after N packets', positiveInteger('--count'))
    .option('-d, --duration <seconds>', 'stop after this many seconds', positiveNumber('--duration'))
    .option(
      '-f, --filter <words>',
      'keep only packets that match, e.g. "icmp echo-request", "tcp and port 80", "not arp and host 198.18.0.1"',
      (v: string) => compileFilterText(v),
    )
    .addHelpText(
      'after',
      `
Without targets every namespace of the lab is captured, switches included
(a frame crossing a switch then shows once per port). Ctrl-C stops it; the
file is complete up to the last packet.

--filter words: a protocol (arp ip ip6 icmp icmp6 tcp udp; several joined
by "or"), an ICMP message after icmp/icmp6 (echo-request, echo-reply,
frag-needed, packet-too-big...), host ADDR, src|from ADDR, dst|to ADDR
(subnets too), port N, src port N, dst port N, "not" before one of them,
"and" between them. --count counts the packets kept.

Examples:
  nslab capture 3f2a a | wireshark -k -i -
  nslab capture 3f2a a:3f2a-r1 b -w /tmp/ab.pcapng --count 100
  nslab capture 3f2a a --filter 'icmp or icmp6' -w /tmp/pings.pcapng`,
    )
    .action(async (lab: string, targets: string[], opts: CaptureCliOptions) => {
      requireCapabilities('nslab capture', LAB_CAPABILITIES)
      const hosts = labHosts(lab)
      const wanted = targets.length > 0 ? targets : [...hosts.keys()]
      const open = new Map<string, Netns>()
      const list: CaptureTarget[] = []
      try {
        for (const t of wanted) {
          const [host, device] = t.split(':', 2) as [string, string | undefined]
          const ns = hosts.get(host)
          if (!ns)
            throw new TypeError(
              `lab ${lab} has no host ${JSON.stringify(host)}; it has: ${[...hosts.keys()].join(', ')}`,
            )
          if (!open.has(host)) open.set(host, openNetns(ns))
          list.push({ netns: open.get(host)!, label: host, ...(device ? { device } : {}) })
        }
        const dest = opts.write ?? '-'
        if (dest === '-' && process.stdout.isTTY)
          throw new TypeError(
            'pcapng is binary: write it to a file (-w FILE) or pipe it (| wireshark -k -i -)',
          )
        const out: Writable = dest === '-' ? process.stdout : createWriteStream(dest)
        const book = await addressBook(open)
        const stream = new PcapngStream(out, {
          application: 'nslab capture',
          comment: `lab ${lab}: ${wanted.join(' ')}`,
          names: book.names,
          describe: (name) => book.devices.get(name),
        })
        await new Promise<void>((resolve, reject) => {
          let capture: Capture | undefined
          let timer: NodeJS.Timeout | undefined
          // The capture's sockets do not hold the event loop (they are unref'd): this does, until stop.
          const alive = setInterval(() => undefined, 1 << 30)
          const stop = (): void => {
            clearTimeout(timer)
            clearInterval(alive)
            process.off('SIGINT', stop)
            process.off('SIGTERM', stop)
            const c = capture
            capture = undefined
            if (!c) return
            void c.stop().then(() => (dest === '-' ? resolve() : out.end(resolve)), reject)
          }
          out.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? stop() : reject(err)))
          process.once('SIGINT', stop)
          process.once('SIGTERM', stop)
          if (opts.duration) timer = setTimeout(stop, opts.duration * 1000)
          capture = Capture.start(list, {
            keep: false, // the stream has every packet: no copy in memory
            onPacket: (p, iface) => {
              if (!capture) return
              if (opts.filter && !opts.filter(decodePacket(p.data, p.hatype))) return
              stream.write(p, iface)
              if (opts.count && stream.count >= opts.count) stop()
            },
          })
          process.stderr.write(
            `capturing on ${wanted.join(' ')} of lab ${lab}${opts.filter ? ' (filtered)' : ''}${opts.count ? `, ${opts.count} packet(s)` : ''}${opts.duration ? `, ${opts.duration} s` : ''} (Ctrl-C stops)\n`,
          )
        })
      } finally {
        for (const ns of open.values()) ns.close()
      }
    })
}
