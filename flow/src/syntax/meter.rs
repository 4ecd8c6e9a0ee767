//! testpmd's meter commands (`app/test-pmd/cmdline_mtr.c`, and `add port meter policy` of
//! `cmdline_flow.c`) run against the ports' [`crate::FlowTable::meters`], with testpmd 22.11's
//! output: nothing on success but for `show`/`get`, errors as its meter error printer writes
//! them.

use super::cli::Output;
use super::parse::{R, Words, action};
use crate::meter::{
    Color, ColorInProto, MeterCapabilities, MeterParams, MeterPolicy, MeterProfile, MeterStats,
    MtrError,
};
use crate::table::FlowTable;
use std::fmt::Write;
use std::sync::Arc;

/// The first words of every meter command.
const PREFIXES: [&str; 8] = [
    "add port meter",
    "del port meter",
    "create port meter",
    "enable port meter",
    "disable port meter",
    "set port meter",
    "get port meter",
    "show port meter",
];

/// Whether `line` is one of testpmd's meter commands (for [`execute_meter`]).
pub fn is_meter_command(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().take(3).collect();
    let head = words.join(" ");
    PREFIXES.contains(&head.as_str())
}

/// One meter command.
#[derive(Clone, Debug, PartialEq)]
enum Cmd {
    Cap,
    ProfileAdd(u32, MeterProfile),
    ProfileDel(u32),
    PolicyAdd(u32, MeterPolicy),
    PolicyDel(u32),
    Create(u32, MeterParams, bool),
    Enable(u32, bool),
    Del(u32),
    SetProfile(u32, u32),
    SetPolicy(u32, u32),
    DscpTable(u32, ColorInProto, Option<Box<[Color; 64]>>),
    VlanTable(u32, ColorInProto, Option<Box<[Color; 16]>>),
    SetProto(u32, ColorInProto, u32),
    GetProto(u32),
    GetProtoPrio(u32, ColorInProto),
    StatsMask(u32, u64),
    Stats(u32, bool),
}

fn color(w: &mut Words<'_>) -> R<Color> {
    let at = w.i;
    let t = w.next("a colour (G, Y or R)")?;
    match Color::parse(t) {
        Some(c) if t.len() == 1 => Ok(c),
        _ => w.err(at, "expected a colour: G, Y or R"),
    }
}

/// `n` colours, or none at all (the table left out).
fn table<const N: usize>(w: &mut Words<'_>) -> R<Option<Box<[Color; N]>>> {
    if w.peek().is_none() {
        return Ok(None);
    }
    let mut t = Box::new([Color::Green; N]);
    for c in t.iter_mut() {
        *c = color(w)?;
    }
    Ok(Some(t))
}

fn proto(w: &mut Words<'_>, allowed: &[ColorInProto]) -> R<ColorInProto> {
    let at = w.i;
    let p = match w.next("a protocol")? {
        "outer_vlan" => ColorInProto::OuterVlan,
        "inner_vlan" => ColorInProto::InnerVlan,
        "outer_ip" => ColorInProto::OuterIp,
        "inner_ip" => ColorInProto::InnerIp,
        _ => return w.err(at, "expected outer_vlan, inner_vlan, outer_ip or inner_ip"),
    };
    if !allowed.contains(&p) {
        return w.err(at, "this table is for another protocol");
    }
    Ok(p)
}

fn yes_no(w: &mut Words<'_>) -> R<bool> {
    let at = w.i;
    match w.next("yes or no")? {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => w.err(at, "expected yes or no"),
    }
}

fn u64_(w: &mut Words<'_>, what: &str) -> R<u64> {
    w.uint(what, u64::MAX as u128).map(|v| v as u64)
}

/// A policy colour's actions: `ACTION / ... end`.
fn actions(w: &mut Words<'_>) -> R<Vec<crate::Action>> {
    let mut v = Vec::new();
    loop {
        let at = w.i;
        let t = w.next("an action or \"end\"")?;
        if t == "end" {
            return Ok(v);
        }
        v.push(action(w, t, at)?);
        w.expect("/")?;
    }
}

