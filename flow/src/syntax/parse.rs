//! The parser: words in, a [`FlowCommand`] or a [`SyntaxError`] naming the word out.

use super::encap::EncapConfs;
use super::{FlowCommand, SyntaxError};
use crate::action::{Action, Attr, IndirectAction, RawDecap, RawEncap, Rss, RssFunc, rss_type};
use crate::item::{Field, Item, ItemType, Kind, field_max, set_field};
use crate::modify::{FieldId, ModifyData, ModifyField, ModifyOp, ModifySrc};
use crate::rule::FlowRule;
use rpdk_mbuf::net::MacAddr;
use std::net::{Ipv4Addr, Ipv6Addr};

pub(super) struct Words<'a> {
    pub w: Vec<&'a str>,
    pub i: usize,
}

pub(super) type R<T> = Result<T, SyntaxError>;

impl<'a> Words<'a> {
    pub(super) fn err<T>(&self, at: usize, reason: impl Into<String>) -> R<T> {
        Err(SyntaxError {
            token: self.w.get(at).copied().unwrap_or("").to_string(),
            position: at,
            reason: reason.into(),
        })
    }

    pub(super) fn peek(&self) -> Option<&'a str> {
        self.w.get(self.i).copied()
    }

    pub(super) fn next(&mut self, what: &str) -> R<&'a str> {
        match self.w.get(self.i) {
            Some(&t) => {
                self.i += 1;
                Ok(t)
            }
            None => self.err(self.i, format!("expected {what}")),
        }
    }

    pub(super) fn expect(&mut self, word: &str) -> R<()> {
        let at = self.i;
        if self.next(&format!("\"{word}\""))? == word {
            Ok(())
        } else {
            self.err(at, format!("expected \"{word}\""))
        }
    }

    pub(super) fn eat(&mut self, word: &str) -> bool {
        if self.peek() == Some(word) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn uint(&mut self, what: &str, max: u128) -> R<u128> {
        let at = self.i;
        let t = self.next(what)?;
        match parse_uint(t) {
            Some(v) if v <= max => Ok(v),
            Some(_) => self.err(at, format!("{what} out of range (at most {max})")),
            None => self.err(at, format!("expected {what} (an unsigned integer)")),
        }
    }

    pub(super) fn u32(&mut self, what: &str) -> R<u32> {
        self.uint(what, u32::MAX as u128).map(|v| v as u32)
    }

    pub(super) fn u8(&mut self, what: &str) -> R<u8> {
        self.uint(what, u8::MAX as u128).map(|v| v as u8)
    }

    pub(super) fn u16(&mut self, what: &str) -> R<u16> {
        self.uint(what, u16::MAX as u128).map(|v| v as u16)
    }

    pub(super) fn port(&mut self) -> R<u16> {
        self.u16("a port id")
    }

    pub(super) fn boolean(&mut self, what: &str) -> R<bool> {
        let at = self.i;
        match parse_bool(self.next(what)?) {
            Some(b) => Ok(b),
            None => self.err(
                at,
                format!("expected {what} (0/1, true/false, on/off, yes/no)"),
            ),
        }
    }

    pub(super) fn done(&self) -> R<()> {
        if self.i < self.w.len() {
            self.err(self.i, "unexpected word after the command")
        } else {
            Ok(())
        }
    }
}

/// strtoumax with base 0: `0x` hex, a leading `0` octal, else decimal.
pub(crate) fn parse_uint(t: &str) -> Option<u128> {
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u128::from_str_radix(digits, radix).ok()
}

fn parse_int(t: &str) -> Option<i64> {
    match t.strip_prefix('-') {
        Some(rest) => parse_uint(rest)
            .and_then(|v| i64::try_from(v).ok())
            .map(|v| -v),
        None => parse_uint(t).and_then(|v| i64::try_from(v).ok()),
    }
}

