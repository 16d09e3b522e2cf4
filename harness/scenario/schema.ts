/**
 * The scenario file format, once: these zod schemas validate files, give
 * the TypeScript types, and generate the JSON Schema shipped for editors
 * (`scenario.schema.json`). Values keep the units they were written in
 * (`500ms`, `8mbit`); the runner converts them (units.ts).
 *
 * Steps and expectations are objects with exactly one key naming their kind
 * (`- link: { between: [a, r1], state: down }`): a strict object whose keys
 * are all optional, plus a check that exactly one is present. Unknown keys
 * are errors everywhere.
 */
import { z } from 'zod'
import { parseCidr } from '../util/ip.js'
import { InvalidAddressError, ipToBytes } from '../util/ip.js'
import { excerpt } from './diagnostics.js'
import { BRIDGE_MAX_PORTS } from '../lab/plan.js'
import { ICMP_NAMES, PROTOCOLS } from '../capture/match.js'
import { DURATION_PATTERN, PERCENT_PATTERN, RATE_PATTERN, SIZE_PATTERN } from './units.js'

const pattern = (source: string, what: string): z.ZodString =>
  z.string().regex(new RegExp(source, 'i'), { error: `expected ${what}` })

export const NodeName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, {
    error: "a node name is letters, digits, '.', '_' or '-', starting with a letter or digit",
  })
  .max(64, { error: 'a node name is at most 64 characters' })
  .meta({ description: 'A node of the topology (host, router or switch).' })

const Duration = z
  .union([z.number().nonnegative(), pattern(DURATION_PATTERN, 'a duration such as 500ms, 2s or 1m')], {
    error: 'expected a duration such as 500ms, 2s or 1m (a bare number is milliseconds)',
  })
  .meta({ description: 'A duration: 500ms, 2s, 1m, or a number of milliseconds.' })
const Percent = z
  .union([z.number().min(0).max(100), pattern(PERCENT_PATTERN, 'a percentage such as 5%')], {
    error: 'expected a percentage such as 5% (or a number 0-100)',
  })
  .meta({ description: 'A percentage: 5% or a number 0-100.' })
const Rate = z
  .union([z.number().positive(), pattern(RATE_PATTERN, 'a rate such as 8mbit')], {
    error: 'expected a rate such as 8mbit, 500kbit or 1gbit (a bare number is bits per second)',
  })
  .meta({ description: 'A rate: 8mbit, 500kbit, 1gbit, or bits per second.' })
const Size = z
  .union([z.number().int().nonnegative(), pattern(SIZE_PATTERN, 'a size such as 64k')], {
    error: 'expected a size such as 1500, 64k or 2m (bytes)',
  })
  .meta({ description: 'A size in bytes: 1500, 64k, 2m.' })
// YAML reads `-4` or `300` as numbers: take them, and hand the program text.
const Argv = z
  .array(z.union([z.string(), z.number()], { error: 'expected an argument (text or a number)' }))
  .min(1, { error: 'a command is a non-empty list of arguments, e.g. [ip, -j, addr]' })
  .transform((argv) => argv.map(String))
  .meta({
    description:
      'A program and its arguments (no shell; use [sh, -c, "..."] for one). ${a.addr.b} and friends are replaced.',
  })
const Pair = z.tuple([NodeName, NodeName], { error: 'expected two node names, e.g. [a, r1]' })

/**
 * An address field: a pattern (for editors, and a first sentence for
 * garbage), then the real parser (harness/util/ip.ts), so `1.2.3` or
 * `10.0.0.0/33` is refused here, placed in the file, and not when the lab is
 * built. `refs`: `${a.addr.b}` and friends stand for an address too (checked
 * by validate.ts).
 */
