//! `--syslog[=facility]`: log messages also go to the system logger, as datagrams on the
//! `/dev/log` Unix socket in the BSD syslog format (`<PRI>ident[pid]: message`, RFC 3164 as
//! glibc's `syslog(3)` sends it), with the facility given and the DPDK level as severity.
//!
//! Written with the standard library's `UnixDatagram` rather than libc's `openlog`/`syslog`,
//! whose process-global state and variadic calls need `unsafe` for nothing more than this.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use super::LogLevel;

/// The system logger's socket.
pub const SYSLOG_SOCKET: &str = "/dev/log";

/// A syslog facility, as `--syslog` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyslogFacility {
    name: &'static str,
    code: u8,
}

/// The facilities `--syslog` accepts, with their codes (`<syslog.h>`).
const FACILITIES: &[(&str, u8)] = &[
    ("auth", 4),
    ("cron", 9),
    ("daemon", 3),
    ("ftp", 11),
    ("kern", 0),
    ("lpr", 6),
    ("mail", 2),
    ("news", 7),
    ("syslog", 5),
    ("user", 1),
    ("uucp", 8),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

impl SyslogFacility {
    /// `daemon`, what `--syslog` without a value uses.
    pub const DAEMON: SyslogFacility = SyslogFacility {
        name: "daemon",
        code: 3,
    };

    /// Parses a facility name (`user`, `local3`...).
    pub fn parse(s: &str) -> Result<SyslogFacility, String> {
        FACILITIES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|&(name, code)| SyslogFacility { name, code })
            .ok_or_else(|| {
                let names: Vec<&str> = FACILITIES.iter().map(|(n, _)| *n).collect();
                format!("unknown syslog facility (one of: {})", names.join(", "))
            })
    }

    /// The name.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// The facility code.
    pub fn code(self) -> u8 {
        self.code
    }

    /// Whether messages go to syslog with it: as in DPDK, `kern` (code 0) is accepted but means
    /// no syslog, since user programs cannot log as the kernel.
    pub fn enabled(self) -> bool {
        self.code != 0
    }
}

/// A connection to the system logger.
#[derive(Debug)]
pub struct Syslog {
    socket: UnixDatagram,
    facility: SyslogFacility,
    ident: String,
    pid: u32,
}

impl Syslog {
    /// Connects to the logger listening on `path` (normally [`SYSLOG_SOCKET`]); `ident` names
    /// the program in every message.
    pub fn connect(path: &Path, facility: SyslogFacility, ident: &str) -> io::Result<Syslog> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        socket.set_nonblocking(true)?;
        Ok(Syslog {
            socket,
            facility,
            ident: ident.to_string(),
            pid: std::process::id(),
        })
    }

    /// The datagram for `message` at `level`.
    pub fn format(&self, level: LogLevel, message: &str) -> String {
        // Syslog severities run 0 (emergency) to 7 (debug): DPDK's levels minus one.
        let pri = u32::from(self.facility.code) * 8 + (level as u32 - 1);
        format!(
            "<{pri}>{}[{}]: {}",
            self.ident,
            self.pid,
            message.trim_end_matches('\n')
        )
    }

    /// Sends one message; a full or absent logger drops it rather than blocking the lcore.
    pub fn send(&self, level: LogLevel, message: &str) {
        let _ = self.socket.send(self.format(level, message).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_as_dpdk() {
        assert_eq!(SyslogFacility::parse("user").unwrap().code(), 1);
        assert_eq!(SyslogFacility::parse("local7").unwrap().code(), 23);
        assert!(!SyslogFacility::parse("kern").unwrap().enabled());
        let e = SyslogFacility::parse("invalid").unwrap_err();
        assert!(
            e.contains("unknown syslog facility") && e.contains("local0"),
            "{e}"
        );
    }

    #[test]
    fn messages_reach_a_listening_socket() {
        let dir = std::env::temp_dir().join(format!("rpdk-syslog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        let facility = SyslogFacility::parse("local1").unwrap();
        let log = Syslog::connect(&path, facility, "helloworld").unwrap();
        log.send(LogLevel::Warning, "EAL: hello\n");
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        // local1 (17) * 8 + warning (4) = 140.
        assert_eq!(
            got,
            format!("<140>helloworld[{}]: EAL: hello", std::process::id())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
