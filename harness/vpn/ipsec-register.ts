/** Makes `lab.tunnel(a, b, { type: 'ipsec' })` available (imported for its effect by harness/index.ts). */
import { registerTunnelDriver } from '../lab/tunnel.js'
import { ipsecDriver } from './ipsec.js'

registerTunnelDriver(ipsecDriver)
