#!/usr/bin/env bash
# Installs the Debian packages a part of rpdk needs, saying which and why; installs nothing
# that is there already.
#
#   scripts/install-deps.sh demo    what scripts/demo.sh runs: ip (iproute2), ping, ethtool
#   scripts/install-deps.sh test    what the test suite runs (.ci/run): the demo's, plus
#                                   mount/flock (util-linux), sysctl (procps), tcpdump, tshark,
#                                   python3 and DPDK's dpdk-telemetry.py, libxdp1 (a compiled
#                                   XDP program for net_af_xdp's xdp_prog), and the PCI drivers'
#                                   QEMU guest (qemu-system-x86, busybox-static, cpio)
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
    "tshark:reading rpdk-pdump's pcapng files: interface names and descriptions, directions, lengths"
    "python3:running DPDK's telemetry client, dpdk-telemetry.py"
    "libxdp1:xdp-tools' compiled default XDP program, which net_af_xdp's xdp_prog test loads"
    "qemu-system-x86:the QEMU guest of the PCI drivers' tests (scripts/qemu-test.sh)"
    "busybox-static:the guest's initramfs userland"
    "cpio:packing the guest's initramfs"
)

case ${1:-} in
    demo) wanted=("${demo[@]}") ;;
    test) wanted=("${test[@]}") ;;
    *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

missing=()
for entry in "${wanted[@]}"; do
    pkg=${entry%%:*}
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || {
        echo "install-deps.sh: installing $pkg (${entry#*:})"
        missing+=("$pkg")
    }
done
need_root() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "install-deps.sh: installing packages needs root: sudo $0 $1" >&2
        exit 1
    fi
}
if [[ ${#missing[@]} -gt 0 ]]; then
    need_root "$1"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The telemetry tests drive dpdk-telemetry.py, unchanged, from Debian's dpdk-dev package. The
# package pulls in some 170 others that the tests do not need, so the script is taken out of
# the package file into /usr/local/bin.
if [[ $1 == test && ! -e /usr/bin/dpdk-telemetry.py && ! -e /usr/local/bin/dpdk-telemetry.py ]]; then
    need_root "$1"
    echo "install-deps.sh: installing dpdk-telemetry.py (from Debian's dpdk-dev package)"
    debdir=$(mktemp -d)
    (cd "$debdir" && { apt-get download -qq dpdk-dev 2>/dev/null ||
        { apt-get update -qq && apt-get download -qq dpdk-dev; }; })
    dpkg-deb --fsys-tarfile "$debdir"/dpdk-dev_*.deb |
        tar -x -O ./usr/bin/dpdk-telemetry.py >/usr/local/bin/dpdk-telemetry.py
    chmod 755 /usr/local/bin/dpdk-telemetry.py
    rm -rf "$debdir"
fi
