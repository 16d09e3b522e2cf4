/**
 * The pure rtnetlink codec: bytes <-> typed messages, no I/O. See DESIGN.md, "harness/netlink".
 */
export * from './constants.js'
export * from './errors.js'
export { HOST_IS_LITTLE_ENDIAN } from './hostorder.js'
export * from './header.js'
export * from './attributes.js'
export * from './address.js'
export * from './messages/link.js'
export * from './messages/addr.js'
export * from './messages/route.js'
export * from './messages/neigh.js'
export * from './nlmsgerr.js'
export * from './message.js'
export * from './xfrm-constants.js'
export * from './messages/xfrm-structs.js'
export * from './messages/xfrm.js'
