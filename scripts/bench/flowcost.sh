# What rpdk-flow's engine costs on the RX path: testpmd io on two net_null ports, one
# forwarding core, with 0, 1 and 1k ingress rules on each port (loaded with --cmdline-file).
#   testpmd io net_null x2, 1 core, no rules: both sides (DPDK's testpmd has no flow on
#     net_null: this is its rate without rules; rpdk-testpmd installs a port's flow table as
#     its classifier at the first flow command, so its ports have none here)
#   ... 1 rule: `eth dst is 00:00:00:00:00:00` (net_null's frames are zeros: every packet
#     matches) to queue 0, with a COUNT
#   ... 1k rules: that rule, 500 `eth dst is 02:00:00:00:HH:LL` and 499 `eth / ipv4 src is
#     10.0.H.L / udp dst is N` that match nothing (the packet goes through every shape's
#     lookup), all to queue 0
#   ... 1 rule, vxlan_encap: that rule with `vxlan_encap` before its count (`set vxlan` IPv4:
#     every packet gets 50 bytes of VXLAN, lengths and the IPv4 checksum per packet)
#   ... 1 rule, raw_encap + raw_decap: `raw_encap index 0 / raw_decap index 0` (the same VXLAN
#     header on and off again: the decap's cost is this row's minus the encap row's)
#   ... rewrite: the 1 rule with `set_mac_src mac_addr 02:00:00:00:00:01` before its queue
#     (a header rewrite: the mbuf written, the packet parsed again)
#   ... eth: `eth / end` with `count / queue index 0` (push's baseline)
#   ... push: `eth / end` (the pushes change the recycled buffers' first bytes: a MAC match would
#     stop matching) with `count / of_push_vlan ethertype 0x8100 / of_set_vlan_vid vlan_vid 100`
#     (4 bytes of headroom taken, the MACs moved, the tag written, parsed again)
#   ... meter: the 1 rule with `meter mtr_id 0` before its queue, meter 0 a byte-mode srTCM of
#     cir 100 GB/s and cbs 1 MB (everything green: nothing waits for tokens, every packet takes
#     them), statistics on (`0xff`), red dropped by its policy
#   ... age: the 1 rule with `age timeout 10` before its queue (the hit time stamped per packet)
#   the engine's cost per packet in TSC cycles, hz/rate(rules) - hz/rate(no rules) (for the
#   rewrite, meter, age and push rows also the action's own, against the 1 rule and eth rows),
#   and the
#   rates' ratios to rpdk without rules (rpdk's rows; docs/performance.md gives their ratio
#   to DPDK's row)

FLOWCOST_SECS=${FLOWCOST_SECS:-8}

flowcost_prepare() {
    local dir=$RPDK_BENCH_OUT p i
    mkdir -p "$dir"
    : > "$dir/flowcost-1.txt"
    : > "$dir/flowcost-1k.txt"
    : > "$dir/flowcost-encap.txt"
    : > "$dir/flowcost-decap.txt"
    : > "$dir/flowcost-rewrite.txt"
    : > "$dir/flowcost-push.txt"
    : > "$dir/flowcost-eth.txt"
    : > "$dir/flowcost-meter.txt"
    : > "$dir/flowcost-age.txt"
    for p in 0 1; do
        {
            echo "set vxlan ip-version ipv4 vni 4 udp-src 4 udp-dst 4789 ip-src 127.0.0.1 ip-dst 128.0.0.1 eth-src 02:00:00:00:00:01 eth-dst 02:00:00:00:00:02"
            echo "flow create $p ingress pattern eth dst is 00:00:00:00:00:00 / end actions vxlan_encap / count / queue index 0 / end"
        } >> "$dir/flowcost-encap.txt"
        {
            echo "set raw_encap 0 eth src is 02:00:00:00:00:01 dst is 02:00:00:00:00:02 / ipv4 src is 127.0.0.1 dst is 128.0.0.1 / udp src is 4 dst is 4789 / vxlan vni is 4 / end_set"
            echo "set raw_decap 0 eth / ipv4 / udp / vxlan / end_set"
            echo "flow create $p ingress pattern eth dst is 00:00:00:00:00:00 / end actions raw_encap index 0 / raw_decap index 0 / count / queue index 0 / end"
        } >> "$dir/flowcost-decap.txt"
        echo "flow create $p ingress pattern eth / end actions count / queue index 0 / end" \
            >> "$dir/flowcost-eth.txt"
        echo "flow create $p ingress pattern eth dst is 00:00:00:00:00:00 / end actions count / set_mac_src mac_addr 02:00:00:00:00:01 / queue index 0 / end" \
            >> "$dir/flowcost-rewrite.txt"
        {
            echo "add port meter profile srtcm_rfc2697 $p 0 100000000000 1000000 0 0"
            echo "add port meter policy $p 0 g_actions end y_actions end r_actions drop / end"
            echo "create port meter $p 0 0 0 yes 0xff 0 g 0"
            echo "flow create $p ingress pattern eth dst is 00:00:00:00:00:00 / end actions count / meter mtr_id 0 / queue index 0 / end"
        } >> "$dir/flowcost-meter.txt"
        echo "flow create $p ingress pattern eth dst is 00:00:00:00:00:00 / end actions count / age timeout 10 / queue index 0 / end" \
            >> "$dir/flowcost-age.txt"
        echo "flow create $p ingress pattern eth / end actions count / of_push_vlan ethertype 0x8100 / of_set_vlan_vid vlan_vid 100 / queue index 0 / end" \
            >> "$dir/flowcost-push.txt"
        echo "flow create $p ingress pattern eth dst is 00:00:00:00:00:00 / end actions count / queue index 0 / end" \
            | tee -a "$dir/flowcost-1.txt" >> "$dir/flowcost-1k.txt"
        for i in $(seq 1 500); do
            printf 'flow create %s ingress pattern eth dst is 02:00:00:00:%02x:%02x / end actions queue index 0 / end\n' \
                "$p" $((i / 256)) $((i % 256))
        done >> "$dir/flowcost-1k.txt"
        for i in $(seq 1 499); do
            printf 'flow create %s ingress pattern eth / ipv4 src is 10.0.%d.%d / udp dst is %d / end actions queue index 0 / end\n' \
                "$p" $((i / 256)) $((i % 256)) $((1000 + i))
        done >> "$dir/flowcost-1k.txt"
    done
}

