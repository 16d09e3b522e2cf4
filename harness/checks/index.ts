export { ping, pingEach, replyBuffer, type PingOptions, type PingResult } from './ping.js'
export {
  type Expected,
  type MatrixHost,
  type MatrixPair,
  type MatrixOptions,
  type ReachabilityMatrix,
  formatMatrix,
  matrixDiff,
  reachabilityMatrix,
} from './matrix.js'
export { type EchoResult, tcpEcho, udpEcho, httpCheck } from './echo.js'
export { pathMtu } from './pmtu.js'
export { socketCrossing, type CrossingOptions, type CrossingResult } from './crossing.js'
export { tcpThroughput, type ThroughputResult } from './throughput.js'