function address(kind: 'ip' | 'ipv4' | 'ipv6' | 'cidr' | 'prefix' | 'route', refs = false): z.ZodString {
  const expected = {
    ip: 'an IP address such as 10.0.0.1 or fd00::1',
    ipv4: 'an IPv4 address such as 10.0.0.1',
    ipv6: 'an IPv6 address such as fd00::1',
    cidr: 'a subnet such as 10.0.0.0/24 or fd00:1::/64',
    prefix: 'an address such as 10.0.0.1, with or without a /prefix length',
    route: 'a destination such as 10.0.0.0/24, fd00:1::/64 or default',
  }[kind]
  const source = {
    ip: '^[0-9a-fA-F:.]+$',
    ipv4: '^[0-9a-fA-F:.]+$',
    ipv6: '^[0-9a-fA-F:.]+$',
    cidr: '^[0-9a-fA-F:.]+/\\d{1,3}$',
    prefix: '^[0-9a-fA-F:.]+(/\\d{1,3})?$',
    route: '^(default|[0-9a-fA-F:.]+/\\d{1,3})$',
  }[kind]
  return z
    .string()
    .regex(new RegExp(refs ? `${source}|\\$\\{` : source), { error: `expected ${expected}`, abort: true })
    .check((ctx) => {
      const text = ctx.value
      if ((refs && text.includes('${')) || (kind === 'route' && text === 'default')) return
      let why: string | undefined
      try {
        if (kind === 'cidr' || kind === 'route' || kind === 'prefix') {
          if (kind !== 'prefix' && !text.includes('/')) why = 'it has no /prefix length'
          else parseCidr(text)
        } else {
          const bytes = ipToBytes(text)
          if (kind === 'ipv4' && bytes.length !== 4) why = 'that is an IPv6 address; give it as v6'
          if (kind === 'ipv6' && bytes.length !== 16) why = 'that is an IPv4 address; give it as v4'
        }
      } catch (err) {
        why = err instanceof InvalidAddressError ? err.reason : String(err)
      }
      if (why)
        ctx.issues.push({
          code: 'custom',
          input: text,
          message: `expected ${expected}, got string ${excerpt(text)}: ${why}`,
        })
    })
}
const Cidr = address('cidr')
const Ip = address('ip')
const Ipv4 = address('ipv4')
const Ipv6 = address('ipv6')

/** A regular expression, compiled here (with the flags the runner uses), so a bad one is a validation error. */
function regex(flags: string, description: string): z.ZodString {
  return z
    .string()
    .check((ctx) => {
      try {
        new RegExp(ctx.value, flags)
      } catch (err) {
        ctx.issues.push({
          code: 'custom',
          input: ctx.value,
          message: `expected a regular expression, got string ${excerpt(ctx.value)}: ${(err as Error).message}`,
        })
      }
    })
    .meta({ description })
}
const Family = z.union([z.literal(4), z.literal(6)], { error: 'expected 4 or 6' })

/** Exactly one of the object's keys: how steps and expectations name their kind. */
function oneOf<T extends Record<string, z.ZodType>>(shape: T, what: string) {
  const keys = Object.keys(shape)
  return z
    .strictObject(
      Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])) as {
        [K in keyof T]: z.ZodOptional<T[K]>
      },
    )
    .check((ctx) => {
      const value = ctx.value as Record<string, unknown>
      const present = Object.keys(value).filter((k) => value[k] !== undefined)
      if (present.length !== 1)
        ctx.issues.push({
          code: 'custom',
          input: ctx.value,
          message:
            present.length === 0
              ? `a ${what} needs one of: ${keys.join(', ')}`
              : `a ${what} has exactly one kind, got ${present.join(' and ')} (split it into several ${what}s)`,
        })
    })
    .meta({ minProperties: 1, maxProperties: 1 })
}

export const Impairment = z.strictObject({
  delay: Duration.optional(),
  jitter: Duration.optional(),
  loss: Percent.optional(),
  rate: Rate.optional(),
  duplicate: Percent.optional(),
  corrupt: Percent.optional(),
  reorder: Percent.optional(),
  direction: z
    .enum(['both', 'forward', 'reverse'])
    .optional()
    .meta({ description: 'forward: first->second of `between`; reverse: the other way; both (default).' }),
})

const Process = z.strictObject({
  name: NodeName.meta({ description: 'Name to stop it by, and in reports.' }),
  cmd: Argv,
  ready: z
    .strictObject({
      output: regex('', 'A regular expression its stdout or stderr must match.'),
      timeout: Duration.optional(),
    })
    .optional()
    .meta({ description: 'Wait until the process prints this before going on.' }),
})

