/**
 * nslab's vpn layer: tunnel drivers for `lab.tunnel(a, b, { type })`,
 * registered on import (harness/index.ts imports this, so `import { Lab }
 * from 'nslab'` has them).
 */
import { registerTunnelDriver } from '../lab/tunnel.js'
import { openvpnDriver } from './openvpn.js'
import { wireguardDriver } from './wireguard.js'
import { ipsecDriver } from './ipsec.js'

registerTunnelDriver(openvpnDriver)
registerTunnelDriver(wireguardDriver)
registerTunnelDriver(ipsecDriver)

export { OpenVpnTunnel, openvpnDriver, openvpnVersion } from './openvpn.js'
export {
  WG_SOCKET_DIR,
  type WireGuardImplementation,
  WireGuardTunnel,
  wireguardDriver,
  wireguardImplementation,
} from './wireguard.js'
export { type WgKeyPair, wgKeyPair } from './wireguard-keys.js'
export { tunnelKernelFeatures } from './kernel.js'
export {
  type PushedConfig,
  type PushedRoute,
  parseEnvDump,
  parsePushReply,
  pushedConfig,
} from './openvpn-env.js'
export { type CertFiles, type Pki, createPki } from './pki.js'
export { type TunnelDns, resolvConf } from './dns.js'
export { type TunnelMode, type VpnTunnelOptions } from './options.js'
export { WORKDIR_PREFIX } from './workdir.js'
export { type OpenVpnServer, type OpenVpnServerOptions, startOpenVpnServer } from './openvpn-server.js'
