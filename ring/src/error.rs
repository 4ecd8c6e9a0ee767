//! The ring error type.

/// What can go wrong creating, finding or taking handles on a ring. Each error names the ring
/// and what was wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A creation argument was refused (count, flags, name, element type); DPDK's `EINVAL` or
    /// `ENAMETOOLONG`.
    #[error("ring '{name}': {reason}")]
    Invalid {
        /// The ring's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A ring of this name exists already (`EEXIST`).
    #[error("ring '{0}': a ring of this name already exists")]
    Exists(String),
    /// No ring of this name (`ENOENT`).
    #[error("ring '{0}': no ring of this name")]
    NotFound(String),
    /// The ring holds another element type, or asks for a handle of another sync mode.
    #[error("ring '{name}': {reason}")]
    Mismatch {
        /// The ring's name.
        name: String,
        /// What differs.
        reason: String,
    },
    /// The single-producer or single-consumer handle of the ring is taken (`EBUSY`).
    #[error("ring '{name}': its {side} handle is already taken (single-{side} side)")]
    Busy {
        /// The ring's name.
        name: String,
        /// "producer" or "consumer".
        side: &'static str,
    },
    /// The operation needs another sync mode (peek and zero-copy need ST or HTS; `ENOTSUP`).
    #[error("ring '{name}': {reason}")]
    NotSupported {
        /// The ring's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Memory could not be had (`ENOMEM`).
    #[error("ring '{name}': cannot allocate {bytes} bytes")]
    NoMemory {
        /// The ring's name.
        name: String,
        /// How much was asked for.
        bytes: usize,
    },
    /// The EAL refused (not initialised, memzone errors).
    #[error(transparent)]
    Eal(#[from] rpdk_eal::Error),
}

/// A result with a ring [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
