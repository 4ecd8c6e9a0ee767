//! The ethdev's errors.

/// Why a port operation failed. Every variant names the port (and queue) concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EthError {
    /// No port has this id.
    #[error("port {0}: no such port")]
    NoSuchPort(u16),
    /// No port has this name.
    #[error("port '{0}': no such port")]
    NoSuchName(String),
    /// The queue id is out of range.
    #[error("port {port}: {dir} queue {queue} does not exist ({count} configured)")]
    NoSuchQueue {
        /// Port id.
        port: u16,
        /// `rx` or `tx`.
        dir: &'static str,
        /// The queue asked for.
        queue: u16,
        /// Queues configured.
        count: u16,
    },
    /// The queue's handle is held elsewhere.
    #[error("port {port}: {dir} queue {queue} is owned by another handle")]
    QueueBusy {
        /// Port id.
        port: u16,
        /// `rx` or `tx`.
        dir: &'static str,
        /// The queue.
        queue: u16,
    },
    /// The operation does not fit the port's state (configure while started, start before
    /// queues are set up...).
    #[error("port {port}: {reason}")]
    BadState {
        /// Port id.
        port: u16,
        /// What is wrong.
        reason: String,
    },
    /// A configuration value is out of the port's limits.
    #[error("port {port}: invalid configuration: {reason}")]
    InvalidConfig {
        /// Port id.
        port: u16,
        /// What is wrong.
        reason: String,
    },
    /// The driver cannot do this.
    #[error("port {port}: {what} is not supported by driver {driver}")]
    NotSupported {
        /// Port id.
        port: u16,
        /// Driver name.
        driver: &'static str,
        /// What was asked.
        what: &'static str,
    },
    /// Too many ports.
    #[error("no free port id (at most {0} ports)")]
    TooManyPorts(usize),
    /// A port of this name exists.
    #[error("port '{0}' already exists")]
    NameTaken(String),
    /// A port could not be made from what was given (before it has an id).
    #[error("device '{name}': {reason}")]
    InvalidDevice {
        /// The device's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A secondary process could not read the primary's ports (IPC failed or was refused).
    #[error("the primary's ports: {0}")]
    Remote(String),
    /// The driver failed.
    #[error("port {port} ({driver}): {message}")]
    Driver {
        /// Port id.
        port: u16,
        /// Driver name.
        driver: &'static str,
        /// What happened.
        message: String,
    },
}

/// The ethdev's result type.
pub type Result<T, E = EthError> = std::result::Result<T, E>;

/// What a driver returns on failure; the port layer adds the port id and driver name.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The driver does not do this.
    #[error("not supported: {0}")]
    NotSupported(&'static str),
    /// A configuration value is refused.
    #[error("{0}")]
    Invalid(String),
    /// A system call or the device failed.
    #[error("{context}: {source}")]
    Io {
        /// What the driver was doing.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl DriverError {
    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> DriverError {
        DriverError::Io {
            context: context.into(),
            source,
        }
    }

    /// The last OS error with context.
    pub fn last_os(context: impl Into<String>) -> DriverError {
        Self::io(context, std::io::Error::last_os_error())
    }
}
