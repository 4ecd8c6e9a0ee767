//! Logging: DPDK's log types and levels on top of the [`log`] facade.
//!
//! rpdk crates log through the `log` macros with a DPDK log type as the target:
//! `log::info!(target: "lib.eal", "...")`, `log::debug!(target: "pmd.net.af_packet", "...")`;
//! applications can use `user1`..`user8` or any target of their own. At [`crate::init`] the EAL
//! installs a logger (unless the application installed one first) that prints to stderr and
//! filters by type as DPDK's `--log-level` says:
//!
//! - `--log-level=<level>` sets the global level;
//! - `--log-level=<pattern>:<level>` sets the level of the types matching a glob pattern
//!   (`pmd.net.*:debug`);
//! - `--log-level=<regex>,<level>` does the same with a regular expression (`^lib\.,8`).
//!
//! A message is printed when its level is allowed by both the global level and its type's level.
//! Levels are DPDK's, by number (1-8) or by a prefix of their name.
//!
//! How lines look and where they go follows `--log-timestamp`, `--log-color` and `--syslog`
//! ([`output`]); an application can send them to a stream of its own with [`open_stream`].

mod clock;
pub mod output;
pub mod syslog;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};

pub use output::{LogColor, LogTimestamp, OutputConfig, open_stream};
pub use syslog::SyslogFacility;

/// A DPDK log level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum LogLevel {
    /// 1: system is unusable.
    Emergency = 1,
    /// 2: action must be taken immediately.
    Alert = 2,
    /// 3: critical conditions.
    Critical = 3,
    /// 4: error conditions.
    Error = 4,
    /// 5: warning conditions.
    Warning = 5,
    /// 6: normal but significant condition.
    Notice = 6,
    /// 7: informational.
    Info = 7,
    /// 8: debug-level messages.
    Debug = 8,
}

const LEVELS: [LogLevel; 8] = [
    LogLevel::Emergency,
    LogLevel::Alert,
    LogLevel::Critical,
    LogLevel::Error,
    LogLevel::Warning,
    LogLevel::Notice,
    LogLevel::Info,
    LogLevel::Debug,
];

impl LogLevel {
    /// DPDK's name of the level.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Emergency => "emergency",
            LogLevel::Alert => "alert",
            LogLevel::Critical => "critical",
            LogLevel::Error => "error",
            LogLevel::Warning => "warning",
            LogLevel::Notice => "notice",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }

    fn from_u8(v: u8) -> LogLevel {
        LEVELS[(v.clamp(1, 8) - 1) as usize]
    }

    /// Parses a level as DPDK does: a prefix of its name (`err`, `d`) or a number (1-8;
    /// larger numbers mean debug).
    pub fn parse(s: &str) -> Result<LogLevel, String> {
        if s.is_empty() {
            return Err("empty log level".into());
        }
        if let Some(l) = LEVELS.iter().find(|l| l.name().starts_with(s)) {
            return Ok(*l);
        }
        let n = if let Some(hex) = s.strip_prefix("0x") {
            u64::from_str_radix(hex, 16)
        } else {
            s.parse::<u64>()
        }
        .map_err(|_| format!("'{s}' is not a log level (a number 1-8 or a level name)"))?;
        if n == 0 {
            return Err("log level 0 is not valid (levels go from 1 to 8)".into());
        }
        Ok(LogLevel::from_u8(n.min(8) as u8))
    }

    /// The DPDK level of a `log` crate level.
    pub fn from_log(level: log::Level) -> LogLevel {
        match level {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warning,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug | log::Level::Trace => LogLevel::Debug,
        }
    }

    fn to_filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Emergency | LogLevel::Alert | LogLevel::Critical | LogLevel::Error => {
                log::LevelFilter::Error
            }
            LogLevel::Warning => log::LevelFilter::Warn,
            LogLevel::Notice | LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Trace,
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which log types a setting applies to.
#[derive(Clone, Debug)]
pub enum LogMatch {
    /// A glob pattern (`*` and `?`), as in `--log-level=pmd.net.*:debug`.
    Glob(String),
    /// A regular expression, as in `--log-level='^lib\.,debug'`.
    Regex(regex::Regex),
}

impl LogMatch {
    /// Whether the type `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            LogMatch::Glob(p) => glob_match(p.as_bytes(), name.as_bytes()),
            LogMatch::Regex(r) => r.is_match(name),
        }
    }
}

/// One `--log-level` setting.
#[derive(Clone, Debug)]
pub struct LogSetting {
    /// The types it applies to; `None` for the global level.
    pub matcher: Option<LogMatch>,
    /// The level.
    pub level: LogLevel,
}

