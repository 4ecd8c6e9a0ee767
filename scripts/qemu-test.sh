#!/usr/bin/env bash
# Boots Debian's kernel under QEMU with emulated NICs and runs rpdk's PCI driver tests inside.
#
#   scripts/qemu-test.sh [--no-build] [GUEST_SCRIPT]
#
# GUEST_SCRIPT (default scripts/qemu-guest.sh) runs as root in the guest, from an initramfs made
# of busybox-static, the kernel modules the tests need and rpdk's binaries built static. It sees
# the repository's scripts in /rpdk/scripts and the binaries in /rpdk/bin. The guest prints
# RPDK-GUEST: PASS or RPDK-GUEST: FAIL as its last word; this script prints the guest's console
# and exits non-zero unless it passed.
#
# Nothing is installed on the host: the kernel package is downloaded (apt-get download) and
# unpacked under target/qemu/. Needs qemu-system-x86, busybox-static and cpio.
#
# The guest (q35 with an emulated Intel IOMMU, 2 vCPUs, TCG: this kind of machine's /dev/kvm runs
# no ordinary guest) has these NICs, on two QEMU-internal hubs that reach nothing outside:
#
#   hub 0: 0000:00:03.0 e1000 (82540EM)   0000:00:04.0 e1000e (82574L)   0000:00:05.0 e1000e (peer)
#          0000:00:07.0 virtio-net (modern only)
#          0000:00:0c.0 vmxnet3
#   hub 1: 0000:00:06.0 e1000 (82540EM)   0000:00:08.0 e1000e (peer)   0000:00:09.0 virtio-net
#
# The virtio NICs have iommu_platform=on: without it QEMU's virtio device bypasses the emulated
# IOMMU and takes every address it is given as a guest-physical one, which IOVAs in VA mode
# are not.
#
# The peers stay with the kernel's e1000e driver: they check what the rpdk-driven NICs send
# and send to them. (A virtio peer would not do: QEMU's virtio-net waits for the hub to take
# each frame it sends, and stalls for good when a receiving e1000 model refused one.)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

build=1
if [[ ${1:-} == --no-build ]]; then
    build=0
    shift
fi
guest_script=${1:-scripts/qemu-guest.sh}
[[ -f $guest_script ]] || { echo "qemu-test.sh: no guest script $guest_script" >&2; exit 2; }

for tool in qemu-system-x86_64 busybox cpio dpkg-deb apt-get; do
    command -v "$tool" >/dev/null || {
        echo "qemu-test.sh: $tool is missing (apt-get install qemu-system-x86 busybox-static cpio)" >&2
        exit 2
    }
done

work=$root/target/qemu
mkdir -p "$work"

# --- the kernel and its modules, from Debian's package, unpacked (not installed) -------------
kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}
pkg=$(kernel_pkg)
if [[ -z $pkg && $(id -u) == 0 ]]; then
    apt-get update -qq
    pkg=$(kernel_pkg)
fi
if [[ -z $pkg ]]; then
    echo "qemu-test.sh: apt-cache knows no linux-image-amd64 (run apt-get update)" >&2
    exit 2
