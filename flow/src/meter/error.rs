//! Meter errors, as DPDK's `struct rte_mtr_error`: the kind of object at fault, which one, why,
//! and the errno the call returns.

use std::fmt;

/// The kind of object an error is about (`enum rte_mtr_error_type`, same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MtrErrorType {
    /// No error.
    None = 0,
    /// Cause unspecified.
    Unspecified = 1,
    /// A meter profile id (unknown, taken, in use).
    MeterProfileId = 2,
    /// A meter profile's parameters.
    MeterProfile = 3,
    /// A profile's packet mode.
    MeterProfilePacketMode = 4,
    /// A meter object id (unknown, taken, in use).
    MtrId = 5,
    /// A meter object's parameters.
    MtrParams = 6,
    /// The green actions of a policy.
    PolicerActionGreen = 7,
    /// The yellow actions of a policy.
    PolicerActionYellow = 8,
    /// The red actions of a policy.
    PolicerActionRed = 9,
    /// A statistics mask.
    StatsMask = 10,
    /// Statistics.
    Stats = 11,
    /// Sharing a meter that is not shared.
    Shared = 12,
    /// A meter policy id (unknown, taken, in use).
    MeterPolicyId = 13,
    /// A meter policy.
    MeterPolicy = 14,
}

impl MtrErrorType {
    /// testpmd's description of the type (the table of its meter error printer).
    pub fn describe(self) -> &'static str {
        match self {
            MtrErrorType::None => "no error",
            MtrErrorType::Unspecified => "cause unspecified",
            MtrErrorType::MeterProfileId => "meter profile id",
            MtrErrorType::MeterProfile => "meter profile null",
            MtrErrorType::MeterProfilePacketMode => "unknown type",
            MtrErrorType::MtrId => "meter id",
            MtrErrorType::MtrParams => "meter params null",
            MtrErrorType::PolicerActionGreen => "policer action(green)",
            MtrErrorType::PolicerActionYellow => "policer action(yellow)",
            MtrErrorType::PolicerActionRed => "policer action(red)",
            MtrErrorType::StatsMask => "stats mask",
            MtrErrorType::Stats => "stats",
            MtrErrorType::Shared => "shared meter",
            MtrErrorType::MeterPolicyId => "meter policy id",
            MtrErrorType::MeterPolicy => "meter policy null",
        }
    }
}

/// A refused meter call (`struct rte_mtr_error` with the call's negative errno).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MtrError {
    /// What kind of object is at fault.
    pub kind: MtrErrorType,
    /// Which one (a profile, policy or meter id, or an action's index), when there is one.
    pub cause: Option<u64>,
    /// Why.
    pub message: String,
    /// The errno DPDK's call returns (negated): `EINVAL`, `ENOENT` for an unknown id, `EEXIST`
    /// for a taken one, `EBUSY` for one in use, `ENOTSUP`, `ENOSPC`.
    pub errno: i32,
}

impl MtrError {
    pub(crate) fn new(kind: MtrErrorType, cause: Option<u64>, message: impl Into<String>) -> Self {
        MtrError {
            kind,
            cause,
            message: message.into(),
            errno: libc::EINVAL,
        }
    }

    pub(crate) fn errno(mut self, errno: i32) -> MtrError {
        self.errno = errno;
        self
    }

    /// testpmd's line for the error: `meter id: cause: 0x7, meter id 7 is unknown (error 5)`
    /// (DPDK prints the cause as a pointer; rpdk prints the id).
    pub fn testpmd_line(&self) -> String {
        let cause = self
            .cause
            .map(|c| format!("cause: {c:#x}, "))
            .unwrap_or_default();
        let msg = if self.message.is_empty() {
            "(no stated reason)"
        } else {
            &self.message
        };
        format!(
            "{}: {cause}{msg} (error {})",
            self.kind.describe(),
            self.kind as u8
        )
    }
}

impl fmt::Display for MtrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.describe(), self.message)
    }
}

impl std::error::Error for MtrError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testpmd_line_names_type_cause_and_reason() {
        let e = MtrError::new(MtrErrorType::MtrId, Some(7), "meter id 7 is unknown");
        assert_eq!(
            e.testpmd_line(),
            "meter id: cause: 0x7, meter id 7 is unknown (error 5)"
        );
        let e = MtrError::new(MtrErrorType::StatsMask, None, "");
        assert_eq!(
            e.testpmd_line(),
            "stats mask: (no stated reason) (error 10)"
        );
    }
}
