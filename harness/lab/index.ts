export {
  Lab,
  type LinkOptions,
  type Host,
  type LabOptions,
  type Router,
  type Switch,
  type SwitchOptions,
} from './lab.js'
export { LabNode, type NodeKind, type Port } from './node.js'
export { TopologyError } from './errors.js'
export { AddressPlan, PlanError, parseSubnet, overlaps, contains, hostAddress, capacity } from './plan.js'
export { computeRoutes, type PlannedRoute } from './routes.js'
export { deviceName, netnsName } from './names.js'
