/**
 * xfrm interfaces (`ip link add NAME type xfrm dev LOWER if_id N`): a device
 * that routes pick, whose traffic goes through the states and policies that
 * carry the same if_id. The kernel refuses if_id 0.
 */
import { NLM_F, RTM } from './codec/constants.js'
import { encodeLink } from './codec/messages/link.js'
import type { NetlinkSocket } from './transport/socket.js'

/** IFLA_XFRM_* (include/uapi/linux/if_link.h). */
export const IFLA_XFRM = { UNSPEC: 0, LINK: 1, IF_ID: 2, COLLECT_METADATA: 3 } as const

export interface XfrmInterfaceOptions {
  ifId: number
  /** Index of the underlay device (optional since Linux 5.x). */
  lower?: number
  mtu?: number
}

export async function createXfrmInterface(
  sock: NetlinkSocket,
  name: string,
  options: XfrmInterfaceOptions,
): Promise<void> {
  const payload = encodeLink({
    name,
    mtu: options.mtu,
    info: {
      kind: 'xfrm',
      data: (w) => {
        if (options.lower !== undefined) w.u32(IFLA_XFRM.LINK, options.lower)
        w.u32(IFLA_XFRM.IF_ID, options.ifId)
      },
    },
  })
  await sock.request(RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL, payload, {
    op: 'create xfrm link',
    object: `${name} (if_id ${options.ifId})`,
  })
}
