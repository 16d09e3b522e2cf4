#!/bin/busybox sh
# nslab VM: /init of the guest's initramfs (busybox, static).
#
# Loads the modules listed in /modules/order (dependency order), mounts the
# host's root filesystem read-only over 9p (tag hostroot) with a tmpfs overlay
# on top, mounts the control share (tag nslabctl: env.sh and run.sh written by
# the host) and, when asked, the results share (tag nslabout) at its host path,
# then makes the overlay the root (switch_root, so that setns into a mount
# namespace and the kernel's module autoloader see the overlay, not the
# initramfs) and runs itself again there as "stage2", which runs
# /run/nslab-vm/run.sh with stdout and stderr on their ports (see stage2). Markers on the
# console (ttyS0) tell the host where it is: "nslab-vm: start",
# "nslab-vm: exit N", "nslab-vm: fail WHY".
if [ "$1" = stage2 ]; then
  # In the overlay root, PID 1; busybox lives on in /run/nslab-init.
  BB=/run/nslab-init/busybox
  export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  $BB hostname nslab-vm
  $BB ip link set lo up 2>/dev/null
  # The command's stdout and stderr: ttyS1 and ttyS2 on the pc machine,
  # virtio-serial ports named nslab.stdout and nslab.stderr on microvm.
  port() {
    for f in /sys/class/virtio-ports/*/name; do
      [ "$($BB cat "$f" 2>/dev/null)" = "$1" ] && { f=${f%/name}; echo "/dev/${f##*/}"; return; }
    done
    $BB stty -F "$2" raw -echo
    echo "$2"
  }
  OUT=$(port nslab.stdout /dev/ttyS1)
  ERR=$(port nslab.stderr /dev/ttyS2)
  echo 'nslab-vm: start'
  # stdout and stderr reach their ports through pipes, as when the host pipes a
  # command's output: programs see no terminal and print plain lines.
  { { /bin/sh /run/nslab-vm/run.sh </dev/null; echo $? >/run/nslab-init/code; } 2>&1 1>&3 |
    $BB cat >"$ERR"; } 3>&1 | $BB cat >"$OUT"
  code=$($BB cat /run/nslab-init/code 2>/dev/null || echo 255)
  $BB sync
  # A failed command: the kernel's words on faults in user space (a segfault,
  # a trap, the OOM killer) are below the console's level; put them on it.
  if [ "$code" != 0 ]; then
    $BB dmesg | $BB grep -E 'segfault at|traps: |general protection|invalid opcode|Out of memory|Killed process' |
      $BB tail -n 20 | while read -r l; do echo "nslab-vm: kernel log: $l"; done
  fi
  echo "nslab-vm: exit $code"
  $BB poweroff -f
fi

/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

fail() {
  echo "nslab-vm: fail $*"
  sync
  poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

for m in $(cat /modules/order); do
  insmod "/modules/$m" || fail "insmod $m"
done

P9='trans=virtio,version=9p2000.L,msize=512000'
mkdir -p /ctl /lower /rw /newroot
mount -t 9p -o "$P9" nslabctl /ctl || fail 'mount of the control share (nslabctl)'
. /ctl/env.sh
mount -t 9p -o "$P9,ro,cache=loose" hostroot /lower || fail 'mount of the host root (hostroot)'
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
  fail 'overlay mount on the host root'

R=/newroot
mount -t tmpfs -o mode=0755 tmpfs $R/run
# /tmp stays the overlay's: a project checked out under the host's /tmp (as
# CI clones are) must be visible in the guest at the same path.
mkdir -p $R/run/nslab-vm $R/run/nslab-init
mount --move /ctl $R/run/nslab-vm
if [ -n "$NSLAB_VM_RESULTS" ]; then
  mkdir -p "$R$NSLAB_VM_RESULTS"
  mount -t 9p -o "$P9" nslabout "$R$NSLAB_VM_RESULTS" || fail 'mount of the results share (nslabout)'
fi
mount --move /proc $R/proc
mount --move /sys $R/sys
mount --move /dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm $R/dev/net
mount -t devpts devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null
# /dev/net/tun before tun is loaded: opening it autoloads the module (char-major-10-200)
[ -e $R/dev/net/tun ] || mknod $R/dev/net/tun c 10 200
# A kernel from nslab's cache keeps its modules there (a host path, visible in
# the overlay): link them where modprobe looks, /lib/modules/<uname -r>.
if [ -n "$NSLAB_VM_MODULES" ]; then
  v=$(uname -r)
  mkdir -p $R/lib/modules
  [ -e "$R/lib/modules/$v" ] || [ -L "$R/lib/modules/$v" ] && rm -rf "$R/lib/modules/$v"
  ln -s "$NSLAB_VM_MODULES" "$R/lib/modules/$v" || fail "link of $NSLAB_VM_MODULES to /lib/modules/$v"
fi
cp /bin/busybox /init $R/run/nslab-init/
exec switch_root $R /run/nslab-init/busybox sh /run/nslab-init/init stage2
