//! rte_mtr in software: the table's calls and errors, colour-aware inputs, enable/disable,
//! statistics, profile updates, and the buckets against a reference written from the RFCs.

use proptest::prelude::*;
use rpdk_flow::Action;
use rpdk_flow::meter::*;

/// A clock of 1 MHz that starts at 0: meters made by [`table`] count time from 0, and the
/// tests pass times in microseconds.
const HZ: u64 = 1_000_000;

fn table() -> MeterTable {
    MeterTable::with_clock(HZ, || 0)
}

fn blind() -> ColorInputs {
    ColorInputs::default()
}

/// A table with profile 1 (srTCM, 1000 B/s, cbs 500, ebs 300) and policy 1 (drop red).
fn setup() -> MeterTable {
    let t = table();
    t.profile_add(1, MeterProfile::srtcm_rfc2697(1000, 500, 300))
        .unwrap();
    t.policy_add(
        1,
        MeterPolicy::new().actions(Color::Red, vec![Action::Drop]),
    )
    .unwrap();
    t
}

use Color::{Green as G, Red as R, Yellow as Y};

#[test]
fn ids_and_their_errors() {
    let t = setup();
    let e = t
        .profile_add(1, MeterProfile::srtcm_rfc2697(1, 1, 1))
        .unwrap_err();
    assert_eq!(
        (e.kind, e.errno),
        (MtrErrorType::MeterProfileId, libc::EEXIST)
    );
    let e = t
        .profile_add(2, MeterProfile::trtcm_rfc2698(10, 5, 1, 1))
        .unwrap_err();
    assert_eq!((e.kind, e.cause), (MtrErrorType::MeterProfile, Some(2)));
    assert!(e.message.contains("pir"), "{e}");

    let e = t.create(1, MeterParams::new(9, 1), false).unwrap_err();
    assert_eq!(
        (e.kind, e.cause, e.errno),
        (MtrErrorType::MeterProfileId, Some(9), libc::ENOENT)
    );
    let e = t.create(1, MeterParams::new(1, 9), false).unwrap_err();
    assert_eq!(
        (e.kind, e.errno),
        (MtrErrorType::MeterPolicyId, libc::ENOENT)
    );
    let mut p = MeterParams::new(1, 1);
    p.stats_mask = 1 << 8;
    let e = t.create(1, p, false).unwrap_err();
    assert_eq!(e.kind, MtrErrorType::StatsMask);

    let m = t.create(1, MeterParams::new(1, 1), false).unwrap();
    let e = t.create(1, MeterParams::new(1, 1), false).unwrap_err();
    assert_eq!((e.kind, e.errno), (MtrErrorType::MtrId, libc::EEXIST));
    // In use: the profile, the policy and the meter itself.
    assert_eq!(t.profile_delete(1).unwrap_err().errno, libc::EBUSY);
    assert_eq!(t.policy_delete(1).unwrap_err().errno, libc::EBUSY);
    assert_eq!(t.destroy(1).unwrap_err().errno, libc::EBUSY);
    drop(m);
    // Not shared: one rule at a time.
    let a = t.attach(1).unwrap();
    let e = t.attach(1).unwrap_err();
    assert_eq!((e.kind, e.errno), (MtrErrorType::Shared, libc::EBUSY));
    drop(a);
    t.destroy(1).unwrap();
    assert_eq!(t.destroy(1).unwrap_err().errno, libc::ENOENT);
    assert_eq!(t.attach(1).unwrap_err().kind, MtrErrorType::MtrId);
    t.profile_delete(1).unwrap();
    t.policy_delete(1).unwrap();
    assert_eq!(t.profile_delete(1).unwrap_err().errno, libc::ENOENT);
    assert_eq!(t.policy_delete(1).unwrap_err().errno, libc::ENOENT);

    // Shared: any number of rules.
    let t = setup();
    t.create(2, MeterParams::new(1, 1), true).unwrap();
    let held: Vec<_> = (0..3).map(|_| t.attach(2).unwrap()).collect();
    assert!(t.destroy(2).unwrap_err().message.contains("3 rule(s)"));
    drop(held);
    t.destroy(2).unwrap();
}

