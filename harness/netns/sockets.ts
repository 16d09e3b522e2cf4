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
import type { NetnsRef } from './handle.js'
import { socketIn } from './socket.js'

function familyOf(host: string): 4 | 6 {
  if (net.isIPv4(host)) return 4
  if (net.isIPv6(host)) return 6
  throw new TypeError(
    `${JSON.stringify(host)} is not a literal IP address (names would be resolved outside the namespace; pass an address)`,
  )
}

function boundSocket(ns: NetnsRef, type: number, host: string, port: number, reuse: boolean): number {
  const family = familyOf(host)
  const fd = socketIn(ns, family === 6 ? AF_INET6 : AF_INET, type)
  try {
    if (reuse) setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, 1)
    if (family === 6 && host === '::') setsockoptInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0)
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
  const fd = boundSocket(ns, SOCK_STREAM, options.host ?? '::', options.port ?? 0, true)
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
    ? boundSocket(ns, SOCK_STREAM, options.localAddress, 0, false)
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
  /** Address to bind (default `::`, dual-stack). */
  host?: string
}

/** A bound dgram.Socket whose OS socket lives in the namespace. */
export function bindUdpIn(ns: NetnsRef, options: UdpOptions = {}): dgram.Socket {
  const host = options.host ?? '::'
  const fd = boundSocket(ns, SOCK_DGRAM, host, options.port ?? 0, false)
  const socket = dgram.createSocket({ type: familyOf(host) === 6 ? 'udp6' : 'udp4' })
  socket.bind({ fd })
  return socket
}
