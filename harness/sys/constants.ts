/** Linux constants used across nslab (x86_64/aarch64 values; both share these). */

export const CLONE_NEWNS = 0x00020000
export const CLONE_NEWNET = 0x40000000
export const CLONE_FS = 0x00000200

export const O_RDONLY = 0o0
export const O_WRONLY = 0o1
export const O_RDWR = 0o2
export const O_CREAT = 0o100
export const O_EXCL = 0o200
export const O_NONBLOCK = 0o4000
export const O_DIRECTORY = 0o200000
export const O_CLOEXEC = 0o2000000

/** flock(2) operations. */
export const LOCK_SH = 1
export const LOCK_EX = 2
export const LOCK_NB = 4
export const LOCK_UN = 8

export const MS_RDONLY = 1
export const MS_NOSUID = 2
export const MS_NODEV = 4
export const MS_NOEXEC = 8
export const MS_REMOUNT = 32
export const MS_BIND = 4096
export const MS_REC = 16384
export const MS_PRIVATE = 1 << 18
export const MS_SLAVE = 1 << 19
export const MS_SHARED = 1 << 20

export const MNT_DETACH = 2

export const AF_UNIX = 1
export const AF_INET = 2
export const AF_INET6 = 10
export const AF_NETLINK = 16
export const AF_PACKET = 17

export const SOCK_STREAM = 1
export const SOCK_DGRAM = 2
export const SOCK_RAW = 3
export const SOCK_NONBLOCK = 0o4000
export const SOCK_CLOEXEC = 0o2000000

export const IPPROTO_IP = 0
export const IPPROTO_ICMP = 1
export const IPPROTO_TCP = 6
export const IPPROTO_UDP = 17
export const IPPROTO_IPV6 = 41
export const IPPROTO_ICMPV6 = 58

export const SOL_SOCKET = 1
export const SOL_NETLINK = 270
export const SO_REUSEADDR = 2
export const SO_SNDBUF = 7
export const SO_ERROR = 4
export const SO_RCVBUF = 8
export const SO_REUSEPORT = 15
export const SO_SNDBUFFORCE = 32
export const SO_RCVBUFFORCE = 33
export const SO_ATTACH_FILTER = 26
export const SO_DETACH_FILTER = 27
/** Attach an eBPF program by its fd (SO_DETACH_FILTER removes it too). */
export const SO_ATTACH_BPF = 50
export const IPV6_V6ONLY = 26

export const MSG_PEEK = 0x2
export const MSG_TRUNC = 0x20
export const MSG_DONTWAIT = 0x40

/** `_IO(0xb7, 0x3)`: ask an nsfs file descriptor which kind of namespace it refers to. */
export const NS_GET_NSTYPE = 0xb703

export const FIONBIO = 0x5421

/** Interface ioctls (struct ifreq: a 16-byte name, then an int or a union). */
export const SIOCGIFNAME = 0x8910
export const SIOCGIFINDEX = 0x8933

export const PROT_READ = 0x1
export const PROT_WRITE = 0x2
export const MAP_SHARED = 0x01

/** AF_PACKET sockets (linux/if_packet.h, linux/if_ether.h). */
export const SOL_PACKET = 263
export const ETH_P_ALL = 0x0003
export const PACKET_RX_RING = 5
export const PACKET_STATISTICS = 6
export const PACKET_VERSION = 10
export const TPACKET_V3 = 2
/** sll_pkttype values. */
export const PACKET_HOST = 0
export const PACKET_BROADCAST = 1
export const PACKET_MULTICAST = 2
export const PACKET_OTHERHOST = 3
export const PACKET_OUTGOING = 4
/** tp_status / block_status bits. */
export const TP_STATUS_KERNEL = 0
export const TP_STATUS_USER = 1
export const TP_STATUS_LOSING = 4
