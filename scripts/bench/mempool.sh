# shellcheck shell=bash
# Mempool and mbuf: DPDK's mempool and pktmbuf calls (mempool_perf.c, built here against
# the DPDK that runs) against rpdk's mempool_perf, which prints the same rows. Sourced by
# scripts/bench-vs-dpdk.sh.
#
#   mempool cache=C cores=N bulk=B keep=128: the loop of DPDK's mempool_perf_autotest (each
#     core gets 128 objects by bulks of B, then puts them back), cycles of one core per object
#     got and put; cache 0 goes to the pool's shared store every time, cache 512 mostly not.
#   mbuf cache=C alloc+free single|bulk N: rte_pktmbuf_alloc/free one at a time, or
#     alloc_bulk/free_bulk by N, on one core: cycles per mbuf.
# Both sides use their pools' default backing (DPDK: ring_mp_mc). MEMPOOL_MS (default 2000)
# sets the time per mempool case.

MEMPOOL_MS=${MEMPOOL_MS:-2000}

mempool_rows() {
    grep -P '^row\t' | cut -f2-
}

mempool_prepare() {
    MEMPOOL_C=$RPDK_BENCH_OUT/mempool_perf
    [[ -n ${BENCH_BASELINE:-} ]] && return 0
    dpdk_cc scripts/bench/mempool_perf.c "$MEMPOOL_C"
}

mempool_dpdk() {
    "$MEMPOOL_C" -l 0,1 --no-pci --file-prefix "$DPDK_PREFIX" --log-level=error \
        -- "$MEMPOOL_MS" 2>/dev/null | mempool_rows
}

mempool_rpdk() {
    "$RPDK_BENCH_BIN/mempool_perf" -l 0,1 --file-prefix "$RPDK_PREFIX" --log-level=error \
        -- --ms "$MEMPOOL_MS" | mempool_rows
}
