//! The printer: commands and rules back in testpmd's syntax, so that parsing what it prints
//! gives the same command.

use super::FlowCommand;
use crate::action::{Action, Attr, IndirectAction, RSS_TYPE_NAMES, Rss, RssFunc};
use crate::item::{Field, Item, ItemType, Kind, field_max, get_field};
use crate::modify::{ModifyField, ModifySrc};
use crate::rule::FlowRule;
use std::fmt::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};

pub(crate) fn command(c: &FlowCommand, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match c {
        FlowCommand::Validate { port, rule } => {
            write!(f, "flow validate {port} {}", rule_text(rule))
        }
        FlowCommand::Create { port, rule } => write!(f, "flow create {port} {}", rule_text(rule)),
        FlowCommand::Destroy { port, rules } => {
            write!(f, "flow destroy {port}")?;
            rules.iter().try_for_each(|r| write!(f, " rule {r}"))
        }
        FlowCommand::Flush { port } => write!(f, "flow flush {port}"),
        FlowCommand::Query { port, rule } => write!(f, "flow query {port} {rule} count"),
        FlowCommand::QueryAge { port, rule } => write!(f, "flow query {port} {rule} age"),
        FlowCommand::Aged { port, destroy } => {
            write!(
                f,
                "flow aged {port}{}",
                if *destroy { " destroy" } else { "" }
            )
        }
        FlowCommand::List { port, groups } => {
            write!(f, "flow list {port}")?;
            groups.iter().try_for_each(|g| write!(f, " group {g}"))
        }
        FlowCommand::Isolate { port, on } => write!(f, "flow isolate {port} {}", *on as u8),
        FlowCommand::Dump { port, rule, file } => {
            match rule {
                Some(r) => write!(f, "flow dump {port} rule {r}")?,
                None => write!(f, "flow dump {port} all")?,
            }
            match file {
                Some(p) => write!(f, " {p}"),
                None => Ok(()),
            }
        }
        FlowCommand::IndirectCreate {
            port,
            id,
            attr,
            action,
        } => {
            write!(f, "flow indirect_action {port} create")?;
            if let Some(i) = id {
                write!(f, " action_id {i}")?;
            }
            f.write_str(&directions(attr))?;
            let IndirectAction::Count = action;
            write!(f, " action count / end")
        }
        FlowCommand::IndirectDestroy { port, ids } => {
            write!(f, "flow indirect_action {port} destroy")?;
            ids.iter().try_for_each(|i| write!(f, " action_id {i}"))
        }
        FlowCommand::IndirectQuery { port, id } => {
            write!(f, "flow indirect_action {port} query {id}")
        }
    }
}

fn directions(a: &Attr) -> String {
    let mut s = String::new();
    for (on, w) in [
        (a.ingress, "ingress"),
        (a.egress, "egress"),
        (a.transfer, "transfer"),
    ] {
        if on {
            s.push(' ');
            s.push_str(w);
        }
    }
    s
}

/// A rule in testpmd's syntax, from its attributes to the last `end`.
pub(crate) fn rule_text(r: &FlowRule) -> String {
    let mut s = String::new();
    if r.attr.group != 0 {
        let _ = write!(s, "group {} ", r.attr.group);
    }
    if r.attr.priority != 0 {
        let _ = write!(s, "priority {} ", r.attr.priority);
    }
    s.push_str(directions(&r.attr).trim_start());
    if !s.is_empty() && !s.ends_with(' ') {
        s.push(' ');
    }
    s.push_str("pattern ");
    for it in &r.pattern {
        if it.ty == ItemType::End {
            break;
        }
        item(&mut s, it);
        s.push_str(" / ");
    }
    s.push_str("end actions ");
    for a in &r.actions {
        action(&mut s, a);
        s.push_str(" / ");
    }
    s.push_str("end");
    s
}

