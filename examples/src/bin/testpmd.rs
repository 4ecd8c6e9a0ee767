//! rpdk-testpmd: DPDK's testpmd on rpdk ports (see `rpdk_examples::testpmd`).

fn main() {
    std::process::exit(rpdk_examples::testpmd::main());
}
