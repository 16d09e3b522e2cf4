// The floor for bench/run.ts: the same work as the nslab/ip variants, done
// with raw syscalls and batched rtnetlink, no runtime in between.
//
//   floor netns COUNT PREFIX RUNDIR        COUNT x (add PREFIX<i>, delete it)
//   floor many  COUNT PREFIX RUNDIR K      COUNT x (add K namespaces, delete them)
//   floor veth  COUNT PREFIX RUNDIR        for i < COUNT: namespaces PREFIXa<i> and
//                                          PREFIXb<i> exist (made by run.ts); make a veth
//                                          across them, an IPv4 address on each end,
//                                          both ends and both lo up
//   floor veth-seq COUNT PREFIX RUNDIR     the same, one request at a time (send, read its
//                                          ACK, then the next): shows what batching buys
//   floor lab-pair COUNT PREFIX RUNDIR     the Lab pair fixture: 2 named namespaces (lo up,
//                                          the Lab's host sysctls), a veth across with IPv4
//                                          + IPv6 on each end, up, carrier waited for, one
//                                          ICMP echo a->b over a ping socket, both deleted
//   floor lab-star COUNT PREFIX RUNDIR N   a switch namespace with a bridge and N hosts
//                                          linked to it (as lab-pair, the switch end enslaved),
//                                          carriers waited for, then everything deleted
//   floor lab-matrix COUNT PREFIX RUNDIR N builds (untimed) a star of N hosts once; each
//                                          iteration pins permanent neighbour entries for
//                                          every pair and pings every ordered pair once over
//                                          ping sockets (1 s for the replies); prints how many
//                                          answered per iteration as "answered"
//   floor settle 1 - - MAX_MS              waits (up to MAX_MS) until the kernel's deferred work
//                                          is done: the namespaces deleted before tear down in
//                                          cleanup_net under rtnl_lock, so a no-op RTM_SETLINK on
//                                          lo waits behind them; settled once SETTLE_QUIET probes
//                                          in a row, SETTLE_GAP_MS apart, answered within
//                                          SETTLE_FAST_MS; "ms" is how long it waited
//
// Prints {"scenario":..., "ms":[per-iteration milliseconds]} on stdout. Any
// failure prints one line on stderr and exits 1 (run.ts then cleans up by
// prefix). Names are made by the caller; nothing outside PREFIX is touched.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "floor: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *rundir;
static int home_fd = -1;

// ---- named namespaces, as iproute2's ip/ipnetns.c makes them ----

// mkdir RUNDIR; make it a shared mount (bind it onto itself first on EINVAL).
static void prepare_rundir(void) {
  if (mkdir(rundir, 0755) < 0 && errno != EEXIST) die("mkdir %s: %s", rundir, strerror(errno));
  int made = 0;
  while (mount("none", rundir, "none", MS_SHARED | MS_REC, NULL) < 0) {
    if (errno != EINVAL || made) die("mount --make-rshared %s: %s", rundir, strerror(errno));
    if (mount(rundir, rundir, "none", MS_BIND | MS_REC, NULL) < 0)
      die("mount --rbind %s %s: %s", rundir, rundir, strerror(errno));
    made = 1;
  }
}

static void ns_path(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", rundir, name); }

static void netns_add(const char *name) {
  char path[4096];
  ns_path(path, sizeof path, name);
  int fd = open(path, O_RDONLY | O_CREAT | O_EXCL, 0);
  if (fd < 0) die("create %s: %s", path, strerror(errno));
  close(fd);
  if (unshare(CLONE_NEWNET) < 0) die("unshare(CLONE_NEWNET): %s", strerror(errno));
  if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0)
    die("bind-mount onto %s: %s", path, strerror(errno));
  if (setns(home_fd, CLONE_NEWNET) < 0) die("setns back home: %s", strerror(errno));
}

static void netns_delete(const char *name) {
  char path[4096];
  ns_path(path, sizeof path, name);
  if (umount2(path, MNT_DETACH) < 0) die("umount2 %s: %s", path, strerror(errno));
  if (unlink(path) < 0) die("unlink %s: %s", path, strerror(errno));
}

