//! The EAL's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the EAL.
///
/// Errors about the command line name the flag and the value, as in
/// `invalid value '0-x' for -l: 'x' is not a number`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `-h`/`--help` was given; the usage text was printed to stdout.
    /// Applications should exit with status 0.
    #[error("help requested")]
    HelpRequested,
    /// A flag that the EAL does not know.
    #[error("unknown EAL option '{0}' (application options go after '--'; see --help)")]
    UnknownOption(String),
    /// A flag that needs a value was given none.
    #[error("option {0} requires a value")]
    MissingValue(String),
    /// A flag that takes no value was given one (`--no-huge=1`).
    #[error("option {flag} takes no value, got '{value}'")]
    UnexpectedValue {
        /// The flag as written.
        flag: String,
        /// The value that was attached to it.
        value: String,
    },
    /// A flag's value could not be used.
    #[error("invalid value '{value}' for {flag}: {reason}")]
    InvalidValue {
        /// The flag as written (`-l`, `--socket-mem`, ...).
        flag: String,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A flag that may be given once was given again (DPDK 26.07 refuses it too).
    #[error("option {0} is given twice (only -a, -b, --vdev, --log-level and --pagesz-mem repeat)")]
    Repeated(String),
    /// Two flags that cannot be used together.
    #[error("options {0} and {1} cannot be used together")]
    Conflict(String, String),
    /// `init` was called while the EAL is already initialised in this process.
    #[error("the EAL is already initialised in this process")]
    AlreadyInitialized,
    /// An EAL service was used before `init` (or after cleanup).
    #[error("the EAL is not initialised: call rpdk_eal::init first")]
    NotInitialized,
    /// Hugepage memory is not usable as configured.
    #[error("{0}")]
    Hugepages(String),
    /// The memory subsystem could not satisfy a request.
    #[error("{0}")]
    Memory(String),
    /// A memzone request was refused.
    #[error("memzone '{name}': {reason}")]
    Memzone {
        /// The memzone's name.
        name: String,
        /// Why the request was refused.
        reason: String,
    },
    /// An lcore operation was refused.
    #[error("lcore {lcore}: {reason}")]
    Lcore {
        /// The lcore concerned.
        lcore: u32,
        /// Why.
        reason: String,
    },
    /// A service-core call was refused (`rte_service`).
    #[error("service: {0}")]
    Service(String),
    /// A function launched on an lcore panicked.
    #[error("lcore {lcore}: the launched function panicked: {message}")]
    Panicked {
        /// The lcore whose function panicked.
        lcore: u32,
        /// The panic message.
        message: String,
    },
    /// Device arguments (`--vdev`, `-a`, `-b`) or a device probe failed.
    #[error("device '{device}': {reason}")]
    Device {
        /// The device name or PCI address as given.
        device: String,
        /// What went wrong.
        reason: String,
    },
    /// Another primary process holds the runtime directory of this file prefix.
    #[error(
        "another primary process is running with file prefix '{prefix}' (lock held on {}); \
         use a different --file-prefix, or --no-shconf",
        .lock.display()
    )]
    PrefixInUse {
        /// The file prefix.
        prefix: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// A secondary process found no running primary of its file prefix.
    #[error("--proc-type secondary: no primary process runs with file prefix '{prefix}': {reason}")]
    NoPrimary {
        /// The file prefix.
        prefix: String,
        /// What was found instead.
        reason: String,
    },
    /// An IPC message between processes was refused or not answered (`rte_mp`).
    #[error("IPC message '{name}': {reason}")]
    Mp {
        /// The message's name.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// The telemetry socket could not be set up, or a command was refused.
    #[error("telemetry: {0}")]
    Telemetry(String),
    /// A system call failed.
    #[error("{context}: {source}")]
    Io {
        /// What the EAL was doing.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The process exit status an application should use for this error: 0 for
    /// [`Error::HelpRequested`], 1 otherwise (DPDK examples exit with `EXIT_FAILURE`).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::HelpRequested => 0,
            _ => 1,
        }
    }

    pub(crate) fn invalid(flag: &str, value: &str, reason: impl Into<String>) -> Self {
        Error::InvalidValue {
            flag: flag.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn last_os(context: impl Into<String>) -> Self {
        Self::io(context, io::Error::last_os_error())
    }
}

/// The EAL's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
