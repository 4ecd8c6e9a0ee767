# shellcheck shell=bash
# Ring: DPDK's ring_perf_autotest (dpdk-test) against rpdk's ring_perf, which prints the same
# rows with the same labels. Sourced by scripts/bench-vs-dpdk.sh.
#
# Case names are DPDK's row labels; rows whose labels repeat in DPDK's output get the section
# in brackets: "[empty ring]" (cycles per failed dequeue call), "[two cores]" (one lcore
# enqueues, the other dequeues: cycles per element, both sides summed). Single-lcore rows are
# cycles per iteration (one enqueue plus one dequeue of `size` elements). "[all lcores]" rows
# count iterations of bulk enqueue plus dequeue on every lcore in 100 ms (higher is better).
# dpdk-test has no RTS or HTS rows: ring_rts_hts.c (built here against the DPDK that runs)
# runs the same loops on DPDK's MP_RTS/MC_RTS and MP_HTS/MC_HTS rings and prints them with the
# labels rpdk's ring_perf uses. The crossbeam ArrayQueue and rtrb rows are rpdk-side only
# (ratio "-").

# Reads ring_perf_autotest's output, either format, and prints the rows in 22.11's terms.
# DPDK 22.11 prints "legacy APIs: SP/SC: bulk (size: 8): 17.78", cycles per iteration for the
# single-lcore rows and per call for the empty ring. Newer DPDK (24.x to 26.x) prints
# "legacy APIs - SP/SC - bulk (n:8  ) - cycles per elem: 2.222": its single-lcore and empty-ring
# loops run iterations/size times and divide by iterations, so the figure is per element, and
# times size it is 22.11's per iteration (per call for the empty ring); its two-core rows are per
# element in both. Its "[all lcores]" loop passes the ring's elem_size field, which that test
# leaves 0, as the bulk count: every call there moves nothing (a head and a tail load, no CAS),
# whatever size it prints, so those rows are named "bulk of 0" and have no rpdk counterpart.
# Rows for bulks of 64, 128 and 256 and the zero-copy sections are newer DPDK's alone.
ring_rows() {
    awk '
    /^### Testing/ {
        sec = $0; sub(/^### Testing /, "", sec); sub(/ ###$/, "", sec); next
    }
    / - cycles per elem: [0-9.]+$/ {
        perelem = 1
        sub(/ - cycles per elem: /, ": "); gsub(/ - /, ": ")
        sub(/^elem APIs \(size: */, "elem APIs: element size "); sub(/B\): /, "B: ")
        sub(/\(n:/, "(size: "); sub(/ +\)/, ")")
    }
    /^Total count \(size: [0-9]+\): [0-9]+$/ {
        size = $0; sub(/^Total count \(size: /, "", size); sub(/\).*$/, "", size)
        if (perelem)
            printf "%s: MP/MC: bulk of 0 (printed as size %s) [all lcores]\tcount/100ms\thigher\t%s\n", prefix, size, $NF
        else
            printf "%s: MP/MC: bulk (size: %s) [all lcores]\tcount/100ms\thigher\t%s\n", prefix, size, $NF
        next
    }
    /: (single|bulk \(size: [0-9]+\)|burst \(size: [0-9]+\)): [0-9.]+$/ {
        v = $NF; label = $0; sub(/: [0-9.]+$/, "", label)
        p = label; sub(/: [A-Z_]+\/[A-Z_]+: .*$/, "", p)
        if (p ~ /APIs/) prefix = p
        n = 1
        if (label ~ /\(size: [0-9]+\)$/) { n = label; sub(/^.*\(size: /, "", n); sub(/\)$/, "", n) }
        unit = "cycles/iter"; suffix = ""; scale = perelem ? n : 1
        if (sec ~ /empty/) { unit = "cycles/call"; suffix = " [empty ring]" }
        else if (sec ~ /two physical cores/) { unit = "cycles/elem"; suffix = " [two cores]"; scale = 1 }
        else if (sec ~ /two hyperthreads/) { unit = "cycles/elem"; suffix = " [two hyperthreads]"; scale = 1 }
        else if (sec ~ /NUMA/) { unit = "cycles/elem"; suffix = " [two sockets]"; scale = 1 }
        else if (sec !~ /single|burst|bulk/) next
        printf "%s%s\t%s\tlower\t%.3f\n", label, suffix, unit, v * scale
    }'
}

RING_RTS_HTS=target/bench-vs-dpdk/ring_rts_hts

ring_prepare() {
    RING_RTS_HTS=$RPDK_BENCH_OUT/ring_rts_hts
    [[ -n ${BENCH_BASELINE:-} ]] && return 0
    dpdk_need dpdk-test "$DPDK_TEST_BIN" || return 1
    dpdk_cc scripts/bench/ring_rts_hts.c "$RING_RTS_HTS"
}

ring_dpdk() {
    {
        DPDK_TEST=ring_perf_autotest "$DPDK_TEST_BIN" -l 0,1 --no-pci --file-prefix "$DPDK_PREFIX"
        "$RING_RTS_HTS" -l 0,1 --no-pci --file-prefix "$DPDK_PREFIX"
    } 2>/dev/null | ring_rows
}

ring_rpdk() {
    "$RPDK_BENCH_BIN/ring_perf" -l 0,1 --file-prefix "$RPDK_PREFIX" --log-level=error \
        | ring_rows
}
