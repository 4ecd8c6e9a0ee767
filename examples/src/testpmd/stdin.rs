//! Reading lines from stdin without blocking past a timeout, so that signals are noticed while
//! waiting for a command.

use std::time::Duration;

/// What a poll of stdin gave.
pub enum Poll {
    /// Nothing yet.
    Pending,
    /// A line, without its newline.
    Line(String),
    /// Stdin is closed.
    Eof,
}

/// A line reader over fd 0.
pub struct Lines {
    buf: Vec<u8>,
    eof: bool,
}

impl Lines {
    /// A reader.
    pub fn new() -> Lines {
        Lines {
            buf: Vec::new(),
            eof: false,
        }
    }

    fn take_line(&mut self) -> Option<String> {
        let pos = self.buf.iter().position(|&b| b == b'\n')?;
        let line: Vec<u8> = self.buf.drain(..=pos).collect();
        Some(
            String::from_utf8_lossy(&line[..line.len() - 1])
                .trim_end_matches('\r')
                .to_string(),
        )
    }

    /// Waits up to `timeout` for a whole line.
    pub fn poll_line(&mut self, timeout: Duration) -> Poll {
        if let Some(l) = self.take_line() {
            return Poll::Line(l);
        }
        if self.eof {
            if self.buf.is_empty() {
                return Poll::Eof;
            }
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
            return Poll::Line(rest);
        }
        let mut pfd = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; poll only writes its revents.
        let rc = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
        if rc <= 0 {
            return Poll::Pending;
        }
        let mut chunk = [0u8; 1024];
        // SAFETY: reading into a buffer of the length given.
        let n = unsafe { libc::read(0, chunk.as_mut_ptr().cast(), chunk.len()) };
        match n {
            n if n > 0 => self.buf.extend_from_slice(&chunk[..n as usize]),
            0 => self.eof = true,
            _ => {
                if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                    self.eof = true;
                }
            }
        }
        self.poll_line(Duration::ZERO)
    }
}

impl Default for Lines {
    fn default() -> Self {
        Self::new()
    }
}
