//! The checks `rte_flow_validate` makes before a rule goes in: attributes, how items stack,
//! spec/last/mask, and each action against the port.

use crate::action::{Action, Rss};
use crate::error::{Cause, ErrorType, FlowError};
use crate::item::{ItemType, get_field};
use crate::meter::{Color, MeterPolicy};
use crate::modify::{FieldId, ModifyData, ModifyField, ModifySrc};
use crate::packet::MAX_TAGS;
use crate::rule::FlowRule;
use rpdk_ethdev::MAX_ETHPORTS;

/// What a rule is checked against: the port's rx queues, the indirect actions there are, and
/// the policy of each meter there is.
pub(crate) struct Context<'a> {
    pub nb_rx_queues: u16,
    pub indirect_exists: &'a dyn Fn(u32) -> bool,
    pub meter_policy: &'a dyn Fn(u32) -> Option<MeterPolicy>,
}

/// Which header item may follow which (`None`: the start of the pattern, or after ANY).
fn may_follow(prev: ItemType, next: ItemType) -> bool {
    use ItemType::*;
    match prev {
        Eth | Vlan => matches!(next, Vlan | Ipv4 | Ipv6 | Mpls),
        Ipv4 => matches!(next, Icmp | Udp | Tcp | Sctp | Gre | Nvgre | Ipv4 | Ipv6),
        Ipv6 => matches!(next, Icmp6 | Udp | Tcp | Sctp | Gre | Nvgre | Ipv4 | Ipv6),
        Udp => matches!(next, Vxlan | Geneve),
        Vxlan | Nvgre => next == Eth,
        Geneve | Gre => matches!(next, Eth | Ipv4 | Ipv6),
        Mpls => next == Mpls,
        _ => false,
    }
}

fn stack_hint(prev: ItemType, next: ItemType) -> &'static str {
    use ItemType::*;
    match (prev, next) {
        (Eth | Vlan, Udp | Tcp | Sctp | Icmp | Icmp6) => ": L4 needs an IPv4 or IPv6 item below it",
        (Ipv4, Icmp6) => ": ICMP6 needs IPv6",
        (Ipv6, Icmp) => ": ICMP needs IPv4 (use icmp6)",
        (Mpls, Ipv4 | Ipv6) => ": the software engine does not parse IP after MPLS",
        _ => "",
    }
}

pub(crate) fn validate(rule: &FlowRule, ctx: &Context<'_>) -> Result<(), FlowError> {
    let a = &rule.attr;
    let dirs = a.ingress as u8 + a.egress as u8 + a.transfer as u8;
    if dirs == 0 {
        return Err(FlowError::new(
            ErrorType::Attr,
            Some(Cause::Attr),
            "no direction: the rule needs ingress, egress or transfer",
        ));
    }
    if dirs > 1 {
        let (kind, what) = if a.transfer {
            (ErrorType::AttrTransfer, "transfer with ingress or egress")
        } else {
            (ErrorType::AttrEgress, "ingress and egress")
        };
        return Err(FlowError::new(
            kind,
            Some(Cause::Attr),
            format!("{what} in one rule is not supported: create one rule per direction"),
        )
        .with_errno(libc::ENOTSUP));
    }
    validate_pattern(rule)?;
    validate_actions(rule, ctx)
}