const NodeSpec = z.strictObject({
  bare: z
    .boolean()
    .optional()
    .meta({ description: 'Leave the namespace as the kernel makes it: lo down, no sysctls (hosts only).' }),
  dns: z
    .strictObject({
      nameservers: z.array(Ip).min(1),
      search: z.array(z.string()).optional(),
    })
    .optional()
    .meta({
      description: 'Written to /etc/netns/NAME/resolv.conf: what programs in this host resolve with.',
    }),
  hosts: z
    .record(z.string(), address('ip', true))
    .optional()
    .meta({ description: 'Written to /etc/netns/NAME/hosts: name -> address, or -> ${node.addr.peer}.' }),
  processes: z.array(Process).optional().meta({ description: 'Started once the topology is up.' }),
  networkManager: z.boolean().optional().meta({
    description:
      "Run NetworkManager in this host, on a private D-Bus, managing only this host's devices (nm steps drive it).",
  }),
})

const SWITCH_SIZE = `a switch holds 1 to ${BRIDGE_MAX_PORTS} members (a Linux bridge takes at most ${BRIDGE_MAX_PORTS} ports)`

const SwitchSpec = z.strictObject({
  subnet: Cidr.optional(),
  subnet6: Cidr.optional(),
  members: z
    .number()
    .int({ error: SWITCH_SIZE })
    .min(1, { error: SWITCH_SIZE })
    .max(BRIDGE_MAX_PORTS, { error: SWITCH_SIZE })
    .optional()
    .meta({ description: 'Sizes the subnet (default 254; at most 1024, the ports of a Linux bridge).' }),
})

const Nodes = <S extends z.ZodType>(spec: S) =>
  z.union([z.array(NodeName), z.record(NodeName, spec.nullable())], {
    error: 'expected a list of names, or a map of name -> settings',
  })

export const Link = z.union(
  [
    Pair,
    z.strictObject({
      between: Pair,
      subnet: Cidr.optional(),
      subnet6: Cidr.optional(),
      addresses: z
        .record(NodeName, z.union([Ipv4, z.strictObject({ v4: Ipv4.optional(), v6: Ipv6.optional() })]))
        .optional()
        .meta({ description: 'Per end: an IPv4 address, or { v4, v6 }.' }),
      mtu: z.number().int().min(68).max(65535).optional(),
      impair: Impairment.optional(),
    }),
  ],
  { error: 'a link is [a, b] or { between: [a, b], ... }' },
)

const TunnelName = NodeName.meta({ description: 'A tunnel of the topology.' })

export const TunnelSpec = z
  .strictObject({
    between: Pair.meta({ description: 'The two ends: the server (a) first, the client (b) second.' }),
    type: z.enum(['openvpn', 'wireguard', 'ipsec']),
    name: TunnelName.optional().meta({ description: 'For steps and reports (default <type>-<a>-<b>).' }),
    mode: z.enum(['split', 'full']).optional().meta({
      description:
        "split (default): only `routes` go through the tunnel; full: the client's default route does, its route to the server's outer address stays on the underlay.",
    }),
    subnet: Cidr.optional().meta({
      description: 'Inner IPv4 subnet (default 100.64.N.0/24): the server gets .1, the client .2.',
    }),
    routes: z.array(Cidr).optional().meta({
      description:
        'Subnets behind the server that the client reaches through the tunnel (OpenVPN pushes them).',
    }),
    dns: z
      .strictObject({ nameservers: z.array(Ip).min(1), search: z.array(z.string()).optional() })
      .optional()
      .meta({
        description:
          "The client's DNS while the tunnel is up (OpenVPN pushes it), in its /etc/netns resolv.conf.",
      }),
    mtu: z.number().int().min(576).max(65535).optional().meta({ description: 'MTU of the tunnel devices.' }),
    port: z.number().int().min(1).max(65535).optional().meta({ description: 'UDP port of the server end.' }),
  })
  .meta({
    description:
      'A VPN tunnel between two hosts or routers that reach each other (built after links and NAT).',
  })

