#!/usr/bin/env bash
# Network namespaces and veth pairs for rpdk's af_packet and af_xdp tests, demos and benchmarks.
#
#   scripts/veth-topology.sh up   [--prefix P] [--pairs N] [--xdp]
#   scripts/veth-topology.sh up   [--prefix P] --loop [--xdp]
#   scripts/veth-topology.sh down [--prefix P]
#   scripts/veth-topology.sh show [--prefix P]
#
# up (default, N = 2): for each pair i = 0..N-1
#   - a namespace    ${P}ns<i>
#   - a veth pair    ${P}<i>  (here, in the calling namespace: rpdk port i takes it,
#                              --vdev net_af_packet<i>,iface=${P}<i>)
#                <-> eth0     (inside ${P}ns<i>)
#   - inside the namespace: eth0 has MAC 02:00:00:00:00:<i> (what l2fwd's MAC updating writes as
#     the destination of frames sent on port i) and address 198.18.0.<i+1>/24; every namespace
#     is in the same /24, so traffic between them crosses the rpdk ports:
#       namespace 0 is the generator, sending into port 0's veth;
#       namespace 1 is the sink, receiving from port 1's veth;
#       l2fwd (or any forwarder) between ${P}0 and ${P}1 carries it, e.g.
#         ip netns exec ${P}ns0 ping 198.18.0.2
#
# up --loop: one veth pair ${P}l0 <-> ${P}l1, both ends here, for two ports that send to each
#   other (testpmd io forwarding with --tx-first over a veth pair).
#
# Every interface made is up, with IPv6 off (the kernel sends nothing of its own) and
# checksum, segmentation and receive offloads off (frames are what was sent, whole and with
# their checksums). Addresses exist only inside the namespaces made here (198.18.0.0/15 is the
# benchmarking range); nothing is routed anywhere else.
#
# --xdp: GRO on at the far end of each pair (eth0 in the namespaces; with --loop, both ends),
#   which gives that veth the NAPI context that receives frames an XDP program redirects into
#   its peer (XDP_REDIRECT into a veth is otherwise lost without a count). net_af_xdp's own
#   sending does not need it; a program redirecting into the rpdk port's veth does.
#
# down removes every namespace and interface up made with prefix P; show lists them.
# Needs root, ip (iproute2); ethtool to turn offloads off.
set -euo pipefail

prog=$(basename "$0")
prefix=rpdk
pairs=2
loop=0
xdp=0

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

die() {
    echo "$prog: $*" >&2
    exit 1
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
while [[ $# -gt 0 ]]; do
    case $1 in
        --prefix)
            [[ $# -ge 2 ]] || die "--prefix needs a value"
            prefix=$2
            shift 2
            ;;
        --pairs)
            [[ $# -ge 2 ]] || die "--pairs needs a value"
            pairs=$2
            shift 2
            ;;
        --loop)
            loop=1
            shift
            ;;
        --xdp)
            xdp=1
            shift
            ;;
        -h | --help) usage ;;
        *) die "unknown option '$1' (see $prog --help)" ;;
    esac
done

[[ $prefix =~ ^[A-Za-z][A-Za-z0-9_-]*$ ]] || die "invalid prefix '$prefix' (a letter, then letters, digits, '_' or '-')"
[[ ${#prefix} -le 12 ]] || die "prefix '$prefix' is too long (at most 12 characters: interface names hold 15)"
[[ $pairs =~ ^[0-9]+$ && $pairs -ge 1 && $pairs -le 99 ]] || die "invalid value '$pairs' for --pairs (1 to 99)"

need_root() {
    [[ $(id -u) -eq 0 ]] || die "needs root (network namespaces and interfaces)"
    command -v ip >/dev/null || die "needs ip (iproute2)"
}

# Quiet interface: up, no IPv6, no offloads.
quiet() { # [netns] dev
    local ns=$1 dev=$2 run=()
    [[ -n $ns ]] && run=(ip netns exec "$ns")
    "${run[@]}" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1" >/dev/null
    if command -v ethtool >/dev/null; then
        "${run[@]}" ethtool -K "$dev" rx off tx off tso off gso off gro off >/dev/null 2>&1 ||
            echo "$prog: warning: could not turn offloads off on $dev" >&2
    else
        echo "$prog: warning: ethtool not found: offloads stay on for $dev" >&2
    fi
    "${run[@]}" ip link set "$dev" up
}

# Receiving side of XDP redirects: GRO on (with --xdp).
xdp_peer() { # [netns] dev
    local ns=$1 dev=$2 run=()
    [[ $xdp -eq 1 ]] || return 0
    [[ -n $ns ]] && run=(ip netns exec "$ns")
    command -v ethtool >/dev/null || die "--xdp needs ethtool"
    "${run[@]}" ethtool -K "$dev" gro on >/dev/null
}

namespaces() {
    ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${prefix}ns[0-9]+$" | sort -V || true
}

links() {
    ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
        grep -E "^${prefix}([0-9]+|l0|l1)$" || true
}

up() {
    need_root
    if [[ -n $(namespaces) || -n $(links) ]]; then
        die "a topology with prefix '$prefix' exists: '$prog down --prefix $prefix' first"
    fi
    trap 'echo "$prog: failed; removing what was made" >&2; down >/dev/null 2>&1 || true' ERR
    if [[ $loop -eq 1 ]]; then
        ip link add "${prefix}l0" type veth peer name "${prefix}l1"
        quiet "" "${prefix}l0"
        quiet "" "${prefix}l1"
        xdp_peer "" "${prefix}l0"
        xdp_peer "" "${prefix}l1"
        echo "veth pair ${prefix}l0 <-> ${prefix}l1"
        return
    fi
    local i ns mac
    for ((i = 0; i < pairs; i++)); do
        ns="${prefix}ns$i"
        mac=$(printf '02:00:00:00:00:%02x' "$i")
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ip link add "${prefix}$i" type veth peer name eth0 netns "$ns"
        ip -n "$ns" link set eth0 address "$mac"
        ip -n "$ns" addr add "198.18.0.$((i + 1))/24" dev eth0
        quiet "" "${prefix}$i"
        quiet "$ns" eth0
        xdp_peer "$ns" eth0
        echo "pair $i: ${prefix}$i <-> $ns:eth0 ($mac, 198.18.0.$((i + 1))/24)"
    done
    trap - ERR
}

down() {
    need_root
    local ns dev
    for ns in $(namespaces); do
        ip netns del "$ns"
    done
    for dev in $(links); do
        # Deleting one end of a pair deletes the other.
        ip link del "$dev" 2>/dev/null || true
    done
}

show() {
    local ns dev
    for dev in $(links); do
        ip -br link show "$dev"
    done
    for ns in $(namespaces); do
        echo "namespace $ns:"
        ip -n "$ns" -br addr show dev eth0 | sed 's/^/  /'
        ip -n "$ns" -br link show dev eth0 | sed 's/^/  /'
    done
}

case $cmd in
    up) up ;;
    down) down ;;
    show) show ;;
    *) usage ;;
esac