fn parse_bool(t: &str) -> Option<bool> {
    match t {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

fn parse_hex(t: &str) -> Option<Vec<u8>> {
    let h = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if h.is_empty() || !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Parses one `flow ...` command line; `raw_encap`, `raw_decap`, `vxlan_encap` and
/// `nvgre_encap` take testpmd's buffers and configurations at start (empty buffers: see
/// [`parse_with`]).
pub fn parse(line: &str) -> Result<FlowCommand, SyntaxError> {
    parse_with(line, &EncapConfs::default())
}

/// Parses one `flow ...` command line, the encap actions taking the buffers and
/// configurations of `confs` (what testpmd's `set raw_encap`, `set vxlan`, ... left).
pub fn parse_with(line: &str, confs: &EncapConfs) -> Result<FlowCommand, SyntaxError> {
    let mut w = Words {
        w: line.split_whitespace().collect(),
        i: 0,
    };
    w.expect("flow")?;
    let at = w.i;
    let cmd = match w.next("a flow command")? {
        "validate" => {
            let port = w.port()?;
            FlowCommand::Validate {
                port,
                rule: rule(&mut w, confs)?,
            }
        }
        "create" => {
            let port = w.port()?;
            FlowCommand::Create {
                port,
                rule: rule(&mut w, confs)?,
            }
        }
        "destroy" => {
            let port = w.port()?;
            let mut rules = Vec::new();
            w.expect("rule")?;
            rules.push(w.u32("a rule id")?);
            while w.eat("rule") {
                rules.push(w.u32("a rule id")?);
            }
            FlowCommand::Destroy { port, rules }
        }
        "flush" => FlowCommand::Flush { port: w.port()? },
        "query" => {
            let port = w.port()?;
            let rule = w.u32("a rule id")?;
            let at = w.i;
            match w.next("count or age")? {
                "count" => FlowCommand::Query { port, rule },
                "age" => FlowCommand::QueryAge { port, rule },
                _ => return w.err(at, "expected count or age"),
            }
        }
        "aged" => {
            let port = w.port()?;
            FlowCommand::Aged {
                port,
                destroy: w.eat("destroy"),
            }
        }
        "list" => {
            let port = w.port()?;
            let mut groups = Vec::new();
            while w.eat("group") {
                groups.push(w.u32("a group id")?);
            }
            FlowCommand::List { port, groups }
        }
        "isolate" => {
            let port = w.port()?;
            FlowCommand::Isolate {
                port,
                on: w.boolean("a boolean")?,
            }
        }
        "dump" => {
            let port = w.port()?;
            let at = w.i;
            let rule = match w.next("\"all\" or \"rule\"")? {
                "all" => None,
                "rule" => Some(w.u32("a rule id")?),
                _ => return w.err(at, "expected \"all\" or \"rule\""),
            };
            let file = w.peek().map(str::to_string);
            if file.is_some() {
                w.i += 1;
            }
            FlowCommand::Dump { port, rule, file }
        }
        "indirect_action" => indirect(&mut w)?,
        _ => {
            return w.err(
                at,
                "expected validate, create, destroy, flush, query, list, aged, isolate, dump or indirect_action",
            );
        }
    };
    w.done()?;
    Ok(cmd)
}

fn indirect(w: &mut Words<'_>) -> R<FlowCommand> {
    let port = w.port()?;
    let at = w.i;
    Ok(match w.next("create, destroy or query")? {
        "create" => {
            let id = if w.eat("action_id") {
                Some(w.u32("an indirect action id")?)
            } else {
                None
            };
            let mut attr = Attr::default();
            loop {
                match w.peek() {
                    Some("ingress") => attr.ingress = true,
                    Some("egress") => attr.egress = true,
                    Some("transfer") => attr.transfer = true,
                    _ => break,
                }
                w.i += 1;
            }
            w.expect("action")?;
            let at = w.i;
            let action = match w.next("an indirect action")? {
                "count" => IndirectAction::Count,
                _ => {
                    return w.err(
                        at,
                        "expected count (the one indirect action the engine has)",
                    );
                }
            };
            w.expect("/")?;
            w.expect("end")?;
            FlowCommand::IndirectCreate {
                port,
                id,
                attr,
                action,
            }
        }
        "destroy" => {
            let mut ids = Vec::new();
            w.expect("action_id")?;
            ids.push(w.u32("an indirect action id")?);
            while w.eat("action_id") {
                ids.push(w.u32("an indirect action id")?);
            }
            FlowCommand::IndirectDestroy { port, ids }
        }
        "query" => FlowCommand::IndirectQuery {
            port,
            id: w.u32("an indirect action id")?,
        },
        _ => return w.err(at, "expected create, destroy or query"),
    })
}

fn rule(w: &mut Words<'_>, confs: &EncapConfs) -> R<FlowRule> {
    let mut r = FlowRule::default();
    loop {
        let at = w.i;
        match w.next("attributes or \"pattern\"")? {
            "group" => r.attr.group = w.u32("a group id")?,
            "priority" => r.attr.priority = w.u32("a priority")?,
            "ingress" => r.attr.ingress = true,
            "egress" => r.attr.egress = true,
            "transfer" => r.attr.transfer = true,
            "pattern" => break,
            _ => {
                return w.err(
                    at,
                    "expected group, priority, ingress, egress, transfer or pattern",
                );
            }
        }
    }
    loop {
        let at = w.i;
        let t = w.next("an item or \"end\"")?;
        if t == "end" {
            break;
        }
        let Some(ty) = ItemType::from_token(t).filter(|&t| t != ItemType::End) else {
            return w.err(at, "unknown pattern item");
        };
        r.pattern.push(item(w, ty)?);
    }
    w.expect("actions")?;
    loop {
        let at = w.i;
        let t = w.next("an action or \"end\"")?;
        if t == "end" {
            break;
        }
        r.actions.push(match encap_action(w, t, confs)? {
            Some(a) => a,
            None => action(w, t, at)?,
        });
        w.expect("/")?;
    }
    Ok(r)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Is,
    Spec,
    Last,
    Mask,
    Prefix,
}

pub(super) fn item(w: &mut Words<'_>, ty: ItemType) -> R<Item> {
    let mut it = Item::new(ty);
    loop {
        let at = w.i;
        let t = w.next("a field or \"/\"")?;
        if t == "/" {
            return Ok(it);
        }
        let Some(fl) = ty.field(t) else {
            return w.err(at, format!("unknown field of {}", ty.token()));
        };
        let at = w.i;
        let op = match w.next("is, spec, last, mask or prefix")? {
            "is" => Op::Is,
            "spec" => Op::Spec,
            "last" => Op::Last,
            "mask" => Op::Mask,
            "prefix" => Op::Prefix,
            _ => return w.err(at, "expected is, spec, last, mask or prefix"),
        };
        if matches!(fl.kind, Kind::Pattern | Kind::PatternHex) {
            raw_pattern(w, &mut it, fl, op)?;
            continue;
        }
        let at = w.i;
        let tok = w.next("a value")?;
        let max = field_max(fl);
        let value = if op == Op::Prefix {
            let width = 128 - max.leading_zeros();
            match parse_uint(tok) {
                Some(n) if n <= width as u128 => {
                    let n = n as u32;
                    if n == 0 {
                        0
                    } else {
                        (max >> (width - n)) << (width - n)
                    }
                }
                _ => return w.err(at, format!("expected a prefix length of 0 to {width}")),
            }
        } else {
            match value(fl, tok) {
                Some(v) if v <= max => v,
                Some(_) => {
                    return w.err(
                        at,
                        format!("value out of range for {} (at most {max:#x})", fl.name),
                    );
                }
                None => {
                    return w.err(
                        at,
                        format!("bad value for {} ({})", fl.name, kind_name(fl.kind)),
                    );
                }
            }
        };
        let len = it
            .spec
            .as_ref()
            .map_or(ty.spec_len(), Vec::len)
            .max(ty.spec_len());
        let put = |slot: &mut Option<Vec<u8>>, v: u128| {
            let b = slot.get_or_insert_with(|| vec![0; len]);
            b.resize(len, 0);
            set_field(b, fl, v);
        };
        match op {
            Op::Is => {
                put(&mut it.spec, value);
                put(&mut it.mask, max);
            }
            Op::Spec => put(&mut it.spec, value),
            Op::Last => put(&mut it.last, value),
            Op::Mask | Op::Prefix => put(&mut it.mask, value),
        }
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Uint => "an unsigned integer",
        Kind::Int => "an integer",
        Kind::Bool => "a boolean",
        Kind::Mac => "a MAC address",
        Kind::Ipv4 => "an IPv4 address or integer",
        Kind::Ipv6 => "an IPv6 address",
        Kind::Pattern | Kind::PatternHex => "a pattern",
    }
}

fn value(fl: &Field, t: &str) -> Option<u128> {
    match fl.kind {
        Kind::Uint => parse_uint(t),
        Kind::Int => parse_int(t)
            .filter(|v| i32::try_from(*v).is_ok())
            .map(|v| v as i32 as u32 as u128),
        Kind::Bool => parse_bool(t).map(u128::from),
        Kind::Mac => t
            .parse::<MacAddr>()
            .ok()
            .map(|m| m.0.iter().fold(0, |v, &b| (v << 8) | b as u128)),
        Kind::Ipv4 => t
            .parse::<Ipv4Addr>()
            .ok()
            .map(|a| u32::from(a) as u128)
            .or_else(|| parse_uint(t).filter(|&v| v <= u32::MAX as u128)),
        Kind::Ipv6 => t.parse::<Ipv6Addr>().ok().map(u128::from),
        Kind::Pattern | Kind::PatternHex => None,
    }
}

/// RAW's `pattern` / `pattern_hex`: the bytes after the fixed part of spec (and mask for `is`).
fn raw_pattern(w: &mut Words<'_>, it: &mut Item, fl: &Field, op: Op) -> R<()> {
    let at = w.i;
    let t = w.next("a pattern")?;
    let bytes = if fl.kind == Kind::PatternHex {
        match parse_hex(t) {
            Some(b) => b,
            None => return w.err(at, "expected an even number of hex digits"),
        }
    } else {
        t.as_bytes().to_vec()
    };
    if !matches!(op, Op::Is | Op::Spec) {
        return w.err(at - 1, "a RAW pattern takes is or spec");
    }
    let base = ItemType::Raw.spec_len();
    let len = base + bytes.len();
    let spec = it.spec.get_or_insert_with(|| vec![0; base]);
    spec.truncate(base);
    spec.resize(base, 0);
    spec.extend_from_slice(&bytes);
    if op == Op::Is && it.mask.is_none() {
        it.mask = Some(vec![0; base]);
    }
    // A pattern is matched whole: testpmd's syntax has no mask for its bytes.
    for (slot, fill) in [(&mut it.mask, 0xff), (&mut it.last, 0)] {
        if let Some(b) = slot {
            b.truncate(base);
            b.resize(base, 0);
            b.resize(len, fill);
        }
    }
    Ok(())
}

pub(super) fn action(w: &mut Words<'_>, t: &str, at: usize) -> R<Action> {
    Ok(match t {
        "void" => Action::Void,
        "passthru" => Action::Passthru,
        "drop" => Action::Drop,
        "flag" => Action::Flag,
        "jump" => {
            w.expect("group")?;
            Action::Jump {
                group: w.u32("a group id")?,
            }
        }
        "mark" => {
            w.expect("id")?;
            Action::Mark {
                id: w.u32("a mark id")?,
            }
        }
        "queue" => {
            w.expect("index")?;
            Action::Queue {
                index: w.u16("a queue index")?,
            }
        }
        "count" => {
            let id = if w.eat("identifier") {
                w.u32("a counter id")?
            } else {
                0
            };
            Action::Count { id }
        }
        "meter" => {
            w.expect("mtr_id")?;
            Action::Meter {
                mtr_id: w.u32("a meter id")?,
            }
        }
        "set_meta" => {
            let (mut data, mut mask) = (0, u32::MAX);
            loop {
                if w.eat("data") {
                    data = w.u32("a metadata value")?;
                } else if w.eat("mask") {
                    mask = w.u32("a metadata mask")?;
                } else {
                    break;
                }
            }
            Action::SetMeta { data, mask }
        }
        "set_tag" => {
            let (mut data, mut mask, mut index) = (0, u32::MAX, 0);
            loop {
                if w.eat("data") {
                    data = w.u32("a tag value")?;
                } else if w.eat("mask") {
                    mask = w.u32("a tag mask")?;
                } else if w.eat("index") {
                    index = w.u8("a tag index")?;
                } else {
                    break;
                }
            }
            Action::SetTag { data, mask, index }
        }
        "of_pop_vlan" => Action::OfPopVlan,
        "age" => {
            let mut timeout = 0;
            while w.eat("timeout") {
                timeout =
                    w.uint("a timeout in seconds", crate::age::MAX_AGE_TIMEOUT as u128)? as u32;
            }
            Action::Age {
                timeout,
                context: None,
            }
        }
        "indirect" => Action::Indirect {
            handle: w.u32("an indirect action id")?,
        },
        "port_id" => {
            let mut original = false;
            let mut id = 0;
            loop {
                if w.eat("original") {
                    original = w.boolean("a boolean")?;
                } else if w.eat("id") {
                    id = w.u32("a port id")?;
                } else {
                    break;
                }
            }
            Action::PortId { id, original }
        }
        "represented_port" => {
            w.expect("ethdev_port_id")?;
            Action::RepresentedPort {
                port_id: w.u16("a port id")?,
            }
        }
        "rss" => Action::Rss(rss(w)?),
        "set_mac_src" | "set_mac_dst" => {
            let mac_addr = arg(w, "mac_addr", MacAddr::ZERO, |w| w.mac("a MAC address"))?;
            if t == "set_mac_src" {
                Action::SetMacSrc { mac_addr }
            } else {
                Action::SetMacDst { mac_addr }
            }
        }
        "set_ipv4_src" | "set_ipv4_dst" => {
            let ipv4_addr = arg(w, "ipv4_addr", Ipv4Addr::UNSPECIFIED, |w| {
                w.ipv4("an IPv4 address")
            })?;
            if t == "set_ipv4_src" {
                Action::SetIpv4Src { ipv4_addr }
            } else {
                Action::SetIpv4Dst { ipv4_addr }
            }
        }
        "set_ipv6_src" | "set_ipv6_dst" => {
            let ipv6_addr = arg(w, "ipv6_addr", Ipv6Addr::UNSPECIFIED, |w| {
                w.ipv6("an IPv6 address")
            })?;
            if t == "set_ipv6_src" {
                Action::SetIpv6Src { ipv6_addr }
            } else {
                Action::SetIpv6Dst { ipv6_addr }
            }
        }
        "set_tp_src" | "set_tp_dst" => {
            let port = arg(w, "port", 0, |w| w.u16("a port number"))?;
            if t == "set_tp_src" {
                Action::SetTpSrc { port }
            } else {
                Action::SetTpDst { port }
            }
        }
        "set_ttl" => Action::SetTtl {
            ttl_value: arg(w, "ttl_value", 0, |w| w.u8("a TTL"))?,
        },
        "dec_ttl" => Action::DecTtl,
        "set_ipv4_dscp" | "set_ipv6_dscp" => {
            let dscp = arg(w, "dscp_value", 0, |w| w.u8("a DSCP value"))?;
            if t == "set_ipv4_dscp" {
                Action::SetIpv4Dscp { dscp }
            } else {
                Action::SetIpv6Dscp { dscp }
            }
        }
        "modify_field" => Action::ModifyField(modify_field(w)?),
        "of_push_vlan" => Action::OfPushVlan {
            ethertype: arg(w, "ethertype", 0, |w| w.u16("an EtherType"))?,
        },
        "of_set_vlan_vid" => Action::OfSetVlanVid {
            vlan_vid: arg(w, "vlan_vid", 0, |w| w.u16("a VLAN id"))?,
        },
        "of_set_vlan_pcp" => Action::OfSetVlanPcp {
            vlan_pcp: arg(w, "vlan_pcp", 0, |w| w.u8("a VLAN priority"))?,
        },
        _ => return w.err(at, "unknown action"),
    })
}

/// The tunnel actions, which take testpmd's encap buffers and configurations (`None`: not
/// one of them).
fn encap_action(w: &mut Words<'_>, t: &str, confs: &EncapConfs) -> R<Option<Action>> {
    let index = |w: &mut Words<'_>| -> R<u8> {
        if w.eat("index") {
            let max = super::encap::RAW_ENCAP_CONFS as u128 - 1;
            w.uint("a raw_encap/raw_decap index", max).map(|v| v as u8)
        } else {
            Ok(0)
        }
    };
    Ok(Some(match t {
        "raw_decap" => {
            let index = index(w)?;
            Action::RawDecap(RawDecap {
                data: confs.raw_decap(index as usize).to_vec(),
                index,
            })
        }
        "raw_encap" => {
            let index = index(w)?;
            Action::RawEncap(RawEncap {
                data: confs.raw_encap(index as usize).to_vec(),
                preserve: Vec::new(),
                index,
            })
        }
        "vxlan_decap" => Action::VxlanDecap,
        "nvgre_decap" => Action::NvgreDecap,
        "vxlan_encap" => Action::VxlanEncap {
            definition: confs.vxlan_definition(),
        },
        "nvgre_encap" => Action::NvgreEncap {
            definition: confs.nvgre_definition(),
        },
        _ => return Ok(None),
    }))
}

/// An action's one argument: `NAME VALUE`, as often as given (the last wins; testpmd leaves
/// the argument 0 when it is not given).
fn arg<T>(
    w: &mut Words<'_>,
    name: &str,
    zero: T,
    mut value: impl FnMut(&mut Words<'_>) -> R<T>,
) -> R<T> {
    let mut v = zero;
    while w.eat(name) {
        v = value(w)?;
    }
    Ok(v)
}

impl Words<'_> {
    fn mac(&mut self, what: &str) -> R<MacAddr> {
        let at = self.i;
        match self.next(what)?.parse::<MacAddr>() {
            Ok(m) => Ok(m),
            Err(_) => self.err(at, format!("expected {what}")),
        }
    }

    fn ipv4(&mut self, what: &str) -> R<Ipv4Addr> {
        let at = self.i;
        let t = self.next(what)?;
        match t.parse::<Ipv4Addr>() {
            Ok(a) => Ok(a),
            Err(_) => match parse_uint(t) {
                Some(v) if v <= u32::MAX as u128 => Ok(Ipv4Addr::from(v as u32)),
                _ => self.err(at, format!("expected {what}")),
            },
        }
    }

    fn ipv6(&mut self, what: &str) -> R<Ipv6Addr> {
        let at = self.i;
        match self.next(what)?.parse::<Ipv6Addr>() {
            Ok(a) => Ok(a),
            Err(_) => self.err(at, format!("expected {what}")),
        }
    }

    fn field_id(&mut self, what: &str) -> R<FieldId> {
        let at = self.i;
        match FieldId::from_token(self.next(what)?) {
            Some(f) => Ok(f),
            None => self.err(at, format!("expected {what} (a field name)")),
        }
    }

    /// `src_value` / `src_ptr`: hex, at most 16 bytes (no field is wider).
    fn value16(&mut self, what: &str) -> R<[u8; 16]> {
        let at = self.i;
        match parse_hex(self.next(what)?) {
            Some(b) if b.len() <= 16 => {
                let mut v = [0u8; 16];
                v[..b.len()].copy_from_slice(&b);
                Ok(v)
            }
            Some(_) => self.err(at, "more than 16 bytes (no field is wider)"),
            None => self.err(at, "expected an even number of hex digits"),
        }
    }
}

/// `modify_field op OP dst_type F [dst_level N] [dst_offset N] src_type F [src_level N]
/// [src_offset N] [src_value HEX | src_ptr HEX] width N`, in testpmd's order.
fn modify_field(w: &mut Words<'_>) -> R<ModifyField> {
    w.expect("op")?;
    let at = w.i;
    let op = match w.next("set, add or sub")? {
        "set" => ModifyOp::Set,
        "add" => ModifyOp::Add,
        "sub" => ModifyOp::Sub,
        _ => return w.err(at, "expected set, add or sub"),
    };
    w.expect("dst_type")?;
    let at = w.i;
    if matches!(w.peek(), Some("value" | "pointer")) {
        return w.err(at, "an immediate value or a pointer is a source only");
    }
    let mut dst = ModifyData::of(w.field_id("a destination field")?);
    loop {
        if w.eat("dst_level") {
            dst.level = w.u32("a level")?;
        } else if w.eat("dst_offset") {
            dst.offset = w.u32("a bit offset")?;
        } else {
            break;
        }
    }
    w.expect("src_type")?;
    let mut src = match w.peek() {
        Some("value") => {
            w.i += 1;
            ModifySrc::Value([0; 16])
        }
        Some("pointer") => {
            w.i += 1;
            ModifySrc::Pointer([0; 16])
        }
        _ => ModifySrc::Field(ModifyData::of(w.field_id("a source field")?)),
    };
    loop {
        match (&mut src, w.peek()) {
            (ModifySrc::Field(s), Some("src_level")) => {
                w.i += 1;
                s.level = w.u32("a level")?;
            }
            (ModifySrc::Field(s), Some("src_offset")) => {
                w.i += 1;
                s.offset = w.u32("a bit offset")?;
            }
            (ModifySrc::Value(v), Some("src_value")) | (ModifySrc::Pointer(v), Some("src_ptr")) => {
                w.i += 1;
                *v = w.value16("a value in hex")?;
                break;
            }
            _ => break,
        }
    }
    w.expect("width")?;
    let width = w.u32("a width in bits")?;
    Ok(ModifyField {
        op,
        dst,
        src,
        width,
    })
}

fn rss(w: &mut Words<'_>) -> R<Rss> {
    let mut r = Rss::default();
    let mut key_len = None;
    loop {
        let at = w.i;
        match w.peek() {
            Some("func") => {
                w.i += 1;
                let at = w.i;
                r.func = match w.next("a hash function")? {
                    "default" => RssFunc::Default,
                    "toeplitz" => RssFunc::Toeplitz,
                    "simple_xor" | "symmetric_toeplitz" => {
                        return w.err(at, "hash function not supported by the software engine (default, toeplitz)");
                    }
                    _ => return w.err(at, "expected default or toeplitz"),
                };
            }
            Some("level") => {
                w.i += 1;
                r.level = w.u32("a level")?;
            }
            Some("types") => {
                w.i += 1;
                loop {
                    let at = w.i;
                    let t = w.next("an RSS type or \"end\"")?;
                    if t == "end" {
                        break;
                    }
                    match rss_type(t) {
                        Some(v) => r.types |= v,
                        None => return w.err(at, "unknown RSS type"),
                    }
                }
            }
            Some("key") => {
                w.i += 1;
                let at = w.i;
                match parse_hex(w.next("a key in hex")?) {
                    Some(k) => r.key = k,
                    None => return w.err(at, "expected a key in hex"),
                }
            }
            Some("key_len") => {
                w.i += 1;
                key_len = Some((w.i, w.u32("a key length")?));
            }
            Some("queues") => {
                w.i += 1;
                loop {
                    let at = w.i;
                    let t = w.next("a queue or \"end\"")?;
                    if t == "end" {
                        break;
                    }
                    match parse_uint(t) {
                        Some(q) if q <= u16::MAX as u128 => r.queues.push(q as u16),
                        _ => return w.err(at, "expected a queue index"),
                    }
                }
            }
            _ => {
                let _ = at;
                break;
            }
        }
    }
    if let Some((at, n)) = key_len
        && n as usize != r.key.len()
    {
        return w.err(
            at,
            format!("key_len {n} differs from the key's {} bytes", r.key.len()),
        );
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_strtoumax() {
        assert_eq!(parse_uint("0x10"), Some(16));
        assert_eq!(parse_uint("010"), Some(8));
        assert_eq!(parse_uint("0"), Some(0));
        assert_eq!(parse_uint("12a"), None);
        assert_eq!(parse_uint(""), None);
        assert_eq!(parse_int("-4"), Some(-4));
    }

    #[test]
    fn errors_name_the_token() {
        let e = parse(
            "flow create 0 ingress pattern eth / ipv4 dts is 1.2.3.4 / end actions drop / end",
        )
        .unwrap_err();
        assert_eq!((e.token.as_str(), e.position), ("dts", 8));
        let e =
            parse("flow create 0 ingress pattern eth / udp dst is 70000 / end actions drop / end")
                .unwrap_err();
        assert_eq!(e.token, "70000");
        let e =
            parse("flow create 0 ingress pattern eth / end actions queue index / end").unwrap_err();
        assert_eq!(e.token, "/");
        let e = parse("flow create 0 ingress pattern eth").unwrap_err();
        assert_eq!(e.token, "");
        let e = parse("flow bogus").unwrap_err();
        assert_eq!(e.token, "bogus");
    }
}