fn value(fl: &Field, v: u128) -> String {
    match fl.kind {
        Kind::Mac => {
            let b = v.to_be_bytes();
            let m = &b[10..16];
            format!(
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            )
        }
        Kind::Ipv4 => Ipv4Addr::from(v as u32).to_string(),
        Kind::Ipv6 => Ipv6Addr::from(v).to_string(),
        Kind::Int => (v as u32 as i32).to_string(),
        Kind::Bool => (v & 1).to_string(),
        _ if v < 10 => v.to_string(),
        _ => format!("{v:#x}"),
    }
}

/// The prefix length of `m` within a field of maximum `max`, if it is a prefix.
fn prefix_len(m: u128, max: u128) -> Option<u32> {
    let width = 128 - max.leading_zeros();
    let n = (m << (128 - width)).leading_ones();
    let p = if n == 0 {
        0
    } else {
        (max >> (width - n)) << (width - n)
    };
    (p == m && n > 0 && n < width).then_some(n)
}

pub(super) fn item(s: &mut String, it: &Item) {
    s.push_str(it.ty.token());
    let Some(spec) = &it.spec else {
        // A mask or last without a spec: invalid (validate says why), but printable.
        bare_parts(s, it);
        return;
    };
    let (mut did_spec, mut did_mask, mut did_last) = (false, false, false);
    let fields: Vec<&Field> = it.ty.info().fields.iter().filter(|f| f.print).collect();
    for fl in &fields {
        if matches!(fl.kind, Kind::Pattern | Kind::PatternHex) {
            let base = it.ty.spec_len();
            let pat = &spec[base.min(spec.len())..];
            if pat.is_empty() {
                continue;
            }
            let whole = it
                .mask
                .as_ref()
                .is_some_and(|m| m.len() > base && m[base..].iter().all(|&b| b == 0xff));
            let op = if whole { "is" } else { "spec" };
            let printable =
                !pat.is_empty() && pat.iter().all(|&b| b.is_ascii_graphic() && b != b'/');
            if printable && std::str::from_utf8(pat).is_ok() {
                let _ = write!(
                    s,
                    " pattern {op} {}",
                    std::str::from_utf8(pat).unwrap_or_default()
                );
            } else {
                let hex: String = pat.iter().map(|b| format!("{b:02x}")).collect();
                let _ = write!(s, " pattern_hex {op} {hex}");
            }
            did_spec = true;
            did_mask |= whole;
            continue;
        }
        let max = field_max(fl);
        let sv = get_field(spec, fl);
        let lv = it.last.as_ref().map_or(0, |l| get_field(l, fl));
        let name = fl.name;
        match &it.mask {
            None => {
                if sv != 0 {
                    let _ = write!(s, " {name} spec {}", value(fl, sv));
                    did_spec = true;
                }
            }
            Some(mask) => {
                let mv = get_field(mask, fl);
                if mv == max {
                    let _ = write!(s, " {name} is {}", value(fl, sv));
                    did_spec = true;
                    did_mask = true;
                } else if mv != 0 {
                    if sv != 0 {
                        let _ = write!(s, " {name} spec {}", value(fl, sv));
                        did_spec = true;
                    }
                    match prefix_len(mv, max) {
                        Some(n) if matches!(fl.kind, Kind::Ipv4 | Kind::Ipv6) => {
                            let _ = write!(s, " {name} prefix {n}");
                        }
                        _ => {
                            let _ = write!(s, " {name} mask {}", value(fl, mv));
                        }
                    }
                    did_mask = true;
                } else if sv != 0 {
                    let _ = write!(s, " {name} spec {}", value(fl, sv));
                    did_spec = true;
                }
            }
        }
        if lv != 0 {
            let _ = write!(s, " {name} last {}", value(fl, lv));
            did_last = true;
        }
    }
    // Parts that are there but all zero still have to come back as there.
    if let Some(first) = fields.first() {
        let zero = if first.kind == Kind::Pattern { "" } else { "0" };
        if zero.is_empty() {
            return;
        }
        let z = value(first, 0);
        if !did_spec {
            let _ = write!(s, " {} spec {z}", first.name);
        }
        if it.mask.is_some() && !did_mask {
            let _ = write!(s, " {} mask {z}", first.name);
        }
        if it.last.is_some() && !did_last {
            let _ = write!(s, " {} last {z}", first.name);
        }
    }
}

