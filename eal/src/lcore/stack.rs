//! Worker stack sizes for `--huge-worker-stack`.

use crate::options::WorkerStack;

/// The stack size in bytes of worker lcore threads for `--huge-worker-stack`: the size given,
/// or with no value the system's default thread stack size (what `pthread_create` gives).
pub(crate) fn worker_stack_size(stack: WorkerStack) -> usize {
    match stack {
        WorkerStack::Bytes(b) => b,
        WorkerStack::Default => default_thread_stack(),
    }
}

/// glibc's default thread stack size: `pthread_attr_getstacksize` of a fresh attribute.
fn default_thread_stack() -> usize {
    const FALLBACK: usize = 8 << 20;
    // SAFETY: an all-zero pthread_attr_t is storage for pthread_attr_init to fill.
    let mut attr: libc::pthread_attr_t = unsafe { std::mem::zeroed() };
    // SAFETY: `attr` is valid storage; it is destroyed below once initialised.
    if unsafe { libc::pthread_attr_init(&mut attr) } != 0 {
        return FALLBACK;
    }
    let mut size: libc::size_t = 0;
    // SAFETY: `attr` was initialised above; `size` is valid for the write.
    let rc = unsafe { libc::pthread_attr_getstacksize(&attr, &mut size) };
    // SAFETY: `attr` was initialised and is not used after this.
    unsafe { libc::pthread_attr_destroy(&mut attr) };
    if rc != 0 || size == 0 { FALLBACK } else { size }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(worker_stack_size(WorkerStack::Bytes(512 << 10)), 512 << 10);
        let d = worker_stack_size(WorkerStack::Default);
        assert!(d >= 64 << 10, "default stack {d}");
    }
}
