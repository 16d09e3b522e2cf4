export {
  Lab,
  type LinkOptions,
  type Host,
  type LabOptions,
  type Router,
  type Switch,
  type SwitchOptions,
  type HostOptions,
  type HostSpec,
  type LinkSpec,
  type SwitchSpec,
  type TopologySpec,
} from './lab.js'
export { LabNode, type NodeKind, type Port } from './node.js'
export { TopologyError } from './errors.js'
export { AddressPlan, PlanError, parseSubnet, overlaps, contains, hostAddress, capacity } from './plan.js'
export { computeRoutes, type PlannedRoute } from './routes.js'
export { deviceName, netnsName } from './names.js'
export {
  gc,
  removeLab,
  recordNamespaces,
  LabInUseError,
  LabNotFoundError,
  pidsInNetns,
  type GcReport,
} from './gc.js'
export { listOwners, ownerAlive, markKept, type OwnerRecord } from './owner.js'
export { labState, formatLabState, nodeState, type NodeState } from './state.js'
export { FeatureMissingError, kernelFeatures, type Feature } from './features.js'
export { FEATURE_PROBES, probeFeatures, type FeatureProbe, type FeatureResult } from './probes.js'
export { type Impairment } from './impair.js'
export {
  registerTunnelDriver,
  tunnelDriver,
  type Tunnel,
  type TunnelDriver,
  type TunnelOptions,
} from './tunnel.js'
