/**
 * The rtnetlink client bound to one namespace (vishvananda's NewHandleAt):
 * one socket opened inside the namespace, and the per-object operations on it.
 * Nothing switches threads per call; the socket already lives there.
 */
import type { NetnsRef } from '../netns/index.js'
import * as addr from './addr.js'
import { OperUpWatch } from './carrier.js'
import { type EventGroup, EventSubscription, type EventWatcher, watchMessagesOn } from './events.js'
import { DROP_LOCAL_TABLE_ROUTES } from './transport/local-routes-filter.js'
import type { RawMessage } from './codec/header.js'
import * as link from './link.js'
import * as neigh from './neigh.js'
import * as route from './route.js'
import { NetlinkSocket } from './transport/socket.js'

export class Netlink {
  readonly socket: NetlinkSocket
  private readonly ref: NetnsRef | undefined

  private constructor(socket: NetlinkSocket, ref: NetnsRef | undefined) {
    this.socket = socket
    this.ref = ref
  }

  /** Open a client in a namespace (default: the calling thread's). */
  static open(netns?: NetnsRef): Netlink {
    return new Netlink(NetlinkSocket.open({ netns }), netns)
  }

  get netns(): string {
    return this.socket.netns
  }

  createVeth(o: link.VethOptions): Promise<void> {
    return link.createVeth(this.socket, o)
  }
  createBridge(name: string, o?: Parameters<typeof link.createBridge>[2]): Promise<void> {
    return link.createBridge(this.socket, name, o)
  }
  createVxlan(name: string, o: Parameters<typeof link.createVxlan>[2]): Promise<void> {
    return link.createVxlan(this.socket, name, o)
  }
  createMacvlan(name: string, o: Parameters<typeof link.createMacvlan>[2]): Promise<void> {
    return link.createMacvlan(this.socket, name, o)
  }
  createLink(name: string, kind: string, mtu?: number): Promise<void> {
    return link.createLink(this.socket, name, kind, mtu)
  }
  setLink(l: link.LinkRef, change: link.LinkChange): Promise<void> {
    return link.setLink(this.socket, l, change)
  }
  moveLink(l: link.LinkRef, target: link.NetnsTarget, newName?: string): Promise<void> {
    return link.moveLink(this.socket, l, target, newName)
  }
  deleteLink(l: link.LinkRef): Promise<void> {
    return link.deleteLink(this.socket, l)
  }
  getLink(l: link.LinkRef): Promise<link.Link> {
    return link.getLink(this.socket, l)
  }
  listLinks(): Promise<link.Link[]> {
    return link.listLinks(this.socket)
  }

  addAddress(index: number, cidr: string, o?: addr.AddAddressOptions): Promise<void> {
    return addr.addAddress(this.socket, index, cidr, o)
  }
  deleteAddress(index: number, cidr: string): Promise<void> {
    return addr.deleteAddress(this.socket, index, cidr)
  }
  listAddresses(filter?: Parameters<typeof addr.listAddresses>[1]): Promise<addr.Address[]> {
    return addr.listAddresses(this.socket, filter)
  }

  addRoute(spec: route.RouteSpec): Promise<void> {
    return route.addRoute(this.socket, spec)
  }
  replaceRoute(spec: route.RouteSpec): Promise<void> {
    return route.replaceRoute(this.socket, spec)
  }
  deleteRoute(spec: route.RouteSpec): Promise<void> {
    return route.deleteRoute(this.socket, spec)
  }
  listRoutes(filter?: Parameters<typeof route.listRoutes>[1]): Promise<route.Route[]> {
    return route.listRoutes(this.socket, filter)
  }

  addNeighbour(entry: Parameters<typeof neigh.addNeighbour>[1]): Promise<void> {
    return neigh.addNeighbour(this.socket, entry)
  }
  deleteNeighbour(entry: Parameters<typeof neigh.deleteNeighbour>[1]): Promise<void> {
    return neigh.deleteNeighbour(this.socket, entry)
  }
  listNeighbours(filter?: Parameters<typeof neigh.listNeighbours>[1]): Promise<neigh.Neighbour[]> {
    return neigh.listNeighbours(this.socket, filter)
  }

  /**
   * Watch links (by index) until they are operationally up, on this handle's
   * own socket: call before bringing them up, then `await watch.done()`.
   */
  watchOperUp(indexes: readonly number[]): OperUpWatch {
    return new OperUpWatch(this.socket, indexes)
  }

  /**
   * Every message of `groups` announced in this namespace from now on,
   * undecoded, on this handle's own socket (no socket, watch or wake-up of
   * their own: they are read with the answers to requests). Until close().
   * `skipLocalTableRoutes`: the kernel's own local-table routes (local,
   * broadcast, multicast; consequences of addresses and links) are dropped
   * by the kernel before they are queued (route dumps on the socket still
   * list them).
   */
  watchMessages(
    groups: readonly EventGroup[],
    onMessage: (m: RawMessage) => void,
    onError?: (err: Error) => void,
    options: { skipLocalTableRoutes?: boolean } = {},
  ): EventWatcher {
    return watchMessagesOn(
      this.socket,
      groups,
      onMessage,
      onError,
      options.skipLocalTableRoutes ? DROP_LOCAL_TABLE_ROUTES : undefined,
    )
  }

  /** Events in the same namespace, on a socket of their own. */
  subscribe(groups: readonly EventGroup[]): EventSubscription {
    return new EventSubscription(this.ref, groups)
  }

  close(): void {
    this.socket.close()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