#[test]
fn policies_are_checked_when_added() {
    let t = table();
    let bad =
        MeterPolicy::new().actions(Color::Green, vec![Action::Drop, Action::Queue { index: 0 }]);
    assert_eq!(
        t.policy_validate(&bad).unwrap_err().kind,
        MtrErrorType::PolicerActionGreen
    );
    assert_eq!(
        t.policy_add(1, bad).unwrap_err().kind,
        MtrErrorType::PolicerActionGreen
    );
    assert!(t.policy(1).is_none());
    let good = MeterPolicy::new().actions(Color::Yellow, vec![Action::Mark { id: 3 }]);
    t.policy_add(1, good.clone()).unwrap();
    assert_eq!(t.policy(1), Some(good));
    assert_eq!(
        t.policy_add(1, MeterPolicy::new()).unwrap_err().errno,
        libc::EEXIST
    );
}

#[test]
fn statistics_count_what_the_mask_says_and_clear() {
    let t = setup();
    let mut p = MeterParams::new(1, 1);
    p.stats_mask =
        MeterStats::N_PKTS_GREEN | MeterStats::N_BYTES_YELLOW | MeterStats::N_PKTS_DROPPED;
    let m = t.create(1, p, false).unwrap();
    let colors: Vec<Color> = (0..9).map(|_| m.color(0, 100, &blind())).collect();
    assert_eq!(colors, [G, G, G, G, G, Y, Y, Y, R]);
    m.count_dropped(100);
    let (s, mask) = t.stats_read(1, false).unwrap();
    assert_eq!(mask, p.stats_mask);
    assert_eq!(s.n_pkts, [5, 0, 0]);
    assert_eq!(s.n_bytes, [0, 300, 0]);
    assert_eq!((s.n_pkts_dropped, s.n_bytes_dropped), (1, 0));
    let (again, _) = t.stats_read(1, true).unwrap();
    assert_eq!(again, s);
    assert_eq!(t.stats_read(1, false).unwrap().0, MeterStats::default());
    t.stats_update(1, MeterStats::ALL).unwrap();
    m.color(0, 64, &blind());
    let (s, _) = t.stats_read(1, false).unwrap();
    assert_eq!((s.n_pkts[2], s.n_bytes[2]), (1, 64));
    assert_eq!(
        t.stats_update(1, 1 << 9).unwrap_err().kind,
        MtrErrorType::StatsMask
    );
    assert_eq!(
        t.stats_read(5, false).unwrap_err().kind,
        MtrErrorType::MtrId
    );
}

#[test]
fn disabled_meters_pass_the_input_colour() {
    let t = setup();
    let mut p = MeterParams::new(1, 1);
    p.meter_enable = false;
    p.stats_mask = MeterStats::ALL;
    let mut dscp = [G; 64];
    dscp[10] = Y;
    p.dscp_table = Some(dscp);
    let m = t.create(1, p, false).unwrap();
    let ip = |d| ColorInputs {
        outer_dscp: Some(d),
        ..ColorInputs::default()
    };
    assert!((0..20).all(|_| m.color(0, 1000, &ip(0)) == G));
    assert_eq!(m.color(0, 1000, &ip(10)), Y);
    // Enabled, with its buckets full: 500 bytes of green, 300 of yellow.
    t.enable(1).unwrap();
    assert_eq!(m.color(0, 500, &ip(0)), G);
    assert_eq!(m.color(0, 300, &ip(10)), Y);
    assert_eq!(m.color(0, 1, &ip(0)), R);
    t.disable(1).unwrap();
    assert_eq!(m.color(0, 1, &ip(0)), G);
    assert_eq!(t.stats_read(1, false).unwrap().0.n_pkts, [22, 2, 1]);
}

