/**
 * nslab/netlink: rtnetlink in-process. A pure codec (bytes <-> typed
 * messages), a non-blocking transport (one socket per namespace), the
 * per-object operations and events.
 */
export * as codec from './codec/index.js'
export { NetlinkDecodeError, NetlinkEncodeError, InvalidAddressError } from './codec/errors.js'
export type { RawMessage } from './codec/header.js'
export { NetlinkError, NetlinkTransportError, type RequestContext } from './transport/errors.js'
export { NetlinkSocket, type NetlinkSocketOptions } from './transport/socket.js'
export { Netlink } from './client.js'
export { OperUpWatch } from './carrier.js'
export * from './link.js'
export * from './addr.js'
export * from './route.js'
export * from './neigh.js'
export {
  EventSubscription,
  EventTimeoutError,
  type EventGroup,
  type EventWatcher,
  type NetlinkEvent,
  decodeEvent,
  describeEvent,
  subscribe,
  watchEvents,
  watchMessages,
  watchMessagesOn,
} from './events.js'
// Not netlink (procfs, an ioctl): they live in harness/netns; re-exported so code that imported
// them from nslab/netlink keeps working.
export { createTunTap, getSysctl, setSysctl, setSysctls, sysctlPath } from '../netns/index.js'
export * from './xfrm.js'
export * from './xfrm-interface.js'