fi
kver=${pkg#linux-image-}
kroot=$work/$pkg
if [[ ! -f $kroot/boot/vmlinuz-$kver ]]; then
    echo "qemu-test.sh: fetching $pkg (not installed, unpacked in $kroot)"
    rm -rf "$kroot" "$work"/dl
    mkdir -p "$work"/dl
    # apt's sandbox user cannot write into root-owned build folders; the download is a file.
    (cd "$work"/dl && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
    deb=$(ls "$work"/dl/"$pkg"_*.deb 2>/dev/null | head -1)
    [[ -n $deb ]] || { echo "qemu-test.sh: downloading $pkg failed" >&2; exit 2; }
    dpkg-deb -x "$deb" "$kroot"
    rm -rf "$work"/dl
    busybox depmod -b "$kroot" "$kver"
fi
moddir=$kroot/lib/modules/$kver

# --- rpdk's binaries, static -------------------------------------------------------------------
bins=$work/bin
if [[ $build == 1 ]]; then
    echo "qemu-test.sh: building rpdk's guest binaries (static)"
    export RUSTFLAGS='-C target-feature=+crt-static'
    target=x86_64-unknown-linux-gnu
    cargo build -q --locked --profile guest --target $target -p rpdk-examples \
        --bin l2fwd --bin rpdk-testpmd
    guest_test=$(cargo test -q --locked --profile guest --target $target -p rpdk-ethdev \
        --test pci_guest --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
    [[ -x $guest_test ]] || { echo "qemu-test.sh: building the pci_guest test failed" >&2; exit 1; }
    mkdir -p "$bins"
    cp target/$target/guest/l2fwd target/$target/guest/rpdk-testpmd "$bins"/
    cp "$guest_test" "$bins"/pci_guest
fi
[[ -x $bins/pci_guest ]] || { echo "qemu-test.sh: no binaries in $bins (run without --no-build)" >&2; exit 2; }

# --- the initramfs ------------------------------------------------------------------------------
rootfs=$work/rootfs
rm -rf "$rootfs"
mkdir -p "$rootfs"/{bin,sbin,proc,sys,dev,tmp,run,mnt/huge,rpdk/bin,lib/modules/"$kver"}
cp "$(command -v busybox)" "$rootfs"/bin/busybox
cp "$bins"/* "$rootfs"/rpdk/bin/
cp -r scripts "$rootfs"/rpdk/scripts
cp "$guest_script" "$rootfs"/rpdk/guest.sh

# The modules and, through modules.dep, everything they need.
want=(vfio vfio_iommu_type1 vfio-pci uio uio_pci_generic e1000 e1000e virtio_pci virtio_net vmxnet3)
declare -A seen=()
add_module() {
    local rel=$1 dep
    [[ -n ${seen[$rel]:-} ]] && return
    seen[$rel]=1
    mkdir -p "$rootfs"/lib/modules/"$kver"/"$(dirname "$rel")"
    cp "$moddir/$rel" "$rootfs"/lib/modules/"$kver"/"$rel"
    for dep in $(awk -v m="$rel:" '$1 == m { $1 = ""; print }' "$moddir"/modules.dep); do
        add_module "$dep"
    done
}
for m in "${want[@]}"; do
    rel=$(awk -F: -v m="$m" '{ n = $1; sub(".*/", "", n); sub("\\.ko.*", "", n);
        if (n == m) { print $1; exit } }' "$moddir"/modules.dep)
    if [[ -z $rel ]]; then
        grep -q "/$m.ko" "$moddir"/modules.builtin || { echo "qemu-test.sh: no module $m in $pkg" >&2; exit 2; }
        continue
    fi
    add_module "$rel"
done
cp "$moddir"/modules.{dep,builtin,order} "$rootfs"/lib/modules/"$kver"/ 2>/dev/null || true

cat >"$rootfs"/init <<EOF
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/rpdk/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/hugepages
mount -t hugetlbfs nodev /dev/hugepages
echo 128 >/proc/sys/vm/nr_hugepages
for m in ${want[*]}; do modprobe \$m || echo "guest: modprobe \$m failed"; done
ip link set lo up
echo "guest: kernel \$(uname -r), \$(nproc) CPUs, \$(cat /proc/sys/vm/nr_hugepages) hugepages"
cd /rpdk
if sh /rpdk/guest.sh; then echo "RPDK-GUEST: PASS"; else echo "RPDK-GUEST: FAIL"; fi
sync
poweroff -f
EOF
chmod +x "$rootfs"/init
(cd "$rootfs" && find . | cpio -o -H newc --quiet | gzip -1) >"$work"/initramfs.gz

# --- boot ---------------------------------------------------------------------------------------
log=$work/guest.log
nic() { # hub bus-address device [device options]
    local id="n$2"
    printf -- '-netdev hubport,id=%s,hubid=%s -device %s,netdev=%s,bus=pcie.0,addr=%s%s ' \
        "$id" "$1" "$3" "$id" "$2" "${4:+,$4}"
}
# Each NIC gets a fixed MAC, so that tests can name the peer's.
nics=$(
    nic 0 0x3 e1000 mac=52:54:00:00:00:03
    nic 0 0x4 e1000e mac=52:54:00:00:00:04
    nic 0 0x5 e1000e mac=52:54:00:00:00:05
    nic 0 0x7 virtio-net-pci mac=52:54:00:00:00:07,disable-legacy=on,iommu_platform=on
    nic 1 0x9 virtio-net-pci mac=52:54:00:00:00:09,disable-legacy=on,iommu_platform=on
    nic 0 0xc vmxnet3 mac=52:54:00:00:00:0c
    nic 1 0x6 e1000 mac=52:54:00:00:00:06
    nic 1 0x8 e1000e mac=52:54:00:00:00:08
)
# A virtio NIC with several queue pairs needs a backend with several queues, which QEMU's hubs
# are not: a multi-queue TAP device (vhost off) in a network namespace of this run, bridged
# there to a TAP of an e1000e peer in the guest. Nothing else is on that bridge. Needs root
# (the namespace); without it the guest skips the multi-queue test and says so.
mq_queues=4
mq_nics=()
runner=()
mq_arg=
netns=rpdkq$$
mq_setup() { # every step checked: on a machine without TAPs or namespaces the test is skipped
    nsx() { ip netns exec "$netns" "$@"; }
    ip netns add "$netns" || return 1
    trap 'ip netns del "$netns" 2>/dev/null || true' EXIT
    nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 &&
        nsx ip link add br0 type bridge &&
        nsx ip tuntap add dev mq0 mode tap multi_queue &&
        nsx ip tuntap add dev pr0 mode tap &&
        nsx ip link set mq0 master br0 && nsx ip link set mq0 up &&
        nsx ip link set pr0 master br0 && nsx ip link set pr0 up &&
        nsx ip link set br0 up
}
if [[ $(id -u) == 0 && -c /dev/net/tun ]] && command -v ip >/dev/null && mq_setup; then
    mq_nics=(
        -netdev "tap,id=nmq,ifname=mq0,script=no,downscript=no,queues=$mq_queues,vhost=off"
        -device "virtio-net-pci,netdev=nmq,bus=pcie.0,addr=0xa,mac=52:54:00:00:00:0a,disable-legacy=on,iommu_platform=on,mq=on,vectors=$((2 * mq_queues + 2))"
        -netdev "tap,id=npr,ifname=pr0,script=no,downscript=no"
        -device "e1000e,netdev=npr,bus=pcie.0,addr=0xb,mac=52:54:00:00:00:0b"
    )
    runner=(ip netns exec "$netns")
    mq_arg=" rpdk_mq=$mq_queues"
else
    ip netns del "$netns" 2>/dev/null || true
    echo "qemu-test.sh: no multi-queue TAP backend (needs root, /dev/net/tun and network" \
        "namespaces): the guest skips the multi-queue tests"
fi
echo "qemu-test.sh: booting $pkg with $(basename "$guest_script")"
start=$SECONDS
# shellcheck disable=SC2086 # $nics is a list of words
"${runner[@]}" timeout 600 qemu-system-x86_64 \
    -accel tcg -M q35,kernel-irqchip=split -cpu max -smp 2 -m 1024 \
    -device intel-iommu,intremap=on,caching-mode=on,aw-bits=48 \
    -nodefaults -display none -serial stdio -no-reboot \
    -kernel "$kroot/boot/vmlinuz-$kver" -initrd "$work"/initramfs.gz \
    -append "console=ttyS0 intel_iommu=on iommu=pt no_timer_check panic=-1 loglevel=4$mq_arg" \
    $nics "${mq_nics[@]}" </dev/null >"$log" 2>&1 || true
tr -d '\r' <"$log"
echo "qemu-test.sh: the guest ran $((SECONDS - start)) s"
if grep -q '^RPDK-GUEST: PASS' <(tr -d '\r' <"$log"); then
    echo "qemu-test.sh: PASS"
else
    echo "qemu-test.sh: FAIL (the guest log is above, and in $log)" >&2
    exit 1
fi
