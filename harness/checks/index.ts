export { ping, type PingOptions, type PingResult } from './ping.js'
