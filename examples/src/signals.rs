//! SIGINT and SIGTERM as a flag the forwarding loops poll, as DPDK's examples do.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static QUIT: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    // Only async-signal-safe work: two atomic stores.
    SIGNAL.store(sig, Ordering::Relaxed);
    QUIT.store(true, Ordering::Release);
}

/// Installs handlers for SIGINT and SIGTERM that set the quit flag.
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only stores to atomics is a valid,
        // async-signal-safe disposition.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Whether a quit signal arrived (or [`request_quit`] was called).
#[inline(always)]
pub fn quit_requested() -> bool {
    QUIT.load(Ordering::Relaxed)
}

/// Asks the loops to stop, as a signal would.
pub fn request_quit() {
    QUIT.store(true, Ordering::Release);
}

/// Clears the flag (interactive testpmd stops and starts forwarding repeatedly).
pub fn reset() {
    QUIT.store(false, Ordering::Release);
    SIGNAL.store(0, Ordering::Relaxed);
}

/// The signal that arrived, if any.
pub fn signal() -> Option<i32> {
    match SIGNAL.load(Ordering::Relaxed) {
        0 => None,
        s => Some(s),
    }
}
