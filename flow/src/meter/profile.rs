//! Meter profiles (`struct rte_mtr_meter_profile`): the algorithm, its rates and bucket sizes,
//! and byte or packet mode; checked as DPDK's software meter (`lib/meter`) checks them.

use super::bucket::Rate;
use super::error::{MtrError, MtrErrorType};

/// A metering algorithm with its parameters (`enum rte_mtr_algorithm` and the union of
/// `struct rte_mtr_meter_profile`). Rates are in bytes (or packets) per second, sizes in bytes
/// (or packets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// No metering: the output colour is the input colour (`RTE_MTR_NONE`).
    None,
    /// Single-rate three-colour marker, RFC 2697: one rate, a committed bucket whose overflow
    /// fills an excess bucket.
    SrTcmRfc2697 {
        /// Committed information rate.
        cir: u64,
        /// Committed burst size.
        cbs: u64,
        /// Excess burst size.
        ebs: u64,
    },
    /// Two-rate three-colour marker, RFC 2698: a peak bucket every non-red packet takes from,
    /// and a committed bucket green packets also take from.
    TrTcmRfc2698 {
        /// Committed information rate.
        cir: u64,
        /// Peak information rate (at least `cir`).
        pir: u64,
        /// Committed burst size.
        cbs: u64,
        /// Peak burst size.
        pbs: u64,
    },
    /// Two-rate three-colour marker, RFC 4115: committed and excess buckets filled at their own
    /// rates; a packet takes from one of them.
    TrTcmRfc4115 {
        /// Committed information rate.
        cir: u64,
        /// Excess information rate.
        eir: u64,
        /// Committed burst size.
        cbs: u64,
        /// Excess burst size.
        ebs: u64,
    },
}

/// A meter profile: what [`super::MeterTable::profile_add`] takes.
///
/// ```
/// use rpdk_flow::meter::{Algorithm, MeterProfile};
///
/// // 1 Mbit/s committed, 2 KB buckets, in bytes.
/// let p = MeterProfile::srtcm_rfc2697(125_000, 2048, 2048);
/// assert_eq!(p.algorithm, Algorithm::SrTcmRfc2697 { cir: 125_000, cbs: 2048, ebs: 2048 });
/// assert!(!p.packet_mode);
/// // 1000 packets per second.
/// assert!(MeterProfile::trtcm_rfc4115(1000, 0, 32, 0).in_packets().packet_mode);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MeterProfile {
    /// The algorithm and its parameters.
    pub algorithm: Algorithm,
    /// Rates in packets per second and sizes in packets (otherwise bytes).
    pub packet_mode: bool,
}

impl MeterProfile {
    /// A profile that does not meter.
    pub fn none() -> MeterProfile {
        MeterProfile {
            algorithm: Algorithm::None,
            packet_mode: false,
        }
    }

    /// srTCM (RFC 2697) in byte mode.
    pub fn srtcm_rfc2697(cir: u64, cbs: u64, ebs: u64) -> MeterProfile {
        MeterProfile {
            algorithm: Algorithm::SrTcmRfc2697 { cir, cbs, ebs },
            packet_mode: false,
        }
    }

    /// trTCM (RFC 2698) in byte mode.
    pub fn trtcm_rfc2698(cir: u64, pir: u64, cbs: u64, pbs: u64) -> MeterProfile {
        MeterProfile {
            algorithm: Algorithm::TrTcmRfc2698 { cir, pir, cbs, pbs },
            packet_mode: false,
        }
    }

    /// trTCM (RFC 4115) in byte mode.
    pub fn trtcm_rfc4115(cir: u64, eir: u64, cbs: u64, ebs: u64) -> MeterProfile {
        MeterProfile {
            algorithm: Algorithm::TrTcmRfc4115 { cir, eir, cbs, ebs },
            packet_mode: false,
        }
    }

    /// The same profile in packet mode.
    pub fn in_packets(mut self) -> MeterProfile {
        self.packet_mode = true;
        self
    }