#[test]
fn input_colour_by_protocol_priority_and_default() {
    let t = table();
    t.profile_add(1, MeterProfile::none()).unwrap();
    t.policy_add(1, MeterPolicy::new()).unwrap();
    let mut p = MeterParams::new(1, 1);
    let mut vlan = [G; 16];
    vlan[0b0111] = R; // PCP 3, DEI 1
    let mut dscp = [G; 64];
    dscp[46] = Y;
    p.vlan_table = Some(vlan);
    p.dscp_table = Some(dscp);
    p.default_input_color = Y;
    let m = t.create(1, p, false).unwrap();
    let both = ColorInputs {
        outer_vlan: Some(0x7000 | 100),
        outer_dscp: Some(46),
        ..ColorInputs::default()
    };
    // At creation the DSCP comes first (priority 0), then the tag (1).
    assert_eq!(
        t.color_in_protocol_get(1).unwrap(),
        ColorInProto::OuterIp.bit() | ColorInProto::OuterVlan.bit()
    );
    assert_eq!(m.color(0, 64, &both), Y);
    t.color_in_protocol_set(1, ColorInProto::OuterVlan, 0)
        .unwrap();
    t.color_in_protocol_set(1, ColorInProto::OuterIp, 5)
        .unwrap();
    assert_eq!(
        t.color_in_protocol_priority_get(1, ColorInProto::OuterIp)
            .unwrap(),
        5
    );
    assert_eq!(m.color(0, 64, &both), R);
    // Neither applies: the default input colour.
    assert_eq!(m.color(0, 64, &blind()), Y);
    // Inner tables are their own.
    t.color_in_protocol_set(1, ColorInProto::InnerIp, 0)
        .unwrap();
    let mut inner = [G; 64];
    inner[1] = R;
    t.dscp_table_update(1, ColorInProto::InnerIp, Some(&inner))
        .unwrap();
    let tunnel = ColorInputs {
        inner_dscp: Some(1),
        outer_dscp: Some(46),
        ..ColorInputs::default()
    };
    assert_eq!(m.color(0, 64, &tunnel), R);
    t.dscp_table_update(1, ColorInProto::InnerIp, None).unwrap();
    assert_eq!(m.color(0, 64, &tunnel), G);
    let e = t
        .dscp_table_update(1, ColorInProto::OuterVlan, None)
        .unwrap_err();
    assert_eq!(e.kind, MtrErrorType::MtrParams);
    assert!(
        t.color_in_protocol_priority_get(1, ColorInProto::InnerVlan)
            .is_err()
    );
    t.vlan_table_update(1, ColorInProto::OuterVlan, None)
        .unwrap();
    // The tag comes first and its table says green now.
    assert_eq!(m.color(0, 64, &both), G);
}

#[test]
fn input_colour_from_the_previous_meter() {
    let t = setup();
    let mut p = MeterParams::new(1, 1);
    p.use_prev_mtr_color = true;
    let m = t.create(1, p, false).unwrap();
    let prev = |c| ColorInputs {
        prev: Some(c),
        ..ColorInputs::default()
    };
    assert_eq!(m.color(0, 100, &prev(R)), R);
    assert_eq!(m.color(0, 100, &prev(Y)), Y); // from the excess bucket
    assert_eq!(m.color(0, 100, &prev(G)), G);
    assert_eq!(t.capabilities().chaining_n_mtrs_per_flow_max, MAX_CHAIN);
}

#[test]
fn profile_update_takes_the_new_rates_with_full_buckets() {
    let t = setup();
    t.profile_add(2, MeterProfile::trtcm_rfc4115(1000, 0, 100, 0).in_packets())
        .unwrap();
    let m = t.create(1, MeterParams::new(1, 1), false).unwrap();
    assert_eq!(m.color(0, 500, &blind()), G);
    assert_eq!(m.color(0, 300, &blind()), Y);
    assert_eq!(m.color(0, 300, &blind()), R);
    assert!(t.profile_update(1, 9).is_err());
    t.profile_update(1, 2).unwrap();
    assert_eq!(t.meter_ids(1).unwrap(), (2, 1));
    assert!(t.profile_delete(1).is_ok(), "profile 1 is no longer used");
    // 100 packets of any size, 1000 per second.
    assert!((0..100).all(|_| m.color(0, 9000, &blind()) == G));
    assert_eq!(m.color(0, 64, &blind()), R);
    assert_eq!(m.color(1000, 64, &blind()), G);
    t.policy_add(2, MeterPolicy::new()).unwrap();
    t.policy_update(1, 2).unwrap();
    assert_eq!(t.meter_ids(1).unwrap(), (2, 2));
    t.policy_delete(1).unwrap();
}

#[test]
fn capabilities_say_what_the_software_meters_do() {
    let c = table().capabilities();
    assert_eq!(c.n_max, MAX_METERS);
    assert!(c.color_aware_trtcm_rfc2698_supported && c.trtcm_rfc4115_packet_mode_supported);
    assert_eq!(c.stats_mask, 0xff);
    assert_eq!(c.input_color_proto_mask, 0xf);
    assert!(
        c.meter_rate_max >= 100_000_000_000 / 8,
        "at least 100 Gbit/s"
    );
}

/// A meter written from the RFCs' words, in exact integers: a bucket of rate `r` bytes per
/// second gains `r` scaled tokens per time unit (1/16 µs) and a packet of `n` bytes needs
/// `n * S` of them, `S` being the units per second.
#[derive(Debug)]
struct Reference {
    alg: Algorithm,
    a: u128,
    b: u128,
}

