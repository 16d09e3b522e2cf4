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
  char buf[4096];
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

int main(int argc, char **argv) {
  if (argc < 5) die("usage: floor netns|many|veth|veth-seq COUNT PREFIX RUNDIR [K]");
  const char *scenario = argv[1];
  int count = atoi(argv[2]);
  const char *prefix = argv[3];
  rundir = argv[4];
  int k = argc > 5 ? atoi(argv[5]) : 100;
  if (count <= 0 || k <= 0) die("COUNT and K must be positive");

  home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_fd < 0) die("open /proc/thread-self/ns/net: %s", strerror(errno));
  double *ms = calloc(count, sizeof *ms);
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
  } else {
    die("unknown scenario %s (netns, many, veth, veth-seq)", scenario);
  }

  printf("{\"scenario\":\"%s\",\"ms\":[", scenario);
  for (int i = 0; i < count; i++) printf("%s%.6f", i ? "," : "", ms[i]);
  printf("]}\n");
  return 0;
}
