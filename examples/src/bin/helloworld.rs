//! DPDK's helloworld: every lcore prints `hello from core <id>` once.
//!
//! ```text
//! helloworld -l 0-1
//! hello from core 1
//! hello from core 0
//! ```

use rpdk_eal::lcore;

fn lcore_hello() -> i32 {
    println!("hello from core {}", lcore::id().expect("runs on an lcore"));
    0
}

fn main() {
    let (eal, _args) = rpdk_examples::init_eal_or_exit();
    for worker in eal.workers() {
        if let Err(e) = eal.remote_launch(worker, lcore_hello) {
            eprintln!("cannot launch on lcore {worker}: {e}");
            std::process::exit(1);
        }
    }
    lcore_hello();
    let mut failed = false;
    for (worker, result) in eal.mp_wait_lcore() {
        if let Err(e) = result {
            eprintln!("lcore {worker}: {e}");
            failed = true;
        }
    }
    drop(eal);
    if failed {
        std::process::exit(1);
    }
}
