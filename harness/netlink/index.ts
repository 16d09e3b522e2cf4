/**
 * nslab/netlink: rtnetlink in-process. A pure codec (bytes <-> typed
 * messages), a non-blocking transport (one socket per namespace), the
 * per-object operations, events, and per-namespace sysctls.
 */
export * as codec from './codec/index.js'
export { NetlinkDecodeError, NetlinkEncodeError, InvalidAddressError } from './codec/errors.js'
export { NetlinkError, NetlinkTransportError, type RequestContext } from './transport/errors.js'
export { NetlinkSocket, type NetlinkSocketOptions } from './transport/socket.js'
export { Netlink } from './handle.js'
export * from './link.js'
export * from './addr.js'
export * from './route.js'
export * from './neigh.js'
export {
  EventSubscription,
  EventTimeoutError,
  type EventGroup,
  type NetlinkEvent,
  decodeEvent,
  subscribe,
} from './events.js'
export { getSysctl, setSysctl, setSysctls, sysctlPath } from './sysctl.js'
export { createTunTap } from './tuntap.js'
export * from './xfrm.js'
export * from './xfrm-interface.js'
