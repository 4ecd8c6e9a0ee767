# Timer: DPDK's timer_perf_autotest (dpdk-test, about 12 s a run) against rpdk's timer_perf,
# which runs the same steps and prints the same lines. Sourced by scripts/bench-vs-dpdk.sh.
#
# Rows, in cycles (lower is better), per N = 100 ... 1,000,000 timers on one lcore:
#   "N timers: cycles per arm"       arming N stopped timers one second out
#   "N timers: cycles per callback"  manage() running the N expired callbacks
#   "N timers: cycles per reset"     re-arming the N timers at random delays below a second
# and "manage with zero timers: cycles per call", "manage with zero callbacks: cycles per
# call" (one timer pending, 100 s out). Per-timer figures come from the printed totals.

# Reads timer_perf_autotest's output on stdin and prints the rows.
timer_parse() {
    awk -v OFS='\t' '
        /^Appending [0-9]+ timers/ { what = "arm" }
        /^Resetting [0-9]+ timers/ { what = "reset" }
        /^Time for [0-9]+ timers:/ { printf "%s timers: cycles per %s\tcycles\tlower\t%.2f\n", $3, what, $5 / $3 }
        /^Time for [0-9]+ callbacks:/ { printf "%s timers: cycles per callback\tcycles\tlower\t%.2f\n", $3, $5 / $3 }
        /with zero timers:/ { print "manage with zero timers: cycles per call", "cycles", "lower", $(NF - 1) }
        /with zero callbacks:/ { print "manage with zero callbacks: cycles per call", "cycles", "lower", $(NF - 1) }
        /^Error/ { print "timer_perf: " $0 > "/dev/stderr"; failed = 1 }
        END { exit failed }
    '
}

timer_prepare() {
    [[ -x $RPDK_BENCH_BIN/timer_perf ]] || { echo "timer: $RPDK_BENCH_BIN/timer_perf is missing" >&2; return 1; }
    [[ -n ${BENCH_BASELINE:-} ]] || dpdk_need dpdk-test "$DPDK_TEST_BIN"
}

timer_dpdk() {
    local out
    out=$(DPDK_TEST=timer_perf_autotest "$DPDK_TEST_BIN" -l 0,1 --no-pci --file-prefix "$DPDK_PREFIX" 2>&1) || {
        echo "$out" | tail -20 >&2
        return 1
    }
    grep -q "Test OK" <<<"$out" || { echo "$out" | tail -20 >&2; return 1; }
    timer_parse <<<"$out"
}

timer_rpdk() {
    local out
    out=$("$RPDK_BENCH_BIN/timer_perf" -l 0,1 --no-pci --file-prefix "$RPDK_PREFIX" 2>&1) || {
        echo "$out" | tail -20 >&2
        return 1
    }
    timer_parse <<<"$out"
}
