/**
 * nslab/netns: named network namespaces the way iproute2 makes them, thread
 * namespace switching, sockets born in a namespace, and `ip netns exec`.
 */
export { NETNS_ETC_DIR, NETNS_RUN_DIR, NetnsNameError, netnsPath, validateNetnsName } from './names.js'
export { NetnsError } from './errors.js'
export {
  Netns,
  type NetnsId,
  type NetnsRef,
  NotANetnsError,
  openCurrentNetns,
  openNetns,
  openNetnsOfPid,
  openNetnsPath,
  resolveNetns,
  sameNetns,
  usingNetns,
} from './handle.js'
export { NetnsRestoreError, withNetns } from './thread.js'
export { addNetns, deleteNetns, listNetns, netnsExists, prepareNetnsRunDir } from './named.js'
export { socketIn } from './socket.js'
export {
  type BindMount,
  type ExecOptions,
  type ExecResult,
  NetnsProcess,
  type SpawnOptions,
  SpawnError,
  collect,
  exec,
  spawnForExec,
  spawnIn,
  stopExecWorker,
} from './exec.js'
export { type NetnsEvent, monitorNetns } from './monitor.js'
export { getSysctl, setSysctl, setSysctls, sysctlPath } from './sysctl.js'
export { createTunTap } from './tuntap.js'
export { NetnsRuntime, RuntimeError } from './runtime.js'
export {
  type ConnectOptions,
  type ListenOptions,
  type UdpOptions,
  bindUdpIn,
  connectIn,
  listenIn,
} from './sockets.js'
