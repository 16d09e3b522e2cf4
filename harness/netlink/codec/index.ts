/**
 * The pure rtnetlink codec: bytes <-> typed messages, no I/O. See DESIGN.md, "harness/netlink".
 */
export * from './constants.js'
export * from './errors.js'
export { HOST_IS_LITTLE_ENDIAN } from './hostorder.js'
export * from './header.js'
export * from './attributes.js'
export * from './address.js'
// IP text lives in harness/util/ip.ts; its names stay part of the public codec namespace.
export {
  type Cidr,
  type IpFamily,
  bytesToIp,
  bytesToIpv4,
  bytesToIpv6,
  canonicalIp,
  familyAddressLength,
  formatCidr,
  ipFamily,
  ipToBytes,
  ipv4ToBytes,
  ipv6ToBytes,
  parseCidr,
} from '../../util/ip.js'
export * from './messages/link.js'
export * from './messages/addr.js'
export * from './messages/route.js'
export * from './messages/neigh.js'
export * from './nlmsgerr.js'
export * from './message.js'
export * from './xfrm-constants.js'
export * from './messages/xfrm-structs.js'
export * from './messages/xfrm.js'
