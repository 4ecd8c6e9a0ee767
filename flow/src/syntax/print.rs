//! The printer: commands and rules back in testpmd's syntax, so that parsing what it prints
//! gives the same command.

use super::FlowCommand;
use crate::action::{Action, Attr, IndirectAction, RSS_TYPE_NAMES, Rss, RssFunc};
use crate::item::{Field, Item, ItemType, Kind, field_max, get_field};
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
        Action::Indirect { handle } => write!(s, "indirect {handle}"),
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
    };
}
