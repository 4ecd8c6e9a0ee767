#!/bin/sh
# The PCI driver tests, run inside the guest of scripts/qemu-test.sh (busybox sh, as root).
# The NICs are those qemu-test.sh sets up: rpdk drives the e1000, e1000e and virtio-net ones,
# the kernel's e1000e driver the peers on the same hubs (and on the multi-queue TAP's bridge).
set -u
cd /rpdk
export RUST_BACKTRACE=1
failed=0

iface_of() { # the kernel interface of a PCI device
    for n in /sys/bus/pci/devices/$1/net/* /sys/bus/pci/devices/$1/virtio*/net/*; do
        [ -e "$n" ] && { basename "$n"; return; }
    done
}

PEER0=$(iface_of 0000:00:05.0)
PEER1=$(iface_of 0000:00:08.0)
for i in $PEER0 $PEER1; do ip link set "$i" up; done
[ -n "$PEER0" ] && [ -n "$PEER1" ] || { echo "guest: the peers have no interfaces"; exit 1; }

run() { # name command...
    name=$1
    shift
    echo "== $name"
    start=$(date +%s)
    if "$@"; then
        echo "== $name: ok ($(($(date +%s) - start)) s)"
    else
        echo "== $name: FAILED"
        failed=1
    fi
}

guest_test() { # pci mac iova test
    RPDK_GUEST_PCI=$1 RPDK_GUEST_MAC=$2 RPDK_GUEST_IOVA=$3 RPDK_GUEST_PEER=$PEER0 \
        pci_guest --exact "$4" --ignored --nocapture --test-threads=1
}

# devbind: the e1000s start on the kernel's e1000 driver, as on a real machine.
run "devbind: status" scripts/devbind.sh --status
run "devbind: refuses a device in use" sh -c '
    i=$(ls /sys/bus/pci/devices/0000:00:03.0/net); ip link set "$i" up
    ip addr add 198.18.0.1/24 dev "$i"
    if scripts/devbind.sh --bind=vfio-pci 0000:00:03.0 2>/tmp/err; then exit 1; fi
    cat /tmp/err; grep -q "in use" /tmp/err; rc=$?
    ip addr flush dev "$i"; ip link set "$i" down; exit $rc'
run "devbind: e1000 and e1000e to vfio-pci" \
    scripts/devbind.sh --bind=vfio-pci 0000:00:03.0 00:04.0 0000:00:06.0
run "devbind: status shows vfio-pci" sh -c \
    'scripts/devbind.sh --status | grep "0000:00:03.0.*drv=vfio-pci"'

run "e1000 (82540EM) over vfio-pci, IOVA VA" \
    guest_test 0000:00:03.0 52:54:00:00:00:03 va nic_both_directions
run "e1000e (82574L) over vfio-pci, IOVA VA" \
    guest_test 0000:00:04.0 52:54:00:00:00:04 va nic_both_directions
run "e1000 over vfio-pci, IOVA PA" \
    guest_test 0000:00:03.0 52:54:00:00:00:03 pa nic_both_directions

# l2fwd between two NICs, the first on hub 0 and the second on hub 1 (ports go in PCI address
# order); the test's af_packet ports are the peers.
l2fwd_test() { # pci0 pci1
    l2fwd -l 0-1 -a "$1" -a "$2" --file-prefix l2 -- -p 0x3 -P -T 0 \
        >/tmp/l2fwd.log 2>&1 &
    pid=$!
    sleep 3
    RPDK_GUEST_PEER=$PEER0 RPDK_GUEST_PEER2=$PEER1 \
        pci_guest --exact l2fwd_peer --ignored --nocapture --test-threads=1
    rc=$?
    kill -INT $pid
    wait $pid
    l2rc=$?
    cat /tmp/l2fwd.log
    [ $rc = 0 ] && [ $l2rc = 0 ]
}
run "l2fwd between two e1000s over vfio-pci" l2fwd_test 0000:00:03.0 0000:00:06.0

# A secondary process drives the primary's NIC queues, gives them back, and one is killed
# holding them (ethdev/tests/pci_guest/secondary.rs).
secondary_test() { # pci iova
    RPDK_GUEST_PCI=$1 RPDK_GUEST_IOVA=$2 RPDK_GUEST_PEER=$PEER0 \
        pci_guest --exact secondary::nic_secondary --ignored --nocapture --test-threads=1
}
run "e1000 queues driven from a secondary process, vfio-pci, IOVA VA" \
    secondary_test 0000:00:03.0 va
run "e1000e queues driven from a secondary process, vfio-pci, IOVA PA" \
    secondary_test 0000:00:04.0 pa

# virtio-net (modern), from the kernel's virtio-pci driver.
run "devbind: virtio-net to vfio-pci" scripts/devbind.sh --bind=vfio-pci 0000:00:07.0 0000:00:09.0
run "virtio-net over vfio-pci, IOVA VA" \
    guest_test 0000:00:07.0 52:54:00:00:00:07 va nic_both_directions
run "virtio-net over vfio-pci, IOVA PA" \
    guest_test 0000:00:07.0 52:54:00:00:00:07 pa nic_both_directions
run "l2fwd between two virtio-nets over vfio-pci" l2fwd_test 0000:00:07.0 0000:00:09.0
run "l2fwd between e1000 and virtio-net over vfio-pci" l2fwd_test 0000:00:03.0 0000:00:09.0
run "virtio-net queues driven from a secondary process, vfio-pci, IOVA VA" \
    secondary_test 0000:00:07.0 va

# vmxnet3, from the kernel's vmxnet3 driver.
run "devbind: vmxnet3 to vfio-pci" scripts/devbind.sh --bind=vfio-pci 0000:00:0c.0
run "vmxnet3 over vfio-pci, IOVA VA" \
    guest_test 0000:00:0c.0 52:54:00:00:00:0c va nic_both_directions
run "vmxnet3 over vfio-pci, IOVA PA" \
    guest_test 0000:00:0c.0 52:54:00:00:00:0c pa nic_both_directions
run "vmxnet3 queues driven from a secondary process, vfio-pci, IOVA VA" \
    secondary_test 0000:00:0c.0 va

# Several queue pairs: the virtio-net on the multi-queue TAP (qemu-test.sh, as root).
mq=$(sed -n 's/.*rpdk_mq=\([0-9]*\).*/\1/p' /proc/cmdline)
if [ -n "$mq" ]; then
    MQPEER=$(iface_of 0000:00:0b.0)
    ip link set "$MQPEER" up
    mq_test() { # iova
        RPDK_GUEST_MQ_PCI=0000:00:0a.0 RPDK_GUEST_MQ_PEER=$MQPEER RPDK_GUEST_QUEUES=$mq \
            RPDK_GUEST_IOVA=$1 pci_guest --exact nic_multi_queue --ignored --nocapture \
            --test-threads=1
    }
    run "devbind: multi-queue virtio-net to vfio-pci" scripts/devbind.sh --bind=vfio-pci 0000:00:0a.0
    run "virtio-net with $mq queue pairs over vfio-pci, IOVA VA" mq_test va
    run "virtio-net with $mq queue pairs over vfio-pci, IOVA PA" mq_test pa
    # testpmd on 2 of its queue pairs, macswap: the peer's flows come back, through both.
    testpmd_test() {
        rpdk-testpmd -l 0-1 -a 0000:00:0a.0 --file-prefix tp -- --rxq=2 --txq=2 \
            --forward-mode=macswap --rxd=256 --txd=256 --total-num-mbufs=4096 \
            --stats-period=60 >/tmp/testpmd.log 2>&1 &
        pid=$!
        sleep 3
        RPDK_GUEST_MQ_PEER=$MQPEER RPDK_GUEST_ECHO_MAC=52:54:00:00:00:0a \
            pci_guest --exact testpmd_peer --ignored --nocapture --test-threads=1
        rc=$?
        kill -INT $pid
        wait $pid
        tprc=$?
        cat /tmp/testpmd.log
        for q in 0 1; do
            grep -A1 "RX Port= 0/Queue= $q" /tmp/testpmd.log | grep -q 'RX-packets: [1-9]' ||
                { echo "guest: testpmd's queue $q forwarded nothing"; rc=1; }
        done
        [ $rc = 0 ] && [ $tprc = 0 ]
    }
    run "testpmd (macswap) on virtio-net with 2 queue pairs" testpmd_test
else
    echo "guest: no multi-queue virtio-net (qemu-test.sh had no TAP backend): its tests are skipped"
fi

run "devbind: e1000 to uio_pci_generic" scripts/devbind.sh --bind=uio_pci_generic 0000:00:03.0
run "e1000 over uio_pci_generic" guest_test 0000:00:03.0 52:54:00:00:00:03 pa nic_both_directions
run "e1000 queues driven from a secondary process, uio_pci_generic" \
    secondary_test 0000:00:03.0 pa
run "e1000 over uio_pci_generic: VA refused" sh -c '
    RPDK_GUEST_PCI=0000:00:03.0 RPDK_GUEST_IOVA=va RPDK_GUEST_PEER='"$PEER0"' \
        pci_guest --exact nic_both_directions --ignored >/tmp/uio-va.log 2>&1 && exit 1
    grep -q "iova-mode=pa" /tmp/uio-va.log || { cat /tmp/uio-va.log; exit 1; }'
run "devbind: virtio-net to uio_pci_generic" \
    scripts/devbind.sh --bind=uio_pci_generic 0000:00:07.0
run "virtio-net over uio_pci_generic" \
    guest_test 0000:00:07.0 52:54:00:00:00:07 pa nic_both_directions
run "virtio-net queues driven from a secondary process, uio_pci_generic" \
    secondary_test 0000:00:07.0 pa
run "devbind: vmxnet3 to uio_pci_generic" \
    scripts/devbind.sh --bind=uio_pci_generic 0000:00:0c.0
run "vmxnet3 over uio_pci_generic" \
    guest_test 0000:00:0c.0 52:54:00:00:00:0c pa nic_both_directions
run "vmxnet3 queues driven from a secondary process, uio_pci_generic" \
    secondary_test 0000:00:0c.0 pa
run "devbind: back to the kernel's e1000" sh -c '
    scripts/devbind.sh --bind=e1000 0000:00:03.0 && ls /sys/bus/pci/devices/0000:00:03.0/net'
run "devbind: unbind" sh -c '
    scripts/devbind.sh --unbind 0000:00:06.0 && [ ! -e /sys/bus/pci/devices/0000:00:06.0/driver ]'

exit $failed