# flowcost_run BINARY PREFIX [APP-ARGS...]: the output of one run, in a temporary file
# (printed).
flowcost_run() {
    local bin=$1 prefix=$2 out
    shift 2
    out=$(mktemp)
    timeout -s INT "$FLOWCOST_SECS" "$bin" -l 0,1 --no-pci --file-prefix "$prefix" \
        --vdev net_null0 --vdev net_null1 \
        -- --forward-mode=io --nb-cores=1 --stats-period=1 "$@" > "$out" 2>&1 < /dev/null || true
    echo "$out"
}

flowcost_rate() {
    /usr/bin/python3 scripts/bench/rates.py testpmd "$1" 2>/dev/null || true
}

flowcost_dpdk() {
    local out rate
    out=$(flowcost_run "$DPDK_TESTPMD_BIN" "$DPDK_PREFIX")
    rate=$(flowcost_rate "$out")
    if [[ -z $rate ]]; then
        echo "flowcost: no rate from dpdk-testpmd (output: $out)" >&2
        return 0
    fi
    rm -f "$out"
    printf 'testpmd io net_null x2, 1 core, no rules\tMpps\thigher\t%s\n' "$rate"
}

flowcost_rpdk() {
    local bin=$RPDK_BENCH_BIN/rpdk-testpmd out rate hz="" r0="" r1="" reth="" n
    for n in 0 1 1k encap decap rewrite meter age eth push; do
        if [[ $n == 0 ]]; then
            out=$(flowcost_run "$bin" "$RPDK_PREFIX")
        else
            out=$(flowcost_run "$bin" "$RPDK_PREFIX" --cmdline-file="$RPDK_BENCH_OUT/flowcost-$n.txt")
            local made
            made=$(grep -c '^Flow rule #[0-9]* created' "$out" || true)
            if [[ $made -ne $(grep -c '^flow create' "$RPDK_BENCH_OUT/flowcost-$n.txt") ]]; then
                echo "flowcost: $n: only $made rules created (output: $out)" >&2
                continue
            fi
        fi
        rate=$(flowcost_rate "$out")
        [[ -n $hz ]] || hz=$(sed -n 's/.*TSC frequency is ~\([0-9]*\) KHz.*/\1/p' "$out" | head -1)
        if [[ -z $rate || -z $hz ]]; then
            echo "flowcost: no rate with $n rules (output: $out)" >&2
            continue
        fi
        rm -f "$out"
        local label="$n rules"
        [[ $n == 0 ]] && label="no rules"
        [[ $n == 1 ]] && label="1 rule"
        [[ $n == encap ]] && label="1 rule, vxlan_encap"
        [[ $n == decap ]] && label="1 rule, raw_encap + raw_decap"
        [[ $n == rewrite ]] && label="1 rule with set_mac_src"
        [[ $n == meter ]] && label="1 rule with meter"
        [[ $n == age ]] && label="1 rule with age"
        [[ $n == eth ]] && label="1 rule eth"
        [[ $n == push ]] && label="1 rule eth with of_push_vlan"
        printf 'testpmd io net_null x2, 1 core, %s\tMpps\thigher\t%s\n' "$label" "$rate"
        [[ $n == 1 ]] && r1=$rate
        [[ $n == eth ]] && reth=$rate
        local base=""
        [[ $n == rewrite || $n == meter || $n == age ]] && base=$r1
        [[ $n == push ]] && base=$reth
        if [[ -n $base ]]; then
            /usr/bin/python3 -c "
hz = $hz * 1e3
print(f'the action\'s own cost, $n\tcycles/packet\tlower\t{hz / ($rate * 1e6) - hz / ($base * 1e6):.1f}')"
        fi
        if [[ $n == 0 ]]; then
            r0=$rate
        elif [[ -n $r0 ]]; then
            /usr/bin/python3 -c "
hz = $hz * 1e3
print(f'engine cost per packet, $label\tcycles/packet\tlower\t{hz / ($rate * 1e6) - hz / ($r0 * 1e6):.1f}')
print(f'rate with $label / without rules (rpdk)\tratio\thigher\t{$rate / $r0:.3f}')"
        fi
    done
}
