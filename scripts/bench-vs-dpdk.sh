#!/usr/bin/env bash
# Runs DPDK and rpdk side by side, alternately, and prints for every row the DPDK median, the
# rpdk median and the ratio rpdk/DPDK.
#
#   scripts/bench-vs-dpdk.sh [--rounds N] [--dpdk DIR | --baseline BIN] [--rpdk BIN]
#                            [--label NAME] COMPONENT...
#
#   --dpdk DIR      DPDK from a build directory (meson's, e.g. DPDK built -Dplatform=native) or
#                   an install prefix instead of Debian's packaged 22.11 (the default): its
#                   dpdk-test, dpdk-testpmd, dpdk-test-acl and l2fwd, and the C helpers built
#                   against it through its pkg-config files (linked static when it is static).
#   --baseline BIN  no DPDK: the first column is rpdk from another build's binaries (BIN is a
#                   cargo target/<profile> directory), to compare two rpdk builds (before and
#                   after a change, target-cpu=native against the default).
#   --rpdk BIN      the rpdk binaries of the second column (default target/release, built here).
#   --label NAME    outputs under target/bench-vs-dpdk/NAME/ and docs/perf/<component>-NAME.png
#                   (default: none with Debian's DPDK, "dpdk-<version>" with --dpdk, "baseline"
#                   with --baseline).
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
dpdk_dir=""
baseline=""
rpdk_bin=""
label=""
label_set=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) rounds=${2:?--rounds needs a number}; shift ;;
        --dpdk) dpdk_dir=${2:?--dpdk needs a DPDK build directory or install prefix}; shift ;;
        --baseline) baseline=${2:?--baseline needs a directory of rpdk binaries}; shift ;;
        --rpdk) rpdk_bin=${2:?--rpdk needs a directory of rpdk binaries}; shift ;;
        --label) label=${2?--label needs a name}; label_set=1; shift ;;
        -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
if [[ -n $dpdk_dir && -n $baseline ]]; then
    echo "bench-vs-dpdk.sh: --dpdk and --baseline both choose the first column; give one" >&2
    exit 2
fi
for d in "$baseline" "$rpdk_bin"; do
    [[ -z $d || -d $d ]] || { echo "bench-vs-dpdk.sh: '$d' is not a directory" >&2; exit 2; }
done
if [[ $(id -u) -ne 0 ]]; then
    echo "bench-vs-dpdk.sh: needs root (hugepages for DPDK and rpdk)" >&2
    exit 1
fi

# DPDK from Debian (dpdk-dev ships dpdk-test) unless --dpdk, and matplotlib for the charts.
need=()
[[ -n $dpdk_dir || -n $baseline ]] || command -v dpdk-test >/dev/null || need+=(dpdk dpdk-dev)
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
if [[ ${#need[@]} -gt 0 ]]; then
    echo "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
scripts/hugepages.sh --setup 1G >/dev/null

# The DPDK the components run: DPDK_TEST_BIN, DPDK_TESTPMD_BIN, DPDK_TEST_ACL_BIN, DPDK_L2FWD_BIN
# (a built l2fwd, or empty: then DPDK_L2FWD_SRC is the example's main.c to build),
# DPDK_PKG_CONFIG_PATH and DPDK_PKG_STATIC (for dpdk_cc) and DPDK_VERSION.
# shellcheck source=scripts/bench/dpdk-dir.bash
source scripts/bench/dpdk-dir.bash
if [[ -n $baseline ]]; then
    DPDK_VERSION="none (rpdk from $baseline)"
    [[ $label_set -eq 1 ]] || label=baseline
elif [[ -n $dpdk_dir ]]; then
    dpdk_from_dir "$dpdk_dir" || exit 1
    [[ $label_set -eq 1 ]] || label=dpdk-$DPDK_VERSION
else
    dpdk_from_debian
fi
export DPDK_TEST_BIN DPDK_TESTPMD_BIN DPDK_TEST_ACL_BIN DPDK_L2FWD_BIN DPDK_L2FWD_SRC
export DPDK_PKG_CONFIG_PATH DPDK_PKG_STATIC DPDK_VERSION
# Components skip building and checking DPDK's side when the first column is rpdk.
export BENCH_BASELINE=$baseline

# The default, target/release, exists once the build below has run (not yet on a new clone).
export RPDK_BENCH_BIN=${rpdk_bin:-$ROOT/target/release}
[[ -n $rpdk_bin ]] || mkdir -p "$RPDK_BENCH_BIN"
RPDK_BENCH_BIN=$(cd "$RPDK_BENCH_BIN" && pwd)
[[ -z $baseline ]] || baseline=$(cd "$baseline" && pwd)
export DPDK_PREFIX=bench-dpdk-$$
export RPDK_PREFIX=bench-rpdk-$$
out=$ROOT/target/bench-vs-dpdk${label:+/$label}
export RPDK_BENCH_OUT=$out

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
[[ -n $rpdk_bin ]] || cargo build --release -q -p rpdk-benches -p rpdk-examples

mkdir -p "$out" docs/perf
for c in "${components[@]}"; do
    # shellcheck source=/dev/null
    source "scripts/bench/$c.sh"
    if declare -F "${c}_prepare" >/dev/null; then "${c}_prepare"; fi
    raw=$out/$c.raw
    rm -rf "$raw" && mkdir -p "$raw"
    for r in $(seq 1 "$rounds"); do
        if [[ -n $baseline ]]; then
            echo "== $c: round $r of $rounds: rpdk from $baseline" >&2
            RPDK_BENCH_BIN_RUN=$RPDK_BENCH_BIN
            RPDK_BENCH_BIN=$baseline
            "${c}_rpdk" > "$raw/dpdk.$r.tsv"
            RPDK_BENCH_BIN=$RPDK_BENCH_BIN_RUN
        else
            echo "== $c: round $r of $rounds: DPDK" >&2
            "${c}_dpdk" > "$raw/dpdk.$r.tsv"
        fi
        echo "== $c: round $r of $rounds: rpdk" >&2
        "${c}_rpdk" > "$raw/rpdk.$r.tsv"
    done
    if [[ -n $baseline ]]; then first="rpdk ($(basename "$(dirname "$baseline")")/$(basename "$baseline"))"; else first=DPDK; fi
    /usr/bin/python3 scripts/bench/report.py --component "$c" --raw "$raw" \
        --csv "$out/$c.csv" --markdown "$out/$c.md" --chart "docs/perf/$c${label:+-$label}.png" \
        --dpdk-version "$DPDK_VERSION" --first "$first"
done
