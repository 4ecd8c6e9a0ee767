//! Declares the `loom` cfg, under which the crate's atomics protocol is model-checked.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
