//! The socket and its control thread.
//!
//! One thread (`rpdk-telemetry`, on the CPUs no lcore uses, or the main lcore's, as DPDK's
//! control threads) waits in `poll` on the listening socket, every client, and a wake-up
//! socket that cleanup writes to. It accepts up to [`MAX_CONNECTIONS`] clients at once (DPDK's limit: one more is closed
//! at once), greets each, and answers each request message with one reply message. Client
//! sockets are non-blocking: a client that does not read its replies has its next reply kept
//! and its requests left unread until it does, so it never holds up the others. Nothing here
//! touches a data-path structure; handlers read counters the way any control call does.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use super::data::Data;
use super::json::{self, MAX_CMD_LEN};
use super::{registry, socket};
use crate::cpuset::{self, CpuSet};
use crate::error::{Error, Result};

/// Most clients at once (DPDK's `MAX_CONNECTIONS`).
pub const MAX_CONNECTIONS: usize = 10;

/// A request is read into this many bytes; the rest of a longer message is dropped, as
/// DPDK's 1024-byte buffer with its terminator does.
const REQUEST_MAX: usize = 1023;

/// The file name of the socket (DPDK's v2 protocol).
pub const SOCKET_NAME: &str = "dpdk_telemetry.v2";

/// The running socket. Dropping it stops the thread, closes every connection and removes the
/// socket file (and the prefix's directory, when nothing else is in it).
#[derive(Debug)]
pub(crate) struct Server {
    path: PathBuf,
    dir: PathBuf,
    wake: UnixStream,
    thread: Option<JoinHandle<()>>,
}

/// Binds `<dir>/dpdk_telemetry.v2`, or `...v2:1`, `...v2:2`, ... when a live process holds
/// the name; a socket file nobody listens on (left by a killed process) is replaced.
fn bind(dir: &Path) -> Result<(UnixListener, PathBuf)> {
    let base = dir.join(SOCKET_NAME);
    for suffix in 0..=i16::MAX {
        let path = if suffix == 0 {
            base.clone()
        } else {
            PathBuf::from(format!("{}:{suffix}", base.display()))
        };
        match socket::listen(&path) {
            Ok(l) => return Ok((l, path)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                if socket::is_live(&path) {
                    continue;
                }
                log::debug!(target: "lib.telemetry", "removing the stale socket {}", path.display());
                let _ = std::fs::remove_file(&path);
                match socket::listen(&path) {
                    Ok(l) => return Ok((l, path)),
                    // Another process took the name meanwhile: try the next.
                    Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                    Err(e) => {
                        return Err(Error::io(format!("binding {}", path.display()), e));
                    }
                }
            }
            Err(e) => return Err(Error::io(format!("binding {}", path.display()), e)),
        }
    }
    Err(Error::Telemetry(format!(
        "every socket name {}:N is taken",
        base.display()
    )))
}

fn create_dir(dir: &Path) -> Result<()> {
    crate::runtime::make_dir(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))
}

impl Server {
    /// Creates the socket in `dir` and starts the thread, pinned to `cpus`.
    pub fn start(dir: &Path, cpus: CpuSet) -> Result<Server> {
        registry::report_bad_static();
        create_dir(dir)?;
        let (listener, path) = match bind(dir) {
            // The directory went between mkdir and bind (another process's cleanup): once more.
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                create_dir(dir)?;
                bind(dir)?
            }
            other => other?,
        };
        let cleanup = |e: Error| {
            let _ = std::fs::remove_file(&path);
            e
        };
        listener
            .set_nonblocking(true)
            .map_err(|e| cleanup(Error::io("telemetry socket", e)))?;
        let (wake, woken) =
            UnixStream::pair().map_err(|e| cleanup(Error::io("telemetry wake-up socket", e)))?;
        // The thread says when it is pinned, so that it is in place when init returns.
        let (ready, pinned) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("rpdk-telemetry".into())
            .spawn(move || {
                if let Err(e) = cpuset::set_thread_affinity(&cpus) {
                    log::warn!(target: "lib.telemetry", "cannot pin the telemetry thread to {cpus}: {e}");
                }
                let _ = ready.send(());
                serve(&listener, &woken);
            })
            .map_err(|e| cleanup(Error::io("starting the telemetry thread", e)))?;
        let _ = pinned.recv();
        log::debug!(target: "lib.telemetry", "socket {}", path.display());
        Ok(Server {
            path,
            dir: dir.to_path_buf(),
            wake,
            thread: Some(thread),
        })
    }

    /// Where the socket is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.wake.write_all(b"q");
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
        // Fails, harmlessly, while another instance's socket is there.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