impl LogSetting {
    /// Parses a `--log-level` value: `level`, `pattern:level` or `regex,level`.
    pub fn parse(arg: &str) -> Result<LogSetting, String> {
        if let Some((re, level)) = arg.split_once(',') {
            let regex =
                regex::Regex::new(re).map_err(|e| format!("bad regular expression '{re}': {e}"))?;
            Ok(LogSetting {
                matcher: Some(LogMatch::Regex(regex)),
                level: LogLevel::parse(level)?,
            })
        } else if let Some((pattern, level)) = arg.split_once(':') {
            if pattern.is_empty() {
                return Err("empty log type pattern".into());
            }
            Ok(LogSetting {
                matcher: Some(LogMatch::Glob(pattern.to_string())),
                level: LogLevel::parse(level)?,
            })
        } else {
            Ok(LogSetting {
                matcher: None,
                level: LogLevel::parse(arg)?,
            })
        }
    }
}

/// The log types rpdk's own crates use, listed by `--log-level=help`.
pub const KNOWN_TYPES: &[&str] = &[
    "lib.eal",
    "lib.telemetry",
    "lib.ring",
    "lib.mempool",
    "lib.mbuf",
    "lib.timer",
    "lib.ethdev",
    "lib.flow",
    "user1",
    "user2",
    "user3",
    "user4",
    "user5",
    "user6",
    "user7",
    "user8",
];

/// The level a type has until a setting changes it (DPDK registers its types at INFO).
pub const DEFAULT_TYPE_LEVEL: LogLevel = LogLevel::Info;

struct Filter {
    global: AtomicU8,
    rules: RwLock<Vec<(LogMatch, LogLevel)>>,
    cache: RwLock<HashMap<String, LogLevel>>,
    registered: Mutex<Vec<String>>,
}

fn filter() -> &'static Filter {
    static FILTER: OnceLock<Filter> = OnceLock::new();
    FILTER.get_or_init(|| Filter {
        global: AtomicU8::new(LogLevel::Debug as u8),
        rules: RwLock::new(Vec::new()),
        cache: RwLock::new(HashMap::new()),
        registered: Mutex::new(KNOWN_TYPES.iter().map(|s| s.to_string()).collect()),
    })
}

/// Sets the global level.
pub fn set_global_level(level: LogLevel) {
    filter().global.store(level as u8, Ordering::Relaxed);
    update_max_level();
}

/// The global level.
pub fn global_level() -> LogLevel {
    LogLevel::from_u8(filter().global.load(Ordering::Relaxed))
}

/// Sets the level of every type that `matcher` matches, now and for types first used later.
pub fn set_level(matcher: LogMatch, level: LogLevel) {
    let f = filter();
    f.rules
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .push((matcher, level));
    f.cache.write().unwrap_or_else(|e| e.into_inner()).clear();
    update_max_level();
}

/// Applies a parsed `--log-level` setting.
pub fn apply(setting: &LogSetting) {
    match &setting.matcher {
        None => set_global_level(setting.level),
        Some(m) => set_level(m.clone(), setting.level),
    }
}

/// Forgets every setting: global level debug, every type at [`DEFAULT_TYPE_LEVEL`], plain
/// lines on stderr.
pub fn reset() {
    output::reset();
    let f = filter();
    f.global.store(LogLevel::Debug as u8, Ordering::Relaxed);
    f.rules.write().unwrap_or_else(|e| e.into_inner()).clear();
    f.cache.write().unwrap_or_else(|e| e.into_inner()).clear();
    update_max_level();
}

/// Adds a log type to the list `--log-level=help` shows (as `rte_log_register`).
pub fn register_type(name: &str) {
    let mut reg = filter()
        .registered
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if !reg.iter().any(|t| t == name) {
        reg.push(name.to_string());
    }
}

/// The level of log type `name` (without the global level).
pub fn type_level(name: &str) -> LogLevel {
    let f = filter();
    if let Some(l) = f.cache.read().unwrap_or_else(|e| e.into_inner()).get(name) {
        return *l;
    }
    let level = f
        .rules
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .rev()
        .find(|(m, _)| m.matches(name))
        .map(|(_, l)| *l)
        .unwrap_or(DEFAULT_TYPE_LEVEL);
    f.cache
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_string(), level);
    level
}

/// Whether a message of `level` on type `name` is printed.
pub fn can_log(name: &str, level: LogLevel) -> bool {
    level <= global_level() && level <= type_level(name)
}

