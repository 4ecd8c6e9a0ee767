# shellcheck shell=bash
# Which DPDK scripts/bench-vs-dpdk.sh runs: Debian's package (the default) or a DPDK build
# directory or install prefix given with --dpdk DIR. Sourced by scripts/bench-vs-dpdk.sh; sets
#   DPDK_TEST_BIN DPDK_TESTPMD_BIN DPDK_TEST_ACL_BIN   the applications
#   DPDK_L2FWD_BIN    a built examples/l2fwd, or empty (then l2fwd.sh builds DPDK_L2FWD_SRC)
#   DPDK_L2FWD_SRC    the l2fwd example's main.c
#   DPDK_PKG_CONFIG_PATH  where libdpdk.pc is (empty: the system's)
#   DPDK_PKG_STATIC   "--static" when the DPDK is a static build
#   DPDK_VERSION      for the report's caption
# and defines dpdk_cc SRC OUT, which builds a C helper against that DPDK.

dpdk_from_debian() {
    DPDK_TEST_BIN=$(command -v dpdk-test || true)
    DPDK_TESTPMD_BIN=$(command -v dpdk-testpmd || true)
    DPDK_TEST_ACL_BIN=$(command -v dpdk-test-acl || true)
    DPDK_L2FWD_BIN=""
    DPDK_L2FWD_SRC=/usr/share/dpdk/examples/l2fwd/main.c
    DPDK_PKG_CONFIG_PATH=""
    DPDK_PKG_STATIC=""
    DPDK_VERSION=$(dpkg-query -W -f='${Version}' dpdk-dev 2>/dev/null || echo unknown)
}

# dpdk_from_dir DIR: DIR is a meson build directory (app/dpdk-test, meson-uninstalled/) or an
# install prefix (bin/dpdk-test, lib/*/pkgconfig/libdpdk.pc).
dpdk_from_dir() {
    local dir pc missing=() b
    dir=$(cd "$1" 2>/dev/null && pwd) || {
        echo "bench-vs-dpdk.sh: --dpdk $1: no such directory" >&2
        return 1
    }
    if [[ -d $dir/meson-uninstalled ]]; then
        DPDK_TEST_BIN=$dir/app/dpdk-test
        DPDK_TESTPMD_BIN=$dir/app/dpdk-testpmd
        DPDK_TEST_ACL_BIN=$dir/app/dpdk-test-acl
        DPDK_L2FWD_BIN=$dir/examples/dpdk-l2fwd
        DPDK_PKG_CONFIG_PATH=$dir/meson-uninstalled
        local src
        src=$(sed -n 's/^srcdir=//p' "$dir/meson-uninstalled/libdpdk-uninstalled.pc" 2>/dev/null)
        DPDK_L2FWD_SRC=$src/examples/l2fwd/main.c
        [[ -x $DPDK_L2FWD_BIN ]] || DPDK_L2FWD_BIN=""
    elif [[ -x $dir/bin/dpdk-testpmd || -x $dir/bin/dpdk-test ]]; then
        DPDK_TEST_BIN=$dir/bin/dpdk-test
        DPDK_TESTPMD_BIN=$dir/bin/dpdk-testpmd
        DPDK_TEST_ACL_BIN=$dir/bin/dpdk-test-acl
        DPDK_L2FWD_BIN=""
        DPDK_L2FWD_SRC=$dir/share/dpdk/examples/l2fwd/main.c
        pc=$(find "$dir/lib" "$dir/lib64" -name libdpdk.pc -path '*pkgconfig*' 2>/dev/null | head -1)
        DPDK_PKG_CONFIG_PATH=${pc:+$(dirname "$pc")}
    else
        echo "bench-vs-dpdk.sh: --dpdk $dir is neither a DPDK meson build directory" \
             "(no meson-uninstalled/) nor an install prefix (no bin/dpdk-testpmd)" >&2
        return 1
    fi
    for b in "$DPDK_TEST_BIN" "$DPDK_TESTPMD_BIN" "$DPDK_TEST_ACL_BIN"; do
        [[ -x $b ]] || missing+=("$b")
    done
    [[ -n $DPDK_PKG_CONFIG_PATH ]] || missing+=("libdpdk.pc under $dir")
    [[ -n $DPDK_L2FWD_BIN || -f $DPDK_L2FWD_SRC ]] ||
        missing+=("examples/dpdk-l2fwd or $DPDK_L2FWD_SRC")
    if [[ ${#missing[@]} -gt 0 ]]; then
        echo "bench-vs-dpdk.sh: --dpdk $dir lacks:" >&2
        printf '  %s\n' "${missing[@]}" >&2
        echo "  (build DPDK with -Denable_apps=test,test-pmd,test-acl -Dtests=true" \
             "-Dexamples=l2fwd: see docs/performance.md)" >&2
        return 1
    fi
    # Link the helpers as the build's applications are: static unless testpmd loads librte_*.
    DPDK_PKG_STATIC=--static
    if ldd "$DPDK_TESTPMD_BIN" 2>/dev/null | grep -q 'librte_'; then DPDK_PKG_STATIC=""; fi
    DPDK_VERSION=$(PKG_CONFIG_PATH=$DPDK_PKG_CONFIG_PATH pkg-config --modversion libdpdk) || {
        echo "bench-vs-dpdk.sh: pkg-config finds no libdpdk in $DPDK_PKG_CONFIG_PATH" >&2
        return 1
    }
}

# dpdk_cc SRC OUT [CFLAGS...]: builds a C program against the DPDK chosen above (-O3; the
# DPDK's own -march comes with its pkg-config flags).
dpdk_cc() {
    local src=$1 out=$2 flags libs
    shift 2
    command -v cc >/dev/null || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc >/dev/null
    }
    flags=$(PKG_CONFIG_PATH=$DPDK_PKG_CONFIG_PATH pkg-config --cflags libdpdk) &&
        libs=$(PKG_CONFIG_PATH=$DPDK_PKG_CONFIG_PATH pkg-config $DPDK_PKG_STATIC --libs libdpdk) || {
        echo "bench-vs-dpdk.sh: pkg-config libdpdk failed (PKG_CONFIG_PATH=$DPDK_PKG_CONFIG_PATH)" >&2
        return 1
    }
    # A static libdpdk.pc names its dependencies' private libraries too (libpcap's -lsystemd);
    # those without a development library here are linked through the shared libraries that
    # need them, so leave them out.
    local l kept=()
    for l in $libs; do
        if [[ $l == -l[!:]* ]] &&
            [[ $(cc -print-file-name="lib${l#-l}.so") != /* && $(cc -print-file-name="lib${l#-l}.a") != /* ]]; then
            continue
        fi
        kept+=("$l")
    done
    mkdir -p "$(dirname "$out")"
    # shellcheck disable=SC2086 # pkg-config prints several flags
    cc -O3 -Wall "$@" $flags "$src" -o "$out" "${kept[@]}"
}

# dpdk_need NAME PATH: a clear error when the chosen DPDK has no such application.
dpdk_need() {
    [[ -n $2 && -x $2 ]] || {
        echo "$1 is missing from DPDK ${DPDK_VERSION} (${2:-not found}): Debian's dpdk and" \
             "dpdk-dev, or --dpdk with a build that has it" >&2
        return 1
    }
}