/// `add port meter profile ALG PORT ID RATES.. PACKET_MODE`, from ALG: port, id, profile.
fn profile(w: &mut Words<'_>) -> R<(u16, u32, MeterProfile)> {
    let at = w.i;
    let alg = w.next("srtcm_rfc2697, trtcm_rfc2698 or trtcm_rfc4115")?;
    let port = w.port()?;
    let id = w.u32("a profile id")?;
    let mut n = [0u64; 4];
    let k = match alg {
        "srtcm_rfc2697" => 3,
        "trtcm_rfc2698" | "trtcm_rfc4115" => 4,
        _ => return w.err(at, "expected srtcm_rfc2697, trtcm_rfc2698 or trtcm_rfc4115"),
    };
    for v in n.iter_mut().take(k) {
        *v = u64_(w, "a rate or size")?;
    }
    let packet_mode = w.u32("packet_mode (0 or 1)")? != 0;
    let p = match alg {
        "srtcm_rfc2697" => MeterProfile::srtcm_rfc2697(n[0], n[1], n[2]),
        "trtcm_rfc2698" => MeterProfile::trtcm_rfc2698(n[0], n[1], n[2], n[3]),
        _ => MeterProfile::trtcm_rfc4115(n[0], n[1], n[2], n[3]),
    };
    Ok((port, id, MeterProfile { packet_mode, ..p }))
}

