# ACL: DPDK's dpdk-test-acl (rte_acl, each of its search methods) against rpdk-flow's software
# classifier (flow_perf), on the same ClassBench-like 5-tuple rules and packet trace. Sourced by
# scripts/bench-vs-dpdk.sh.
#
# flow_perf writes each rule set and the trace in dpdk-test-acl's formats (--rulesf: ClassBench
# filters; --tracef: one 5-tuple per line), so both sides classify exactly the same headers.
# Rows, per N rules (ACL_RULES, default 1 16 256 1000 10000 100000):
#   "N rules: Mpps vs ALG"   classification rate on one core; DPDK: rte_acl with --alg=ALG
#                            (scalar, sse, avx2, avx512x16, as the CPU has them); rpdk: the same
#                            flow_perf figure on every row, so each ratio is against one method
#   "N rules: ms to load"    DPDK: the whole process with --iter=1 (EAL init, parsing, rte_acl_build, one pass);
#                            rpdk: creating the N rules one by one (validate, compile, publish)
# rpdk classifies 64-byte frames in mbufs (parsing each), dpdk-test-acl bare 5-tuples.
# dpdk-test-acl is given --rulenum=N: its default context holds 65,536 rules, and 100,000 fail
# to load (ENOMEM) without it.

acl_rules() { echo "${ACL_RULES:-1 16 256 1000 10000 100000}"; }

acl_algs() {
    local algs=(scalar sse) f
    f=$(grep -m1 '^flags' /proc/cpuinfo)
    [[ $f == *" avx2 "* ]] && algs+=(avx2)
    [[ $f == *" avx512bw "* ]] && algs+=(avx512x16)
    echo "${algs[@]}"
}

acl_prepare() {
    [[ -x $RPDK_BENCH_BIN/flow_perf ]] || { echo "acl: $RPDK_BENCH_BIN/flow_perf is missing" >&2; return 1; }
    [[ -n ${BENCH_BASELINE:-} ]] || dpdk_need dpdk-test-acl "$DPDK_TEST_ACL_BIN" || return 1
    ACL_DIR=$RPDK_BENCH_OUT/acl
    mkdir -p "$ACL_DIR"
    "$RPDK_BENCH_BIN/flow_perf" -l 0 --no-pci --file-prefix "$RPDK_PREFIX" -- \
        --rules "$(acl_rules | tr ' ' ',')" --runs 1 --ms 10 --write-acl "$ACL_DIR" >/dev/null
}

acl_dpdk() {
    local n alg out t0 t1
    for n in $(acl_rules); do
        t0=$(date +%s%N)
        "$DPDK_TEST_ACL_BIN" -l 0 --no-pci --file-prefix "$DPDK_PREFIX" -- \
            --rulesf="$ACL_DIR/rules-$n" --tracef="$ACL_DIR/trace-$n" --rulenum="$n" --iter=1 \
            >/dev/null 2>&1 || {
            echo "acl: dpdk-test-acl failed on $n rules" >&2
            return 1
        }
        t1=$(date +%s%N)
        printf '%s rules: ms to load\tms\tlower\t%.1f\n' "$n" "$(((t1 - t0) / 1000))e-3"
        for alg in $(acl_algs); do
            out=$("$DPDK_TEST_ACL_BIN" -l 0 --no-pci --file-prefix "$DPDK_PREFIX" -- \
                --rulesf="$ACL_DIR/rules-$n" --tracef="$ACL_DIR/trace-$n" --rulenum="$n" \
                --alg="$alg" --iter=200 2>&1) || {
                echo "$out" | tail -5 >&2
                return 1
            }
            awk -v n="$n" -v alg="$alg" -v OFS='\t' '/^search_ip5tuples / {
                printf "%s rules: Mpps vs %s\tMpps\thigher\t%.3f\n", n, alg, $(NF - 1) / 1e6 }' <<<"$out"
        done
    done
}

acl_rpdk() {
    local out
    out=$("$RPDK_BENCH_BIN/flow_perf" -l 0 --no-pci --file-prefix "$RPDK_PREFIX" -- \
        --rules "$(acl_rules | tr ' ' ',')" --runs 3 --ms 300 2>&1) || {
        echo "$out" | tail -5 >&2
        return 1
    }
    awk -v algs="$(acl_algs)" -v OFS='\t' '
        $1 ~ /^[0-9]+$/ && NF == 8 {
            printf "%s rules: ms to load\tms\tlower\t%.1f\n", $1, $1 / $3 * 1000
            n = split(algs, a, " ")
            for (i = 1; i <= n; i++) printf "%s rules: Mpps vs %s\tMpps\thigher\t%s\n", $1, a[i], $4
        }' <<<"$out"
}