/// The mask and last of an item without a spec.
fn bare_parts(s: &mut String, it: &Item) {
    let fields: Vec<&Field> = it
        .ty
        .info()
        .fields
        .iter()
        .filter(|f| f.print && f.len > 0)
        .collect();
    for (part, name) in [(&it.mask, "mask"), (&it.last, "last")] {
        let Some(block) = part else { continue };
        let mut any = false;
        for fl in &fields {
            let v = get_field(block, fl);
            if v != 0 {
                let _ = write!(s, " {} {name} {}", fl.name, value(fl, v));
                any = true;
            }
        }
        if let (false, Some(first)) = (any, fields.first()) {
            let _ = write!(s, " {} {name} {}", first.name, value(first, 0));
        }
    }
}

fn rss(s: &mut String, r: &Rss) {
    s.push_str("rss");
    if r.func == RssFunc::Toeplitz {
        s.push_str(" func toeplitz");
    }
    if r.level != 0 {
        let _ = write!(s, " level {}", r.level);
    }
    if r.types != 0 {
        s.push_str(" types");
        for (name, t) in RSS_TYPE_NAMES {
            if r.types & t.0 != 0 {
                let _ = write!(s, " {name}");
            }
        }
        s.push_str(" end");
    }
    if !r.key.is_empty() {
        let hex: String = r.key.iter().map(|b| format!("{b:02x}")).collect();
        let _ = write!(s, " key {hex}");
    }
    if !r.queues.is_empty() {
        s.push_str(" queues");
        for q in &r.queues {
            let _ = write!(s, " {q}");
        }
        s.push_str(" end");
    }
}

/// ` mask M` of SET_META and SET_TAG, unless every bit is set (testpmd's default).
fn mask_word(s: &mut String, mask: u32) {
    if mask != u32::MAX {
        let _ = write!(s, " mask {mask:#x}");
    }
}

