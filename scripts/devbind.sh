#!/bin/sh
# Binds network devices to vfio-pci, uio_pci_generic or a kernel driver, as DPDK's
# dpdk-devbind.py does (a POSIX sh script: it runs in busybox too).
#
#   scripts/devbind.sh --status
#   scripts/devbind.sh --bind=vfio-pci|uio_pci_generic|<kernel driver> [--force] DEVICE...
#   scripts/devbind.sh --unbind DEVICE...
#
# A DEVICE is a PCI address (0000:00:03.0 or 00:03.0) or the name of its kernel interface.
# Binding goes through driver_override, so that only the named driver takes the device; the
# module is loaded when its driver is missing. Refused, with what to do: a device whose
# interface is up and carries routes (unless --force), a missing module, vfio-pci without an
# IOMMU or VFIO's no-IOMMU mode.
set -eu

SYS=${DEVBIND_SYSFS:-/sys}
PCI=$SYS/bus/pci
DPDK_DRIVERS="vfio-pci uio_pci_generic igb_uio"

die() {
    echo "devbind.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '2,13s/^# \{0,1\}//p' "$0"
    exit "${1:-0}"
}

# The full PCI address of a device argument.
resolve() {
    case $1 in
    *:*.*)
        addr=$1
        case $addr in ????:??:??.?) ;; *) addr=0000:$addr ;; esac
        [ -e "$PCI/devices/$addr" ] || die "no PCI device $1 (see --status)"
        echo "$addr"
        ;;
    *)
        [ -e "$SYS/class/net/$1/device" ] || die "'$1' is neither a PCI address nor an interface"
        basename "$(readlink -f "$SYS/class/net/$1/device")"
        ;;
    esac
}

driver_of() {
    if [ -e "$PCI/devices/$1/driver" ]; then
        basename "$(readlink -f "$PCI/devices/$1/driver")"
    fi
}