// ---- rtnetlink, several requests in one datagram ----

struct batch {
  char buf[8192];
  size_t len;
  unsigned seq;
  int count;
};

static struct nlmsghdr *msg_begin(struct batch *b, unsigned short type, unsigned short flags, const void *body,
                                  size_t body_len) {
  struct nlmsghdr *h = (struct nlmsghdr *)(b->buf + b->len);
  memset(h, 0, NLMSG_SPACE(body_len));
  h->nlmsg_len = NLMSG_LENGTH(body_len);
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  h->nlmsg_seq = ++b->seq;
  memcpy(NLMSG_DATA(h), body, body_len);
  return h;
}

static void msg_end(struct batch *b, struct nlmsghdr *h) {
  b->len += NLMSG_ALIGN(h->nlmsg_len);
  b->count++;
}

static struct rtattr *attr(struct nlmsghdr *h, unsigned short type, const void *data, size_t len) {
  struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  if (len) memcpy(RTA_DATA(a), data, len);
  memset((char *)RTA_DATA(a) + len, 0, RTA_SPACE(len) - RTA_LENGTH(len));
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_SPACE(len);
  return a;
}

static struct rtattr *nest_begin(struct nlmsghdr *h, unsigned short type) { return attr(h, type, NULL, 0); }
static void nest_end(struct nlmsghdr *h, struct rtattr *a) {
  a->rta_len = (unsigned short)((char *)h + h->nlmsg_len - (char *)a);
}

