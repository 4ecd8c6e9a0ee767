//! Typed errors, as DPDK's `struct rte_flow_error`: what kind of object is at fault, which one,
//! and why.

use std::fmt;

/// The kind of object an error is about (DPDK's `enum rte_flow_error_type`, same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ErrorType {
    /// No error.
    None = 0,
    /// Cause unspecified.
    Unspecified = 1,
    /// A flow rule handle (unknown rule id).
    Handle = 2,
    /// The group attribute.
    AttrGroup = 3,
    /// The priority attribute.
    AttrPriority = 4,
    /// The ingress attribute.
    AttrIngress = 5,
    /// The egress attribute.
    AttrEgress = 6,
    /// The transfer attribute.
    AttrTransfer = 7,
    /// The attributes as a whole.
    Attr = 8,
    /// The pattern's length.
    ItemNum = 9,
    /// An item's spec.
    ItemSpec = 10,
    /// An item's last (range).
    ItemLast = 11,
    /// An item's mask.
    ItemMask = 12,
    /// An item as a whole.
    Item = 13,
    /// The number of actions.
    ActionNum = 14,
    /// An action's configuration.
    ActionConf = 15,
    /// An action as a whole.
    Action = 16,
}

impl ErrorType {
    /// testpmd's description of the type (`port_flow_complain`'s table).
    pub fn describe(self) -> &'static str {
        match self {
            ErrorType::None => "no error",
            ErrorType::Unspecified => "cause unspecified",
            ErrorType::Handle => "flow rule (handle)",
            ErrorType::AttrGroup => "group field",
            ErrorType::AttrPriority => "priority field",
            ErrorType::AttrIngress => "ingress field",
            ErrorType::AttrEgress => "egress field",
            ErrorType::AttrTransfer => "transfer field",
            ErrorType::Attr => "attributes structure",
            ErrorType::ItemNum => "pattern length",
            ErrorType::ItemSpec => "item specification",
            ErrorType::ItemLast => "item specification range",
            ErrorType::ItemMask => "item specification mask",
            ErrorType::Item => "specific pattern item",
            ErrorType::ActionNum => "number of actions",
            ErrorType::ActionConf => "action configuration",
            ErrorType::Action => "specific action",
        }
    }
}

/// Which object of a rule an error names (DPDK's `cause` pointer, as an index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// The attributes.
    Attr,
    /// The pattern item at this index (counted from 0, VOID items included).
    Item(usize),
    /// The action at this index.
    Action(usize),
    /// A rule by id.
    Rule(u32),
    /// An indirect action by id.
    Indirect(u32),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Attr => write!(f, "attributes"),
            Cause::Item(i) => write!(f, "item {i}"),
            Cause::Action(i) => write!(f, "action {i}"),
            Cause::Rule(i) => write!(f, "rule {i}"),
            Cause::Indirect(i) => write!(f, "indirect action {i}"),
        }
    }
}

/// A refused rule or call: the type, the object and the reason (DPDK's `rte_flow_error`, with
/// the `rte_errno` the call would set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowError {
    /// What kind of object is at fault.
    pub kind: ErrorType,
    /// Which one, when there is one.
    pub cause: Option<Cause>,
    /// Why.
    pub message: String,
    /// The errno DPDK would set: `EINVAL` for a bad rule, `ENOTSUP` for something the engine
    /// does not do, `ENOENT` for an unknown id, `EEXIST`, `ENOSPC`.
    pub errno: i32,
}

impl FlowError {
    /// An `EINVAL` error.
    pub fn new(kind: ErrorType, cause: Option<Cause>, message: impl Into<String>) -> FlowError {
        FlowError {
            kind,
            cause,
            message: message.into(),
            errno: libc::EINVAL,
        }
    }

    /// The same error with another errno.
    pub fn with_errno(mut self, errno: i32) -> FlowError {
        self.errno = errno;
        self
    }

    pub(crate) fn item(kind: ErrorType, i: usize, message: impl Into<String>) -> FlowError {
        FlowError::new(kind, Some(Cause::Item(i)), message)
    }

    pub(crate) fn action(kind: ErrorType, i: usize, message: impl Into<String>) -> FlowError {
        FlowError::new(kind, Some(Cause::Action(i)), message)
    }

    /// testpmd's line for this error (`port_flow_complain`):
    /// `port_flow_complain(): Caught PMD error type 16 (specific action): cause: action 0, queue
    /// index out of range: Invalid argument`. DPDK prints the cause as a pointer; rpdk names
    /// the object instead.
    pub fn complain(&self) -> String {
        let cause = match self.cause {
            Some(c) => format!("cause: {c}, "),
            None => String::new(),
        };
        format!(
            "port_flow_complain(): Caught PMD error type {} ({}): {}{}: {}",
            self.kind as u8,
            self.kind.describe(),
            cause,
            if self.message.is_empty() {
                "(no stated reason)"
            } else {
                &self.message
            },
            strerror(self.errno)
        )
    }
}

/// `strerror` for the errnos flow calls return (as glibc words them).
fn strerror(errno: i32) -> &'static str {
    match errno {
        0 => "Success",
        libc::EINVAL => "Invalid argument",
        libc::ENOTSUP => "Operation not supported",
        libc::ENOENT => "No such file or directory",
        libc::EEXIST => "File exists",
        libc::ENOSPC => "No space left on device",
        libc::EBUSY => "Device or resource busy",
        libc::ENOMEM => "Cannot allocate memory",
        _ => "Unknown error",
    }
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cause {
            Some(c) => write!(f, "{} ({c}): {}", self.kind.describe(), self.message),
            None => write!(f, "{}: {}", self.kind.describe(), self.message),
        }
    }
}

impl std::error::Error for FlowError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complain_as_testpmd() {
        let e = FlowError::action(
            ErrorType::ActionConf,
            0,
            "queue index 9 out of range (4 rx queues)",
        );
        assert_eq!(
            e.complain(),
            "port_flow_complain(): Caught PMD error type 15 (action configuration): cause: action 0, \
             queue index 9 out of range (4 rx queues): Invalid argument"
        );
        let e = FlowError::new(ErrorType::Attr, None, "").with_errno(libc::ENOTSUP);
        assert!(
            e.complain()
                .ends_with("(attributes structure): (no stated reason): Operation not supported")
        );
    }
}