    /// Checks the profile and turns it into the buckets' parameters for a TSC of `hz`.
    pub(crate) fn compile(&self, id: u32, hz: u64) -> Result<Compiled, MtrError> {
        let bad = |m: String| MtrError::new(MtrErrorType::MeterProfile, Some(id.into()), m);
        let rate = |name: &str, rate: u64, size_name: &str, size: u64| {
            Rate::new(rate, size, hz)
                .map_err(|why| bad(format!("{name} {rate} with {size_name} {size}: {why}")))
        };
        let (kind, a, b) = match self.algorithm {
            Algorithm::None => (Kind::None, Rate::never(), Rate::never()),
            Algorithm::SrTcmRfc2697 { cir, cbs, ebs } => {
                if cir == 0 {
                    return Err(bad("srTCM needs a cir above 0".into()));
                }
                if cbs == 0 && ebs == 0 {
                    return Err(bad("srTCM needs cbs or ebs above 0".into()));
                }
                // Both buckets fill at the committed rate: the excess one with what overflows.
                (
                    Kind::SrTcm,
                    rate("cir", cir, "cbs", cbs)?,
                    rate("cir", cir, "ebs", ebs)?,
                )
            }
            Algorithm::TrTcmRfc2698 { cir, pir, cbs, pbs } => {
                if pir == 0 || pir < cir {
                    return Err(bad(format!(
                        "trTCM needs pir ({pir}) above 0 and at least cir ({cir})"
                    )));
                }
                if cbs == 0 || pbs == 0 {
                    return Err(bad("trTCM needs cbs and pbs above 0".into()));
                }
                (
                    Kind::TrTcm,
                    rate("pir", pir, "pbs", pbs)?,
                    rate("cir", cir, "cbs", cbs)?,
                )
            }
            Algorithm::TrTcmRfc4115 { cir, eir, cbs, ebs } => {
                if cir != 0 && cbs == 0 {
                    return Err(bad("trTCM RFC 4115 needs a cbs above 0 with a cir".into()));
                }
                if eir != 0 && ebs == 0 {
                    return Err(bad("trTCM RFC 4115 needs an ebs above 0 with an eir".into()));
                }
                (
                    Kind::TrTcm4115,
                    rate("cir", cir, "cbs", cbs)?,
                    rate("eir", eir, "ebs", ebs)?,
                )
            }
        };
        Ok(Compiled {
            kind,
            a,
            b,
            packet_mode: self.packet_mode,
        })
    }
}

/// Which bucket logic a meter runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    None = 0,
    SrTcm = 1,
    TrTcm = 2,
    TrTcm4115 = 3,
}

impl Kind {
    pub(crate) fn from_u8(v: u8) -> Kind {
        match v {
            1 => Kind::SrTcm,
            2 => Kind::TrTcm,
            3 => Kind::TrTcm4115,
            _ => Kind::None,
        }
    }
}

/// A checked profile as its buckets use it: bucket `a` is the committed bucket of srTCM and
/// RFC 4115 and the peak bucket of RFC 2698; bucket `b` the excess, committed and excess one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Compiled {
    pub kind: Kind,
    pub a: Rate,
    pub b: Rate,
    pub packet_mode: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: MeterProfile) -> Result<Compiled, String> {
        p.compile(1, 1_000_000_000).map_err(|e| e.message)
    }

    #[test]
    fn dpdk_rules_for_each_algorithm() {
        assert!(check(MeterProfile::srtcm_rfc2697(1000, 100, 0)).is_ok());
        assert!(check(MeterProfile::srtcm_rfc2697(1000, 0, 100)).is_ok());
        assert!(
            check(MeterProfile::srtcm_rfc2697(0, 100, 100))
                .unwrap_err()
                .contains("cir")
        );
        assert!(
            check(MeterProfile::srtcm_rfc2697(1000, 0, 0))
                .unwrap_err()
                .contains("cbs or ebs")
        );
        assert!(check(MeterProfile::trtcm_rfc2698(1000, 2000, 10, 10)).is_ok());
        assert!(
            check(MeterProfile::trtcm_rfc2698(2000, 1000, 10, 10))
                .unwrap_err()
                .contains("pir")
        );
        assert!(
            check(MeterProfile::trtcm_rfc2698(1000, 2000, 0, 10))
                .unwrap_err()
                .contains("cbs and pbs")
        );
        assert!(check(MeterProfile::trtcm_rfc4115(1000, 0, 10, 0)).is_ok());
        assert!(check(MeterProfile::trtcm_rfc4115(0, 1000, 0, 10)).is_ok());
        assert!(
            check(MeterProfile::trtcm_rfc4115(1000, 0, 0, 0))
                .unwrap_err()
                .contains("cbs")
        );
        assert!(
            check(MeterProfile::trtcm_rfc4115(0, 1000, 0, 0))
                .unwrap_err()
                .contains("ebs")
        );
        // A bucket with a size but no rate would never refill.
        assert!(
            check(MeterProfile::trtcm_rfc4115(0, 1000, 10, 10))
                .unwrap_err()
                .contains("never refills")
        );
        assert!(check(MeterProfile::none()).is_ok());
    }

    #[test]
    fn errors_name_the_profile() {
        let e = MeterProfile::srtcm_rfc2697(0, 1, 1)
            .compile(9, 1000)
            .unwrap_err();
        assert_eq!(
            (e.kind, e.cause, e.errno),
            (MtrErrorType::MeterProfile, Some(9), libc::EINVAL)
        );
    }
}
