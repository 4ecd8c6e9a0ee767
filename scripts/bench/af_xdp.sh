# AF_XDP forwarding rates, DPDK's dpdk-testpmd against rpdk-testpmd with the same arguments.
#   testpmd io af_xdp veth loop --tx-first: two net_af_xdp ports on the ends of one veth pair
#     in a namespace (native XDP, copy mode: veth has no zero-copy), packets injected with
#     --tx-first circulate; one forwarding core (Mpps, all ports); DPDK's defaults (busy
#     polling, budget 64)
#   the same with busy_budget=0: no busy polling, wake-ups only when the kernel asks
#   testpmd io af_packet veth loop --tx-first: the same veth loop over net_af_packet, in the
#     same run, for the comparison
# Every case runs once per round on each side, alternately; bench-vs-dpdk.sh takes medians.

AF_XDP_SECS=${AF_XDP_SECS:-8}
AF_XDP_NS=bench-xdp-$$

af_xdp_prepare() {
    [[ -n ${BENCH_BASELINE:-} ]] || dpdk_need dpdk-testpmd "$DPDK_TESTPMD_BIN" || return 1
    ip netns del "$AF_XDP_NS" 2>/dev/null || true
    ip netns add "$AF_XDP_NS"
    ip netns exec "$AF_XDP_NS" sh -c "ip link set lo up && \
        ip link add xpa type veth peer name xpb && \
        sysctl -qw net.ipv6.conf.xpa.disable_ipv6=1 net.ipv6.conf.xpb.disable_ipv6=1 && \
        ip link set xpa up && ip link set xpb up"
    on_exit 'ip netns del "$AF_XDP_NS" 2>/dev/null'
}

# af_xdp_run BINARY CASE EAL-ARGS... -- APP-ARGS...
af_xdp_run() {
    local bin=$1 case=$2 out rate
    shift 2
    out=$(mktemp)
    timeout -s INT "$AF_XDP_SECS" "$@" > "$out" 2>&1 < /dev/null || true
    if rate=$(/usr/bin/python3 scripts/bench/rates.py testpmd "$out" 2>/dev/null); then
        printf '%s\tMpps\thigher\t%s\n' "$case" "$rate"
    else
        echo "af_xdp: no rate for '$case' from $bin (output: $out)" >&2
        return 0
    fi
    rm -f "$out"
}

# af_xdp_side BINARY PREFIX
af_xdp_side() {
    local bin=$1 prefix=$2 extra
    local app=(-- --forward-mode=io --nb-cores=1 --stats-period=1 --tx-first)
    for extra in "" ",busy_budget=0"; do
        af_xdp_run "$bin" "testpmd io af_xdp veth loop --tx-first${extra:+, ${extra#,}}" \
            ip netns exec "$AF_XDP_NS" "$bin" -l 0,1 --no-pci --file-prefix "$prefix" \
            --vdev "net_af_xdp0,iface=xpa$extra" --vdev "net_af_xdp1,iface=xpb$extra" "${app[@]}"
        # A killed or stopped run leaves nothing attached; a stale program would fail the next.
        sleep 1
    done
    af_xdp_run "$bin" "testpmd io af_packet veth loop --tx-first" \
        ip netns exec "$AF_XDP_NS" "$bin" -l 0,1 --no-pci --file-prefix "$prefix" \
        --vdev net_af_packet0,iface=xpa --vdev net_af_packet1,iface=xpb "${app[@]}"
}

af_xdp_dpdk() {
    af_xdp_side "$DPDK_TESTPMD_BIN" "$DPDK_PREFIX"
}

af_xdp_rpdk() {
    af_xdp_side "$RPDK_BENCH_BIN/rpdk-testpmd" "$RPDK_PREFIX"
}