export const Topology = z.strictObject({
  hosts: Nodes(NodeSpec).optional(),
  routers: Nodes(NodeSpec).optional(),
  switches: Nodes(SwitchSpec).optional(),
  links: z.array(Link).optional(),
  nat: z
    .array(z.strictObject({ router: NodeName, outside: NodeName }))
    .optional()
    .meta({ description: 'Masquerade what `router` forwards out towards `outside`.' }),
  tunnels: z.array(TunnelSpec).optional(),
})

const Match = z.union(
  [
    z.string(),
    z.strictObject({
      contains: z.string().optional(),
      notContains: z.string().optional(),
      matches: regex('m', 'A regular expression (multiline: ^ and $ match at each line).').optional(),
      equals: z.string().optional(),
    }),
  ],
  { error: 'expected text it must contain, or { contains | notContains | matches | equals }' },
)

const Endpoints = { from: NodeName, to: NodeName }

const ReachSpec = z.strictObject({
  ...Endpoints,
  protocol: z.enum(['icmp', 'tcp', 'udp', 'http']).optional(),
  port: z.number().int().min(0).max(65535).optional(),
  family: Family.optional(),
  timeout: Duration.optional(),
})

const EventSpec = z.strictObject({
  host: NodeName,
  kind: z.enum(['link', 'address', 'route', 'neigh']),
  action: z.enum(['new', 'del']).optional(),
  link: NodeName.optional().meta({ description: 'The device facing this node.' }),
  device: z.string().optional(),
  state: z.enum(['up', 'down']).optional().meta({ description: 'Operational state of a link event.' }),
  address: address('prefix', true).optional().meta({
    description: 'An address event: this address (a prefix length is ignored); a neigh event: its address.',
  }),
  dst: address('route', true)
    .optional()
    .meta({ description: 'A route event: its destination as the kernel prints it (10.0.0.0/24, default).' }),
  timeout: Duration.optional().meta({ description: 'How long to wait for it if not seen yet (default 2s).' }),
})

const Port = z.number().int().min(0).max(65535)

/** A node (all its addresses), an address or a subnet; several as a list. */
const PacketEnd = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
    error: 'expected a node name, an address or a subnet (10.0.0.0/24), or a list of them',
  })
  .meta({
    description:
      'A node (any of its addresses, tunnel addresses included), an address, or a subnet such as 10.0.0.0/24; a list means any of them.',
  })

const PacketProtocol = z.enum(PROTOCOLS)

export interface PacketMatchSpec {
  protocol?: z.infer<typeof PacketProtocol> | z.infer<typeof PacketProtocol>[]
  from?: string | string[]
  to?: string | string[]
  host?: string | string[]
  port?: number
  srcPort?: number
  dstPort?: number
  icmpType?: string | number
  icmpCode?: number
  not?: PacketMatchSpec | PacketMatchSpec[]
}

export const PacketMatch: z.ZodType<PacketMatchSpec> = z
  .strictObject({
    protocol: z
      .union([PacketProtocol, z.array(PacketProtocol).min(1)], {
        error: `expected a protocol (${PROTOCOLS.join(', ')}) or a list of them`,
      })
      .optional()
      .meta({ description: 'ip is IPv4, ip6 IPv6 (as in pcap filters); a list means any of them.' }),
    from: PacketEnd.optional().meta({ description: 'Source (ARP: sender).' }),
    to: PacketEnd.optional().meta({ description: 'Destination (ARP: target).' }),
    host: PacketEnd.optional().meta({ description: 'Source or destination.' }),
    port: Port.optional().meta({ description: 'TCP or UDP source or destination port.' }),
    srcPort: Port.optional(),
    dstPort: Port.optional(),
    icmpType: z
      .union([z.enum(Object.keys(ICMP_NAMES) as [string, ...string[]]), z.number().int().min(0).max(255)], {
        error: `expected an ICMP message (${Object.keys(ICMP_NAMES).join(', ')}) or a type number 0-255`,
      })
      .optional()
      .meta({
        description:
          'ICMP or ICMPv6 message by name (frag-needed: IPv4 3/4, packet-too-big: ICMPv6 2, echo-request...) or type number.',
      }),
    icmpCode: z.number().int().min(0).max(255).optional(),
    get not(): z.ZodOptional<z.ZodType<PacketMatchSpec | PacketMatchSpec[]>> {
      return z
        .union([PacketMatch, z.array(PacketMatch).min(1)])
        .optional()
        .meta({ description: 'Packets that match this filter (or any of a list of them) are left out.' })
    },
  })
  .meta({ description: 'Every field given must hold.' })

