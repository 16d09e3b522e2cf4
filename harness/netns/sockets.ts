/**
 * Node sockets whose OS socket is born inside a namespace and adopted on the
 * calling thread (net.Server, net.Socket, dgram.Socket). They belong to that
 * namespace for life; their traffic leaves through its devices whichever
 * thread uses them.
 */
import dgram from 'node:dgram'
import { once } from 'node:events'
import net from 'node:net'
import {
  AF_INET,
  AF_INET6,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_REUSEADDR,
  bind,
  close,
  listen,
  setsockoptInt,
  sockaddrIp,
} from '../sys/index.js'
import { Netns, type NetnsRef } from './handle.js'
import { socketIn } from './socket.js'

function familyOf(host: string): 4 | 6 {
  if (net.isIPv4(host)) return 4
  if (net.isIPv6(host)) return 6
  throw new TypeError(
    `${JSON.stringify(host)} is not a literal IP address (names would be resolved outside the namespace; pass an address)`,
  )
}

/** `::` and its longer spellings: every IPv6 address, and with IPV6_V6ONLY off every IPv4 one too. */
function isAnyV6(host: string): boolean {
  return /^[0:]+$/.test(host)
}

function boundSocket(
  ns: NetnsRef,
  type: number,
  host: string,
  port: number,
  options: { reuse?: boolean; v6only?: boolean } = {},
): number {
  const family = familyOf(host)
  const fd = socketIn(ns, family === 6 ? AF_INET6 : AF_INET, type)
  try {
    if (options.reuse) setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, 1)
    if (family === 6 && isAnyV6(host)) setsockoptInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.v6only ? 1 : 0)
    bind(fd, sockaddrIp(host, port))
    return fd
  } catch (err) {
    close(fd)
    throw err
  }
}

export interface ListenOptions {
  port?: number
  /** Address to listen on (default `::`, dual-stack). */
  host?: string
  backlog?: number
}

/** A listening net.Server whose socket lives in the namespace. Resolves once listening. */
export async function listenIn(
  ns: NetnsRef,
  options: ListenOptions = {},
  onConnection?: (socket: net.Socket) => void,
): Promise<net.Server> {
  const fd = boundSocket(ns, SOCK_STREAM, options.host ?? '::', options.port ?? 0, { reuse: true })
  try {
    listen(fd, options.backlog ?? 511)
  } catch (err) {
    close(fd)
    throw err
  }
  const server = net.createServer(onConnection)
  server.listen({ fd })
  if (!server.listening) await once(server, 'listening')
  return server
}

export interface ConnectOptions {
  port: number
  /** A literal address (no name lookups: they would happen outside the namespace). */
  host: string
  /** Local address to bind first (optional). */
  localAddress?: string
  /** Give up after this many ms (default 5000). */
  timeout?: number
}

/** A connected net.Socket whose OS socket lives in the namespace. Resolves once connected. */
export async function connectIn(ns: NetnsRef, options: ConnectOptions): Promise<net.Socket> {
  const family = familyOf(options.host)
  const fd = options.localAddress
    ? boundSocket(ns, SOCK_STREAM, options.localAddress, 0)
    : socketIn(ns, family === 6 ? AF_INET6 : AF_INET, SOCK_STREAM)
  const socket = new net.Socket({ fd })
  const timeout = options.timeout ?? 5000
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy()
      reject(
        Object.assign(new Error(`connect to ${options.host}:${options.port} timed out after ${timeout} ms`), {
          code: 'ETIMEDOUT',
        }),
      )
    }, timeout)
    socket.once('error', (err) => {
      clearTimeout(timer)
      socket.destroy()
      reject(err)
    })
    socket.connect({ port: options.port, host: options.host }, () => {
      clearTimeout(timer)
      socket.removeAllListeners('error')
      resolve(socket)
    })
  })
}

export interface UdpOptions {
  port?: number
  /**
   * Address to bind. The default, `::`, is dual-stack: the socket sends to
   * and receives from IPv4 and IPv6 peers alike (IPv4 ones appear as
   * `::ffff:a.b.c.d` in `rinfo`). An IPv4 address makes an IPv4-only socket,
   * any other IPv6 address an IPv6-only one.
   */
  host?: string
  /** The same as `host`, in dgram's own spelling (`socket.bind({ address })`). */
  address?: string
  /** With `::`: IPv6 only (IPV6_V6ONLY), no IPv4 peers. */
  ipv6Only?: boolean
}

