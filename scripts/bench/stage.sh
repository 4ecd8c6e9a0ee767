# The software stage of rpdk-ethdev (rx/tx callbacks, software queues and RSS).
#   testpmd io net_null x2, 1 core: both sides; rpdk's queues have the stage, with nothing in
#     it (one predictable branch per burst)
#   the same with one empty RX callback on every queue (rpdk's --noop-rx-callbacks): the
#     callback path (a sequence counter, a fence, the call); DPDK's testpmd has no such flag,
#     so the row is rpdk's alone and docs/performance.md gives its ratio to the row above
#   software RSS: testpmd io on two af_packet ports (qpairs=1, one kernel queue each) at the
#     ends of a veth pair, --tx-first, 1 forwarding core, with 1 RX queue and with 4 RX queues
#     spread by the stage's Toeplitz hash and RETA (--rss-udp); DPDK cannot run the second
#     (af_packet has qpairs queues only), so these rows are rpdk's, and the last row is the
#     stage's cost per packet in TSC cycles: hz/rate(4 queues) - hz/rate(1 queue)
#   the same cost without the kernel: testpmd io on two net_ring ports with 4 queues, 1 core,
#     --tx-first, once with --disable-rss (each ring its queue's) and once with --rss-udp
#     (net_ring does not spread, so the stage spreads every packet by hash and RETA through
#     its rings): cycles/packet of the one forwarding core, hz/rate, and their difference

STAGE_SECS=${STAGE_SECS:-8}
STAGE_NS=bench-stage-$$

stage_prepare() {
    [[ -n ${BENCH_BASELINE:-} ]] || dpdk_need dpdk-testpmd "$DPDK_TESTPMD_BIN" || return 1
    ip netns del "$STAGE_NS" 2>/dev/null || true
    ip netns add "$STAGE_NS"
    ip netns exec "$STAGE_NS" sh -c "ip link set lo up && \
        ip link add sga type veth peer name sgb && \
        sysctl -qw net.ipv6.conf.sga.disable_ipv6=1 net.ipv6.conf.sgb.disable_ipv6=1 && \
        ip link set sga up && ip link set sgb up"
    on_exit 'ip netns del "$STAGE_NS" 2>/dev/null'
}

# stage_run OUT-FILE CMD...: runs a testpmd for STAGE_SECS, output in OUT-FILE.
stage_run() {
    local out=$1
    shift
    timeout -s INT "$STAGE_SECS" "$@" > "$out" 2>&1 < /dev/null || true
}

# stage_rate FILE: the median Mpps of a testpmd output, or nothing.
stage_rate() {
    /usr/bin/python3 scripts/bench/rates.py testpmd "$1" 2>/dev/null || true
}

stage_null() {
    local bin=$1 prefix=$2 case=$3 out rate
    shift 3
    out=$(mktemp)
    stage_run "$out" "$bin" -l 0,1 --no-pci --file-prefix "$prefix" \
        --vdev net_null0 --vdev net_null1 \
        -- --forward-mode=io --nb-cores=1 --stats-period=1 "$@"
    rate=$(stage_rate "$out")
    if [[ -n $rate ]]; then
        printf '%s\tMpps\thigher\t%s\n' "$case" "$rate"
        rm -f "$out"
    else
        echo "stage: no rate for '$case' from $bin (output: $out)" >&2
    fi
}

stage_dpdk() {
    stage_null "$DPDK_TESTPMD_BIN" "$DPDK_PREFIX" "testpmd io net_null x2, 1 core"
}

stage_rpdk() {
    local bin=$RPDK_BENCH_BIN/rpdk-testpmd
    stage_null "$bin" "$RPDK_PREFIX" "testpmd io net_null x2, 1 core"
    stage_null "$bin" "$RPDK_PREFIX" \
        "testpmd io net_null x2, 1 core, an empty RX callback per queue" --noop-rx-callbacks
    local q out rate hz r1="" r4=""
    for q in 1 4; do
        out=$(mktemp)
        stage_run "$out" ip netns exec "$STAGE_NS" "$bin" -l 0,1 --no-pci \
            --file-prefix "$RPDK_PREFIX" \
            --vdev net_af_packet0,iface=sga,qpairs=1 --vdev net_af_packet1,iface=sgb,qpairs=1 \
            -- --forward-mode=io --nb-cores=1 --stats-period=1 --tx-first \
            --rxq=$q --txq=$q --rss-udp
        rate=$(stage_rate "$out")
        hz=$(sed -n 's/.*TSC frequency is ~\([0-9]*\) KHz.*/\1/p' "$out" | head -1)
        if [[ -z $rate ]]; then
            echo "stage: no rate for af_packet with $q RX queues (output: $out)" >&2
            continue
        fi
        rm -f "$out"
        printf 'testpmd io af_packet qpairs=1 veth loop --tx-first, %s RX queue(s)\tMpps\thigher\t%s\n' \
            "$q" "$rate"
        if [[ $q == 1 ]]; then r1=$rate; else r4=$rate; fi
    done
    local rn="" rr=""
    for mode in --disable-rss --rss-udp; do
        out=$(mktemp)
        stage_run "$out" "$bin" -l 0,1 --no-pci --file-prefix "$RPDK_PREFIX" \
            --vdev net_ring0 --vdev net_ring1 \
            -- --forward-mode=io --nb-cores=1 --stats-period=1 --tx-first \
            --rxq=4 --txq=4 "$mode"
        rate=$(stage_rate "$out")
        hz=$(sed -n 's/.*TSC frequency is ~\([0-9]*\) KHz.*/\1/p' "$out" | head -1)
        if [[ -z $rate || -z $hz ]]; then
            echo "stage: no rate for net_ring $mode (output: $out)" >&2
            continue
        fi
        rm -f "$out"
        /usr/bin/python3 -c "print(f'testpmd io net_ring x2 --tx-first, 4 queues, $mode\tcycles/packet\tlower\t{$hz * 1e3 / ($rate * 1e6):.1f}')"
        if [[ $mode == --disable-rss ]]; then rn=$rate; else rr=$rate; fi
    done
    if [[ -n $rn && -n $rr && -n $hz ]]; then
        /usr/bin/python3 -c "
hz = $hz * 1e3
print(f'software RSS over 4 queues on net_ring, cost\tcycles/packet\tlower\t{hz / ($rr * 1e6) - hz / ($rn * 1e6):.1f}')"
    fi
    if [[ -n $r1 && -n $r4 && -n $hz ]]; then
        /usr/bin/python3 -c "
hz = $hz * 1e3
print(f'software RSS over 4 queues on 1 af_packet queue, cost\tcycles/packet\tlower\t{hz / ($r4 * 1e6) - hz / ($r1 * 1e6):.1f}')"
    fi
}
