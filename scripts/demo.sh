#!/usr/bin/env bash
# The README's main command: builds rpdk and runs l2fwd forwarding real packets.
#
#   scripts/demo.sh [SECONDS]       as root, or as a user who may sudo (it asks for it)
#
# It installs the Debian packages it runs (scripts/install-deps.sh demo: iproute2, ping,
# ethtool), reserves hugepages, builds the examples, makes two network namespaces with a veth
# pair each (scripts/veth-topology.sh: namespace 0 is 198.18.0.1, namespace 1 is 198.18.0.2,
# their other ends here), runs l2fwd on two af_packet ports over those ends, sends pings and a
# stream of pings from namespace 0 to namespace 1 through it, shows l2fwd's statistics every
# second, stops it with SIGINT (final statistics) and removes everything it made, also on
# failure or Ctrl-C. Traffic stays inside the namespaces it makes.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-8}
prefix=rpdkdemo
l2fwd=./target/release/l2fwd

# build [USER]: the release l2fwd, with this shell's cargo or as USER with theirs.
build() {
    echo "demo.sh: building l2fwd (cargo build --release -p rpdk-examples --bin l2fwd)"
    if [[ -n ${1:-} ]]; then
        sudo -u "$1" -H bash -lc "cd '$PWD' && cargo build --release -q -p rpdk-examples --bin l2fwd"
    else
        cargo build --release -q -p rpdk-examples --bin l2fwd
    fi
}

if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || {
        echo "demo.sh: needs root (hugepages, network namespaces) and there is no sudo: run it as root" >&2
        exit 1
    }
    # Build as this user (their toolchain, their target/), then the rest as root.
    build
    echo "demo.sh: the rest needs root (hugepages, network namespaces): sudo $0 $*"
    exec sudo RPDK_DEMO_BUILT=1 "$0" "$@"
fi

scripts/install-deps.sh demo
if [[ ${RPDK_DEMO_BUILT:-} != 1 ]]; then
    if command -v cargo >/dev/null; then
        build
    elif [[ -n ${SUDO_USER:-} ]]; then
        # sudo's PATH has no user's ~/.cargo/bin: build as the user who asked.
        build "$SUDO_USER"
    else
        echo "demo.sh: needs Rust's cargo (install Rust with rustup) to build l2fwd" >&2
        exit 1
    fi
fi
[[ -x $l2fwd ]] || { echo "demo.sh: $l2fwd was not built" >&2; exit 1; }
echo "demo.sh: reserving 512 MiB of hugepages (scripts/hugepages.sh --setup 512M)"
scripts/hugepages.sh --setup 512M

l2fwd_pid=
cleanup() {
    if [[ -n $l2fwd_pid ]] && kill -0 "$l2fwd_pid" 2>/dev/null; then
        kill -INT "$l2fwd_pid" 2>/dev/null || true
        wait "$l2fwd_pid" 2>/dev/null || true
    fi
    scripts/veth-topology.sh down --prefix "$prefix" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

scripts/veth-topology.sh down --prefix "$prefix" >/dev/null 2>&1 || true
scripts/veth-topology.sh up --prefix "$prefix" --pairs 2
lcores=0-1
[[ $(nproc) -ge 2 ]] || lcores='(0-1)@0'

echo "+ l2fwd -l $lcores --vdev net_af_packet0,iface=${prefix}0 --vdev net_af_packet1,iface=${prefix}1 -- -p 0x3 -T 1"
"$l2fwd" -l "$lcores" --file-prefix "$prefix" \
    --vdev "net_af_packet0,iface=${prefix}0" --vdev "net_af_packet1,iface=${prefix}1" \
    -- -p 0x3 -T 1 &
l2fwd_pid=$!
sleep 2

echo "+ ip netns exec ${prefix}ns0 ping -c 5 198.18.0.2   (through l2fwd)"
ip netns exec "${prefix}ns0" ping -c 5 -i 0.2 -W 2 198.18.0.2
echo "+ a stream of 1000-byte pings from ${prefix}ns0 to ${prefix}ns1 for $secs seconds (through l2fwd)"
# A bounded stream: a ping every millisecond, for at most $secs seconds.
ip netns exec "${prefix}ns0" timeout -s INT "$secs" ping -q -i 0.001 -s 1000 -W 1 198.18.0.2 || true

kill -INT "$l2fwd_pid"
wait "$l2fwd_pid"
l2fwd_pid=
echo "demo done: l2fwd forwarded the namespaces' traffic both ways and stopped cleanly"
