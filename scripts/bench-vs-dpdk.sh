#!/usr/bin/env bash
# Runs DPDK (Debian's packaged 22.11) and rpdk side by side, alternately, and prints for every
# row the DPDK median, the rpdk median and the ratio rpdk/DPDK.
#
#   scripts/bench-vs-dpdk.sh [--rounds N] COMPONENT...
#
# Each component lives in scripts/bench/<component>.sh and defines three functions:
#   <component>_prepare   build or set up what it needs (optional)
#   <component>_dpdk      one DPDK run; prints rows "case<TAB>unit<TAB>better<TAB>value"
#   <component>_rpdk      one rpdk run; the same rows, with the same case names
# where better is "lower" or "higher". Rows only one side has are kept (ratio "-").
#
# Output: a table on stdout, target/bench-vs-dpdk/<component>.csv with the header
# case,unit,better,dpdk,rpdk,ratio, a markdown table in target/bench-vs-dpdk/<component>.md, and a
# chart in docs/perf/<component>.png for docs/performance.md. Needs root (hugepages).
# The machine is shared and noisy: only ratios from one run mean anything.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

rounds=3
components=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) rounds=${2:?--rounds needs a number}; shift ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "bench-vs-dpdk.sh: unknown option '$1'" >&2; exit 2 ;;
        *) components+=("$1") ;;
    esac
    shift
done
if [[ ${#components[@]} -eq 0 ]]; then
    echo "usage: scripts/bench-vs-dpdk.sh [--rounds N] COMPONENT... (available:" \
         "$(cd scripts/bench && ls ./*.sh | sed 's|./||; s|\.sh||' | tr '\n' ' '))" >&2
    exit 2
fi
for c in "${components[@]}"; do
    [[ -f scripts/bench/$c.sh ]] || { echo "bench-vs-dpdk.sh: no component '$c'" >&2; exit 2; }
done
if [[ $(id -u) -ne 0 ]]; then
    echo "bench-vs-dpdk.sh: needs root (hugepages for DPDK and rpdk)" >&2
    exit 1
fi

# DPDK from Debian (dpdk-dev ships dpdk-test), and matplotlib for the charts.
need=()
command -v dpdk-test >/dev/null || need+=(dpdk dpdk-dev)
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
if [[ ${#need[@]} -gt 0 ]]; then
    echo "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
scripts/hugepages.sh --setup 1G >/dev/null

export RPDK_BENCH_BIN=$ROOT/target/release
export DPDK_PREFIX=bench-dpdk-$$
export RPDK_PREFIX=bench-rpdk-$$
export RPDK_BENCH_OUT=$ROOT/target/bench-vs-dpdk

# What components ask to undo (on_exit CMD), then the two sides' runtime directories and
# hugepage files, so that runs leave nothing behind.
exit_hooks=()
on_exit() { exit_hooks+=("$1"); }
cleanup() {
    local h
    for h in "${exit_hooks[@]}"; do eval "$h" || true; done
    rm -rf "/var/run/dpdk/$DPDK_PREFIX" "/var/run/rpdk/$RPDK_PREFIX"
    rm -f /dev/hugepages/"$DPDK_PREFIX"* /dev/hugepages/"$RPDK_PREFIX"*
}
trap cleanup EXIT
cargo build --release -q -p rpdk-benches -p rpdk-examples

out=$ROOT/target/bench-vs-dpdk
mkdir -p "$out" docs/perf
for c in "${components[@]}"; do
    # shellcheck source=/dev/null
    source "scripts/bench/$c.sh"
    if declare -F "${c}_prepare" >/dev/null; then "${c}_prepare"; fi
    raw=$out/$c.raw
    rm -rf "$raw" && mkdir -p "$raw"
    for r in $(seq 1 "$rounds"); do
        echo "== $c: round $r of $rounds: DPDK" >&2
        "${c}_dpdk" > "$raw/dpdk.$r.tsv"
        echo "== $c: round $r of $rounds: rpdk" >&2
        "${c}_rpdk" > "$raw/rpdk.$r.tsv"
    done
    /usr/bin/python3 scripts/bench/report.py --component "$c" --raw "$raw" \
        --csv "$out/$c.csv" --markdown "$out/$c.md" --chart "docs/perf/$c.png"
done
