//! Where log lines go and how they look: `--log-timestamp`, `--log-color`, `--syslog`, and a
//! stream of the application's choosing ([`open_stream`], DPDK's `rte_openlog_stream`).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use super::LogLevel;
use super::clock::LocalTime;
use super::syslog::{SYSLOG_SOCKET, Syslog, SyslogFacility};

/// `--log-timestamp[=format]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogTimestamp {
    /// `notime`: no timestamp (the default).
    #[default]
    None,
    /// No value: seconds since start, `[    12.345678]`.
    Time,
    /// `delta`: time since the previous message, `[<     0.000123>]`.
    Delta,
    /// `reltime`: `+  0.000123` since the previous message, or `Dec01 22:31` when the minute
    /// changed.
    Reltime,
    /// `ctime`: `Tue Dec  1 22:31:33 2026`.
    Ctime,
    /// `iso`: `2026-12-01T22:31:33,123456+00:00`.
    Iso,
}

impl LogTimestamp {
    /// Parses the value of `--log-timestamp` (`None` when given without one).
    pub fn parse(v: Option<&str>) -> Result<LogTimestamp, String> {
        Ok(match v {
            None => LogTimestamp::Time,
            Some("notime") => LogTimestamp::None,
            Some("delta") => LogTimestamp::Delta,
            Some("reltime") => LogTimestamp::Reltime,
            Some("ctime") => LogTimestamp::Ctime,
            Some("iso") => LogTimestamp::Iso,
            Some(_) => {
                return Err("expected 'notime', 'delta', 'reltime', 'ctime' or 'iso'".into());
            }
        })
    }
}

/// `--log-color[=when]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogColor {
    /// `auto`: when stderr is a terminal.
    Auto,
    /// `never` (the default).
    #[default]
    Never,
    /// `always`, or no value.
    Always,
}

impl LogColor {
    /// Parses the value of `--log-color` (`None` when given without one).
    pub fn parse(v: Option<&str>) -> Result<LogColor, String> {
        match v {
            None | Some("always") => Ok(LogColor::Always),
            Some("never") => Ok(LogColor::Never),
            Some("auto") => Ok(LogColor::Auto),
            Some(_) => Err("expected 'always', 'auto' or 'never'".into()),
        }
    }
}

/// How the EAL logger writes, set at init from the flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutputConfig {
    /// `--log-timestamp`.
    pub timestamp: LogTimestamp,
    /// `--log-color`.
    pub color: LogColor,
    /// `--syslog`.
    pub syslog: Option<SyslogFacility>,
}

struct Output {
    timestamp: LogTimestamp,
    color: bool,
    syslog: Option<Syslog>,
    started: Instant,
}

static OUTPUT: RwLock<Option<Output>> = RwLock::new(None);
static STREAM: Mutex<Option<Box<dyn Write + Send>>> = Mutex::new(None);
/// Nanoseconds since `started` of the previous message, for `delta`.
static LAST_MONO: AtomicU64 = AtomicU64::new(0);
/// Wall-clock microseconds of the previous message, for `reltime`.
static LAST_WALL: AtomicU64 = AtomicU64::new(0);

/// Sends log lines to `stream` instead of stderr and syslog (DPDK's `rte_openlog_stream`);
/// `None` goes back to them. Lines are written whole, one `write_all` each.
pub fn open_stream(stream: Option<Box<dyn Write + Send>>) {
    *STREAM.lock().unwrap_or_else(|e| e.into_inner()) = stream;
}

/// Applies the output flags; `ident` names the program in syslog messages. A syslog that
/// cannot be reached is a warning: messages still go to stderr.
pub(crate) fn configure(cfg: OutputConfig, ident: &str) -> Option<String> {
    let mut warning = None;
    let syslog = cfg.syslog.filter(|f| f.enabled()).and_then(|facility| {
        Syslog::connect(Path::new(SYSLOG_SOCKET), facility, ident)
            .map_err(|e| {
                warning = Some(format!(
                    "--syslog={}: cannot reach the system logger at {SYSLOG_SOCKET} ({e}); \
                     logging to stderr only",
                    facility.name()
                ));
            })
            .ok()
    });
    let color = match cfg.color {
        LogColor::Always => true,
        LogColor::Never => false,
        LogColor::Auto => std::io::stderr().is_terminal(),
    };
    LAST_MONO.store(0, Ordering::Relaxed);
    LAST_WALL.store(0, Ordering::Relaxed);
    *OUTPUT.write().unwrap_or_else(|e| e.into_inner()) = Some(Output {
        timestamp: cfg.timestamp,
        color,
        syslog,
        started: Instant::now(),
    });
    warning
}

/// Back to plain stderr lines.
pub(crate) fn reset() {
    *OUTPUT.write().unwrap_or_else(|e| e.into_inner()) = None;
}

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";
const CLEAR: &str = "\x1b[0m";