/// Parses a meter command; the port it is for and the command.
fn parse(line: &str) -> R<(u16, Cmd)> {
    let mut w = Words {
        w: line.split_whitespace().collect(),
        i: 0,
    };
    let verb = w.next("a command")?;
    w.expect("port")?;
    w.expect("meter")?;
    let sub = w.peek();
    let cmd = match (verb, sub) {
        ("show", Some("cap")) => {
            w.i += 1;
            (w.port()?, Cmd::Cap)
        }
        ("show", Some("stats")) => {
            w.i += 1;
            let port = w.port()?;
            let id = w.u32("a meter id")?;
            (port, Cmd::Stats(id, yes_no(&mut w)?))
        }
        ("add", Some("profile")) => {
            w.i += 1;
            let (port, id, p) = profile(&mut w)?;
            (port, Cmd::ProfileAdd(id, p))
        }
        ("add", Some("policy")) => {
            w.i += 1;
            let port = w.port()?;
            let id = w.u32("a policy id")?;
            let mut p = MeterPolicy::new();
            for (c, word) in Color::ALL
                .into_iter()
                .zip(["g_actions", "y_actions", "r_actions"])
            {
                if w.eat(word) {
                    p = p.actions(c, actions(&mut w)?);
                }
            }
            (port, Cmd::PolicyAdd(id, p))
        }
        ("del", Some("profile")) => {
            w.i += 1;
            let port = w.port()?;
            (port, Cmd::ProfileDel(w.u32("a profile id")?))
        }
        ("del", Some("policy")) => {
            w.i += 1;
            let port = w.port()?;
            (port, Cmd::PolicyDel(w.u32("a policy id")?))
        }
        ("del", _) => {
            let port = w.port()?;
            (port, Cmd::Del(w.u32("a meter id")?))
        }
        ("enable" | "disable", _) => {
            let port = w.port()?;
            (port, Cmd::Enable(w.u32("a meter id")?, verb == "enable"))
        }
        ("create", _) => {
            let port = w.port()?;
            let id = w.u32("a meter id")?;
            let mut p = MeterParams::new(w.u32("a profile id")?, w.u32("a policy id")?);
            p.meter_enable = yes_no(&mut w)?;
            p.stats_mask = u64_(&mut w, "a statistics mask")?;
            let shared = w.u32("shared (0 or 1)")? != 0;
            p.default_input_color = color(&mut w)?;
            p.use_prev_mtr_color = w.u32("use_pre_meter_color (0 or 1)")? != 0;
            if !p.use_prev_mtr_color {
                p.dscp_table = table::<64>(&mut w)?.map(|t| *t);
                p.vlan_table = table::<16>(&mut w)?.map(|t| *t);
            } else {
                w.i = w.w.len();
            }
            (port, Cmd::Create(id, p, shared))
        }
        ("set", Some("profile")) => {
            w.i += 1;
            let port = w.port()?;
            let id = w.u32("a meter id")?;
            (port, Cmd::SetProfile(id, w.u32("a profile id")?))
        }
        ("set", Some("policy")) => {
            w.i += 1;
            let port = w.port()?;
            let id = w.u32("a meter id")?;
            (port, Cmd::SetPolicy(id, w.u32("a policy id")?))
        }
        ("set", Some("dscp")) => {
            w.i += 1;
            w.expect("table")?;
            let port = w.port()?;
            let id = w.u32("a meter id")?;
            let p = proto(&mut w, &[ColorInProto::OuterIp, ColorInProto::InnerIp])?;
            (port, Cmd::DscpTable(id, p, table::<64>(&mut w)?))
        }
        ("set", Some("vlan")) => {
            w.i += 1;
            w.expect("table")?;
            let port = w.port()?;
            let id = w.u32("a meter id")?;
            let p = proto(&mut w, &[ColorInProto::OuterVlan, ColorInProto::InnerVlan])?;
            (port, Cmd::VlanTable(id, p, table::<16>(&mut w)?))
        }
        ("set", Some("proto")) => {
            w.i += 1;
            let port = w.port()?;
            let id = w.u32("a meter id")?;
            let p = proto(&mut w, &ColorInProto::ALL)?;
            (port, Cmd::SetProto(id, p, w.u32("a priority")?))
        }
        ("set", Some("stats")) => {
            w.i += 1;
            w.expect("mask")?;
            let port = w.port()?;
            let id = w.u32("a meter id")?;
            (port, Cmd::StatsMask(id, u64_(&mut w, "a statistics mask")?))
        }
        ("get", Some("proto")) => {
            w.i += 1;
            let port = w.port()?;
            (port, Cmd::GetProto(w.u32("a meter id")?))
        }
        ("get", Some("proto_prio")) => {
            w.i += 1;
            let port = w.port()?;
            let id = w.u32("a meter id")?;
            (
                port,
                Cmd::GetProtoPrio(id, proto(&mut w, &ColorInProto::ALL)?),
            )
        }
        _ => return w.err(w.i, "unknown meter command"),
    };
    w.done()?;
    Ok(cmd)
}