fn validate_pattern(rule: &FlowRule) -> Result<(), FlowError> {
    let mut prev: Option<ItemType> = None;
    for (i, it) in rule.pattern.iter().enumerate() {
        let ty = it.ty;
        if ty == ItemType::End {
            break;
        }
        if matches!(ty, ItemType::Void | ItemType::Invert) {
            continue;
        }
        let Some(spec) = &it.spec else {
            if it.mask.is_some() {
                return Err(FlowError::item(
                    ErrorType::ItemMask,
                    i,
                    format!("{ty}: mask without spec"),
                ));
            }
            if it.last.is_some() {
                return Err(FlowError::item(
                    ErrorType::ItemLast,
                    i,
                    format!("{ty}: last without spec"),
                ));
            }
            if ty == ItemType::Raw {
                return Err(FlowError::item(
                    ErrorType::ItemSpec,
                    i,
                    "RAW needs a spec with a pattern",
                ));
            }
            prev = stack(prev, ty, i)?;
            continue;
        };
        let len = ty.spec_len();
        let ok_len = if ty == ItemType::Raw {
            spec.len() > len
        } else {
            spec.len() == len
        };
        if !ok_len {
            let msg = if ty == ItemType::Raw {
                "RAW: the pattern is empty".to_string()
            } else {
                format!("{ty}: spec is {} bytes, the item has {len}", spec.len())
            };
            return Err(FlowError::item(ErrorType::ItemSpec, i, msg));
        }
        if let Some(m) = &it.mask
            && m.len() != spec.len()
        {
            return Err(FlowError::item(
                ErrorType::ItemMask,
                i,
                format!("{ty}: mask is {} bytes, the spec {}", m.len(), spec.len()),
            ));
        }
        if let Some(last) = &it.last {
            if ty == ItemType::Raw || ty == ItemType::Any {
                return Err(FlowError::item(
                    ErrorType::ItemLast,
                    i,
                    format!("{ty} takes no range"),
                ));
            }
            if last.len() != spec.len() {
                return Err(FlowError::item(
                    ErrorType::ItemLast,
                    i,
                    format!(
                        "{ty}: last is {} bytes, the spec {}",
                        last.len(),
                        spec.len()
                    ),
                ));
            }
            let mask = it.effective_mask();
            for fl in ty.info().fields {
                let m = get_field(&mask, fl);
                let lo = get_field(spec, fl) & m;
                let hi = get_field(last, fl) & m;
                if hi != 0 && hi < lo {
                    return Err(FlowError::item(
                        ErrorType::ItemLast,
                        i,
                        format!(
                            "{ty}: last below spec in field {} ({hi:#x} < {lo:#x})",
                            fl.name
                        ),
                    ));
                }
            }
        }
        if ty == ItemType::Tag && spec[4] as usize >= MAX_TAGS {
            return Err(FlowError::item(
                ErrorType::ItemSpec,
                i,
                format!("TAG index {} out of range (0 to {})", spec[4], MAX_TAGS - 1),
            ));
        }
        prev = stack(prev, ty, i)?;
    }
    Ok(())
}

/// Checks that `ty` may stand where it is and returns the new previous header item.
fn stack(prev: Option<ItemType>, ty: ItemType, i: usize) -> Result<Option<ItemType>, FlowError> {
    if ty == ItemType::Any {
        return Ok(None);
    }
    if !ty.is_header() {
        return Ok(prev);
    }
    if let Some(p) = prev
        && !may_follow(p, ty)
    {
        return Err(FlowError::item(
            ErrorType::Item,
            i,
            format!("{ty} cannot follow {p}{}", stack_hint(p, ty)),
        ));
    }
    Ok(Some(ty))
}

fn validate_actions(rule: &FlowRule, ctx: &Context<'_>) -> Result<(), FlowError> {
    let mut fate: Option<(usize, &Action)> = None;
    let mut metered = false;
    for (i, act) in rule.actions.iter().enumerate() {
        if act.is_fate() {
            if let Some((_, f)) = fate {
                return Err(FlowError::action(
                    ErrorType::Action,
                    i,
                    format!(
                        "more than one fate action ({} and {})",
                        f.name(),
                        act.name()
                    ),
                ));
            }
            fate = Some((i, act));
        }
        check_action(rule, act, i, ctx)?;
        if let Action::Meter { mtr_id } = act {
            let Some(policy) = (ctx.meter_policy)(*mtr_id) else {
                return Err(FlowError::action(
                    ErrorType::ActionConf,
                    i,
                    format!("no meter {mtr_id}"),
                )
                .with_errno(libc::ENOENT));
            };
            // The policy's actions run as the rule's: the same checks, named by the METER.
            for color in Color::ALL {
                for a in policy.of(color) {
                    check_action(rule, a, i, ctx).map_err(|mut e| {
                        e.message =
                            format!("meter {mtr_id}'s {} actions: {}", color.name(), e.message);
                        e
                    })?;
                }
            }
            metered = true;
        }
    }
    let pattern: Vec<ItemType> = rule.pattern.iter().map(|it| it.ty).collect();
    crate::tunnel::plan(&rule.actions, Some(&pattern)).map_err(|(i, msg)| {
        let kind = if matches!(rule.actions[i], Action::VxlanDecap | Action::NvgreDecap) {
            ErrorType::Action
        } else {
            ErrorType::ActionConf
        };
        FlowError::action(kind, i, msg)
    })?;
    if fate.is_none() && !metered && (rule.attr.ingress || rule.attr.transfer) {
        return Err(FlowError::new(
            ErrorType::ActionNum,
            None,
            "the rule has no fate action (queue, rss, drop, jump, passthru, port_id, \
             represented_port or a meter with a policy)",
        ));
    }
    Ok(())
}