# The kernel interfaces of a device (virtio's sit one level down).
ifaces_of() {
    for n in "$PCI/devices/$1"/net/* "$PCI/devices/$1"/virtio*/net/*; do
        [ -e "$n" ] && basename "$n"
    done
    return 0
}

is_active() { # iface: up and carrying routes
    ip route show dev "$1" 2>/dev/null | grep -q . &&
        ip link show dev "$1" 2>/dev/null | grep -q '[<,]UP[,>]'
}

status() {
    for group in dpdk kernel none; do
        case $group in
        dpdk) title="Network devices using DPDK-compatible driver" ;;
        kernel) title="Network devices using kernel driver" ;;
        none) title="Other Network devices" ;;
        esac
        echo "$title"
        echo "$title" | sed 's/./=/g'
        found=0
        for d in "$PCI"/devices/*; do
            [ -e "$d/class" ] || continue
            case $(cat "$d/class") in 0x02*) ;; *) continue ;; esac
            addr=$(basename "$d")
            drv=$(driver_of "$addr")
            case " $DPDK_DRIVERS " in
            *" $drv "*) g=dpdk ;;
            *) if [ -n "$drv" ]; then g=kernel; else g=none; fi ;;
            esac
            [ "$g" = "$group" ] || continue
            found=1
            id="$(sed 's/^0x//' "$d/vendor"):$(sed 's/^0x//' "$d/device")"
            line="$addr '$id'"
            ifs=$(ifaces_of "$addr" | tr '\n' ',' | sed 's/,$//')
            [ -n "$ifs" ] && line="$line if=$ifs"
            [ -n "$drv" ] && line="$line drv=$drv"
            for i in $(ifaces_of "$addr"); do
                if is_active "$i"; then line="$line *Active*"; break; fi
            done
            echo "$line"
        done
        [ $found = 1 ] || echo "<none>"
        echo
    done
}

load_driver() { # driver
    [ -d "$PCI/drivers/$1" ] && return 0
    mod=$(echo "$1" | tr - _)
    modprobe "$mod" 2>/dev/null || modprobe "$1" 2>/dev/null ||
        die "driver $1 is not loaded and 'modprobe $mod' failed: install the module (for \
vfio-pci and uio_pci_generic: the kernel's own, in linux-image-*) or pick another driver"
    [ -d "$PCI/drivers/$1" ] || die "modprobe $mod loaded no driver $1"
}

check_iommu() { # addr
    if [ -e "$PCI/devices/$1/iommu_group" ]; then
        return 0
    fi
    noiommu=$SYS/module/vfio/parameters/enable_unsafe_noiommu_mode
    if [ -e "$noiommu" ] && [ "$(cat "$noiommu")" = Y ]; then
        return 0
    fi
    die "$1 has no IOMMU group: vfio-pci needs an IOMMU (boot with intel_iommu=on or \
amd_iommu=on, and enable VT-d/AMD-Vi in the firmware), or VFIO's unsafe no-IOMMU mode \
(echo 1 > $noiommu, then run rpdk with --iova-mode=pa), or bind to uio_pci_generic"
}

unbind_one() { # addr
    drv=$(driver_of "$1")
    [ -n "$drv" ] || return 0
    echo "$1" >"$PCI/devices/$1/driver/unbind" || die "unbinding $1 from $drv failed"
}

bind_one() { # driver addr force
    cur=$(driver_of "$2")
    if [ "$cur" = "$1" ]; then
        echo "devbind.sh: $2 already bound to $1"
        return 0
    fi
    if [ "$3" != 1 ]; then
        for i in $(ifaces_of "$2"); do
            is_active "$i" && die "$2 is in use: its interface $i is up and carries routes \
(ip link set $i down first, or pass --force)"
        done
    fi
    load_driver "$1"
    [ "$1" = vfio-pci ] && check_iommu "$2"
    unbind_one "$2"
    # Only this driver may take the device, then the kernel probes it again.
    echo "$1" >"$PCI/devices/$2/driver_override" || die "writing driver_override of $2 failed"
    echo "$2" >"$PCI/drivers_probe" 2>/dev/null || true
    # Let any driver take the device after a later unbind.
    echo >"$PCI/devices/$2/driver_override" 2>/dev/null || true
    now=$(driver_of "$2")
    [ "$now" = "$1" ] || die "$1 did not take $2 (bound to ${now:-no driver}; see dmesg)"
    if [ "$1" = vfio-pci ]; then
        group=$(basename "$(readlink -f "$PCI/devices/$2/iommu_group")")
        for other in "$SYS/kernel/iommu_groups/$group/devices"/*; do
            o=$(basename "$other")
            [ "$o" = "$2" ] && continue
            od=$(driver_of "$o")
            case $od in "" | vfio-pci | pcieport) ;; *)
                echo "devbind.sh: warning: $o shares IOMMU group $group and is bound to $od: \
VFIO will refuse the group until it is bound to vfio-pci or unbound" >&2
                ;;
            esac
        done
    fi
    echo "devbind.sh: $2 bound to $1"
}

[ $# -gt 0 ] || usage 1
action=
driver=
force=0
devices=
while [ $# -gt 0 ]; do
    case $1 in
    -s | --status) action=status ;;
    -u | --unbind) action=unbind ;;
    -b) action=bind; shift; [ $# -gt 0 ] || die "-b needs a driver"; driver=$1 ;;
    --bind=*) action=bind; driver=${1#--bind=} ;;
    --bind) action=bind; shift; [ $# -gt 0 ] || die "--bind needs a driver"; driver=$1 ;;
    --force) force=1 ;;
    -h | --help) usage 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) devices="$devices $1" ;;
    esac
    shift
done

case $action in
status) status ;;
unbind)
    [ -n "$devices" ] || die "--unbind needs a device"
    for d in $devices; do
        a=$(resolve "$d")
        unbind_one "$a"
        echo "devbind.sh: $a unbound"
    done
    ;;
bind)
    [ -n "$driver" ] || die "--bind needs a driver"
    [ -n "$devices" ] || die "--bind needs a device"
    for d in $devices; do
        a=$(resolve "$d")
        bind_one "$driver" "$a" "$force"
    done
    ;;
*) usage 1 ;;
esac
