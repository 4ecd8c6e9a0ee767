# l2fwd forwarding rate over two net_null ports on two lcores: DPDK's l2fwd (built from the
# example sources of Debian's dpdk-doc, or the one a --dpdk build directory built, or built from
# an install prefix's examples) against rpdk's, with the same command line.

L2FWD_SECS=${L2FWD_SECS:-8}
l2fwd_prepare() {
    [[ -n ${BENCH_BASELINE:-} ]] && return 0
    if [[ -n $DPDK_L2FWD_BIN ]]; then
        L2FWD_DPDK_BIN=$DPDK_L2FWD_BIN
        return 0
    fi
    if [[ $DPDK_L2FWD_SRC == /usr/share/dpdk/* ]] &&
        ! dpkg-query -W -f='${Status}' dpdk-doc 2>/dev/null | grep -q "install ok installed"; then
        apt-get install -y -qq dpdk-doc >/dev/null
    fi
    [[ -f $DPDK_L2FWD_SRC ]] || { echo "l2fwd: no $DPDK_L2FWD_SRC" >&2; return 1; }
    # DPDK's example as shipped, built as its Makefile does (pkg-config libdpdk), optimised.
    L2FWD_DPDK_BIN=$RPDK_BENCH_OUT/dpdk-l2fwd
    dpdk_cc "$DPDK_L2FWD_SRC" "$L2FWD_DPDK_BIN" -march=native -w
}

l2fwd_side() {
    local bin=$1 prefix=$2 out rate
    out=$(mktemp)
    timeout -s INT "$L2FWD_SECS" "$bin" -l 0,1 --no-pci --file-prefix "$prefix" \
        --vdev net_null0 --vdev net_null1 -- -p 0x3 -T 1 > "$out" 2>&1 < /dev/null || true
    if rate=$(/usr/bin/python3 scripts/bench/rates.py l2fwd "$out" 2>/dev/null); then
        printf 'l2fwd net_null x2, 2 lcores\tMpps\thigher\t%s\n' "$rate"
    else
        echo "l2fwd: no rate from $bin (output: $out)" >&2
        return 0
    fi
    rm -f "$out"
}

l2fwd_dpdk() {
    l2fwd_side "$L2FWD_DPDK_BIN" "$DPDK_PREFIX"
}

l2fwd_rpdk() {
    l2fwd_side "$RPDK_BENCH_BIN/l2fwd" "$RPDK_PREFIX"
}
