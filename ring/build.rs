//! Declares the `loom` cfg, under which the atomics protocols are model-checked
//! (`RUSTFLAGS="--cfg loom" cargo test -p rpdk-ring --test loom`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
