# Round-trip latency through l2fwd: ping from one network namespace to the other across two
# af_packet ports that DPDK's l2fwd (built as in l2fwd.sh) or rpdk's forwards, over
# scripts/veth-topology.sh (addresses only inside the namespaces it makes). Each run: 100 pings
# 10 ms apart, bounded by ping's count and deadline; the row is their average RTT in ms.
#   l2fwd af_packet ping RTT: both drivers as they come (TPACKET_V2 RX rings, both)
#   l2fwd af_packet ping RTT, V3 RX rings: rpdk with tpacket_version=3, whose blocks wait for
#     the 1 ms retire timer under light traffic; DPDK's driver has only V2 (its default again)

# shellcheck source=/dev/null
source scripts/bench/l2fwd.sh
LATENCY_TOPO=blat$$

latency_prepare() {
    l2fwd_prepare
    scripts/veth-topology.sh down --prefix "$LATENCY_TOPO" >/dev/null 2>&1 || true
    scripts/veth-topology.sh up --prefix "$LATENCY_TOPO" --pairs 2 >/dev/null
    on_exit 'scripts/veth-topology.sh down --prefix "$LATENCY_TOPO" >/dev/null 2>&1'
}

# latency_run BINARY PREFIX CASE EXTRA-DEVARGS
latency_run() {
    local bin=$1 prefix=$2 case=$3 extra=$4 pid rtt
    "$bin" -l 0,1 --no-pci --file-prefix "$prefix" \
        --vdev "net_af_packet0,iface=${LATENCY_TOPO}0$extra" \
        --vdev "net_af_packet1,iface=${LATENCY_TOPO}1$extra" \
        -- -p 0x3 -T 0 > /dev/null 2>&1 < /dev/null &
    pid=$!
    sleep 2
    rtt=$(ip netns exec "${LATENCY_TOPO}ns0" ping -q -c 100 -i 0.01 -W 1 -w 10 198.18.0.2 |
        sed -n 's|^rtt [^=]*= [^/]*/\([^/]*\)/.*|\1|p' || true)
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [[ -n $rtt ]]; then
        printf '%s\tms\tlower\t%s\n' "$case" "$rtt"
    else
        echo "latency: no round trip for '$case' from $bin" >&2
    fi
}

latency_dpdk() {
    latency_run "$L2FWD_DPDK_BIN" "$DPDK_PREFIX" "l2fwd af_packet ping RTT" ""
    latency_run "$L2FWD_DPDK_BIN" "$DPDK_PREFIX" "l2fwd af_packet ping RTT, V3 RX rings" ""
}

latency_rpdk() {
    latency_run "$RPDK_BENCH_BIN/l2fwd" "$RPDK_PREFIX" "l2fwd af_packet ping RTT" ""
    latency_run "$RPDK_BENCH_BIN/l2fwd" "$RPDK_PREFIX" "l2fwd af_packet ping RTT, V3 RX rings" \
        ",tpacket_version=3"
}
