//! Traffic meters, as DPDK's `rte_mtr`: meter profiles (srTCM RFC 2697, trTCM RFC 2698 and
//! RFC 4115, in bytes or packets), policies (actions per colour), and meter objects with
//! colour-blind and colour-aware modes, enable and disable, and statistics.
//!
//! A [`MeterTable`] holds a port's profiles, policies and meters; the control calls are its
//! methods, named after DPDK's (`rte_mtr_meter_profile_add` is [`MeterTable::profile_add`]).
//! A packet is metered by [`Meter::color`]: no lock, no allocation, one compare-and-swap per
//! bucket it takes from, so one meter may be shared by every lcore (see `bucket.rs` for the
//! representation). Errors are [`MtrError`] values with DPDK's types and errnos.
//!
//! ```
//! use rpdk_flow::meter::*;
//!
//! let t = MeterTable::new();
//! // testpmd: add port meter profile trtcm_rfc2698 0 1 1000000 2000000 3000 6000 no
//! t.profile_add(1, MeterProfile::trtcm_rfc2698(1_000_000, 2_000_000, 3000, 6000))?;
//! t.policy_add(1, MeterPolicy::new().actions(Color::Red, vec![rpdk_flow::Action::Drop]))?;
//! let mut params = MeterParams::new(1, 1);
//! params.stats_mask = MeterStats::ALL;
//! let meter = t.create(5, params, true)?;
//!
//! let now = rpdk_eal::time::rdtsc();
//! let colors: Vec<Color> = (0..8).map(|_| meter.color(now, 1000, &ColorInputs::default())).collect();
//! assert_eq!(colors[..3], [Color::Green; 3]);
//! assert_eq!(colors[6..], [Color::Red; 2]);
//!
//! let (stats, _) = t.stats_read(5, true)?;
//! assert_eq!(stats.n_pkts.iter().sum::<u64>(), 8);
//! assert!(t.destroy(5).is_err()); // `meter` still holds it, as a rule would
//! drop(meter);
//! t.destroy(5)?;
//! # Ok::<(), MtrError>(())
//! ```
//!
//! Rules use meters through [`crate::Action::Meter`]: a [`crate::FlowTable`] has a table of
//! its own ([`crate::FlowTable::meters`]) and runs the policy's actions for the colour.

mod bucket;
mod color;
mod error;
mod object;
mod policy;
mod profile;

pub use color::{Color, ColorInProto, ColorInputs};
pub use error::{MtrError, MtrErrorType};
pub use object::{Meter, MeterStats};
pub use policy::MeterPolicy;
pub use profile::{Algorithm, MeterProfile};

use profile::Compiled;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The most meter objects a table holds.
pub const MAX_METERS: u32 = 1 << 16;
/// The most policies a table holds.
pub const MAX_POLICIES: u32 = 1 << 16;
/// The most meters a rule chains.
pub const MAX_CHAIN: u32 = 4;

/// What a meter object is made with (`struct rte_mtr_params`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeterParams {
    /// The profile (from [`MeterTable::profile_add`]).
    pub meter_profile_id: u32,
    /// The policy (from [`MeterTable::policy_add`]).
    pub meter_policy_id: u32,
    /// Take the input colour from the previous meter of the same rule, when there is one.
    pub use_prev_mtr_color: bool,
    /// Input colours by DSCP; given, the outer IP header's DSCP is on at priority 0 (and the
    /// table serves the inner header too, once that protocol is turned on).
    pub dscp_table: Option<[Color; 64]>,
    /// Input colours by VLAN PCP and DEI; given, the outer tag is on at priority 1.
    pub vlan_table: Option<[Color; 16]>,
    /// Meter (otherwise pass the input colour through).
    pub meter_enable: bool,
    /// Which counters count ([`MeterStats`]' bits).
    pub stats_mask: u64,
    /// The input colour when no protocol that is on applies to the packet.
    pub default_input_color: Color,
}