/// The checks of one action against the rule's direction and the port.
fn check_action(
    rule: &FlowRule,
    act: &Action,
    i: usize,
    ctx: &Context<'_>,
) -> Result<(), FlowError> {
    let ingress_side = rule.attr.ingress || rule.attr.transfer;
    let ingress_only = matches!(
        act,
        Action::Queue { .. } | Action::Rss(_) | Action::Mark { .. } | Action::Flag
    );
    if ingress_only && !ingress_side {
        return Err(FlowError::action(
            ErrorType::Action,
            i,
            format!("{} is for ingress rules", act.name()),
        )
        .with_errno(libc::ENOTSUP));
    }
    match act {
        Action::Queue { index } if *index >= ctx.nb_rx_queues => Err(FlowError::action(
            ErrorType::ActionConf,
            i,
            format!(
                "queue index {index} out of range ({} rx queues)",
                ctx.nb_rx_queues
            ),
        )),
        Action::Rss(rss) => validate_rss(rss, i, ctx),
        Action::PortId { id, .. } if *id as usize >= MAX_ETHPORTS => Err(FlowError::action(
            ErrorType::ActionConf,
            i,
            format!("port id {id} out of range (0 to {})", MAX_ETHPORTS - 1),
        )),
        Action::RepresentedPort { port_id } if *port_id as usize >= MAX_ETHPORTS => {
            Err(FlowError::action(
                ErrorType::ActionConf,
                i,
                format!("port id {port_id} out of range (0 to {})", MAX_ETHPORTS - 1),
            ))
        }
        Action::Jump { group } if *group == rule.attr.group => Err(FlowError::action(
            ErrorType::ActionConf,
            i,
            format!("jump to its own group {group} is a loop"),
        )),
        Action::SetTag { index, .. } if *index as usize >= MAX_TAGS => Err(FlowError::action(
            ErrorType::ActionConf,
            i,
            format!("tag index {index} out of range (0 to {})", MAX_TAGS - 1),
        )),
        Action::Age { timeout: 0, .. } => Err(FlowError::action(
            ErrorType::ActionConf,
            i,
            "AGE timeout 0: the timeout is 1 to 16777215 seconds",
        )),
        Action::Age { timeout, .. } if *timeout > crate::age::MAX_AGE_TIMEOUT => {
            Err(FlowError::action(
                ErrorType::ActionConf,
                i,
                format!("AGE timeout {timeout} above 16777215 seconds"),
            ))
        }
        Action::Age { .. }
            if rule.actions[..i]
                .iter()
                .any(|a| matches!(a, Action::Age { .. })) =>
        {
            Err(
                FlowError::action(ErrorType::Action, i, "more than one AGE action")
                    .with_errno(libc::ENOTSUP),
            )
        }
        Action::Indirect { handle } if !(ctx.indirect_exists)(*handle) => Err(FlowError::action(
            ErrorType::ActionConf,
            i,
            format!("no indirect action #{handle}"),
        )
        .with_errno(libc::ENOENT)),
        _ => check_rewrite(rule, act, i),
    }
}

/// The pattern items a legacy rewrite needs (DPDK: "If flow pattern does not define a valid
/// RTE_FLOW_ITEM_TYPE_..., then the PMD should return a RTE_FLOW_ERROR_TYPE_ACTION error").
fn needs(act: &Action) -> &'static [ItemType] {
    use ItemType::*;
    match act {
        Action::SetMacSrc { .. } | Action::SetMacDst { .. } => &[Eth],
        Action::SetIpv4Src { .. } | Action::SetIpv4Dst { .. } | Action::SetIpv4Dscp { .. } => {
            &[Ipv4]
        }
        Action::SetIpv6Src { .. } | Action::SetIpv6Dst { .. } | Action::SetIpv6Dscp { .. } => {
            &[Ipv6]
        }
        Action::SetTpSrc { .. } | Action::SetTpDst { .. } => &[Tcp, Udp],
        Action::SetTtl { .. } | Action::DecTtl => &[Ipv4, Ipv6],
        _ => &[],
    }
}