const Count = z
  .union(
    [
      z.number().int().nonnegative(),
      z
        .strictObject({
          min: z.number().int().nonnegative().optional(),
          max: z.number().int().nonnegative().optional(),
        })
        .refine((c) => c.min !== undefined || c.max !== undefined, { error: 'give min, max or both' })
        .refine((c) => c.min === undefined || c.max === undefined || c.min <= c.max, {
          error: 'min is above max',
        }),
    ],
    { error: 'expected a number of packets (exactly), or { min, max }' },
  )
  .meta({ description: 'How many packets must match: exactly N, or { min: N } / { max: N } / both.' })

const PacketsOn = z
  .union(
    [
      NodeName,
      z.strictObject({ between: Pair }),
      z.strictObject({ node: NodeName, device: z.string().min(1).optional() }),
    ],
    { error: "expected a node, { between: [a, b] } (a's end of that link) or { node, device }" },
  )
  .meta({
    description:
      "Where to look: a node (every device but lo), { between: [a, b] } (a's device facing b), or { node, device } (one device by name, e.g. a tunnel's).",
  })

const PacketsSpec = z
  .strictObject({
    on: PacketsOn,
    direction: z
      .enum(['in', 'out', 'both'])
      .optional()
      .meta({ description: 'out: sent by the node on that device; in: received there; both (default).' }),
    match: PacketMatch.optional().meta({ description: 'Which packets count (default: all).' }),
    count: Count,
    since: NodeName.optional().meta({
      description:
        'Only packets captured after the `mark:` step of this name (default: since the lab was created).',
    }),
  })
  .meta({
    description:
      'Count captured packets on a node or a link end. A scenario with one captures its lab in memory (also with --no-capture).',
  })

