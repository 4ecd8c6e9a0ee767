//! Sync modes: the run-time [`SyncType`] and [`RingFlags`] (DPDK's values), and the type-level
//! modes that typed handles carry ([`Sp`], [`Mp`], [`MpRts`], [`MpHts`] for producers; [`Sc`],
//! [`Mc`], [`McRts`], [`McHts`] for consumers).

use std::fmt;
use std::ops::BitOr;

use crate::headtail::{Hts, Mt, PeekProtocol, Protocol, Rts, St};

/// How one side of a ring (producer or consumer) synchronises its threads
/// (DPDK's `enum rte_ring_sync_type`, same values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum SyncType {
    /// Multi-thread safe (MP/MC, the default): CAS on the head, then wait for earlier
    /// operations before moving the tail.
    Mt = 0,
    /// Single thread (SP/SC): plain stores, no atomic read-modify-write.
    St = 1,
    /// Multi-thread, relaxed tail sync (MP_RTS/MC_RTS): the last thread out moves the tail,
    /// nobody waits for another thread to finish; the head may run at most `htd_max` ahead.
    MtRts = 2,
    /// Multi-thread, head/tail sync (MP_HTS/MC_HTS): one operation at a time on the side,
    /// head and tail moved by one 64-bit CAS; allows peek and zero-copy.
    MtHts = 3,
}

impl SyncType {
    /// From the value stored in a ring header.
    pub(crate) fn from_u32(v: u32) -> Option<SyncType> {
        Some(match v {
            0 => SyncType::Mt,
            1 => SyncType::St,
            2 => SyncType::MtRts,
            3 => SyncType::MtHts,
            _ => return None,
        })
    }

    /// Whether peek and zero-copy operations work on a side of this type (ST and HTS).
    pub fn supports_peek(self) -> bool {
        matches!(self, SyncType::St | SyncType::MtHts)
    }

    /// DPDK's name for a producer side of this type.
    pub fn producer_name(self) -> &'static str {
        match self {
            SyncType::Mt => "MP",
            SyncType::St => "SP",
            SyncType::MtRts => "MP_RTS",
            SyncType::MtHts => "MP_HTS",
        }
    }

    /// DPDK's name for a consumer side of this type.
    pub fn consumer_name(self) -> &'static str {
        match self {
            SyncType::Mt => "MC",
            SyncType::St => "SC",
            SyncType::MtRts => "MC_RTS",
            SyncType::MtHts => "MC_HTS",
        }
    }
}

/// Ring creation flags, with DPDK's values (`RING_F_*`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RingFlags(u32);

impl RingFlags {
    /// The producer side is single-producer (`RING_F_SP_ENQ`).
    pub const SP_ENQ: RingFlags = RingFlags(0x0001);
    /// The consumer side is single-consumer (`RING_F_SC_DEQ`).
    pub const SC_DEQ: RingFlags = RingFlags(0x0002);
    /// The ring holds exactly the count asked for, which need not be a power of two
    /// (`RING_F_EXACT_SZ`).
    pub const EXACT_SZ: RingFlags = RingFlags(0x0004);
    /// The producer side is MP_RTS (`RING_F_MP_RTS_ENQ`).
    pub const MP_RTS_ENQ: RingFlags = RingFlags(0x0008);
    /// The consumer side is MC_RTS (`RING_F_MC_RTS_DEQ`).
    pub const MC_RTS_DEQ: RingFlags = RingFlags(0x0010);
    /// The producer side is MP_HTS (`RING_F_MP_HTS_ENQ`).
    pub const MP_HTS_ENQ: RingFlags = RingFlags(0x0020);
    /// The consumer side is MC_HTS (`RING_F_MC_HTS_DEQ`).
    pub const MC_HTS_DEQ: RingFlags = RingFlags(0x0040);

    const ALL: u32 = 0x7f;
    const PROD: u32 = 0x0001 | 0x0008 | 0x0020;
    const CONS: u32 = 0x0002 | 0x0010 | 0x0040;