impl MeterParams {
    /// Colour-blind, enabled, with no counters, for a profile and a policy.
    pub fn new(meter_profile_id: u32, meter_policy_id: u32) -> MeterParams {
        MeterParams {
            meter_profile_id,
            meter_policy_id,
            use_prev_mtr_color: false,
            dscp_table: None,
            vlan_table: None,
            meter_enable: true,
            stats_mask: 0,
            default_input_color: Color::Green,
        }
    }
}

/// What the software meters can do (`struct rte_mtr_capabilities`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeterCapabilities {
    /// Meter objects at most.
    pub n_max: u32,
    /// Shared meter objects at most.
    pub n_shared_max: u32,
    /// All unshared meters can do the same.
    pub identical: bool,
    /// All shared meters can do the same.
    pub shared_identical: bool,
    /// Rules that may share one meter.
    pub shared_n_flows_per_mtr_max: u32,
    /// Meters one rule may chain.
    pub chaining_n_mtrs_per_flow_max: u32,
    /// A chained meter may take the previous one's colour as input.
    pub chaining_use_prev_mtr_color_supported: bool,
    /// ... and must.
    pub chaining_use_prev_mtr_color_enforced: bool,
    /// Meters of each algorithm at most.
    pub meter_srtcm_rfc2697_n_max: u32,
    /// See `meter_srtcm_rfc2697_n_max`.
    pub meter_trtcm_rfc2698_n_max: u32,
    /// See `meter_srtcm_rfc2697_n_max`.
    pub meter_trtcm_rfc4115_n_max: u32,
    /// The highest rate (bytes or packets per second).
    pub meter_rate_max: u64,
    /// Policies at most.
    pub meter_policy_n_max: u64,
    /// Colour-aware modes.
    pub color_aware_srtcm_rfc2697_supported: bool,
    /// See `color_aware_srtcm_rfc2697_supported`.
    pub color_aware_trtcm_rfc2698_supported: bool,
    /// See `color_aware_srtcm_rfc2697_supported`.
    pub color_aware_trtcm_rfc4115_supported: bool,
    /// Byte and packet modes of each algorithm.
    pub srtcm_rfc2697_byte_mode_supported: bool,
    /// See `srtcm_rfc2697_byte_mode_supported`.
    pub srtcm_rfc2697_packet_mode_supported: bool,
    /// See `srtcm_rfc2697_byte_mode_supported`.
    pub trtcm_rfc2698_byte_mode_supported: bool,
    /// See `srtcm_rfc2697_byte_mode_supported`.
    pub trtcm_rfc2698_packet_mode_supported: bool,
    /// See `srtcm_rfc2697_byte_mode_supported`.
    pub trtcm_rfc4115_byte_mode_supported: bool,
    /// See `srtcm_rfc2697_byte_mode_supported`.
    pub trtcm_rfc4115_packet_mode_supported: bool,
    /// The counters there are ([`MeterStats`]' bits).
    pub stats_mask: u64,
    /// The input-colour protocols there are ([`ColorInProto`] bits).
    pub input_color_proto_mask: u64,
    /// Each port has its own input colour tables (here each meter has).
    pub separate_input_color_table_per_port: bool,
}

struct ProfileEntry {
    profile: MeterProfile,
    compiled: Compiled,
    users: u32,
}

struct PolicyEntry {
    policy: MeterPolicy,
    users: u32,
}

#[derive(Default)]
struct Tables {
    profiles: BTreeMap<u32, ProfileEntry>,
    policies: BTreeMap<u32, PolicyEntry>,
    meters: BTreeMap<u32, Arc<Meter>>,
}

/// A port's meter profiles, policies and meter objects (the state behind `rte_mtr_*`).
pub struct MeterTable {
    hz: u64,
    clock: fn() -> u64,
    tables: Mutex<Tables>,
}

impl Default for MeterTable {
    fn default() -> Self {
        MeterTable::new()
    }
}

fn no_profile(id: u32) -> MtrError {
    MtrError::new(
        MtrErrorType::MeterProfileId,
        Some(id.into()),
        format!("meter profile {id} does not exist"),
    )
    .errno(libc::ENOENT)
}

