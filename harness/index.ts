/**
 * nslab: a network lab and test harness on Linux network namespaces.
 *
 * The `Lab` (topologies of hosts, links, switches and routers) is built on the
 * layers re-exported here; until it lands, this entry gives the namespace
 * layer (`nslab/netns`) and the typed system errors.
 */
export * from './netns/index.js'
export { SysError, isSysError } from './sys/errors.js'
export { errnoName, errnoText } from './sys/errno.js'
