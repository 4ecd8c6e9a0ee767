//! Meter policies (`struct rte_mtr_meter_policy_params`): the actions a rule's packets get for
//! each colour their meter gives them.

use super::color::Color;
use super::error::{MtrError, MtrErrorType};
use crate::Action;

/// The actions for each colour, in [`Color::ALL`]'s order. An empty list leaves the packet to
/// the rest of the rule's actions; a list with a fate (DROP, QUEUE, RSS, PORT_ID,
/// REPRESENTED_PORT, JUMP) decides where the packet goes instead.
///
/// ```
/// use rpdk_flow::Action;
/// use rpdk_flow::meter::{Color, MeterPolicy};
///
/// // testpmd: add port meter policy 0 1 g_actions end y_actions mark id 1 / end r_actions drop / end
/// let p = MeterPolicy::new()
///     .actions(Color::Yellow, vec![Action::Mark { id: 1 }])
///     .actions(Color::Red, vec![Action::Drop]);
/// assert!(p.validate(1).is_ok());
/// assert!(p.of(Color::Green).is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MeterPolicy {
    actions: [Vec<Action>; 3],
}

impl MeterPolicy {
    /// A policy with no actions for any colour.
    pub fn new() -> MeterPolicy {
        MeterPolicy::default()
    }

    /// Sets the actions of `color`.
    pub fn actions(mut self, color: Color, actions: Vec<Action>) -> MeterPolicy {
        self.actions[color as usize] = actions;
        self
    }

    /// The actions of `color`.
    pub fn of(&self, color: Color) -> &[Action] {
        &self.actions[color as usize]
    }

    /// Checks what each colour's list may hold: actions that mark, count or decide the fate,
    /// at most one fate per colour, no PASSTHRU (a colour's fate is final), no indirect action,
    /// no COUNT (the meter's statistics count per colour) and no METER
    /// (`rte_mtr_meter_policy_validate`). `id` is the policy named in errors.
    pub fn validate(&self, id: u32) -> Result<(), MtrError> {
        for color in Color::ALL {
            let kind = match color {
                Color::Green => MtrErrorType::PolicerActionGreen,
                Color::Yellow => MtrErrorType::PolicerActionYellow,
                Color::Red => MtrErrorType::PolicerActionRed,
            };
            let mut fate: Option<&Action> = None;
            for (i, a) in self.of(color).iter().enumerate() {
                let bad = |why: String| {
                    MtrError::new(kind, Some(i as u64), format!("policy {id}: {why}"))
                };
                match a {
                    Action::Passthru
                    | Action::Indirect { .. }
                    | Action::Count { .. }
                    | Action::Age { .. }
                    | Action::Meter { .. }
                    | Action::OfPopVlan
                    | Action::RawDecap(_)
                    | Action::RawEncap(_)
                    | Action::VxlanDecap
                    | Action::VxlanEncap { .. }
                    | Action::NvgreDecap
                    | Action::NvgreEncap { .. } => {
                        return Err(bad(format!(
                            "{} actions: {} is not allowed in a meter policy",
                            color.name(),
                            a.name()
                        ))
                        .errno(libc::ENOTSUP));
                    }
                    // The header rewrites and VLAN actions: edits, not in policies (yet).
                    _ if crate::rewrite::Rewrite::of(a).is_some() => {
                        return Err(bad(format!(
                            "{} actions: {} is not allowed in a meter policy",
                            color.name(),
                            a.name()
                        ))
                        .errno(libc::ENOTSUP));
                    }
                    _ if a.is_fate() => {
                        if let Some(f) = fate {
                            return Err(bad(format!(
                                "{} actions: {} after {}: one fate per colour",
                                color.name(),
                                a.name(),
                                f.name()
                            )));
                        }
                        fate = Some(a);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_two_fates_passthru_and_indirect() {
        let two = MeterPolicy::new().actions(
            Color::Yellow,
            vec![Action::Queue { index: 1 }, Action::Void, Action::Drop],
        );
        let e = two.validate(3).unwrap_err();
        assert_eq!(
            (e.kind, e.cause),
            (MtrErrorType::PolicerActionYellow, Some(2))
        );
        assert!(e.message.contains("DROP after QUEUE"), "{}", e.message);
        let e = MeterPolicy::new()
            .actions(Color::Red, vec![Action::Passthru])
            .validate(3)
            .unwrap_err();
        assert_eq!(
            (e.kind, e.errno),
            (MtrErrorType::PolicerActionRed, libc::ENOTSUP)
        );
        let e = MeterPolicy::new()
            .actions(Color::Green, vec![Action::Indirect { handle: 0 }])
            .validate(3)
            .unwrap_err();
        assert_eq!(e.kind, MtrErrorType::PolicerActionGreen);
        let ok = MeterPolicy::new()
            .actions(
                Color::Green,
                vec![Action::Mark { id: 1 }, Action::Queue { index: 0 }],
            )
            .actions(Color::Red, vec![Action::Flag, Action::Drop]);
        let e = MeterPolicy::new()
            .actions(Color::Red, vec![Action::Count { id: 0 }])
            .validate(3)
            .unwrap_err();
        assert!(e.message.contains("COUNT is not allowed"), "{}", e.message);
        assert!(ok.validate(3).is_ok());
    }
}