struct Client {
    stream: UnixStream,
    /// A reply the client's socket had no room for yet.
    pending: Option<Vec<u8>>,
}

enum Sent {
    Done,
    Later(Vec<u8>),
    Gone,
}

fn send(stream: &mut UnixStream, msg: Vec<u8>) -> Sent {
    match stream.write(&msg) {
        Ok(_) => Sent::Done,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Sent::Later(msg),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Sent::Later(msg),
        Err(_) => Sent::Gone,
    }
}

fn greeting() -> Vec<u8> {
    format!(
        "{{\"version\":\"{}\",\"pid\":{},\"max_output_len\":{}}}",
        super::version(),
        std::process::id(),
        json::MAX_OUTPUT_LEN
    )
    .into_bytes()
}

fn serve(listener: &UnixListener, woken: &UnixStream) {
    let mut clients: Vec<Client> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        fds.clear();
        for fd in [woken.as_raw_fd(), listener.as_raw_fd()] {
            fds.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        for c in &clients {
            fds.push(libc::pollfd {
                fd: c.stream.as_raw_fd(),
                events: if c.pending.is_some() {
                    libc::POLLOUT
                } else {
                    libc::POLLIN
                },
                revents: 0,
            });
        }
        if let Err(e) = socket::poll(&mut fds, -1) {
            log::error!(target: "lib.telemetry", "poll failed, telemetry stops: {e}");
            return;
        }
        if fds[0].revents != 0 {
            return;
        }
        // Clients first (their indexes match `fds`), then new connections.
        let mut keep = Vec::with_capacity(clients.len());
        for (mut c, pfd) in clients.drain(..).zip(&fds[2..]) {
            if pfd.revents == 0 || serve_client(&mut c, pfd.revents) {
                keep.push(c);
            }
        }
        clients = keep;
        if fds[1].revents != 0 {
            accept(listener, &mut clients);
        }
    }
}

fn accept(listener: &UnixListener, clients: &mut Vec<Client>) {
    loop {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::warn!(target: "lib.telemetry", "accept: {e}");
                return;
            }
        };
        if clients.len() >= MAX_CONNECTIONS {
            // As DPDK: closed without a greeting.
            log::debug!(target: "lib.telemetry", "{MAX_CONNECTIONS} clients already: connection closed");
            continue;
        }
        if stream.set_nonblocking(true).is_err() {
            continue;
        }
        let mut c = Client {
            stream,
            pending: None,
        };
        match send(&mut c.stream, greeting()) {
            Sent::Done => clients.push(c),
            Sent::Later(m) => {
                c.pending = Some(m);
                clients.push(c);
            }
            Sent::Gone => {}
        }
    }
}

/// Serves what `revents` says is ready; false when the client is gone.
fn serve_client(c: &mut Client, revents: i16) -> bool {
    if let Some(msg) = c.pending.take() {
        if revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            return false;
        }
        return match send(&mut c.stream, msg) {
            Sent::Done => true,
            Sent::Later(m) => {
                c.pending = Some(m);
                true
            }
            Sent::Gone => false,
        };
    }
    let mut buf = [0u8; REQUEST_MAX];
    loop {
        let n = match c.stream.read(&mut buf) {
            // An empty message ends the session, as in DPDK (its read returns 0).
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        match send(&mut c.stream, answer(&buf[..n]).into_bytes()) {
            Sent::Done => {}
            Sent::Later(m) => {
                c.pending = Some(m);
                return true;
            }
            Sent::Gone => return false,
        }
    }
}