function nsLabel(ns: NetnsRef): string {
  if (typeof ns === 'string') return ns
  if (ns instanceof Netns) return ns.label
  return 'path' in ns ? ns.path : `the namespace of pid ${ns.pid}`
}

/**
 * How a UDP socket bound to `host` takes a destination: an IPv4-only socket
 * takes IPv4 addresses (and IPv4-mapped ones, unmapped), an IPv6-only one
 * IPv6 addresses, and a dual-stack one both, IPv4 ones mapped to
 * `::ffff:a.b.c.d` (Node's udp6 sockets map nothing themselves: they refuse
 * an IPv4 literal with EINVAL, reported only to a send callback). Anything
 * else throws, naming the destination, the socket and the fix.
 */
function udpDestination(host: string, ipv6Only: boolean, where: string): (to: string) => string {
  const kind = net.isIPv4(host) ? 'IPv4' : isAnyV6(host) && !ipv6Only ? 'dual' : 'IPv6'
  const bound = `${host}${ipv6Only ? ' with ipv6Only' : ''}`
  return (to) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(to)?.[1]
    const v4 = net.isIPv4(to) ? to : mapped !== undefined && net.isIPv4(mapped) ? mapped : undefined
    if (v4 === undefined && !net.isIPv6(to))
      throw new TypeError(
        `UDP destination ${JSON.stringify(to)} is not a literal IP address (a name would be resolved outside the namespace ${where}; pass an address)`,
      )
    if (kind === 'dual') return v4 === undefined ? to : `::ffff:${v4}`
    if (kind === 'IPv4' && v4 !== undefined) return v4
    if (kind === 'IPv6' && v4 === undefined) return to
    const fix =
      kind === 'IPv4'
        ? "bind it to '::' (dual-stack, the default) or to an IPv6 address"
        : "bind it to '::' without ipv6Only (dual-stack, the default) or to an IPv4 address"
    throw Object.assign(
      new Error(
        `cannot send to ${kind === 'IPv4' ? 'IPv6' : 'IPv4'} address ${to} from a UDP socket bound to ${bound} (${kind} only) in ${where}; ${fix}`,
      ),
      { code: 'EAFNOSUPPORT' },
    )
  }
}

/**
 * A bound dgram.Socket whose OS socket lives in the namespace. Its `send`
 * and `connect` take destinations of the families it can reach (see
 * `UdpOptions.host`) and throw, at the call, for one it cannot.
 */
export function bindUdpIn(ns: NetnsRef, options: UdpOptions = {}): dgram.Socket {
  if (options.host !== undefined && options.address !== undefined && options.host !== options.address)
    throw new TypeError(
      `bindUdp: host ${JSON.stringify(options.host)} and address ${JSON.stringify(options.address)} disagree (they are the same option; give one)`,
    )
  const host = options.host ?? options.address ?? '::'
  const ipv6Only = options.ipv6Only ?? false
  if (ipv6Only && familyOf(host) !== 6)
    throw new TypeError(`bindUdp: ipv6Only needs an IPv6 address to bind, not ${host}`)
  const fd = boundSocket(ns, SOCK_DGRAM, host, options.port ?? 0, { v6only: ipv6Only })
  const socket = dgram.createSocket({ type: familyOf(host) === 6 ? 'udp6' : 'udp4' })
  socket.bind({ fd })
  const destination = udpDestination(host, ipv6Only, nsLabel(ns))
  // dgram's argument shapes: send(msg, [offset, length,] port, address, cb),
  // connect(port, address, cb). Only a string in the address's place is
  // rewritten; a missing address keeps dgram's default (the loopback).
  const send = socket.send.bind(socket) as (...args: unknown[]) => void
  socket.send = ((...args: unknown[]) => {
    const long = Boolean(args[4]) || (Boolean(args[3]) && typeof args[3] !== 'function') // as dgram decides
    const at = long ? 4 : 2
    if (typeof args[at] === 'string') args[at] = destination(args[at])
    send(...args)
  }) as typeof socket.send
  const connect = socket.connect.bind(socket) as (...args: unknown[]) => void
  socket.connect = ((...args: unknown[]) => {
    if (typeof args[1] === 'string') args[1] = destination(args[1])
    connect(...args)
  }) as typeof socket.connect
  return socket
}
