//! A client of the telemetry socket, as `dpdk-telemetry.py` is one: for tools and tests.

use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;

use super::json::MAX_OUTPUT_LEN;
use super::socket;

/// A connection to a telemetry socket (rpdk's or DPDK's).
#[derive(Debug)]
pub struct Client {
    stream: std::os::unix::net::UnixStream,
    greeting: String,
}

fn recv(stream: &mut std::os::unix::net::UnixStream, len: usize) -> io::Result<String> {
    let mut buf = vec![0u8; len];
    let n = stream.read(&mut buf)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the telemetry socket closed the connection",
        ));
    }
    buf.truncate(n);
    String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

impl Client {
    /// Connects and reads the greeting. A server with all its connections in use closes the
    /// new one at once: that is an `UnexpectedEof` error.
    pub fn connect(path: &Path) -> io::Result<Client> {
        Client::connect_timeout(path, None)
    }

    /// As [`connect`](Self::connect), with a limit on each wait for a reply.
    pub fn connect_timeout(path: &Path, timeout: Option<Duration>) -> io::Result<Client> {
        let mut stream = socket::connect(path)?;
        stream.set_read_timeout(timeout)?;
        let greeting = recv(&mut stream, 1024)?;
        Ok(Client { stream, greeting })
    }

    /// The greeting: `{"version":"...","pid":N,"max_output_len":16384}`.
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// Sends one request (`/ethdev/stats,0`) and returns the reply's JSON text.
    pub fn request(&mut self, req: &str) -> io::Result<String> {
        self.send_raw(req.as_bytes())?;
        recv(&mut self.stream, MAX_OUTPUT_LEN)
    }

    /// Sends one message as it is, without waiting for a reply.
    pub fn send_raw(&mut self, msg: &[u8]) -> io::Result<()> {
        self.stream.write_all(msg)
    }

    /// Reads one reply.
    pub fn recv(&mut self) -> io::Result<String> {
        recv(&mut self.stream, MAX_OUTPUT_LEN)
    }
}
