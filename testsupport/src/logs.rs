//! Capturing the EAL's log lines in a test: [`LogCapture`] sends them to a buffer (through
//! `rpdk_eal::logging::open_stream`) from `start` until it is dropped.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// The EAL's log lines since [`LogCapture::start`]. The EAL's logger must be the one installed
/// (it is, after `rpdk_eal::init`, unless the test installed another); hold [`crate::serial`]
/// so that other tests' lines do not mix in.
#[derive(Debug)]
pub struct LogCapture {
    buf: Arc<Mutex<Vec<u8>>>,
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Starts capturing.
    pub fn start() -> LogCapture {
        let buf = Arc::new(Mutex::new(Vec::new()));
        rpdk_eal::logging::open_stream(Some(Box::new(Sink(buf.clone()))));
        LogCapture { buf }
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        rpdk_eal::logging::open_stream(None);
    }
}