// A veth: this end named `name` with index `index` in namespace fd `ns`, the
// peer likewise (IFLA_NET_NS_FD on both ends). This end is born up (IFF_UP,
// as `ip link add NAME up type veth ...`); the peer cannot be (the kernel
// configures it before pairing, and an unpaired veth refuses to open).
static void add_veth(struct batch *b, const char *name, int ns, int index, const char *peer, int peer_ns,
                     int peer_index) {
  struct ifinfomsg ifi = {
      .ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
  struct nlmsghdr *h = msg_begin(b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
  attr(h, IFLA_IFNAME, name, strlen(name) + 1);
  attr(h, IFLA_NET_NS_FD, &ns, sizeof ns);
  struct rtattr *info = nest_begin(h, IFLA_LINKINFO);
  attr(h, IFLA_INFO_KIND, "veth", 4);
  struct rtattr *data = nest_begin(h, IFLA_INFO_DATA);
  struct rtattr *p = nest_begin(h, VETH_INFO_PEER);
  struct ifinfomsg pifi = {.ifi_family = AF_UNSPEC, .ifi_index = peer_index};
  // The peer's ifinfomsg sits inside the attribute, before its own attributes.
  memcpy((char *)h + h->nlmsg_len, &pifi, sizeof pifi);
  h->nlmsg_len += NLMSG_ALIGN(sizeof pifi);
  attr(h, IFLA_IFNAME, peer, strlen(peer) + 1);
  attr(h, IFLA_NET_NS_FD, &peer_ns, sizeof peer_ns);
  nest_end(h, p);
  nest_end(h, data);
  nest_end(h, info);
  msg_end(b, h);
}

static void add_addr4(struct batch *b, int index, const char *ip, int prefix) {
  struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = prefix, .ifa_index = index};
  struct in_addr a;
  if (inet_pton(AF_INET, ip, &a) != 1) die("bad address %s", ip);
  struct nlmsghdr *h = msg_begin(b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
  attr(h, IFA_LOCAL, &a, sizeof a);
  attr(h, IFA_ADDRESS, &a, sizeof a);
  msg_end(b, h);
}

static void link_up(struct batch *b, int index) {
  struct ifinfomsg ifi = {
      .ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
  msg_end(b, msg_begin(b, RTM_NEWLINK, 0, &ifi, sizeof ifi));
}

static void send_batch(int sock, struct batch *b, const char *what) {
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t n = sendto(sock, b->buf, b->len, 0, (struct sockaddr *)&kernel, sizeof kernel);
  if (n != (ssize_t)b->len) die("send %s: %s", what, n < 0 ? strerror(errno) : "short write");
}

// Read `want` ACKs; any error code fails the run.
static void read_acks_n(int sock, int want, const char *what) {
  static char buf[65536];
  int acks = 0;
  while (acks < want) {
    ssize_t n = recv(sock, buf, sizeof buf, 0);
    if (n < 0) die("recv %s: %s", what, strerror(errno));
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      struct nlmsgerr *e = NLMSG_DATA(h);
      if (e->error) die("%s: request seq %u: %s", what, h->nlmsg_seq, strerror(-e->error));
      acks++;
    }
  }
}

static void read_acks(int sock, struct batch *b, const char *what) { read_acks_n(sock, b->count, what); }

// Unbatched: each request in its own datagram, its ACK read before the next goes out.
static void send_each(int sock, struct batch *b, const char *what) {
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  for (size_t off = 0; off < b->len;) {
    struct nlmsghdr *h = (struct nlmsghdr *)(b->buf + off);
    size_t len = NLMSG_ALIGN(h->nlmsg_len);
    if (sendto(sock, h, len, 0, (struct sockaddr *)&kernel, sizeof kernel) != (ssize_t)len)
      die("send %s: %s", what, strerror(errno));
    read_acks_n(sock, 1, what);
    off += len;
  }
}

// ---- the Lab's work, for the lab-* scenarios ----

static void add_addr6(struct batch *b, int index, const char *ip, int prefix) {
  struct ifaddrmsg ifa = {
      .ifa_family = AF_INET6, .ifa_prefixlen = prefix, .ifa_flags = IFA_F_NODAD, .ifa_index = index};
  struct in6_addr a;
  if (inet_pton(AF_INET6, ip, &a) != 1) die("bad address %s", ip);
  struct nlmsghdr *h = msg_begin(b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
  attr(h, IFA_LOCAL, &a, sizeof a);
  attr(h, IFA_ADDRESS, &a, sizeof a);
  msg_end(b, h);
}

// Up and enslaved to `master` in one request (a switch port).
static void link_up_master(struct batch *b, int index, int master) {
  struct ifinfomsg ifi = {
      .ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
  struct nlmsghdr *h = msg_begin(b, RTM_NEWLINK, 0, &ifi, sizeof ifi);
  attr(h, IFLA_MASTER, &master, sizeof master);
  msg_end(b, h);
}

// The Lab's bridge: no forward delay, no STP, no multicast snooping; born up.
static void add_bridge(struct batch *b, const char *name, int index) {
  struct ifinfomsg ifi = {
      .ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
  struct nlmsghdr *h = msg_begin(b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
  attr(h, IFLA_IFNAME, name, strlen(name) + 1);
  struct rtattr *info = nest_begin(h, IFLA_LINKINFO);
  attr(h, IFLA_INFO_KIND, "bridge", 6);
  struct rtattr *data = nest_begin(h, IFLA_INFO_DATA);
  unsigned zero = 0;
  unsigned char off = 0;
  attr(h, IFLA_BR_FORWARD_DELAY, &zero, sizeof zero);
  attr(h, IFLA_BR_STP_STATE, &zero, sizeof zero);
  attr(h, IFLA_BR_MCAST_SNOOPING, &off, sizeof off);
  nest_end(h, data);
  nest_end(h, info);
  msg_end(b, h);
}

// A permanent ARP entry: `ip` reachable at `mac` on link `index`.
static void add_neigh4(struct batch *b, int index, struct in_addr ip, const unsigned char mac[6]) {
  struct ndmsg nd = {.ndm_family = AF_INET, .ndm_ifindex = index, .ndm_state = NUD_PERMANENT};
  struct nlmsghdr *h = msg_begin(b, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &nd, sizeof nd);
  attr(h, NDA_DST, &ip, sizeof ip);
  attr(h, NDA_LLADDR, mac, 6);
  msg_end(b, h);
}

static void exchange(int sock, struct batch *b, const char *what) {
  send_batch(sock, b, what);
  read_acks(sock, b, what);
}

// IFLA_OPERSTATE and IFLA_ADDRESS of link `index`, by RTM_GETLINK.
static int get_link(int sock, int index, unsigned char mac[6]) {
  struct batch b = {.seq = 9000};
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index};
  struct nlmsghdr *q = msg_begin(&b, RTM_GETLINK, 0, &ifi, sizeof ifi);
  q->nlmsg_flags = NLM_F_REQUEST;
  msg_end(&b, q);
  send_batch(sock, &b, "get link");
  static char buf[65536];
  ssize_t n = recv(sock, buf, sizeof buf, 0);
  if (n < 0) die("recv get link: %s", strerror(errno));
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  if (h->nlmsg_type != RTM_NEWLINK) die("get link %d: no link in the answer", index);
  int oper = -1;
  int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(struct ifinfomsg));
  for (struct rtattr *a = IFLA_RTA(NLMSG_DATA(h)); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFLA_OPERSTATE) oper = *(unsigned char *)RTA_DATA(a);
    if (a->rta_type == IFLA_ADDRESS && mac) memcpy(mac, RTA_DATA(a), 6);
  }
  return oper;
}

// Busy-poll until link `index` is operationally up (carrier on, qdisc attached), as the Lab waits.
static void wait_oper_up(int sock, int index) {
  for (int i = 0; i < 1000000; i++)
    if (get_link(sock, index, NULL) == IF_OPER_UP) return;
  die("link %d never came up", index);
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("open %s: %s", path, strerror(errno));
  if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die("write %s: %s", path, strerror(errno));
  close(fd);
}

static int open_ns(const char *name);

// A Lab host: named namespace, netlink socket in it, the Lab's host sysctls
// (ping sockets for everyone, no DAD), lo up. Returns the namespace fd; *sock
// gets the socket.
static int lab_host(const char *name, int *sock) {
  netns_add(name);
  int fd = open_ns(name);
  if (setns(fd, CLONE_NEWNET) < 0) die("setns %s: %s", name, strerror(errno));
  *sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (*sock < 0) die("socket(NETLINK_ROUTE): %s", strerror(errno));
  write_file("/proc/sys/net/ipv4/ping_group_range", "0 2147483647\n");
  write_file("/proc/sys/net/ipv6/conf/default/accept_dad", "0\n");
  write_file("/proc/sys/net/ipv6/conf/all/accept_dad", "0\n");
  if (setns(home_fd, CLONE_NEWNET) < 0) die("setns back home: %s", strerror(errno));
  return fd;
}

// An ICMP datagram ("ping") socket born in namespace fd `ns`.
static int ping_socket(int ns) {
  if (setns(ns, CLONE_NEWNET) < 0) die("setns: %s", strerror(errno));
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMP);
  if (s < 0) die("socket(ICMP): %s", strerror(errno));
  if (setns(home_fd, CLONE_NEWNET) < 0) die("setns back home: %s", strerror(errno));
  return s;
}

static void send_echo(int s, struct in_addr to, int seq) {
  struct icmphdr req = {.type = ICMP_ECHO};
  req.un.echo.sequence = htons(seq);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = to};
  if (sendto(s, &req, sizeof req, 0, (struct sockaddr *)&sin, sizeof sin) < 0)
    die("send echo: %s", strerror(errno));
}

// Collect echo replies on `socks` for up to `ms`; stop once `want` came. Returns how many.
static int collect_replies(const int *socks, int n, int want, int ms) {
  struct pollfd *p = calloc(n, sizeof *p);
  for (int i = 0; i < n; i++) p[i] = (struct pollfd){.fd = socks[i], .events = POLLIN};
  int got = 0;
  double end = now_ms() + ms;
  while (got < want) {
    int left = (int)(end - now_ms());
    if (left <= 0) break;
    if (poll(p, n, left) < 0) die("poll: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
      if (!(p[i].revents & POLLIN)) continue;
      struct icmphdr r;
      while (recv(socks[i], &r, sizeof r, 0) >= 0)
        if (r.type == ICMP_ECHOREPLY) got++;
    }
  }
  free(p);
  return got;
}

static int open_ns(const char *name) {
  char path[4096];
  ns_path(path, sizeof path, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("open %s: %s", path, strerror(errno));
  return fd;
}

// A NETLINK_ROUTE socket born in namespace fd `ns` (sockets stay in the namespace they were made in).
static int socket_in(int ns) {
  if (setns(ns, CLONE_NEWNET) < 0) die("setns: %s", strerror(errno));
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) die("socket(NETLINK_ROUTE): %s", strerror(errno));
  return s;
}

// The indexes the requests name. A fresh namespace has only lo (1), so
// asking for index 2 on both ends always succeeds, and lets every request go
// out in one batch without asking the kernel which index it chose.
enum { LO = 1, VETH = 2 };

static void veth_once(const char *na, const char *nb, int batched) {
  int fa = open_ns(na), fb = open_ns(nb);
  int sa = socket_in(fa), sb = socket_in(fb);
  if (setns(home_fd, CLONE_NEWNET) < 0) die("setns back home: %s", strerror(errno));

  // Socket in A: the pair (one end in A, born up; one in B), A's address, lo up.
  struct batch a = {.seq = 0}, b = {.seq = 100};
  add_veth(&a, "bench-a", fa, VETH, "bench-b", fb, VETH);
  add_addr4(&a, VETH, "198.18.0.1", 30);
  link_up(&a, LO);
  // Socket in B: B's address, B's end and lo up. rtnetlink handles requests
  // inside sendto(), so bench-b exists by the time this batch is sent.
  add_addr4(&b, VETH, "198.18.0.2", 30);
  link_up(&b, VETH);
  link_up(&b, LO);
  if (batched) {
    send_batch(sa, &a, na);
    send_batch(sb, &b, nb);
    read_acks(sa, &a, na);
    read_acks(sb, &b, nb);
  } else {
    send_each(sa, &a, na);
    send_each(sb, &b, nb);
  }
  close(sa);
  close(sb);
  close(fa);
  close(fb);
}

// The Lab pair fixture: two hosts, a veth between them with IPv4 + IPv6 on
// each end, up, carriers waited for, one echo a->b answered, both deleted.
static void lab_pair(const char *na, const char *nb) {
  int sa, sb;
  int fa = lab_host(na, &sa), fb = lab_host(nb, &sb);
  struct batch a = {.seq = 0}, b = {.seq = 100};
  link_up(&a, LO);
  add_veth(&a, "eth0", fa, VETH, "eth0", fb, VETH);
  add_addr4(&a, VETH, "198.18.0.1", 30);
  add_addr6(&a, VETH, "fd00::1", 64);
  link_up(&a, VETH);
  link_up(&b, LO);
  add_addr4(&b, VETH, "198.18.0.2", 30);
  add_addr6(&b, VETH, "fd00::2", 64);
  link_up(&b, VETH);
  send_batch(sa, &a, na);
  send_batch(sb, &b, nb);
  read_acks(sa, &a, na);
  read_acks(sb, &b, nb);
  wait_oper_up(sa, VETH);
  wait_oper_up(sb, VETH);
  int ps = ping_socket(fa);
  struct in_addr to;
  inet_pton(AF_INET, "198.18.0.2", &to);
  send_echo(ps, to, 1);
  if (collect_replies(&ps, 1, 1, 1000) != 1) die("lab-pair: no echo reply from %s", nb);
  close(ps);
  close(sa);
  close(sb);
  close(fa);
  close(fb);
  netns_delete(na);
  netns_delete(nb);
}

struct star {
  int n;
  char prefix[512];
  int sw_fd, sw_sock;
  int *fd, *sock;
};

static void host_name(char *out, size_t size, const struct star *st, int j) {
  snprintf(out, size, "%sh%d", st->prefix, j);
}

// A switch namespace with the Lab's bridge (index 2), and n hosts linked to it
// (host end index 2, switch end 3 + j), IPv4 198.18.0.0/22 + IPv6 fd00::/64,
// ends up, the switch ends enslaved; every carrier waited for.
static struct star star_build(const char *prefix, int n) {
  struct star st = {.n = n};
  snprintf(st.prefix, sizeof st.prefix, "%s", prefix);
  st.fd = calloc(n, sizeof *st.fd);
  st.sock = calloc(n, sizeof *st.sock);
  char name[600];
  snprintf(name, sizeof name, "%ssw", prefix);
  netns_add(name);
  st.sw_fd = open_ns(name);
  st.sw_sock = socket_in(st.sw_fd);
  if (setns(home_fd, CLONE_NEWNET) < 0) die("setns back home: %s", strerror(errno));
  struct batch sw = {.seq = 0};
  link_up(&sw, LO);
  add_bridge(&sw, "br0", 2);
  exchange(st.sw_sock, &sw, name);
  for (int j = 0; j < n; j++) {
    host_name(name, sizeof name, &st, j);
    st.fd[j] = lab_host(name, &st.sock[j]);
    char v4[32], v6[64], port[16];
    snprintf(v4, sizeof v4, "198.18.%d.%d", (j + 1) >> 8, (j + 1) & 255);
    snprintf(v6, sizeof v6, "fd00::%x", j + 1);
    snprintf(port, sizeof port, "h%d", j);
    struct batch h = {.seq = 1000}, s = {.seq = 2000};
    link_up(&h, LO);
    add_veth(&h, "eth0", st.fd[j], VETH, port, st.sw_fd, 3 + j);
    add_addr4(&h, VETH, v4, 22);
    add_addr6(&h, VETH, v6, 64);
    link_up(&h, VETH);
    link_up_master(&s, 3 + j, 2);
    exchange(st.sock[j], &h, name);
    exchange(st.sw_sock, &s, "switch");
  }
  for (int j = 0; j < n; j++) {
    wait_oper_up(st.sock[j], VETH);
    wait_oper_up(st.sw_sock, 3 + j);
  }
  return st;
}

static void star_delete(struct star *st) {
  char name[600];
  for (int j = 0; j < st->n; j++) {
    close(st->sock[j]);
    close(st->fd[j]);
    host_name(name, sizeof name, st, j);
    netns_delete(name);
  }
  close(st->sw_sock);
  close(st->sw_fd);
  snprintf(name, sizeof name, "%ssw", st->prefix);
  netns_delete(name);
  free(st->fd);
  free(st->sock);
}

// What lab.reachability() does on a big segment: permanent ARP entries for
// every pair (one datagram per host), then one echo per ordered pair over one
// ping socket per host, 1 s for the replies. Returns the replies counted.
static int star_matrix(struct star *st) {
  int n = st->n;
  unsigned char (*mac)[6] = calloc(n, 6);
  struct in_addr *ip = calloc(n, sizeof *ip);
  for (int j = 0; j < n; j++) {
    get_link(st->sock[j], VETH, mac[j]);
    char v4[32];
    snprintf(v4, sizeof v4, "198.18.%d.%d", (j + 1) >> 8, (j + 1) & 255);
    inet_pton(AF_INET, v4, &ip[j]);
  }
  for (int j = 0; j < n; j++) {
    struct batch b = {.seq = 5000};
    for (int o = 0; o < n; o++)
      if (o != j) add_neigh4(&b, VETH, ip[o], mac[o]);
    exchange(st->sock[j], &b, "neighbours");
  }
  int *ps = calloc(n, sizeof *ps);
  for (int j = 0; j < n; j++) ps[j] = ping_socket(st->fd[j]);
  for (int j = 0; j < n; j++)
    for (int o = 0; o < n; o++)
      if (o != j) send_echo(ps[j], ip[o], o);
  int got = collect_replies(ps, n, n * (n - 1), 1000);
  for (int j = 0; j < n; j++) close(ps[j]);
  free(ps);
  free(mac);
  free(ip);
  return got;
}

enum { SETTLE_QUIET = 5, SETTLE_GAP_MS = 10 };
static const double SETTLE_FAST_MS = 0.5;

// See "settle" above; returns the milliseconds waited.
static double settle(double max_ms) {
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) die("socket(NETLINK_ROUTE): %s", strerror(errno));
  double start = now_ms();
  int quiet = 0;
  while (quiet < SETTLE_QUIET && now_ms() - start < max_ms) {
    struct batch b = {.seq = 0};
    link_up(&b, LO);
    double t0 = now_ms();
    exchange(s, &b, "settle probe");
    quiet = now_ms() - t0 <= SETTLE_FAST_MS ? quiet + 1 : 0;
    struct timespec gap = {.tv_sec = 0, .tv_nsec = SETTLE_GAP_MS * 1000000L};
    nanosleep(&gap, NULL);
  }
  close(s);
  return now_ms() - start;
}