fn timestamp(kind: LogTimestamp, started: Instant) -> Option<String> {
    let secs_us = |ns: u64| format!("{:6}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1000);
    let mono = || started.elapsed().as_nanos() as u64;
    Some(match kind {
        LogTimestamp::None => return None,
        LogTimestamp::Time => secs_us(mono()),
        LogTimestamp::Delta => {
            let now = mono();
            let prev = LAST_MONO.swap(now, Ordering::Relaxed);
            format!("<{}>", secs_us(now.saturating_sub(prev)))
        }
        LogTimestamp::Reltime => {
            let now = LocalTime::now();
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_micros() as u64;
            let prev = LAST_WALL.swap(wall, Ordering::Relaxed);
            let before = LocalTime::at((prev / 1_000_000) as i64, 0);
            if prev != 0
                && (before.minute, before.hour, before.yearday)
                    == (now.minute, now.hour, now.yearday)
            {
                let d = wall.saturating_sub(prev);
                format!("+{:3}.{:06}", d / 1_000_000, d % 1_000_000)
            } else {
                now.month_day_minute()
            }
        }
        LogTimestamp::Ctime => LocalTime::now().ctime(),
        LogTimestamp::Iso => LocalTime::now().iso8601(),
    })
}

/// Formats `subsys: message` for the terminal, with the timestamp and colours in effect.
fn decorate(out: &Output, level: LogLevel, subsys: &str, message: &str) -> String {
    let ts = timestamp(out.timestamp, out.started);
    if !out.color {
        return match ts {
            Some(t) => format!("[{t}] {subsys}: {message}\n"),
            None => format!("{subsys}: {message}\n"),
        };
    }
    let body = match level {
        LogLevel::Emergency | LogLevel::Alert | LogLevel::Critical => Some(RED),
        LogLevel::Error => Some(BOLD),
        _ => None,
    };
    let mut line = String::new();
    if let Some(t) = ts {
        line.push_str(&format!("{GREEN}[{t}] {CLEAR}"));
    }
    line.push_str(&format!("{YELLOW}{subsys}:{CLEAR}"));
    match body {
        Some(c) => line.push_str(&format!("{c} {message}{CLEAR}\n")),
        None => line.push_str(&format!(" {message}\n")),
    }
    line
}

/// Writes one message: to the application's stream if one is open; otherwise to syslog when
/// `--syslog` is on (and to stderr, as DPDK's syslog does), or to stderr with the timestamp
/// and colours the flags ask for.
pub(crate) fn write(level: LogLevel, subsys: &str, message: &str) {
    let output = OUTPUT.read().unwrap_or_else(|e| e.into_inner());
    let mut stream = STREAM.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = stream.as_mut() {
        let line = match output.as_ref() {
            Some(out) => {
                let ts = timestamp(out.timestamp, out.started);
                match ts {
                    Some(t) => format!("[{t}] {subsys}: {message}\n"),
                    None => format!("{subsys}: {message}\n"),
                }
            }
            None => format!("{subsys}: {message}\n"),
        };
        let _ = s.write_all(line.as_bytes());
        return;
    }
    drop(stream);
    let line = match output.as_ref() {
        Some(out) => {
            if let Some(sys) = &out.syslog {
                sys.send(level, &format!("{subsys}: {message}"));
                format!("{subsys}: {message}\n")
            } else {
                decorate(out, level, subsys, message)
            }
        }
        None => format!("{subsys}: {message}\n"),
    };
    // One write per message, so lines from several lcores do not interleave.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(timestamp: LogTimestamp, color: bool) -> Output {
        Output {
            timestamp,
            color,
            syslog: None,
            started: Instant::now(),
        }
    }

    #[test]
    fn values_parse_as_dpdk() {
        assert_eq!(LogTimestamp::parse(None), Ok(LogTimestamp::Time));
        assert_eq!(LogTimestamp::parse(Some("iso")), Ok(LogTimestamp::Iso));
        assert_eq!(LogTimestamp::parse(Some("notime")), Ok(LogTimestamp::None));
        assert!(LogTimestamp::parse(Some("invalid")).is_err());
        assert!(LogTimestamp::parse(Some("")).is_err());
        assert_eq!(LogColor::parse(None), Ok(LogColor::Always));
        assert_eq!(LogColor::parse(Some("never")), Ok(LogColor::Never));
        assert_eq!(LogColor::parse(Some("auto")), Ok(LogColor::Auto));
        assert!(LogColor::parse(Some("invalid")).is_err());
    }

    #[test]
    fn lines_look_as_asked() {
        let plain = decorate(&out(LogTimestamp::None, false), LogLevel::Info, "EAL", "hi");
        assert_eq!(plain, "EAL: hi\n");
        let timed = decorate(&out(LogTimestamp::Time, false), LogLevel::Info, "EAL", "hi");
        assert!(
            timed.starts_with("[     0.0") && timed.ends_with("] EAL: hi\n"),
            "{timed:?}"
        );
        let delta = decorate(
            &out(LogTimestamp::Delta, false),
            LogLevel::Info,
            "EAL",
            "hi",
        );
        assert!(delta.starts_with("[<     0."), "{delta:?}");
        let iso = decorate(&out(LogTimestamp::Iso, false), LogLevel::Info, "EAL", "hi");
        assert_eq!(iso.find('T'), Some(11), "{iso:?}");
        let ctime = decorate(
            &out(LogTimestamp::Ctime, false),
            LogLevel::Info,
            "EAL",
            "hi",
        );
        assert_eq!(ctime.find(']'), Some(25), "{ctime:?}");
        let coloured = decorate(
            &out(LogTimestamp::None, true),
            LogLevel::Error,
            "EAL",
            "bad",
        );
        assert_eq!(coloured, "\x1b[33mEAL:\x1b[0m\x1b[1m bad\x1b[0m\n");
        let info = decorate(&out(LogTimestamp::None, true), LogLevel::Info, "EAL", "ok");
        assert_eq!(info, "\x1b[33mEAL:\x1b[0m ok\n");
        let both = decorate(
            &out(LogTimestamp::Time, true),
            LogLevel::Critical,
            "EAL",
            "x",
        );
        assert!(
            both.starts_with("\x1b[32m[") && both.contains("\x1b[31m x"),
            "{both:?}"
        );
    }
}