/// Splits a request as DPDK's `strtok` calls do: the text ends at a NUL byte; leading commas
/// are skipped; the command runs to the next comma, and the parameters are everything after
/// it (none if that is empty).
pub(crate) fn split_request(msg: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
    let msg = &msg[..msg.iter().position(|&b| b == 0).unwrap_or(msg.len())];
    let Some(start) = msg.iter().position(|&b| b != b',') else {
        return (None, None);
    };
    let rest = &msg[start..];
    match rest.iter().position(|&b| b == b',') {
        None => (Some(rest), None),
        Some(i) => {
            let params = &rest[i + 1..];
            (Some(&rest[..i]), (!params.is_empty()).then_some(params))
        }
    }
}

/// The reply to one request message.
pub(crate) fn answer(msg: &[u8]) -> String {
    let (cmd, params) = split_request(msg);
    // DPDK prints a missing command with glibc's "%s" of NULL.
    let Some(cmd) = cmd else {
        return json::null_reply(b"(null)");
    };
    let entry = std::str::from_utf8(cmd)
        .ok()
        .filter(|c| c.len() < MAX_CMD_LEN)
        .and_then(registry::find);
    let Some(entry) = entry else {
        return json::null_reply(cmd);
    };
    let params = params.map(String::from_utf8_lossy);
    let mut d = Data::new();
    let ran = catch_unwind(AssertUnwindSafe(|| {
        (entry.run)(&entry.name, params.as_deref(), &mut d)
    }));
    match ran {
        Ok(Ok(())) => json::reply(cmd, &d),
        Ok(Err(e)) => {
            log::debug!(target: "lib.telemetry", "{}: {e}", entry.name);
            json::null_reply(cmd)
        }
        Err(_) => {
            log::error!(target: "lib.telemetry", "the handler of {} panicked", entry.name);
            json::null_reply(cmd)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_split_as_dpdk_strtok() {
        let s = |m: &'static [u8]| split_request(m);
        assert_eq!(s(b"/info"), (Some(&b"/info"[..]), None));
        assert_eq!(
            s(b"/ethdev/stats,0"),
            (Some(&b"/ethdev/stats"[..]), Some(&b"0"[..]))
        );
        assert_eq!(s(b"/a,0,1"), (Some(&b"/a"[..]), Some(&b"0,1"[..])));
        assert_eq!(s(b",,/a"), (Some(&b"/a"[..]), None));
        assert_eq!(s(b"/a,"), (Some(&b"/a"[..]), None));
        assert_eq!(s(b"/a,,b"), (Some(&b"/a"[..]), Some(&b",b"[..])));
        assert_eq!(s(b"/a\0,b"), (Some(&b"/a"[..]), None));
        assert_eq!(s(b",,,"), (None, None));
    }

    #[test]
    fn unknown_oversize_and_malformed_requests() {
        assert_eq!(answer(b"/nope"), r#"{"/nope":null}"#);
        assert_eq!(answer(b","), r#"{"(null)":null}"#);
        let long = format!("/{}", "a".repeat(200));
        assert_eq!(
            answer(long.as_bytes()),
            format!(r#"{{"{}":null}}"#, &long[..56])
        );
        assert_eq!(answer(b"/inf\xffo"), "{\"/inf\u{fffd}o\":null}");
        assert_eq!(answer(b"/help,/nope"), r#"{"/help":null}"#);
        assert!(answer(b"/info,ignored").starts_with(r#"{"/info":{"version":"#));
    }
}