int main(int argc, char **argv) {
  if (argc < 5) die("usage: floor netns|many|veth|veth-seq|lab-pair|lab-star|lab-matrix|settle COUNT PREFIX RUNDIR [K]");
  const char *scenario = argv[1];
  int count = atoi(argv[2]);
  const char *prefix = argv[3];
  rundir = argv[4];
  int k = argc > 5 ? atoi(argv[5]) : 100;
  if (count <= 0 || k <= 0) die("COUNT and K must be positive");

  home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_fd < 0) die("open /proc/thread-self/ns/net: %s", strerror(errno));
  double *ms = calloc(count, sizeof *ms);
  int *answered = NULL;
  char name[512];

  if (strcmp(scenario, "netns") == 0) {
    prepare_rundir();
    for (int i = 0; i < count; i++) {
      snprintf(name, sizeof name, "%s%d", prefix, i);
      double t0 = now_ms();
      netns_add(name);
      netns_delete(name);
      ms[i] = now_ms() - t0;
    }
  } else if (strcmp(scenario, "many") == 0) {
    prepare_rundir();
    for (int i = 0; i < count; i++) {
      double t0 = now_ms();
      for (int j = 0; j < k; j++) {
        snprintf(name, sizeof name, "%s%d-%d", prefix, i, j);
        netns_add(name);
      }
      for (int j = 0; j < k; j++) {
        snprintf(name, sizeof name, "%s%d-%d", prefix, i, j);
        netns_delete(name);
      }
      ms[i] = now_ms() - t0;
    }
  } else if (strcmp(scenario, "veth") == 0 || strcmp(scenario, "veth-seq") == 0) {
    int batched = strcmp(scenario, "veth") == 0;
    char nb[512];
    for (int i = 0; i < count; i++) {
      snprintf(name, sizeof name, "%sa%d", prefix, i);
      snprintf(nb, sizeof nb, "%sb%d", prefix, i);
      double t0 = now_ms();
      veth_once(name, nb, batched);
      ms[i] = now_ms() - t0;
    }
  } else if (strcmp(scenario, "lab-pair") == 0) {
    prepare_rundir();
    for (int i = 0; i < count; i++) {
      char na[512], nb[512];
      snprintf(na, sizeof na, "%s%d-a", prefix, i);
      snprintf(nb, sizeof nb, "%s%d-b", prefix, i);
      double t0 = now_ms();
      lab_pair(na, nb);
      ms[i] = now_ms() - t0;
    }
  } else if (strcmp(scenario, "lab-star") == 0) {
    prepare_rundir();
    for (int i = 0; i < count; i++) {
      snprintf(name, sizeof name, "%s%d-", prefix, i);
      double t0 = now_ms();
      struct star st = star_build(name, k);
      star_delete(&st);
      ms[i] = now_ms() - t0;
    }
  } else if (strcmp(scenario, "lab-matrix") == 0) {
    prepare_rundir();
    snprintf(name, sizeof name, "%sm-", prefix);
    struct star st = star_build(name, k);
    answered = calloc(count, sizeof *answered);
    for (int i = 0; i < count; i++) {
      double t0 = now_ms();
      answered[i] = star_matrix(&st);
      ms[i] = now_ms() - t0;
    }
    star_delete(&st);
  } else if (strcmp(scenario, "settle") == 0) {
    for (int i = 0; i < count; i++) ms[i] = settle(k);
  } else {
    die("unknown scenario %s (netns, many, veth, veth-seq, lab-pair, lab-star, lab-matrix, settle)", scenario);
  }

  printf("{\"scenario\":\"%s\",\"ms\":[", scenario);
  for (int i = 0; i < count; i++) printf("%s%.6f", i ? "," : "", ms[i]);
  printf("]");
  if (answered) {
    printf(",\"answered\":[");
    for (int i = 0; i < count; i++) printf("%s%d", i ? "," : "", answered[i]);
    printf("]");
  }
  printf("}\n");
  return 0;
}
