# Packet capture: testpmd io on two net_null ports (1 forwarding core) with capture off, and
# with one pdump process attached capturing port 0 in both directions into one file (DPDK:
# dpdk-pdump writing pcap through net_pcap; rpdk: rpdk-pdump writing pcapng). The pdump
# process attaches 3 s after testpmd starts and leaves 2 s before it stops, so most of the
# periodic prints the median is taken over are with capture on. Both pdumps use a ring of
# 4096 and 8192 mbufs; what they cannot keep up with is dropped (counted) in the primary.
#   capture off / on (Mpps, all ports), the ratio on/off as its own row, and what the pdump
#   wrote (packets it dequeued over the time it ran, Mpps)

CAPTURE_SECS=${CAPTURE_SECS:-12}

# capture_testpmd BIN PREFIX OUT: one testpmd run of CAPTURE_SECS, output in OUT.
capture_testpmd() {
    timeout -s INT "$CAPTURE_SECS" "$1" -l 0,1 --no-pci --file-prefix "$2" \
        --vdev net_null0 --vdev net_null1 \
        -- --forward-mode=io --nb-cores=1 --stats-period=1 --total-num-mbufs=16384 \
        > "$3" 2>&1 < /dev/null || true
}

# capture_side TESTPMD PDUMP PREFIX FILE LCORES [PRELOAD]: LCORES is the pdump's (rpdk's
# processes of one prefix each run their own lcore ids); PRELOAD, libraries the pdump process
# loads first (LD_PRELOAD).
capture_side() {
    local tp=$1 pd=$2 prefix=$3 file=$4 lcores=$5 preload=${6:-} off on pdout r_off r_on
    local t0 t1 got
    off=$(mktemp) on=$(mktemp) pdout=$(mktemp)
    capture_testpmd "$tp" "$prefix" "$off"
    capture_testpmd "$tp" "$prefix" "$on" &
    local tpid=$!
    sleep 3
    t0=$(date +%s.%N)
    LD_PRELOAD=$preload timeout -s INT $((CAPTURE_SECS - 5)) "$pd" --lcores "$lcores" \
        --no-pci --file-prefix "$prefix" \
        -- --pdump "port=0,queue=*,rx-dev=$file,tx-dev=$file,ring-size=4096,total-num-mbufs=8192" \
        > "$pdout" 2>&1 < /dev/null || true
    t1=$(date +%s.%N)
    wait "$tpid" || true
    rm -f "$file"
    r_off=$(/usr/bin/python3 scripts/bench/rates.py testpmd "$off" 2>/dev/null || true)
    r_on=$(/usr/bin/python3 scripts/bench/rates.py testpmd "$on" 2>/dev/null || true)
    [[ -n $r_off ]] && printf 'testpmd io net_null x2, capture off\tMpps\thigher\t%s\n' "$r_off"
    [[ -n $r_on ]] && printf 'testpmd io net_null x2, one pdump attached (port 0 rx+tx)\tMpps\thigher\t%s\n' "$r_on"
    # Both pdumps print "-packets dequeued: N" at exit: what they took off the ring and wrote.
    got=$(awk -F: '/packets dequeued/ {gsub(/[ \t]/, "", $2); print $2}' "$pdout" | tail -1)
    [[ -n $got ]] && printf 'pdump packets written (over its run)\tMpps\thigher\t%s\n' \
        "$(/usr/bin/python3 -c "print(f'{$got / ($t1 - $t0) / 1e6:.3f}')")"
    if [[ -n $r_off && -n $r_on ]]; then
        printf 'capture on / off\tratio\thigher\t%s\n' \
            "$(/usr/bin/python3 -c "print(f'{$r_on / $r_off:.3f}')")"
        rm -f "$off" "$on" "$pdout"
    else
        echo "capture: no rate from $tp (outputs: $off $on, pdump: $pdout)" >&2
    fi
}

capture_dpdk() {
    # dpdk-pdump beside the testpmd in use (a build directory's app/ or a prefix's bin/), or
    # Debian's.
    local dpdk_pdump preload
    dpdk_pdump=$(dirname "$DPDK_TESTPMD_BIN")/dpdk-pdump
    [[ -x $dpdk_pdump ]] || dpdk_pdump=$(command -v dpdk-pdump)
    # A shared-linked DPDK numbers its mempool drivers in the order their libraries load, and
    # the capture pool the pdump process makes is used by testpmd through that number: Debian's
    # testpmd links librte_mempool_dpaa and dpdk-pdump does not, so their numbers differ,
    # testpmd takes mbufs from the wrong driver, and nothing is captured. Loading testpmd's
    # DPDK libraries first, in testpmd's order, gives pdump the same numbering (a static build
    # has no such library: nothing to preload).
    preload=$(ldd "$DPDK_TESTPMD_BIN" 2>/dev/null | awk '/librte_/ {print $3}' | paste -sd: -)
    capture_side "$DPDK_TESTPMD_BIN" "$dpdk_pdump" "$DPDK_PREFIX" \
        "/tmp/bench-capture-dpdk-$$.pcap" 0 "$preload"
}

capture_rpdk() {
    capture_side "$RPDK_BENCH_BIN/rpdk-testpmd" "$RPDK_BENCH_BIN/rpdk-pdump" "$RPDK_PREFIX" \
        "/tmp/bench-capture-rpdk-$$.pcapng" 2@0
}