export const ExpectationShape = {
  reach: ReachSpec,
  notReach: ReachSpec,
  ping: z.strictObject({
    ...Endpoints,
    count: z.number().int().positive().optional(),
    interval: Duration.optional(),
    size: z.number().int().nonnegative().optional(),
    dontFragment: z.boolean().optional(),
    family: Family.optional(),
    loss: z.strictObject({ min: Percent.optional(), max: Percent.optional() }).optional(),
    rtt: z.strictObject({ min: Duration.optional(), max: Duration.optional() }).optional(),
    timeout: Duration.optional().meta({
      description:
        'How long to wait for replies after the last request (default 1s); a slow machine needs more.',
    }),
  }),
  tcp: z.strictObject({
    ...Endpoints,
    port: z.number().int().min(0).max(65535).optional(),
    ok: z.boolean().optional().meta({ description: 'false: the transfer must fail (default true).' }),
    bytes: Size.optional().meta({
      description: 'Send this much and get it echoed back (default a short line).',
    }),
    peer: NodeName.optional().meta({
      description: "The server must see the connection coming from this node's address (NAT).",
    }),
    family: Family.optional(),
    timeout: Duration.optional(),
  }),
  udp: z.strictObject({
    ...Endpoints,
    port: z.number().int().min(0).max(65535).optional(),
    ok: z.boolean().optional(),
    family: Family.optional(),
    timeout: Duration.optional(),
  }),
  exec: z.strictObject({
    host: NodeName,
    cmd: Argv,
    code: z.number().int().optional().meta({ description: 'Expected exit code (default 0).' }),
    stdout: Match.optional(),
    stderr: Match.optional(),
    timeout: Duration.optional(),
  }),
  event: EventSpec,
  session: z.strictObject({
    name: NodeName,
    alive: z.boolean().meta({ description: 'true: the TCP session still echoes data.' }),
  }),
  throughput: z.strictObject({
    ...Endpoints,
    bytes: Size.optional(),
    min: Rate.optional(),
    max: Rate.optional(),
    timeout: Duration.optional(),
  }),
  pmtu: z.strictObject({
    ...Endpoints,
    equals: z.number().int().optional(),
    min: z.number().int().optional(),
    max: z.number().int().optional(),
  }),
  devices: z.strictObject({
    host: NodeName,
    only: z.array(z.string()).optional().meta({ description: 'Exactly these devices, no others.' }),
    has: z.array(z.string()).optional(),
    lacks: z.array(z.string()).optional(),
    up: z.array(z.string()).optional(),
    down: z.array(z.string()).optional(),
  }),
  netns: z.strictObject({
    host: NodeName,
    exists: z.boolean().optional(),
    processes: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .meta({ description: 'How many processes live in it.' }),
  }),
  tunnel: z
    .strictObject({
      name: TunnelName,
      up: z.boolean().optional().meta({ description: 'The tunnel is up (true) or was taken down (false).' }),
      implementation: Match.optional().meta({
        description: 'What runs it: kernel or wireguard-go (WireGuard), openvpn 2.x (OpenVPN).',
      }),
      pushedRoutes: z
        .array(Cidr)
        .optional()
        .meta({ description: 'OpenVPN: exactly these routes were pushed to the client.' }),
      pushedDns: z
        .array(Ip)
        .optional()
        .meta({ description: 'OpenVPN: exactly these DNS servers were pushed to the client.' }),
    })
    .meta({ description: 'A tunnel of the topology: its state, implementation, what its server pushed.' }),
  socket: z
    .strictObject({
      createdIn: NodeName,
      usedFrom: NodeName.meta({
        description: 'A worker thread living in this node connects with the socket.',
      }),
      to: NodeName,
      port: z.number().int().min(0).max(65535).optional(),
    })
    .meta({
      description:
        "A TCP socket created in one namespace, handed to a thread in another, must still leave through the first one's devices.",
    }),
  packets: PacketsSpec,
  nm: z
    .strictObject({
      host: NodeName,
      vpn: NodeName,
      state: z.enum(['activating', 'activated', 'deactivating', 'deactivated']).meta({
        description:
          "The VPN connection's state as NetworkManager reports it (deactivated: no active connection).",
      }),
      routes: z
        .array(Cidr)
        .optional()
        .meta({ description: "Routes in the VPN's Ip4Config, as NetworkManager published them." }),
      nameservers: z.array(Ip).optional(),
    })
    .meta({ description: 'What NetworkManager in a host says about a VPN connection.' }),
}

export const Expectation = oneOf(ExpectationShape, 'expectation')

