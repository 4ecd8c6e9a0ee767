# testpmd forwarding rates, DPDK's dpdk-testpmd against rpdk-testpmd with the same arguments.
#   testpmd io net_null x2: two null ports, one forwarding core (Mpps, all ports)
#   testpmd io net_ring x2 --tx-first: two loopback ring ports, 64 mbufs circulating through
#     the port layer and the io engine, no packet data touched (Mpps, all ports)
#   testpmd io af_packet veth loop: two af_packet ports on the ends of one veth pair in a
#     namespace, packets injected with --tx-first circulate (Mpps, all ports)
#     (both drivers' default TPACKET_V2 RX rings)
#   the same with V3 RX rings: rpdk with tpacket_version=3; DPDK's driver has only V2, so its
#     side runs the default again

TESTPMD_SECS=${TESTPMD_SECS:-8}
TESTPMD_NS=bench-tp-$$

testpmd_prepare() {
    [[ -n ${BENCH_BASELINE:-} ]] || dpdk_need dpdk-testpmd "$DPDK_TESTPMD_BIN" || return 1
    ip netns del "$TESTPMD_NS" 2>/dev/null || true
    ip netns add "$TESTPMD_NS"
    ip netns exec "$TESTPMD_NS" sh -c "ip link set lo up && \
        ip link add tpa type veth peer name tpb && \
        sysctl -qw net.ipv6.conf.tpa.disable_ipv6=1 net.ipv6.conf.tpb.disable_ipv6=1 && \
        ip link set tpa up && ip link set tpb up"
    on_exit 'ip netns del "$TESTPMD_NS" 2>/dev/null'
}

# testpmd_run BINARY PREFIX CASE UNIT EAL-ARGS... -- APP-ARGS...
testpmd_run() {
    local bin=$1 prefix=$2 case=$3 out
    shift 3
    out=$(mktemp)
    timeout -s INT "$TESTPMD_SECS" "$@" > "$out" 2>&1 < /dev/null || true
    local rate
    if rate=$(/usr/bin/python3 scripts/bench/rates.py testpmd "$out" 2>/dev/null); then
        printf '%s\tMpps\thigher\t%s\n' "$case" "$rate"
    else
        echo "testpmd: no rate for '$case' from $bin (output: $out)" >&2
        return 0
    fi
    rm -f "$out"
}

# testpmd_side BINARY PREFIX V3-DEVARG: the last is what makes the binary's af_packet RX
# rings TPACKET_V3 (empty where the driver has no V3).
testpmd_side() {
    local bin=$1 prefix=$2 v3=$3
    testpmd_run "$bin" "$prefix" "testpmd io net_null x2, 1 core" \
        "$bin" -l 0,1 --no-pci --file-prefix "$prefix" --vdev net_null0 --vdev net_null1 \
        -- --forward-mode=io --nb-cores=1 --stats-period=1
    testpmd_run "$bin" "$prefix" "testpmd io net_ring x2 --tx-first, 1 core" \
        "$bin" -l 0,1 --no-pci --file-prefix "$prefix" --vdev net_ring0 --vdev net_ring1 \
        -- --forward-mode=io --nb-cores=1 --stats-period=1 --tx-first
    testpmd_run "$bin" "$prefix" "testpmd io af_packet veth loop --tx-first" \
        ip netns exec "$TESTPMD_NS" "$bin" -l 0,1 --no-pci --file-prefix "$prefix" \
        --vdev net_af_packet0,iface=tpa --vdev net_af_packet1,iface=tpb \
        -- --forward-mode=io --nb-cores=1 --stats-period=1 --tx-first
    testpmd_run "$bin" "$prefix" "testpmd io af_packet veth loop --tx-first, V3 RX rings" \
        ip netns exec "$TESTPMD_NS" "$bin" -l 0,1 --no-pci --file-prefix "$prefix" \
        --vdev "net_af_packet0,iface=tpa$v3" --vdev "net_af_packet1,iface=tpb$v3" \
        -- --forward-mode=io --nb-cores=1 --stats-period=1 --tx-first
}

testpmd_dpdk() {
    testpmd_side "$DPDK_TESTPMD_BIN" "$DPDK_PREFIX" ""
}

testpmd_rpdk() {
    testpmd_side "$RPDK_BENCH_BIN/rpdk-testpmd" "$RPDK_PREFIX" ",tpacket_version=3"
}
