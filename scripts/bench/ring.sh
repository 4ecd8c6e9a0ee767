# shellcheck shell=bash
# Ring: DPDK's ring_perf_autotest (dpdk-test) against rpdk's ring_perf, which prints the same
# rows with the same labels. Sourced by scripts/bench-vs-dpdk.sh.
#
# Case names are DPDK's row labels; rows whose labels repeat in DPDK's output get the section
# in brackets: "[empty ring]" (cycles per failed dequeue call), "[two cores]" (one lcore
# enqueues, the other dequeues: cycles per element, both sides summed). Single-lcore rows are
# cycles per iteration (one enqueue plus one dequeue of `size` elements). "[all lcores]" rows
# count iterations of bulk enqueue plus dequeue on every lcore in 100 ms (higher is better).
# dpdk-test has no RTS or HTS rows: ring_rts_hts.c (built here against Debian's libdpdk-dev)
# runs the same loops on DPDK's MP_RTS/MC_RTS and MP_HTS/MC_HTS rings and prints them with the
# labels rpdk's ring_perf uses. The crossbeam ArrayQueue and rtrb rows are rpdk-side only
# (ratio "-").

ring_rows() {
    awk '
    /^### Testing/ {
        sec = $0; sub(/^### Testing /, "", sec); sub(/ ###$/, "", sec); next
    }
    /^Total count \(size: [0-9]+\): [0-9]+$/ {
        size = $0; sub(/^Total count \(size: /, "", size); sub(/\).*$/, "", size)
        printf "%s: MP/MC: bulk (size: %s) [all lcores]\tcount/100ms\thigher\t%s\n", prefix, size, $NF
        next
    }
    /: (single|bulk \(size: [0-9]+\)|burst \(size: [0-9]+\)): [0-9.]+$/ {
        v = $NF; label = $0; sub(/: [0-9.]+$/, "", label)
        p = label; sub(/: [A-Z_]+\/[A-Z_]+: .*$/, "", p)
        if (p ~ /APIs/) prefix = p
        unit = "cycles/iter"; suffix = ""
        if (sec ~ /empty/) { unit = "cycles/call"; suffix = " [empty ring]" }
        else if (sec ~ /two physical cores/) { unit = "cycles/elem"; suffix = " [two cores]" }
        else if (sec ~ /two hyperthreads/) { unit = "cycles/elem"; suffix = " [two hyperthreads]" }
        else if (sec ~ /NUMA/) { unit = "cycles/elem"; suffix = " [two sockets]" }
        printf "%s%s\t%s\tlower\t%s\n", label, suffix, unit, v
    }'
}

RING_RTS_HTS=target/bench-vs-dpdk/ring_rts_hts

ring_prepare() {
    command -v cc >/dev/null || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc >/dev/null
    }
    mkdir -p "$(dirname "$RING_RTS_HTS")"
    # shellcheck disable=SC2046 # pkg-config prints several flags
    cc -O3 -Wall $(pkg-config --cflags libdpdk) scripts/bench/ring_rts_hts.c \
        -o "$RING_RTS_HTS" $(pkg-config --libs libdpdk)
}

ring_dpdk() {
    {
        DPDK_TEST=ring_perf_autotest dpdk-test -l 0,1 --no-pci --file-prefix "$DPDK_PREFIX"
        "$RING_RTS_HTS" -l 0,1 --no-pci --file-prefix "$DPDK_PREFIX"
    } 2>/dev/null | ring_rows
}

ring_rpdk() {
    "$RPDK_BENCH_BIN/ring_perf" -l 0,1 --file-prefix "$RPDK_PREFIX" --log-level=error \
        | ring_rows
}