const S: u128 = HZ as u128 * 16;

impl Reference {
    fn new(alg: Algorithm) -> Reference {
        let (a, b) = match alg {
            Algorithm::SrTcmRfc2697 { cbs, ebs, .. } => (cbs, ebs),
            Algorithm::TrTcmRfc2698 { pbs, cbs, .. } => (pbs, cbs),
            Algorithm::TrTcmRfc4115 { cbs, ebs, .. } => (cbs, ebs),
            Algorithm::None => (0, 0),
        };
        Reference {
            alg,
            a: a as u128 * S,
            b: b as u128 * S,
        }
    }

    fn advance(&mut self, units: u128) {
        match self.alg {
            Algorithm::SrTcmRfc2697 { cir, cbs, ebs } => {
                let c = self.a + cir as u128 * units;
                let cap = cbs as u128 * S;
                if c > cap {
                    self.b = (self.b + c - cap).min(ebs as u128 * S);
                    self.a = cap;
                } else {
                    self.a = c;
                }
            }
            Algorithm::TrTcmRfc2698 { cir, pir, cbs, pbs } => {
                self.a = (self.a + pir as u128 * units).min(pbs as u128 * S);
                self.b = (self.b + cir as u128 * units).min(cbs as u128 * S);
            }
            Algorithm::TrTcmRfc4115 { cir, eir, cbs, ebs } => {
                self.a = (self.a + cir as u128 * units).min(cbs as u128 * S);
                self.b = (self.b + eir as u128 * units).min(ebs as u128 * S);
            }
            Algorithm::None => {}
        }
    }

    fn mark(&mut self, len: u64, input: Color) -> Color {
        let n = len as u128 * S;
        match self.alg {
            Algorithm::SrTcmRfc2697 { .. } | Algorithm::TrTcmRfc4115 { .. } => {
                if input == G && self.a >= n {
                    self.a -= n;
                    G
                } else if input != R && self.b >= n {
                    self.b -= n;
                    Y
                } else {
                    R
                }
            }
            Algorithm::TrTcmRfc2698 { .. } => {
                if input == R || self.a < n {
                    R
                } else if input == Y || self.b < n {
                    self.a -= n;
                    Y
                } else {
                    self.a -= n;
                    self.b -= n;
                    G
                }
            }
            Algorithm::None => input,
        }
    }
}

/// Rates that divide the units per second, so that the meter's costs are exact.
fn rate() -> impl Strategy<Value = u64> {
    prop::sample::select(vec![
        125u64, 250, 500, 1000, 2000, 4000, 8000, 16_000, 64_000, 250_000,
    ])
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        (rate(), 1..3000u64, 0..3000u64).prop_map(|(cir, cbs, ebs)| Algorithm::SrTcmRfc2697 {
            cir,
            cbs,
            ebs
        }),
        (rate(), rate(), 1..3000u64, 1..3000u64).prop_map(|(x, y, cbs, pbs)| {
            Algorithm::TrTcmRfc2698 {
                cir: x.min(y),
                pir: x.max(y),
                cbs,
                pbs,
            }
        }),
        (rate(), rate(), 1..3000u64, 1..3000u64)
            .prop_map(|(cir, eir, cbs, ebs)| Algorithm::TrTcmRfc4115 { cir, eir, cbs, ebs }),
    ]
}

fn color() -> impl Strategy<Value = Color> {
    prop::sample::select(vec![G, G, G, Y, R])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn same_colours_as_the_rfcs(
        alg in algorithm(),
        steps in prop::collection::vec((0..20_000u64, 1..1600u32, color()), 1..200),
    ) {
        let t = table();
        t.profile_add(1, MeterProfile { algorithm: alg, packet_mode: false }).unwrap();
        t.policy_add(1, MeterPolicy::new()).unwrap();
        let mut p = MeterParams::new(1, 1);
        p.use_prev_mtr_color = true;
        let m = t.create(1, p, false).unwrap();
        let mut r = Reference::new(alg);
        let mut now = 0u64;
        for (i, (dt, len, input)) in steps.into_iter().enumerate() {
            now += dt;
            r.advance(dt as u128 * 16);
            let want = r.mark(len as u64, input);
            let got = m.color(now, len, &ColorInputs { prev: Some(input), ..ColorInputs::default() });
            prop_assert_eq!(got, want, "step {} at {} µs, {} bytes, input {:?}", i, now, len, input);
        }
    }
}