export const StepShape = {
  run: z.strictObject({
    host: NodeName,
    cmd: Argv,
    code: z.number().int().optional().meta({ description: 'Required exit code (default 0).' }),
    timeout: Duration.optional(),
  }),
  start: z.strictObject({ host: NodeName, ...Process.shape }),
  stop: z.strictObject({ name: NodeName }),
  link: z.strictObject({ between: Pair, state: z.enum(['up', 'down']) }),
  flap: z.strictObject({
    between: Pair,
    down: Duration.optional(),
    times: z.number().int().positive().optional(),
  }),
  mtu: z.strictObject({ between: Pair, mtu: z.number().int().min(68).max(65535) }),
  impair: z.strictObject({ between: Pair, ...Impairment.shape }),
  partition: z.tuple([z.array(NodeName).min(1), z.array(NodeName).min(1)], {
    error: 'a partition is two groups of nodes: [[a, b], [c]]',
  }),
  heal: z.literal(true, { error: 'write `heal: true`' }),
  sysctl: z.strictObject({ host: NodeName, set: z.record(z.string(), z.union([z.string(), z.number()])) }),
  route: z.strictObject({
    host: NodeName,
    to: Cidr,
    via: z.string().optional().meta({ description: 'A node (its address facing host) or an address.' }),
    action: z.enum(['add', 'replace', 'delete']).optional(),
    type: z.enum(['unicast', 'blackhole', 'unreachable']).optional(),
  }),
  move: z.strictObject({
    device: z.string(),
    from: NodeName,
    to: NodeName,
  }),
  session: z.strictObject({
    name: NodeName,
    ...Endpoints,
    port: z.number().int().min(0).max(65535).optional(),
  }),
  wait: z.strictObject({
    until: Expectation,
    timeout: Duration.optional().meta({ description: 'Default 10s.' }),
  }),
  tunnel: z.strictObject({ name: TunnelName, state: z.enum(['up', 'down']) }).meta({
    description: 'Take a tunnel down (its client dies) or bring it back up (resolves once it is up).',
  }),
  nm: z
    .strictObject({
      host: NodeName.meta({ description: 'A host with networkManager: true.' }),
      vpn: NodeName.meta({ description: 'The VPN connection (its connection.id in NetworkManager).' }),
      action: z.enum(['add-openvpn', 'activate', 'deactivate', 'kill-plugin']).meta({
        description:
          'add-openvpn: start an OpenVPN server in `server` and add the connection; activate/deactivate it over D-Bus; kill-plugin: SIGKILL nm-openvpn-service, as a crash would.',
      }),
      server: NodeName.optional().meta({
        description: 'add-openvpn: the host that runs the OpenVPN server.',
      }),
      subnet: Cidr.optional().meta({
        description: 'add-openvpn: the client address pool (default 10.8.0.0/24).',
      }),
      routes: z.array(Cidr).optional().meta({ description: 'add-openvpn: routes the server pushes.' }),
      dns: z.array(Ip).optional().meta({ description: 'add-openvpn: nameservers the server pushes.' }),
      domain: z.string().optional().meta({ description: 'add-openvpn: the DNS domain the server pushes.' }),
    })
    .meta({ description: "Drive a host's NetworkManager over its private D-Bus, as nmcli would." }),
  sleep: Duration,
  mark: NodeName.meta({
    description: 'Name this moment: a `packets` expectation with `since: NAME` counts only what came after.',
  }),
  expect: z.array(Expectation).min(1),
}

export const Step = oneOf(StepShape, 'step')

export const KernelFeature = z.enum(['netem', 'tbf', 'nftables', 'xfrm-state'])

export const Scenario = z.strictObject({
  name: z.string().optional(),
  description: z.string().optional(),
  needs: z
    .array(KernelFeature)
    .optional()
    .meta({ description: 'Kernel features checked before anything is built (missing: exit 3).' }),
  timeout: Duration.optional().meta({ description: 'The whole scenario (default 2m).' }),
  capture: z.enum(['off', 'on-failure', 'always']).optional().meta({
    description:
      'When `nslab run` writes a pcapng of every lab link and the trace page beside it: on-failure (default), always, or off. `nslab run --capture DIR` (or --trace DIR) says where.',
  }),
  trace: z.enum(['off', 'on-failure', 'always']).optional().meta({
    description:
      'The same as `capture:` (the trace page links to the pcapng, so they are written together); when both are given, `trace:` wins.',
  }),
  topology: Topology,
  steps: z.array(Step).optional(),
  expect: z.array(Expectation).optional(),
})

export type Scenario = z.infer<typeof Scenario>
export type Step = z.infer<typeof Step>
export type Expectation = z.infer<typeof Expectation>
export type Topology = z.infer<typeof Topology>
export type LinkSpec = z.infer<typeof Link>
export type NodeSpec = z.infer<typeof NodeSpec>
export type SwitchSpec = z.infer<typeof SwitchSpec>
export type ImpairmentSpec = z.infer<typeof Impairment>
export type MatchSpec = z.infer<typeof Match>
export type EventSpec = z.infer<typeof EventSpec>
export type PacketsSpec = z.infer<typeof PacketsSpec>
export type TunnelSpec = z.infer<typeof TunnelSpec>
export type StepKind = keyof typeof StepShape
export type ExpectationKind = keyof typeof ExpectationShape

/** The JSON Schema editors use (yaml-language-server, VS Code). */
export function scenarioJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(Scenario, { target: 'draft-2020-12', unrepresentable: 'any', io: 'input' }),
    $id: 'https://nslab.dev/scenario.schema.json',
    title: 'nslab scenario',
  }
}
