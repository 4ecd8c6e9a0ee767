//! The checks `rte_flow_validate` makes before a rule goes in: attributes, how items stack,
//! spec/last/mask, and each action against the port.

use crate::action::{Action, Rss};
use crate::error::{Cause, ErrorType, FlowError};
use crate::item::{ItemType, get_field};
use crate::meter::{Color, MeterPolicy};
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
        if let Some(m) = &it.mask {
            if m.len() != spec.len() {
                return Err(FlowError::item(
                    ErrorType::ItemMask,
                    i,
                    format!("{ty}: mask is {} bytes, the spec {}", m.len(), spec.len()),
                ));
            }
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
        if ty == ItemType::Tag && spec[4] as usize >= 8 {
            return Err(FlowError::item(
                ErrorType::ItemSpec,
                i,
                format!("TAG index {} out of range (0 to 7)", spec[4]),
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
    if let Some(p) = prev {
        if !may_follow(p, ty) {
            return Err(FlowError::item(
                ErrorType::Item,
                i,
                format!("{ty} cannot follow {p}{}", stack_hint(p, ty)),
            ));
        }
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
        _ => Ok(()),
    }
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