/// The checks of the header rewrites and VLAN actions.
fn check_rewrite(rule: &FlowRule, act: &Action, i: usize) -> Result<(), FlowError> {
    let conf = |m: String| Err(FlowError::action(ErrorType::ActionConf, i, m));
    let need = needs(act);
    if !need.is_empty() && !rule.pattern.iter().any(|it| need.contains(&it.ty)) {
        let names: Vec<String> = need.iter().map(|t| t.to_string()).collect();
        return Err(FlowError::action(
            ErrorType::Action,
            i,
            format!(
                "{}: the pattern has no {} item",
                act.name(),
                names.join(" or ")
            ),
        ));
    }
    match act {
        Action::OfSetVlanVid { vlan_vid } if *vlan_vid > 0x0fff => {
            conf(format!("VLAN id {vlan_vid} out of range (0 to 4095)"))
        }
        Action::OfSetVlanPcp { vlan_pcp } if *vlan_pcp > 7 => {
            conf(format!("VLAN priority {vlan_pcp} out of range (0 to 7)"))
        }
        Action::OfSetVlanVid { .. } | Action::OfSetVlanPcp { .. } => {
            let pushed = rule.actions[..i]
                .iter()
                .any(|a| matches!(a, Action::OfPushVlan { .. }));
            if pushed || rule.pattern.iter().any(|it| it.ty == ItemType::Vlan) {
                Ok(())
            } else {
                Err(FlowError::action(
                    ErrorType::Action,
                    i,
                    format!(
                        "{} needs a VLAN item in the pattern or an OF_PUSH_VLAN before it",
                        act.name()
                    ),
                ))
            }
        }
        Action::OfPushVlan { ethertype } if !TPIDS.contains(ethertype) => conf(format!(
            "OF_PUSH_VLAN ethertype {ethertype:#x} is not a VLAN TPID (0x8100, 0x88a8, 0x9100)"
        )),
        Action::ModifyField(m) => check_modify(m, i),
        _ => Ok(()),
    }
}

/// The TPIDs OF_PUSH_VLAN takes.
const TPIDS: [u16; 3] = [0x8100, 0x88a8, 0x9100];

fn check_modify(m: &ModifyField, i: usize) -> Result<(), FlowError> {
    let err = |kind, errno, msg: String| Err(FlowError::action(kind, i, msg).with_errno(errno));
    let field = |d: &ModifyData, what: &str| -> Result<u32, FlowError> {
        let Some(w) = d.field.width() else {
            return Err(FlowError::action(
                ErrorType::ActionConf,
                i,
                format!("MODIFY_FIELD {what} {} is not supported", d.field),
            )
            .with_errno(libc::ENOTSUP));
        };
        if d.field == FieldId::Tag {
            if d.level > 7 {
                return Err(FlowError::action(
                    ErrorType::ActionConf,
                    i,
                    format!(
                        "MODIFY_FIELD {what} tag index {} out of range (0 to 7)",
                        d.level
                    ),
                ));
            }
        } else if d.level > 1 {
            return Err(FlowError::action(
                ErrorType::ActionConf,
                i,
                format!(
                    "MODIFY_FIELD {what} level {}: only the outermost headers (level 0 or 1)",
                    d.level
                ),
            )
            .with_errno(libc::ENOTSUP));
        }
        if d.offset as u64 + m.width as u64 > w as u64 {
            return Err(FlowError::action(
                ErrorType::ActionConf,
                i,
                format!(
                    "MODIFY_FIELD {what} {}: offset {} + width {} is past its {w} bits",
                    d.field, d.offset, m.width
                ),
            ));
        }
        Ok(w)
    };
    if m.width == 0 {
        return err(
            ErrorType::ActionConf,
            libc::EINVAL,
            "MODIFY_FIELD: width 0 changes nothing".into(),
        );
    }
    if m.dst.field == FieldId::Mark {
        return err(
            ErrorType::ActionConf,
            libc::ENOTSUP,
            "MODIFY_FIELD: the mark is a source only (set it with MARK)".into(),
        );
    }
    field(&m.dst, "destination")?;
    if let ModifySrc::Field(s) = &m.src {
        field(s, "source")?;
        if s.field == m.dst.field && s.level == m.dst.level && s.offset == m.dst.offset {
            return err(
                ErrorType::ActionConf,
                libc::EINVAL,
                "MODIFY_FIELD: source and destination are the same bits".into(),
            );
        }
    }
    Ok(())
}

fn validate_rss(rss: &Rss, i: usize, ctx: &Context<'_>) -> Result<(), FlowError> {
    let err = |m: String| Err(FlowError::action(ErrorType::ActionConf, i, m));
    if rss.level > 2 {
        return err(format!(
            "RSS level {} not supported (0 or 1: outer, 2: inner)",
            rss.level
        ));
    }
    if !rss.key.is_empty() && rss.key.len() != 40 {
        return err(format!("RSS key of {} bytes: it must be 40", rss.key.len()));
    }
    if rss.queues.is_empty() && ctx.nb_rx_queues == 0 {
        return err("RSS over no queue: the port has no rx queue".into());
    }
    if let Some(q) = rss.queues.iter().find(|&&q| q >= ctx.nb_rx_queues) {
        return err(format!(
            "RSS queue {q} out of range ({} rx queues)",
            ctx.nb_rx_queues
        ));
    }
    Ok(())
}