pub(super) fn action(s: &mut String, a: &Action) {
    let _ = match a {
        Action::Void => write!(s, "void"),
        Action::Passthru => write!(s, "passthru"),
        Action::Drop => write!(s, "drop"),
        Action::Flag => write!(s, "flag"),
        Action::Jump { group } => write!(s, "jump group {group}"),
        Action::Mark { id } => write!(s, "mark id {id}"),
        Action::Queue { index } => write!(s, "queue index {index}"),
        Action::Count { id: 0 } => write!(s, "count"),
        Action::Count { id } => write!(s, "count identifier {id}"),
        Action::Meter { mtr_id } => write!(s, "meter mtr_id {mtr_id}"),
        // testpmd's syntax has no context (testpmd passes its own).
        Action::Age { timeout, .. } => write!(s, "age timeout {timeout}"),
        Action::Indirect { handle } => write!(s, "indirect {handle}"),
        Action::SetMeta { data, mask } => {
            let _ = write!(s, "set_meta data {data:#x}");
            mask_word(s, *mask);
            Ok(())
        }
        Action::SetTag { data, mask, index } => {
            let _ = write!(s, "set_tag data {data:#x}");
            mask_word(s, *mask);
            write!(s, " index {index}")
        }
        Action::OfPopVlan => write!(s, "of_pop_vlan"),
        Action::PortId { id, original } => {
            if *original {
                write!(s, "port_id original 1 id {id}")
            } else {
                write!(s, "port_id id {id}")
            }
        }
        Action::RepresentedPort { port_id } => {
            write!(s, "represented_port ethdev_port_id {port_id}")
        }
        Action::Rss(r) => {
            rss(s, r);
            Ok(())
        }
        // The buffers and definitions are testpmd's `set` state: the actions name them.
        Action::RawDecap(r) => write!(s, "raw_decap index {}", r.index),
        Action::RawEncap(r) => write!(s, "raw_encap index {}", r.index),
        Action::VxlanDecap => write!(s, "vxlan_decap"),
        Action::VxlanEncap { .. } => write!(s, "vxlan_encap"),
        Action::NvgreDecap => write!(s, "nvgre_decap"),
        Action::NvgreEncap { .. } => write!(s, "nvgre_encap"),
        Action::SetMacSrc { mac_addr } => write!(s, "set_mac_src mac_addr {}", mac(mac_addr)),
        Action::SetMacDst { mac_addr } => write!(s, "set_mac_dst mac_addr {}", mac(mac_addr)),
        Action::SetIpv4Src { ipv4_addr } => write!(s, "set_ipv4_src ipv4_addr {ipv4_addr}"),
        Action::SetIpv4Dst { ipv4_addr } => write!(s, "set_ipv4_dst ipv4_addr {ipv4_addr}"),
        Action::SetIpv6Src { ipv6_addr } => write!(s, "set_ipv6_src ipv6_addr {ipv6_addr}"),
        Action::SetIpv6Dst { ipv6_addr } => write!(s, "set_ipv6_dst ipv6_addr {ipv6_addr}"),
        Action::SetTpSrc { port } => write!(s, "set_tp_src port {port}"),
        Action::SetTpDst { port } => write!(s, "set_tp_dst port {port}"),
        Action::SetTtl { ttl_value } => write!(s, "set_ttl ttl_value {ttl_value}"),
        Action::DecTtl => write!(s, "dec_ttl"),
        Action::SetIpv4Dscp { dscp } => write!(s, "set_ipv4_dscp dscp_value {dscp}"),
        Action::SetIpv6Dscp { dscp } => write!(s, "set_ipv6_dscp dscp_value {dscp}"),
        Action::ModifyField(m) => {
            modify_field(s, m);
            Ok(())
        }
        Action::OfPushVlan { ethertype } => write!(s, "of_push_vlan ethertype {ethertype:#x}"),
        Action::OfSetVlanVid { vlan_vid } => write!(s, "of_set_vlan_vid vlan_vid {vlan_vid}"),
        Action::OfSetVlanPcp { vlan_pcp } => write!(s, "of_set_vlan_pcp vlan_pcp {vlan_pcp}"),
    };
}

fn mac(m: &rpdk_mbuf::net::MacAddr) -> String {
    let b = m.0;
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5]
    )
}

fn modify_field(s: &mut String, m: &ModifyField) {
    let _ = write!(
        s,
        "modify_field op {} dst_type {}",
        m.op.token(),
        m.dst.field
    );
    if m.dst.level != 0 {
        let _ = write!(s, " dst_level {}", m.dst.level);
    }
    if m.dst.offset != 0 {
        let _ = write!(s, " dst_offset {}", m.dst.offset);
    }
    // Immediate bytes up to the last non-zero one (at least one).
    let hex = |v: &[u8; 16]| -> String {
        let n = v.iter().rposition(|&b| b != 0).map_or(1, |i| i + 1);
        v[..n].iter().map(|b| format!("{b:02x}")).collect()
    };
    match &m.src {
        ModifySrc::Field(f) => {
            let _ = write!(s, " src_type {}", f.field);
            if f.level != 0 {
                let _ = write!(s, " src_level {}", f.level);
            }
            if f.offset != 0 {
                let _ = write!(s, " src_offset {}", f.offset);
            }
        }
        ModifySrc::Value(v) => {
            let _ = write!(s, " src_type value src_value {}", hex(v));
        }
        ModifySrc::Pointer(v) => {
            let _ = write!(s, " src_type pointer src_ptr {}", hex(v));
        }
    }
    let _ = write!(s, " width {}", m.width);
}