fn update_max_level() {
    let f = filter();
    let highest_type = f
        .rules
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(_, l)| *l)
        .chain(std::iter::once(DEFAULT_TYPE_LEVEL))
        .max()
        .unwrap_or(DEFAULT_TYPE_LEVEL);
    log::set_max_level(highest_type.min(global_level()).to_filter());
}

/// The text `--log-level=help` prints.
pub fn help_text() -> String {
    let mut out = String::from("Log type is a pattern matching items of this list:\n");
    for t in filter()
        .registered
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        out.push_str(&format!("\t{t:<24}{}\n", type_level(t)));
    }
    out.push_str(
        "\nSyntax using globbing pattern:     --log-level pattern:level\n\
         Syntax using regular expression:   --log-level regexp,level\n\
         Syntax for the global level:       --log-level level\n\
         Logs are emitted if allowed by both global and specific levels.\n\n\
         Log level can be a number or the first letters of its name:\n",
    );
    for l in LEVELS {
        out.push_str(&format!("\t{}   {}\n", l as u8, l.name()));
    }
    out
}

/// The prefix printed before a message of type `target`: `EAL` for `lib.eal`, as DPDK prints.
fn prefix(target: &str) -> String {
    match target.strip_prefix("lib.") {
        Some(lib) => lib.to_ascii_uppercase(),
        None if target.starts_with("user") => target.to_ascii_uppercase(),
        None => target.to_string(),
    }
}

struct EalLogger;

impl log::Log for EalLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        can_log(metadata.target(), LogLevel::from_log(metadata.level()))
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        output::write(
            LogLevel::from_log(record.level()),
            &prefix(record.target()),
            &record.args().to_string(),
        );
    }

    fn flush(&self) {
        use std::io::Write;
        let _ = std::io::stderr().flush();
    }
}

/// Installs the EAL's logger if no logger is installed yet. Returns whether it was installed.
pub(crate) fn install() -> bool {
    static LOGGER: EalLogger = EalLogger;
    let installed = log::set_logger(&LOGGER).is_ok();
    update_max_level();
    installed
}

/// Glob matching with `*` (any run of characters) and `?` (one character), as `fnmatch`.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_like_dpdk() {
        assert_eq!(LogLevel::parse("debug").unwrap(), LogLevel::Debug);
        assert_eq!(LogLevel::parse("err").unwrap(), LogLevel::Error);
        assert_eq!(LogLevel::parse("e").unwrap(), LogLevel::Emergency);
        assert_eq!(LogLevel::parse("8").unwrap(), LogLevel::Debug);
        assert_eq!(LogLevel::parse("12").unwrap(), LogLevel::Debug);
        assert_eq!(LogLevel::parse("0x4").unwrap(), LogLevel::Error);
        assert!(LogLevel::parse("0").unwrap_err().contains("not valid"));
        assert!(LogLevel::parse("loud").unwrap_err().contains("'loud'"));
        assert!(LogLevel::parse("debugx").is_err());
    }

    #[test]
    fn settings_parse() {
        let s = LogSetting::parse("pmd.net.*:debug").unwrap();
        assert!(matches!(s.matcher, Some(LogMatch::Glob(ref p)) if p == "pmd.net.*"));
        assert_eq!(s.level, LogLevel::Debug);
        let s = LogSetting::parse("^lib\\.,3").unwrap();
        assert!(s.matcher.as_ref().unwrap().matches("lib.eal"));
        assert!(!s.matcher.as_ref().unwrap().matches("pmd.lib.x"));
        let s = LogSetting::parse("notice").unwrap();
        assert!(s.matcher.is_none());
        assert_eq!(s.level, LogLevel::Notice);
        assert!(
            LogSetting::parse("(,8")
                .unwrap_err()
                .contains("regular expression")
        );
        assert!(LogSetting::parse(":8").unwrap_err().contains("empty"));
        assert!(LogSetting::parse("lib.eal:nope").is_err());
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"pmd.net.*", b"pmd.net.af_packet"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"lib.?al", b"lib.eal"));
        assert!(glob_match(b"*.eal", b"lib.eal"));
        assert!(!glob_match(b"pmd.*", b"lib.eal"));
        assert!(glob_match(b"a*b*c", b"axxbyyc"));
        assert!(!glob_match(b"a*b*c", b"axxbyy"));
    }

    #[test]
    fn prefixes() {
        assert_eq!(prefix("lib.eal"), "EAL");
        assert_eq!(prefix("user1"), "USER1");
        assert_eq!(prefix("pmd.net.null"), "pmd.net.null");
    }
}