fn no_policy(id: u32) -> MtrError {
    MtrError::new(
        MtrErrorType::MeterPolicyId,
        Some(id.into()),
        format!("meter policy {id} does not exist"),
    )
    .errno(libc::ENOENT)
}

fn no_meter(id: u32) -> MtrError {
    MtrError::new(
        MtrErrorType::MtrId,
        Some(id.into()),
        format!("meter {id} does not exist"),
    )
    .errno(libc::ENOENT)
}

fn check_mask(mask: u64) -> Result<(), MtrError> {
    if mask & !MeterStats::ALL != 0 {
        return Err(MtrError::new(
            MtrErrorType::StatsMask,
            None,
            format!(
                "stats mask {mask:#x} has unknown bits (known: {:#x})",
                MeterStats::ALL
            ),
        )
        .errno(libc::ENOTSUP));
    }
    Ok(())
}

impl MeterTable {
    /// A table whose meters run on the TSC.
    pub fn new() -> MeterTable {
        MeterTable::with_clock(rpdk_eal::time::tsc_hz(), rpdk_eal::time::rdtsc)
    }

    /// A table whose meters count time with `clock` ticking at `hz` (the TSC in
    /// [`MeterTable::new`]; another clock for simulations and tests). [`Meter::color`] takes
    /// times of the same clock.
    pub fn with_clock(hz: u64, clock: fn() -> u64) -> MeterTable {
        MeterTable {
            hz: hz.max(1),
            clock,
            tables: Mutex::new(Tables::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `rte_mtr_capabilities_get`.
    pub fn capabilities(&self) -> MeterCapabilities {
        MeterCapabilities {
            n_max: MAX_METERS,
            n_shared_max: MAX_METERS,
            identical: true,
            shared_identical: true,
            shared_n_flows_per_mtr_max: u32::MAX,
            chaining_n_mtrs_per_flow_max: MAX_CHAIN,
            chaining_use_prev_mtr_color_supported: true,
            chaining_use_prev_mtr_color_enforced: false,
            meter_srtcm_rfc2697_n_max: MAX_METERS,
            meter_trtcm_rfc2698_n_max: MAX_METERS,
            meter_trtcm_rfc4115_n_max: MAX_METERS,
            meter_rate_max: bucket::max_rate(self.hz),
            meter_policy_n_max: MAX_POLICIES.into(),
            color_aware_srtcm_rfc2697_supported: true,
            color_aware_trtcm_rfc2698_supported: true,
            color_aware_trtcm_rfc4115_supported: true,
            srtcm_rfc2697_byte_mode_supported: true,
            srtcm_rfc2697_packet_mode_supported: true,
            trtcm_rfc2698_byte_mode_supported: true,
            trtcm_rfc2698_packet_mode_supported: true,
            trtcm_rfc4115_byte_mode_supported: true,
            trtcm_rfc4115_packet_mode_supported: true,
            stats_mask: MeterStats::ALL,
            input_color_proto_mask: ColorInProto::ALL.iter().map(|p| p.bit()).sum(),
            separate_input_color_table_per_port: true,
        }
    }

    /// `rte_mtr_meter_profile_add`: checks the profile and keeps it as `id`.
    pub fn profile_add(&self, id: u32, profile: MeterProfile) -> Result<(), MtrError> {
        let compiled = profile.compile(id, self.hz)?;
        let mut t = self.lock();
        if t.profiles.contains_key(&id) {
            return Err(MtrError::new(
                MtrErrorType::MeterProfileId,
                Some(id.into()),
                format!("meter profile {id} exists"),
            )
            .errno(libc::EEXIST));
        }
        t.profiles.insert(
            id,
            ProfileEntry {
                profile,
                compiled,
                users: 0,
            },
        );
        Ok(())
    }

    /// `rte_mtr_meter_profile_delete`: refused while a meter uses it.
    pub fn profile_delete(&self, id: u32) -> Result<(), MtrError> {
        let mut t = self.lock();
        let e = t.profiles.get(&id).ok_or_else(|| no_profile(id))?;
        if e.users > 0 {
            return Err(MtrError::new(
                MtrErrorType::MeterProfileId,
                Some(id.into()),
                format!("meter profile {id} is used by {} meter(s)", e.users),
            )
            .errno(libc::EBUSY));
        }
        t.profiles.remove(&id);
        Ok(())
    }

    /// The profile `id` (`rte_mtr_meter_profile_get`).
    pub fn profile(&self, id: u32) -> Option<MeterProfile> {
        self.lock().profiles.get(&id).map(|e| e.profile)
    }

    /// `rte_mtr_meter_policy_validate`.
    pub fn policy_validate(&self, policy: &MeterPolicy) -> Result<(), MtrError> {
        policy.validate(0)
    }

    /// `rte_mtr_meter_policy_add`: checks the policy and keeps it as `id`.
    pub fn policy_add(&self, id: u32, policy: MeterPolicy) -> Result<(), MtrError> {
        policy.validate(id)?;
        let mut t = self.lock();
        if t.policies.contains_key(&id) {
            return Err(MtrError::new(
                MtrErrorType::MeterPolicyId,
                Some(id.into()),
                format!("meter policy {id} exists"),
            )
            .errno(libc::EEXIST));
        }
        if t.policies.len() >= MAX_POLICIES as usize {
            return Err(MtrError::new(
                MtrErrorType::MeterPolicyId,
                Some(id.into()),
                format!("{MAX_POLICIES} meter policies exist already"),
            )
            .errno(libc::ENOSPC));
        }
        t.policies.insert(id, PolicyEntry { policy, users: 0 });
        Ok(())
    }

    /// `rte_mtr_meter_policy_delete`: refused while a meter uses it.
    pub fn policy_delete(&self, id: u32) -> Result<(), MtrError> {
        let mut t = self.lock();
        let e = t.policies.get(&id).ok_or_else(|| no_policy(id))?;
        if e.users > 0 {
            return Err(MtrError::new(
                MtrErrorType::MeterPolicyId,
                Some(id.into()),
                format!("meter policy {id} is used by {} meter(s)", e.users),
            )
            .errno(libc::EBUSY));
        }
        t.policies.remove(&id);
        Ok(())
    }

    /// The policy `id` (`rte_mtr_meter_policy_get`).
    pub fn policy(&self, id: u32) -> Option<MeterPolicy> {
        self.lock().policies.get(&id).map(|e| e.policy.clone())
    }

    /// `rte_mtr_create`: a meter `id` with `params`; `shared` lets several rules use it.
    /// Its buckets start full.
    pub fn create(
        &self,
        id: u32,
        params: MeterParams,
        shared: bool,
    ) -> Result<Arc<Meter>, MtrError> {
        check_mask(params.stats_mask)?;
        let mut t = self.lock();
        if t.meters.contains_key(&id) {
            return Err(MtrError::new(
                MtrErrorType::MtrId,
                Some(id.into()),
                format!("meter {id} exists"),
            )
            .errno(libc::EEXIST));
        }
        if t.meters.len() >= MAX_METERS as usize {
            return Err(MtrError::new(
                MtrErrorType::MtrId,
                Some(id.into()),
                format!("{MAX_METERS} meters exist already"),
            )
            .errno(libc::ENOSPC));
        }
        let pid = params.meter_profile_id;
        let compiled = t
            .profiles
            .get(&pid)
            .ok_or_else(|| no_profile(pid))?
            .compiled;
        let qid = params.meter_policy_id;
        if !t.policies.contains_key(&qid) {
            return Err(no_policy(qid));
        }
        let meter = Arc::new(Meter::new(object::Setup {
            id,
            shared,
            origin: (self.clock)(),
            profile: (pid, &compiled),
            policy: qid,
            params: &params,
        }));
        t.profiles.get_mut(&pid).expect("checked above").users += 1;
        t.policies.get_mut(&qid).expect("checked above").users += 1;
        t.meters.insert(id, meter.clone());
        Ok(meter)
    }

    /// `rte_mtr_destroy`: refused while a rule uses the meter (holds it from
    /// [`MeterTable::attach`] or [`MeterTable::create`]).
    pub fn destroy(&self, id: u32) -> Result<(), MtrError> {
        let mut t = self.lock();
        let m = t.meters.get(&id).ok_or_else(|| no_meter(id))?;
        let users = Arc::strong_count(m) - 1;
        if users > 0 {
            return Err(MtrError::new(
                MtrErrorType::MtrId,
                Some(id.into()),
                format!("meter {id} is used by {users} rule(s)"),
            )
            .errno(libc::EBUSY));
        }
        let m = t.meters.remove(&id).expect("checked above");
        let c = *m.control.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = t.profiles.get_mut(&c.profile) {
            p.users -= 1;
        }
        if let Some(p) = t.policies.get_mut(&c.policy) {
            p.users -= 1;
        }
        Ok(())
    }

    /// The meter `id`, for a rule's METER action to hold: a meter that is not shared serves
    /// one holder at a time.
    pub fn attach(&self, id: u32) -> Result<Arc<Meter>, MtrError> {
        let t = self.lock();
        let m = t.meters.get(&id).ok_or_else(|| no_meter(id))?;
        if !m.is_shared() && Arc::strong_count(m) > 1 {
            return Err(MtrError::new(
                MtrErrorType::Shared,
                Some(id.into()),
                format!("meter {id} is not shared and a rule uses it"),
            )
            .errno(libc::EBUSY));
        }
        Ok(m.clone())
    }

    /// The meter `id`, without attaching to it.
    pub fn get(&self, id: u32) -> Option<Arc<Meter>> {
        self.lock().meters.get(&id).cloned()
    }

    /// The ids of the meters, in order.
    pub fn ids(&self) -> Vec<u32> {
        self.lock().meters.keys().copied().collect()
    }

    fn with_meter<R>(
        &self,
        id: u32,
        f: impl FnOnce(&mut Tables, &Meter) -> Result<R, MtrError>,
    ) -> Result<R, MtrError> {
        let mut t = self.lock();
        let m = t.meters.get(&id).cloned().ok_or_else(|| no_meter(id))?;
        f(&mut t, &m)
    }

    /// `rte_mtr_meter_enable`.
    pub fn enable(&self, id: u32) -> Result<(), MtrError> {
        self.with_meter(id, |_, m| {
            m.set_enabled(true);
            Ok(())
        })
    }

    /// `rte_mtr_meter_disable`: the meter passes the input colour through (green when
    /// colour-blind); policy and statistics go on.
    pub fn disable(&self, id: u32) -> Result<(), MtrError> {
        self.with_meter(id, |_, m| {
            m.set_enabled(false);
            Ok(())
        })
    }

    /// `rte_mtr_meter_profile_update`: the meter takes another profile, its buckets full.
    pub fn profile_update(&self, id: u32, profile_id: u32) -> Result<(), MtrError> {
        let now = (self.clock)();
        self.with_meter(id, |t, m| {
            let compiled = t
                .profiles
                .get(&profile_id)
                .ok_or_else(|| no_profile(profile_id))?
                .compiled;
            let mut c = m.control.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = t.profiles.get_mut(&c.profile) {
                old.users -= 1;
            }
            t.profiles
                .get_mut(&profile_id)
                .expect("checked above")
                .users += 1;
            c.profile = profile_id;
            m.load_profile(&compiled, now);
            Ok(())
        })
    }

    /// `rte_mtr_meter_policy_update`.
    pub fn policy_update(&self, id: u32, policy_id: u32) -> Result<(), MtrError> {
        self.with_meter(id, |t, m| {
            if !t.policies.contains_key(&policy_id) {
                return Err(no_policy(policy_id));
            }
            let mut c = m.control.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = t.policies.get_mut(&c.policy) {
                old.users -= 1;
            }
            t.policies.get_mut(&policy_id).expect("checked above").users += 1;
            c.policy = policy_id;
            Ok(())
        })
    }

    /// The profile and policy a meter uses.
    pub fn meter_ids(&self, id: u32) -> Result<(u32, u32), MtrError> {
        self.with_meter(id, |_, m| {
            let c = m.control.lock().unwrap_or_else(|e| e.into_inner());
            Ok((c.profile, c.policy))
        })
    }

    /// `rte_mtr_meter_dscp_table_update`: the DSCP table of the outer or inner IP header
    /// (`proto`); `None` for all green.
    pub fn dscp_table_update(
        &self,
        id: u32,
        proto: ColorInProto,
        table: Option<&[Color; 64]>,
    ) -> Result<(), MtrError> {
        let inner = match proto {
            ColorInProto::OuterIp => false,
            ColorInProto::InnerIp => true,
            _ => return Err(bad_proto(id, proto, "a DSCP table")),
        };
        self.with_meter(id, |_, m| {
            m.set_dscp_table(inner, table.unwrap_or(&[Color::Green; 64]));
            Ok(())
        })
    }

    /// `rte_mtr_meter_vlan_table_update`: the VLAN table (by PCP and DEI) of the outer or
    /// inner tag; `None` for all green.
    pub fn vlan_table_update(
        &self,
        id: u32,
        proto: ColorInProto,
        table: Option<&[Color; 16]>,
    ) -> Result<(), MtrError> {
        let inner = match proto {
            ColorInProto::OuterVlan => false,
            ColorInProto::InnerVlan => true,
            _ => return Err(bad_proto(id, proto, "a VLAN table")),
        };
        self.with_meter(id, |_, m| {
            m.set_vlan_table(inner, table.unwrap_or(&[Color::Green; 16]));
            Ok(())
        })
    }

    /// `rte_mtr_color_in_protocol_set`: turns `proto` on at `priority` (0 first).
    pub fn color_in_protocol_set(
        &self,
        id: u32,
        proto: ColorInProto,
        priority: u32,
    ) -> Result<(), MtrError> {
        self.with_meter(id, |_, m| {
            let mut c = m.control.lock().unwrap_or_else(|e| e.into_inner());
            c.prio[proto.index()] = Some(priority);
            m.publish_order(&c.prio);
            Ok(())
        })
    }

    /// `rte_mtr_color_in_protocol_get`: the protocols that are on, as a mask.
    pub fn color_in_protocol_get(&self, id: u32) -> Result<u64, MtrError> {
        self.with_meter(id, |_, m| {
            let c = m.control.lock().unwrap_or_else(|e| e.into_inner());
            Ok(ColorInProto::ALL
                .iter()
                .filter(|p| c.prio[p.index()].is_some())
                .map(|p| p.bit())
                .sum())
        })
    }

    /// `rte_mtr_color_in_protocol_priority_get`.
    pub fn color_in_protocol_priority_get(
        &self,
        id: u32,
        proto: ColorInProto,
    ) -> Result<u32, MtrError> {
        self.with_meter(id, |_, m| {
            let c = m.control.lock().unwrap_or_else(|e| e.into_inner());
            c.prio[proto.index()].ok_or_else(|| {
                MtrError::new(
                    MtrErrorType::MtrParams,
                    Some(id.into()),
                    format!("meter {id} does not take its input colour from {proto:?}"),
                )
                .errno(libc::ENOENT)
            })
        })
    }

    /// `rte_mtr_stats_update`: which counters count.
    pub fn stats_update(&self, id: u32, mask: u64) -> Result<(), MtrError> {
        check_mask(mask)?;
        self.with_meter(id, |_, m| {
            m.set_stats_mask(mask);
            Ok(())
        })
    }

    /// `rte_mtr_stats_read`: the counters and the mask of those that count; `clear` zeroes
    /// them after reading.
    pub fn stats_read(&self, id: u32, clear: bool) -> Result<(MeterStats, u64), MtrError> {
        self.with_meter(id, |_, m| Ok(m.stats(clear)))
    }
}

fn bad_proto(id: u32, proto: ColorInProto, what: &str) -> MtrError {
    MtrError::new(
        MtrErrorType::MtrParams,
        Some(id.into()),
        format!("{proto:?} has no {what}"),
    )
}
