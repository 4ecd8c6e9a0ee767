#!/usr/bin/env bash
# The README's main command: builds rpdk and runs its main job on this machine.
# For now that is helloworld on two lcores over real hugepages; once rpdk-ethdev lands it becomes
# l2fwd forwarding real packets over a veth topology.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
    echo "demo.sh: needs root to reserve hugepages; run it with sudo" >&2
    exit 1
fi

scripts/hugepages.sh --setup 512M
cargo build --release -p rpdk-examples --bin helloworld

cpus=$(nproc)
if [[ $cpus -ge 2 ]]; then lcores=0-1; else lcores='(0-1)@0'; fi
echo "+ helloworld -l $lcores"
./target/release/helloworld -l "$lcores"
