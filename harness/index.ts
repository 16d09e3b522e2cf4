/**
 * nslab: a network lab and test harness on Linux network namespaces.
 *
 * `Lab` builds topologies of hosts, routers and switches; the namespace
 * layer (`nslab/netns`) and the typed system errors come along.
 */
export * from './lab/index.js'
export * from './checks/index.js'
export * from './netns/index.js'
export { SysError, isSysError } from './sys/errors.js'
export { errnoName, errnoText } from './sys/errno.js'
export * from './vpn/index.js'
export {
  Capture,
  CaptureDeviceError,
  PcapngWriteError,
  SECRETS_TYPE,
  buildPcapng,
  type CaptureOptions,
  type CaptureStats,
  type CaptureTarget,
  type CapturedPacket,
  type WritePcapngOptions,
} from './capture/index.js'
