//! The mempool's errors.

/// Why a pool could not be created or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A creation parameter is out of range.
    #[error("mempool '{name}': {reason}")]
    InvalidConfig {
        /// The pool's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A pool of this name exists.
    #[error("mempool '{0}' already exists")]
    Exists(String),
    /// The pool's memory could not be reserved.
    #[error("mempool '{name}': {source}")]
    Memory {
        /// The pool's name.
        name: String,
        /// The EAL's error.
        #[source]
        source: rpdk_eal::Error,
    },
    /// An audit found objects missing, foreign or twice.
    #[error("mempool '{name}' audit failed: {reason}")]
    Audit {
        /// The pool's name.
        name: String,
        /// What was found.
        reason: String,
    },
}

/// The pool had fewer free objects than asked for; nothing was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("mempool exhausted")]
pub struct Exhausted;