fn caps(o: &mut String, c: &MeterCapabilities) {
    let b = |v: bool| v as i32;
    let _ = write!(o, "\n****   Port Meter Object Capabilities ****\n\n");
    let rows: [(&str, String); 24] = [
        ("n_max", c.n_max.to_string()),
        ("n_shared_max", c.n_shared_max.to_string()),
        ("identical", b(c.identical).to_string()),
        ("shared_identical", b(c.shared_identical).to_string()),
        (
            "shared_n_flows_per_mtr_max",
            c.shared_n_flows_per_mtr_max.to_string(),
        ),
        (
            "chaining_n_mtrs_per_flow_max",
            c.chaining_n_mtrs_per_flow_max.to_string(),
        ),
        (
            "chaining_use_prev_mtr_color_supported",
            b(c.chaining_use_prev_mtr_color_supported).to_string(),
        ),
        (
            "chaining_use_prev_mtr_color_enforced",
            b(c.chaining_use_prev_mtr_color_enforced).to_string(),
        ),
        (
            "meter_srtcm_rfc2697_n_max",
            c.meter_srtcm_rfc2697_n_max.to_string(),
        ),
        (
            "meter_trtcm_rfc2698_n_max",
            c.meter_trtcm_rfc2698_n_max.to_string(),
        ),
        (
            "meter_trtcm_rfc4115_n_max",
            c.meter_trtcm_rfc4115_n_max.to_string(),
        ),
        ("meter_rate_max", c.meter_rate_max.to_string()),
        (
            "color_aware_srtcm_rfc2697_supported",
            b(c.color_aware_srtcm_rfc2697_supported).to_string(),
        ),
        (
            "color_aware_trtcm_rfc2698_supported",
            b(c.color_aware_trtcm_rfc2698_supported).to_string(),
        ),
        (
            "color_aware_trtcm_rfc4115_supported",
            b(c.color_aware_trtcm_rfc4115_supported).to_string(),
        ),
        (
            "srtcm_rfc2697_byte_mode_supported",
            b(c.srtcm_rfc2697_byte_mode_supported).to_string(),
        ),
        (
            "srtcm_rfc2697_packet_mode_supported",
            b(c.srtcm_rfc2697_packet_mode_supported).to_string(),
        ),
        (
            "trtcm_rfc2698_byte_mode_supported",
            b(c.trtcm_rfc2698_byte_mode_supported).to_string(),
        ),
        (
            "trtcm_rfc2698_packet_mode_supported",
            b(c.trtcm_rfc2698_packet_mode_supported).to_string(),
        ),
        (
            "trtcm_rfc4115_byte_mode_supported",
            b(c.trtcm_rfc4115_byte_mode_supported).to_string(),
        ),
        (
            "trtcm_rfc4115_packet_mode_supported",
            b(c.trtcm_rfc4115_packet_mode_supported).to_string(),
        ),
        // testpmd prints the stats mask in hex without 0x, the protocol mask with it.
        ("stats_mask", format!("{:x}", c.stats_mask)),
        (
            "input_color_proto_mask",
            format!("0x{:x}", c.input_color_proto_mask),
        ),
        (
            "separate_input_color_table_per_port",
            b(c.separate_input_color_table_per_port).to_string(),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(o, "cap.{k} {v}");
    }
}

fn stats(o: &mut String, s: &MeterStats, mask: u64) {
    let rows = [
        (MeterStats::N_PKTS_GREEN, "Pkts G", s.n_pkts[0]),
        (MeterStats::N_BYTES_GREEN, "Bytes G", s.n_bytes[0]),
        (MeterStats::N_PKTS_YELLOW, "Pkts Y", s.n_pkts[1]),
        (MeterStats::N_BYTES_YELLOW, "Bytes Y", s.n_bytes[1]),
        (MeterStats::N_PKTS_RED, "Pkts R", s.n_pkts[2]),
        (MeterStats::N_BYTES_RED, "Bytes R", s.n_bytes[2]),
        (MeterStats::N_PKTS_DROPPED, "Pkts DROPPED", s.n_pkts_dropped),
        (
            MeterStats::N_BYTES_DROPPED,
            "Bytes DROPPED",
            s.n_bytes_dropped,
        ),
    ];
    for (bit, name, v) in rows {
        if mask & bit != 0 {
            let _ = writeln!(o, "\t{name}: {v}");
        }
    }
}

/// Parses and runs one of testpmd's meter commands ([`is_meter_command`]); `table` gives a
/// port's flow table, whose meters the command uses.
///
/// ```
/// use rpdk_flow::FlowTable;
/// use rpdk_flow::syntax::execute_meter;
/// use std::sync::Arc;
///
/// let t = Arc::new(FlowTable::new(0, 4));
/// let port = |p: u16| (p == 0).then(|| t.clone());
/// for line in [
///     "add port meter profile srtcm_rfc2697 0 1 1000000 2048 2048 0",
///     "add port meter policy 0 1 g_actions end y_actions end r_actions drop / end",
///     "create port meter 0 5 1 1 yes 0xff 0 g 0",
/// ] {
///     assert_eq!(execute_meter(line, &port).err, "", "{line}");
/// }
/// let out = execute_meter("show port meter stats 0 5 no", &port);
/// assert!(out.out.starts_with("\tPkts G: 0\n\tBytes G: 0\n"));
/// let out = execute_meter("del port meter profile 0 1", &port);
/// assert_eq!(out.err, "meter profile id: cause: 0x1, meter profile 1 is used by 1 meter(s) (error 2)\n");
/// ```
pub fn execute_meter(line: &str, table: &dyn Fn(u16) -> Option<Arc<FlowTable>>) -> Output {
    let mut o = Output::default();
    let (port, cmd) = match parse(line) {
        Ok(c) => c,
        Err(e) => {
            o.out.push_str("Bad arguments\n");
            o.syntax = Some(e);
            return o;
        }
    };
    let Some(t) = table(port) else {
        let _ = writeln!(o.err, "Invalid port {port}");
        return o;
    };
    let m = t.meters();
    let flow_err = |o: &mut Output, e: crate::FlowError| {
        let _ = writeln!(o.err, "{}", e.complain());
    };
    let r: Result<(), MtrError> = match cmd {
        Cmd::Cap => {
            caps(&mut o.out, &m.capabilities());
            Ok(())
        }
        Cmd::ProfileAdd(id, p) => m.profile_add(id, p),
        Cmd::ProfileDel(id) => m.profile_delete(id),
        Cmd::PolicyAdd(id, p) => m.policy_add(id, p),
        Cmd::PolicyDel(id) => m.policy_delete(id),
        Cmd::Create(id, p, shared) => m.create(id, p, shared).map(drop),
        Cmd::Enable(id, true) => m.enable(id),
        Cmd::Enable(id, false) => m.disable(id),
        Cmd::Del(id) => m.destroy(id),
        Cmd::SetProfile(id, p) => m.profile_update(id, p),
        Cmd::SetPolicy(id, p) => {
            if let Err(e) = t.meter_policy_update(id, p) {
                flow_err(&mut o, e);
            }
            Ok(())
        }
        Cmd::DscpTable(id, p, tb) => m.dscp_table_update(id, p, tb.as_deref()),
        Cmd::VlanTable(id, p, tb) => m.vlan_table_update(id, p, tb.as_deref()),
        Cmd::SetProto(id, p, prio) => m.color_in_protocol_set(id, p, prio),
        Cmd::GetProto(id) => m.color_in_protocol_get(id).map(|mask| {
            o.out.push_str("Enabled protocols:\n");
            for (p, name) in ColorInProto::ALL.into_iter().zip([
                "outer_vlan",
                "inner_vlan",
                "outer_ip",
                "inner_ip",
            ]) {
                if mask & p.bit() != 0 {
                    let _ = writeln!(o.out, "\t{name}");
                }
            }
        }),
        // testpmd 22.11 reads the priority and prints only errors.
        Cmd::GetProtoPrio(id, p) => m.color_in_protocol_priority_get(id, p).map(drop),
        Cmd::StatsMask(id, mask) => m.stats_update(id, mask),
        Cmd::Stats(id, clear) => m
            .stats_read(id, clear)
            .map(|(s, mask)| stats(&mut o.out, &s, mask)),
    };
    if let Err(e) = r {
        let _ = writeln!(o.err, "{}", e.testpmd_line());
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &Arc<FlowTable>, line: &str) -> Output {
        execute_meter(line, &|p| (p == 0).then(|| t.clone()))
    }

    #[test]
    fn recognises_the_meter_commands_only() {
        assert!(is_meter_command("show port meter stats 0 1 no"));
        assert!(is_meter_command(
            "add   port meter profile srtcm_rfc2697 0 1 1 1 1 0"
        ));
        assert!(!is_meter_command("show port stats all"));
        assert!(!is_meter_command(
            "flow create 0 ingress pattern end actions drop / end"
        ));
    }

    #[test]
    fn a_session() {
        let t = Arc::new(FlowTable::new(0, 4));
        for line in [
            "add port meter profile trtcm_rfc2698 0 2 1000 2000 100 200 1",
            "add port meter profile trtcm_rfc4115 0 3 1000 1000 100 100 0",
            "add port meter policy 0 7 g_actions queue index 1 / end y_actions mark id 2 / queue index 2 / end r_actions drop / end",
            "create port meter 0 1 2 7 yes 0x0f 1 y 0",
            "set port meter stats mask 0 1 0xff",
            "disable port meter 0 1",
            "enable port meter 0 1",
            "set port meter profile 0 1 3",
            "set port meter proto 0 1 outer_vlan 0",
            "set port meter vlan table 0 1 outer_vlan G G G G Y Y Y Y R R R R G G G G",
            "set port meter dscp table 0 1 inner_ip",
            "get port meter proto_prio 0 1 outer_vlan",
        ] {
            let o = run(&t, line);
            assert_eq!((o.out.as_str(), o.err.as_str()), ("", ""), "{line}");
        }
        let m = t.meters();
        assert_eq!(m.meter_ids(1).unwrap(), (3, 7));
        assert_eq!(
            m.policy(7).unwrap().of(Color::Yellow),
            [
                crate::Action::Mark { id: 2 },
                crate::Action::Queue { index: 2 }
            ]
        );
        assert_eq!(
            run(&t, "get port meter proto 0 1").out,
            "Enabled protocols:\n\touter_vlan\n"
        );
        let o = run(&t, "show port meter stats 0 1 yes");
        assert_eq!(o.out.lines().count(), 8);
        let o = run(&t, "show port meter cap 0");
        assert!(o.out.contains("cap.n_max 65536\n"));
        assert!(
            o.out
                .contains("cap.stats_mask ff\ncap.input_color_proto_mask 0xf\n")
        );
        // Errors as testpmd prints them, and bad lines.
        assert_eq!(
            run(&t, "create port meter 0 1 2 7 yes 0 0 g 0").err,
            "meter id: cause: 0x1, meter 1 exists (error 5)\n"
        );
        assert_eq!(
            run(&t, "show port meter stats 0 1 maybe").out,
            "Bad arguments\n"
        );
        assert_eq!(
            run(&t, "show port meter stats 3 1 no").err,
            "Invalid port 3\n"
        );
        assert_eq!(
            run(&t, "set port meter dscp table 0 1 outer_vlan").out,
            "Bad arguments\n"
        );
        assert_eq!(
            run(&t, "create port meter 0 2 2 7 yes 0 0 g 0 G Y").out,
            "Bad arguments\n"
        );
        assert!(
            run(&t, "del port meter profile 0 3")
                .err
                .contains("(error 2)")
        );
        assert_eq!(run(&t, "del port meter 0 1").err, "");
        assert_eq!(run(&t, "del port meter policy 0 7").err, "");
        assert_eq!(run(&t, "del port meter profile 0 3").err, "");
    }

    #[test]
    fn create_takes_dscp_and_vlan_tables_or_the_previous_colour() {
        let t = Arc::new(FlowTable::new(0, 4));
        run(
            &t,
            "add port meter profile srtcm_rfc2697 0 1 1000 100 100 0",
        );
        run(
            &t,
            "add port meter policy 0 1 g_actions end y_actions end r_actions end",
        );
        let dscp = vec!["R"; 64].join(" ");
        let vlan = vec!["y"; 16].join(" ");
        let o = run(
            &t,
            &format!("create port meter 0 1 1 1 no 0 0 g 0 {dscp} {vlan}"),
        );
        assert_eq!(o.err, "");
        let m = t.meters().get(1).unwrap();
        let ip = crate::meter::ColorInputs {
            outer_dscp: Some(3),
            ..Default::default()
        };
        assert_eq!(m.color(0, 64, &ip), Color::Red);
        let o = run(&t, "create port meter 0 2 1 1 yes 0 1 r 1");
        assert_eq!(o.err, "");
        let m = t.meters().get(2).unwrap();
        let prev = crate::meter::ColorInputs {
            prev: Some(Color::Yellow),
            ..Default::default()
        };
        assert_eq!(m.color(0, 64, &prev), Color::Yellow);
    }
}