    /// No flag: MP/MC, power-of-two size.
    pub const fn empty() -> RingFlags {
        RingFlags(0)
    }

    /// Flags from raw bits; unknown bits are kept (creation rejects them).
    pub const fn from_bits(bits: u32) -> RingFlags {
        RingFlags(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: RingFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags that select `prod` and `cons` sync types.
    pub fn for_sync(prod: SyncType, cons: SyncType) -> RingFlags {
        let p = match prod {
            SyncType::Mt => 0,
            SyncType::St => Self::SP_ENQ.0,
            SyncType::MtRts => Self::MP_RTS_ENQ.0,
            SyncType::MtHts => Self::MP_HTS_ENQ.0,
        };
        let c = match cons {
            SyncType::Mt => 0,
            SyncType::St => Self::SC_DEQ.0,
            SyncType::MtRts => Self::MC_RTS_DEQ.0,
            SyncType::MtHts => Self::MC_HTS_DEQ.0,
        };
        RingFlags(p | c)
    }

    /// The producer and consumer sync types these flags select (DPDK's `get_sync_type`), or
    /// what is wrong with them.
    pub fn sync_types(self) -> Result<(SyncType, SyncType), String> {
        if self.0 & !Self::ALL != 0 {
            return Err(format!("unsupported flags {:#x}", self.0 & !Self::ALL));
        }
        let prod = match self.0 & Self::PROD {
            0 => SyncType::Mt,
            0x0001 => SyncType::St,
            0x0008 => SyncType::MtRts,
            0x0020 => SyncType::MtHts,
            _ => return Err("more than one of SP_ENQ, MP_RTS_ENQ, MP_HTS_ENQ".into()),
        };
        let cons = match self.0 & Self::CONS {
            0 => SyncType::Mt,
            0x0002 => SyncType::St,
            0x0010 => SyncType::MtRts,
            0x0040 => SyncType::MtHts,
            _ => return Err("more than one of SC_DEQ, MC_RTS_DEQ, MC_HTS_DEQ".into()),
        };
        Ok((prod, cons))
    }
}

impl BitOr for RingFlags {
    type Output = RingFlags;
    fn bitor(self, rhs: RingFlags) -> RingFlags {
        RingFlags(self.0 | rhs.0)
    }
}

impl fmt::Debug for RingFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(u32, &str); 7] = [
            (0x01, "SP_ENQ"),
            (0x02, "SC_DEQ"),
            (0x04, "EXACT_SZ"),
            (0x08, "MP_RTS_ENQ"),
            (0x10, "MC_RTS_DEQ"),
            (0x20, "MP_HTS_ENQ"),
            (0x40, "MC_HTS_DEQ"),
        ];
        let mut first = true;
        write!(f, "RingFlags(")?;
        for (bit, name) in NAMES {
            if self.0 & bit != 0 {
                write!(f, "{}{name}", if first { "" } else { " | " })?;
                first = false;
            }
        }
        if self.0 & !Self::ALL != 0 {
            write!(
                f,
                "{}{:#x}",
                if first { "" } else { " | " },
                self.0 & !Self::ALL
            )?;
            first = false;
        }
        if first {
            write!(f, "empty")?;
        }
        write!(f, ")")
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A producer sync mode as a type: [`Sp`], [`Mp`], [`MpRts`] or [`MpHts`].
pub trait ProducerMode: sealed::Sealed + Send + Sync + 'static {
    /// The run-time sync type.
    const SYNC: SyncType;
    #[doc(hidden)]
    type Protocol: Protocol;
}

/// A consumer sync mode as a type: [`Sc`], [`Mc`], [`McRts`] or [`McHts`].
pub trait ConsumerMode: sealed::Sealed + Send + Sync + 'static {
    /// The run-time sync type.
    const SYNC: SyncType;
    #[doc(hidden)]
    type Protocol: Protocol;
}

/// Modes whose handles may be shared and cloned between threads (MP, MP_RTS, MP_HTS, MC,
/// MC_RTS, MC_HTS).
pub trait MultiThread: sealed::Sealed {}

