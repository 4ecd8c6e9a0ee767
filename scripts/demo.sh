#!/usr/bin/env bash
# The README's main command: builds rpdk and runs l2fwd forwarding real packets.
#
#   sudo scripts/demo.sh [SECONDS]
#
# It reserves hugepages, builds the examples, makes two network namespaces with a veth pair each
# (scripts/veth-topology.sh: namespace 0 is 198.18.0.1, namespace 1 is 198.18.0.2, their other
# ends here), runs l2fwd on two af_packet ports over those ends, sends pings and a stream of pings
# from namespace 0 to namespace 1 through it, shows l2fwd's statistics every second, stops it
# with SIGINT (final statistics) and removes everything it made, also on failure or Ctrl-C.
# Traffic stays inside the namespaces it makes.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-8}
prefix=rpdkdemo

if [[ $(id -u) -ne 0 ]]; then
    echo "demo.sh: needs root (hugepages, network namespaces); run it with sudo" >&2
    exit 1
fi
for tool in ip ping ethtool; do
    command -v "$tool" >/dev/null || {
        echo "demo.sh: needs $tool (apt-get install iproute2 iputils-ping ethtool)" >&2
        exit 1
    }
done

scripts/hugepages.sh --setup 512M
cargo build --release -q -p rpdk-examples --bin l2fwd

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
./target/release/l2fwd -l "$lcores" --file-prefix "$prefix" \
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
