#!/usr/bin/env bash
# Everything nslab's suite needs from the system, on a fresh Debian machine,
# as root: packages, and Docker's daemon running (started here when none
# answers). Used by README's set-up and by .ci/run, so the two cannot drift.
# When this script starts dockerd it writes its pid to /run/nslab-dockerd.pid.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# network-manager's postinst would start NetworkManager.service on a systemd
# host: keep it away from the machine's own networking (nslab runs NM only
# inside lab hosts, on a private D-Bus).
if [ -d /run/systemd/system ]; then
  systemctl mask NetworkManager.service NetworkManager-wait-online.service NetworkManager-dispatcher.service
fi
policy_rc=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_rc=1
fi

# tshark (Wireshark) checks the capture files nslab writes; its package asks
# whether non-root users may capture: no (nslab captures as root, in-process).
# chromium opens the trace pages in the browser tests (playwright-core drives
# the system binary headless; nothing is downloaded at install time).
echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections

apt-get update
apt-get install -y --no-install-recommends \
  iproute2 util-linux procps bash coreutils nftables iputils-ping ca-certificates netbase \
  docker.io debootstrap curl \
  qemu-system-x86 linux-image-amd64 busybox-static \
  openvpn openssl wireguard-tools wireguard-go \
  network-manager network-manager-openvpn dbus \
  tshark linux-libc-dev chromium fonts-dejavu-core

[ -n "$policy_rc" ] && rm -f /usr/sbin/policy-rc.d

# Docker's daemon the way nslab starts it: no bridge, no iptables rules, no
# ip_forward on the host (new namespaces would inherit it).
ping_docker() { curl -sf --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1; }
if ping_docker; then
  echo "docker: a daemon already answers"
  exit 0
fi
dockerd --bridge=none --iptables=false --ip-forward=false >/var/log/nslab-dockerd.log 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  ping_docker && break
  kill -0 "$pid" 2>/dev/null || { echo "dockerd died; see /var/log/nslab-dockerd.log" >&2; exit 1; }
  sleep 0.5
done
ping_docker || { echo "dockerd did not answer within 60 s; see /var/log/nslab-dockerd.log" >&2; exit 1; }
echo "$pid" >/run/nslab-dockerd.pid
echo "docker: started dockerd (pid $pid)"
