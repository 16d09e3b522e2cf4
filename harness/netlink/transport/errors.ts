import { errnoName, errnoText } from '../../sys/errno.js'

/** What a request was about, for error messages: "create link a-eth0". */
export interface RequestContext {
  /** The operation, as a verb phrase: 'create link', 'add address', 'dump routes'. */
  op: string
  /** The object, when there is one: 'a-eth0', '198.18.0.1/30 on a-eth0'. */
  object?: string
}

/** The kernel refused a netlink request. */
export class NetlinkError extends Error {
  override readonly name = 'NetlinkError'
  /** Positive errno (17 for EEXIST). */
  readonly errno: number
  /** Symbolic errno (EEXIST). */
  readonly code: string
  readonly op: string
  readonly object: string | undefined
  /** The namespace the request ran in. */
  readonly netns: string
  /** The kernel's own explanation (extended ack), when it gave one. */
  readonly kernelMessage: string | undefined
  /** Byte offset in the request of the attribute the kernel blamed, if any. */
  readonly offset: number | undefined
  /** Attribute type the kernel said was missing, if any. */
  readonly missingAttribute: number | undefined

  constructor(
    errno: number,
    context: RequestContext,
    netns: string,
    ext: { message?: string; offset?: number; missingType?: number } = {},
  ) {
    const code = errnoName(errno)
    super(`${code}: ${describe(context, netns)}: ${ext.message ?? plain(code, errno)}${hint(code, context)}`)
    this.errno = errno
    this.code = code
    this.op = context.op
    this.object = context.object
    this.netns = netns
    this.kernelMessage = ext.message
    this.offset = ext.offset
    this.missingAttribute = ext.missingType
  }
}

function describe({ op, object }: RequestContext, netns: string): string {
  const what = object ? `${op} ${object}` : op
  return `${what} in namespace ${netns}`
}

function plain(code: string, errno: number): string {
  if (code === 'EEXIST') return 'it already exists'
  if (code === 'ENODEV') return 'no such device'
  return errnoText(errno)
}

function hint(code: string, { op }: RequestContext): string {
  if (code === 'EPERM') return ' (nslab needs CAP_NET_ADMIN; run as root)'
  if (code === 'EEXIST' && op.startsWith('create')) return ' (left by a crashed run? run: nslab gc)'
  if (code === 'EOPNOTSUPP' || (code === 'ENOENT' && op.startsWith('create')))
    return ' (the kernel may lack this feature; run the suite in the VM runner for a full kernel)'
  return ''
}

/** The socket was closed, or lost replies, before the kernel answered. */
export class NetlinkTransportError extends Error {
  override readonly name = 'NetlinkTransportError'
}