/// Modes with the peek and zero-copy APIs (SP/SC and HTS).
pub trait Peek: sealed::Sealed {
    #[doc(hidden)]
    type PeekProtocol: PeekProtocol;
}

macro_rules! mode {
    ($(#[$doc:meta])* $name:ident, $trait:ident, $sync:ident, $proto:ident $(, $extra:ident)*) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name;
        impl sealed::Sealed for $name {}
        impl $trait for $name {
            const SYNC: SyncType = SyncType::$sync;
            type Protocol = $proto;
        }
        $(impl $extra for $name {})*
    };
}

mode!(
    /// Single producer (`RING_F_SP_ENQ`): the handle is `Send`, not `Clone` nor `Sync`.
    Sp, ProducerMode, St, St
);
mode!(
    /// Multi-producer (the default): the handle is `Clone + Send + Sync`.
    Mp, ProducerMode, Mt, Mt, MultiThread
);
mode!(
    /// Multi-producer, relaxed tail sync (`RING_F_MP_RTS_ENQ`).
    MpRts, ProducerMode, MtRts, Rts, MultiThread
);
mode!(
    /// Multi-producer, head/tail sync (`RING_F_MP_HTS_ENQ`); has peek and zero-copy.
    MpHts, ProducerMode, MtHts, Hts, MultiThread
);
mode!(
    /// Single consumer (`RING_F_SC_DEQ`): the handle is `Send`, not `Clone` nor `Sync`.
    Sc, ConsumerMode, St, St
);
mode!(
    /// Multi-consumer (the default): the handle is `Clone + Send + Sync`.
    Mc, ConsumerMode, Mt, Mt, MultiThread
);
mode!(
    /// Multi-consumer, relaxed tail sync (`RING_F_MC_RTS_DEQ`).
    McRts, ConsumerMode, MtRts, Rts, MultiThread
);
mode!(
    /// Multi-consumer, head/tail sync (`RING_F_MC_HTS_DEQ`); has peek and zero-copy.
    McHts, ConsumerMode, MtHts, Hts, MultiThread
);

impl Peek for Sp {
    type PeekProtocol = St;
}
impl Peek for Sc {
    type PeekProtocol = St;
}
impl Peek for MpHts {
    type PeekProtocol = Hts;
}
impl Peek for McHts {
    type PeekProtocol = Hts;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_select_sync_types() {
        assert_eq!(
            RingFlags::empty().sync_types(),
            Ok((SyncType::Mt, SyncType::Mt))
        );
        assert_eq!(
            (RingFlags::SP_ENQ | RingFlags::MC_HTS_DEQ).sync_types(),
            Ok((SyncType::St, SyncType::MtHts))
        );
        assert_eq!(
            (RingFlags::MP_RTS_ENQ | RingFlags::SC_DEQ | RingFlags::EXACT_SZ).sync_types(),
            Ok((SyncType::MtRts, SyncType::St))
        );
        assert!(
            (RingFlags::SP_ENQ | RingFlags::MP_HTS_ENQ)
                .sync_types()
                .unwrap_err()
                .contains("SP_ENQ")
        );
        assert!(
            (RingFlags::SC_DEQ | RingFlags::MC_RTS_DEQ)
                .sync_types()
                .is_err()
        );
        assert!(
            RingFlags::from_bits(0x80)
                .sync_types()
                .unwrap_err()
                .contains("0x80")
        );
        for p in [SyncType::Mt, SyncType::St, SyncType::MtRts, SyncType::MtHts] {
            for c in [SyncType::Mt, SyncType::St, SyncType::MtRts, SyncType::MtHts] {
                assert_eq!(RingFlags::for_sync(p, c).sync_types(), Ok((p, c)));
            }
        }
    }

    #[test]
    fn flags_debug_names_bits() {
        assert_eq!(
            format!("{:?}", RingFlags::SP_ENQ | RingFlags::EXACT_SZ),
            "RingFlags(SP_ENQ | EXACT_SZ)"
        );
        assert_eq!(format!("{:?}", RingFlags::empty()), "RingFlags(empty)");
    }
}
