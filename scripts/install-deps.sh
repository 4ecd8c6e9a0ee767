#!/usr/bin/env bash
# Installs the Debian packages a part of rpdk needs, saying which and why; installs nothing
# that is there already.
#
#   scripts/install-deps.sh demo    what scripts/demo.sh runs: ip (iproute2), ping, ethtool
#   scripts/install-deps.sh test    what the test suite runs (.ci/run): the demo's, plus
#                                   mount/flock (util-linux), sysctl (procps), tcpdump,
#                                   libxdp1 (a compiled XDP program for net_af_xdp's xdp_prog),
#                                   and the PCI drivers' QEMU guest (qemu-system-x86,
#                                   busybox-static, cpio)
#
# Needs root (apt-get); prints what it installs.
set -euo pipefail

# package:why, per group.
demo=(
    "iproute2:ip, network namespaces and veth pairs (scripts/veth-topology.sh)"
    "iputils-ping:ping, the demo's traffic"
    "ethtool:turning veth offloads off"
    "procps:sysctl"
)
test=(
    "${demo[@]}"
    "util-linux:mount and flock (hugepages)"
    "tcpdump:reading back the pcap files net_pcap writes"
    "libxdp1:xdp-tools' compiled default XDP program, which net_af_xdp's xdp_prog test loads"
    "qemu-system-x86:the QEMU guest of the PCI drivers' tests (scripts/qemu-test.sh)"
    "busybox-static:the guest's initramfs userland"
    "cpio:packing the guest's initramfs"
)

case ${1:-} in
    demo) wanted=("${demo[@]}") ;;
    test) wanted=("${test[@]}") ;;
    *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

missing=()
for entry in "${wanted[@]}"; do
    pkg=${entry%%:*}
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || {
        echo "install-deps.sh: installing $pkg (${entry#*:})"
        missing+=("$pkg")
    }
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps.sh: installing packages needs root: sudo $0 $1" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
