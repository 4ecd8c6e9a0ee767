//! The template API of DPDK 22.11 (`rte_flow_configure`, pattern and actions templates,
//! template tables, `rte_flow_async_create/destroy` on flow queues, `rte_flow_push`,
//! `rte_flow_pull`) over the same engine as the synchronous calls.
//!
//! A rule made from templates is an ordinary rule of the port's [`FlowTable`]: the pattern
//! template's item types and masks with the rule's specs, the actions template's actions with
//! the rule's values where the template's masks leave them open, the table's attributes. It
//! gets its id from the same numbering as `create` (reserved when it is enqueued), shows in
//! `rules()` and `flow list`, and classifies exactly as the same rule created with `create`.
//!
//! The flow queues make insertion cheap: an operation is checked against its templates when
//! it is enqueued, and a push applies every operation waiting on the queue with one
//! publication of the classifier (see `engine/publish.rs`: the lcores see the whole batch
//! from their next burst), instead of one per rule. A push's operations then wait on the queue
//! as results, each with its user data and its status, until the application pulls them.
//!
//! ```
//! use rpdk_flow::template::{ActionsTemplateAttr, OpAttr, PatternTemplateAttr, QueueAttr, TemplateTableAttr};
//! use rpdk_flow::{Action, Attr, Direction, Fate, FlowTable, Item, ItemType, ipv4};
//! use std::net::Ipv4Addr;
//!
//! let t = FlowTable::new(0, 4);
//! t.configure(&Default::default(), &[QueueAttr { size: 64 }])?;
//! // Match the IPv4 destination; the queue index is given per rule.
//! let pt = t.pattern_template_create(
//!     None,
//!     PatternTemplateAttr { ingress: true, ..Default::default() },
//!     vec![Item::new(ItemType::Eth), ipv4::item().mask(ipv4::DST, Ipv4Addr::BROADCAST).into()],
//! )?;
//! let at = t.actions_template_create(
//!     None,
//!     ActionsTemplateAttr { ingress: true, ..Default::default() },
//!     vec![Action::Queue { index: 0 }],
//!     vec![Action::Queue { index: 0 }],
//! )?;
//! let tbl = t.template_table_create(
//!     None,
//!     TemplateTableAttr { attr: Attr { ingress: true, ..Attr::default() }, nb_flows: 1024 },
//!     &[pt],
//!     &[at],
//! )?;
//! for i in 0..4u8 {
//!     let pattern = [
//!         Item::new(ItemType::Eth),
//!         ipv4::item().is(ipv4::DST, Ipv4Addr::new(10, 0, 0, i)).into(),
//!     ];
//!     let postpone = OpAttr { postpone: true };
//!     t.async_create(0, postpone, tbl, &pattern, 0, &[Action::Queue { index: i as u16 }], 0, i as u64)?;
//! }
//! t.push(0)?;
//! let results = t.pull(0, 64)?;
//! assert_eq!(results.len(), 4);
//! assert!(results.iter().all(|r| r.status.is_success()));
//!
//! let mut frame = Vec::new();
//! etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
//!     .ipv4([10, 9, 9, 9], [10, 0, 0, 3], 64)
//!     .udp(1000, 2000)
//!     .write(&mut frame, b"hi")
//!     .unwrap();
//! assert_eq!(t.classify_frame(Direction::Ingress, &frame, 0).fate, Fate::Queue(3));
//! # Ok::<(), rpdk_flow::FlowError>(())
//! ```

use crate::action::{Action, Attr};
use crate::error::{Cause, ErrorType, FlowError};
use crate::item::{Item, ItemType};
use crate::rule::FlowRule;
use crate::table::{BatchOp, FlowTable};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// The port's flow engine resources asked for (`struct rte_flow_port_attr`). The software
/// engine needs no preallocation: the numbers are recorded and reported back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortAttr {
    /// Counters (`nb_counters`).
    pub nb_counters: u32,
    /// Aging objects (`nb_aging_objects`).
    pub nb_aging_objects: u32,
    /// Meter actions (`nb_meters`).
    pub nb_meters: u32,
    /// Connection tracking objects (`nb_conn_tracks`).
    pub nb_conn_tracks: u32,
    /// `flags` (`RTE_FLOW_PORT_FLAG_*`).
    pub flags: u32,
}

/// One flow queue's attributes (`struct rte_flow_queue_attr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueAttr {
    /// How many operations it holds: enqueued, pushed and not yet pulled.
    pub size: u32,
}

/// A pattern template's attributes (`struct rte_flow_pattern_template_attr`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PatternTemplateAttr {
    /// Items without a mask are left out of the rules (DPDK: matching skips the protocol
    /// layers given without masks); otherwise such an item matches the layer's presence.
    pub relaxed_matching: bool,
    /// For ingress rules.
    pub ingress: bool,
    /// For egress rules.
    pub egress: bool,
    /// For transfer rules.
    pub transfer: bool,
}

/// An actions template's attributes (`struct rte_flow_actions_template_attr`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ActionsTemplateAttr {
    /// For ingress rules.
    pub ingress: bool,
    /// For egress rules.
    pub egress: bool,
    /// For transfer rules.
    pub transfer: bool,
}

/// A template table's attributes (`struct rte_flow_template_table_attr`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TemplateTableAttr {
    /// The attributes of every rule of the table (group, priority, direction).
    pub attr: Attr,
    /// The most rules it holds (`nb_flows`).
    pub nb_flows: u32,
}

/// An asynchronous operation's attributes (`struct rte_flow_op_attr`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OpAttr {
    /// Wait for [`FlowTable::push`]; without it, the operation and every one waiting before
    /// it on the queue are applied at once.
    pub postpone: bool,
}

/// What became of an operation (`enum rte_flow_op_status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpStatus {
    /// `RTE_FLOW_OP_SUCCESS`.
    Success,
    /// `RTE_FLOW_OP_ERROR`, and why.
    Error(FlowError),
}

impl OpStatus {
    /// Whether it is `Success`.
    pub fn is_success(&self) -> bool {
        matches!(self, OpStatus::Success)
    }
}

/// What the operation was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// `rte_flow_async_create` of this rule.
    Create(u32),
    /// `rte_flow_async_destroy` of this rule.
    Destroy(u32),
}

/// One pulled result (`struct rte_flow_op_result`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpResult {
    /// Success, or the error.
    pub status: OpStatus,
    /// The operation's user data.
    pub user_data: u64,
    /// What it was.
    pub op: OpKind,
}

struct PatternTemplate {
    attr: PatternTemplateAttr,
    items: Vec<Item>,
    tables: usize,
}

struct ActionsTemplate {
    attr: ActionsTemplateAttr,
    actions: Vec<Action>,
    /// Per action: whether the template fixes its configuration (its mask is not zero).
    fixed: Vec<bool>,
    tables: usize,
}

struct Table {
    attr: TemplateTableAttr,
    pattern_templates: Vec<u32>,
    actions_templates: Vec<u32>,
    /// Its rules (and the ones enqueued): ids that a synchronous destroy or flush removed are
    /// dropped when the table is found full or destroyed.
    rules: HashSet<u32>,
}

struct Pending {
    op: BatchOp,
    user_data: u64,
    table: Option<u32>,
}

#[derive(Default)]
struct Queue {
    size: u32,
    pending: Vec<Pending>,
    done: VecDeque<OpResult>,
}

#[derive(Default)]
struct State {
    configured: Option<PortAttr>,
    queues: Vec<Queue>,
    pattern_templates: BTreeMap<u32, PatternTemplate>,
    actions_templates: BTreeMap<u32, ActionsTemplate>,
    tables: BTreeMap<u32, Table>,
}

/// A port's template API state (in its [`FlowTable`]).
#[derive(Default)]
pub(crate) struct Templates {
    state: Mutex<State>,
}

fn err(kind: ErrorType, message: impl Into<String>) -> FlowError {
    FlowError::new(kind, None, message)
}

/// An id asked for, or one more than the highest in use (testpmd's numbering).
fn alloc_id<V>(map: &BTreeMap<u32, V>, id: Option<u32>, what: &str) -> Result<u32, FlowError> {
    match id {
        Some(i) if map.contains_key(&i) => Err(err(
            ErrorType::Unspecified,
            format!("{what} #{i} is already assigned, delete it first"),
        )
        .with_errno(libc::EEXIST)),
        Some(i) => Ok(i),
        None => match map.keys().next_back() {
            Some(&m) if m >= u32::MAX - 1 => Err(err(
                ErrorType::Unspecified,
                format!("highest {what} id is already assigned, delete it first"),
            )
            .with_errno(libc::ENOMEM)),
            Some(&m) => Ok(m + 1),
            None => Ok(0),
        },
    }
}

/// Whether a mask action is zero: every number in its configuration 0 and every flag off
/// (DPDK: a zero mask field leaves the value to each rule). Read from the configuration's
/// `Debug` form, so that it holds for every action type: a word that starts with a digit
/// and is not zero, or `true`, is a non-zero field.
fn mask_is_zero(a: &Action) -> bool {
    let s = format!("{a:?}");
    let conf = match s.find(['{', '(']) {
        Some(i) => &s[i..],
        None => return true,
    };
    let mut word = String::new();
    let mut zero = true;
    let mut check = |w: &str| {
        if w == "true" {
            zero = false;
        } else if w.starts_with(|c: char| c.is_ascii_digit()) {
            let digits = w.strip_prefix("0x").unwrap_or(w);
            if digits
                .chars()
                .any(|c| c.is_ascii_alphanumeric() && c != '0')
            {
                zero = false;
            }
        }
    };
    for c in conf.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            check(&word);
            word.clear();
        }
    }
    check(&word);
    zero
}

fn same_type(a: &Action, b: &Action) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// The items of a pattern up to its END (END and nothing after it is dropped).
fn items(pattern: &[Item]) -> &[Item] {
    let n = pattern
        .iter()
        .position(|i| i.ty == ItemType::End)
        .unwrap_or(pattern.len());
    &pattern[..n]
}

fn covers(table: &Attr, ingress: bool, egress: bool, transfer: bool) -> bool {
    (!table.ingress || ingress) && (!table.egress || egress) && (!table.transfer || transfer)
}

fn direction_name(a: &Attr) -> &'static str {
    if a.transfer {
        "transfer"
    } else if a.egress {
        "egress"
    } else {
        "ingress"
    }
}

/// The rule that a template table's pattern and actions templates make of a rule's items and
/// actions.
fn build_rule(
    attr: Attr,
    pt: &PatternTemplate,
    at: &ActionsTemplate,
    pattern: &[Item],
    actions: &[Action],
) -> Result<FlowRule, FlowError> {
    let pattern = items(pattern);
    if pattern.len() != pt.items.len() {
        return Err(err(
            ErrorType::ItemNum,
            format!(
                "the pattern has {} items, its pattern template {}",
                pattern.len(),
                pt.items.len()
            ),
        ));
    }
    let mut rule = FlowRule {
        attr,
        pattern: Vec::with_capacity(pattern.len()),
        actions: Vec::with_capacity(actions.len()),
    };
    for (i, (t, r)) in pt.items.iter().zip(pattern).enumerate() {
        if t.ty != r.ty {
            return Err(FlowError::item(
                ErrorType::Item,
                i,
                format!(
                    "{} does not match the pattern template's {}",
                    r.ty.name(),
                    t.ty.name()
                ),
            ));
        }
        match &t.mask {
            Some(mask) => rule.pattern.push(Item {
                ty: t.ty,
                spec: Some(r.spec.clone().unwrap_or_else(|| vec![0; mask.len()])),
                last: r.last.clone(),
                mask: Some(mask.clone()),
            }),
            None if pt.attr.relaxed_matching => {}
            None => rule.pattern.push(Item::new(t.ty)),
        }
    }
    if actions.len() != at.actions.len() {
        return Err(err(
            ErrorType::ActionNum,
            format!(
                "the rule has {} actions, its actions template {}",
                actions.len(),
                at.actions.len()
            ),
        ));
    }
    for (i, ((t, r), &fixed)) in at.actions.iter().zip(actions).zip(&at.fixed).enumerate() {
        if !same_type(t, r) {
            return Err(FlowError::action(
                ErrorType::Action,
                i,
                format!(
                    "{} does not match the actions template's {}",
                    r.name(),
                    t.name()
                ),
            ));
        }
        rule.actions.push(if fixed { t.clone() } else { r.clone() });
    }
    Ok(rule)
}

impl Templates {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn configured(&self, port: u16) -> Result<(), FlowError> {
        if self.configured.is_none() {
            return Err(err(
                ErrorType::Unspecified,
                format!("flow engine on port {port} is not configured (flow configure first)"),
            ));
        }
        Ok(())
    }

    fn queue(&mut self, q: u32) -> Result<&mut Queue, FlowError> {
        let n = self.queues.len();
        self.queues.get_mut(q as usize).ok_or_else(|| {
            err(
                ErrorType::Unspecified,
                format!("flow queue {q} does not exist ({n} configured)"),
            )
        })
    }
}

impl FlowTable {
    fn tpl(&self) -> MutexGuard<'_, State> {
        self.templates.lock()
    }

    /// Sets up the port's flow queues (`rte_flow_configure`): `queues.len()` queues of the
    /// given sizes. Refused while the port is started (as DPDK: configure a stopped port), and
    /// while template tables or operations are left from an earlier configuration.
    pub fn configure(&self, attr: &PortAttr, queues: &[QueueAttr]) -> Result<(), FlowError> {
        let port = self.port_id();
        if rpdk_ethdev::Port::get(port).is_ok_and(|p| p.is_started()) {
            return Err(err(
                ErrorType::Unspecified,
                format!("port {port} is started: stop it before configuring its flow engine"),
            ));
        }
        if queues.is_empty() || queues.len() > u16::MAX as usize {
            return Err(err(
                ErrorType::Unspecified,
                format!("{} flow queues: 1 to 65535 are needed", queues.len()),
            ));
        }
        if let Some(q) = queues.iter().position(|q| q.size == 0) {
            return Err(err(
                ErrorType::Unspecified,
                format!("flow queue {q} has size 0"),
            ));
        }
        let mut s = self.tpl();
        if !s.tables.is_empty() {
            return Err(err(
                ErrorType::Unspecified,
                "template tables exist: destroy them before configuring again",
            )
            .with_errno(libc::EBUSY));
        }
        if s.queues
            .iter()
            .any(|q| !q.pending.is_empty() || !q.done.is_empty())
        {
            return Err(err(
                ErrorType::Unspecified,
                "flow queues hold operations: push and pull them before configuring again",
            )
            .with_errno(libc::EBUSY));
        }
        s.configured = Some(*attr);
        s.queues = queues
            .iter()
            .map(|q| Queue {
                size: q.size,
                ..Queue::default()
            })
            .collect();
        Ok(())
    }

    /// The configuration: port attributes and queue sizes (`None` before `configure`).
    pub fn configuration(&self) -> Option<(PortAttr, Vec<QueueAttr>)> {
        let s = self.tpl();
        let a = s.configured?;
        Some((
            a,
            s.queues
                .iter()
                .map(|q| QueueAttr { size: q.size })
                .collect(),
        ))
    }

    /// Creates a pattern template (`rte_flow_pattern_template_create`): the item types of
    /// its rules, in order, and the masks of the fields they match (an item without a mask
    /// matches the layer's presence, or with `relaxed_matching` is left out). With `id`, that
    /// id (refused if in use), else one more than the highest. The pattern is checked as a
    /// rule's would be.
    pub fn pattern_template_create(
        &self,
        id: Option<u32>,
        attr: PatternTemplateAttr,
        pattern: Vec<Item>,
    ) -> Result<u32, FlowError> {
        let mut s = self.tpl();
        s.configured(self.port_id())?;
        if !(attr.ingress || attr.egress || attr.transfer) {
            return Err(err(
                ErrorType::Attr,
                "a pattern template needs a direction (ingress, egress or transfer)",
            ));
        }
        let items = items(&pattern).to_vec();
        let t = PatternTemplate {
            attr,
            items,
            tables: 0,
        };
        // Check the shape as a rule of the template (all values 0) in each direction.
        for (on, a) in [
            (
                attr.ingress,
                Attr {
                    ingress: true,
                    ..Attr::default()
                },
            ),
            (
                attr.egress,
                Attr {
                    egress: true,
                    ..Attr::default()
                },
            ),
            (
                attr.transfer,
                Attr {
                    transfer: true,
                    ..Attr::default()
                },
            ),
        ] {
            if on {
                let rule = build_rule(
                    a,
                    &t,
                    &ActionsTemplate {
                        attr: ActionsTemplateAttr::default(),
                        actions: vec![Action::Drop],
                        fixed: vec![true],
                        tables: 0,
                    },
                    &t.items,
                    &[Action::Drop],
                )?;
                self.validate(&rule)?;
            }
        }
        let id = alloc_id(&s.pattern_templates, id, "pattern template")?;
        s.pattern_templates.insert(id, t);
        Ok(id)
    }

    /// Destroys a pattern template no template table uses
    /// (`rte_flow_pattern_template_destroy`).
    pub fn pattern_template_destroy(&self, id: u32) -> Result<(), FlowError> {
        let mut s = self.tpl();
        match s.pattern_templates.get(&id) {
            None => Err(
                err(ErrorType::Unspecified, format!("no pattern template #{id}"))
                    .with_errno(libc::ENOENT),
            ),
            Some(t) if t.tables > 0 => Err(err(
                ErrorType::Unspecified,
                format!(
                    "pattern template #{id} is used by {} template table(s)",
                    t.tables
                ),
            )
            .with_errno(libc::EBUSY)),
            Some(_) => {
                s.pattern_templates.remove(&id);
                Ok(())
            }
        }
    }

    /// Creates an actions template (`rte_flow_actions_template_create`): the actions of its
    /// rules in order, and per action a mask of the same type: a mask whose configuration is
    /// not zero fixes the template's configuration for every rule, a zero one leaves it to
    /// each rule.
    pub fn actions_template_create(
        &self,
        id: Option<u32>,
        attr: ActionsTemplateAttr,
        actions: Vec<Action>,
        masks: Vec<Action>,
    ) -> Result<u32, FlowError> {
        let mut s = self.tpl();
        s.configured(self.port_id())?;
        if !(attr.ingress || attr.egress || attr.transfer) {
            return Err(err(
                ErrorType::Attr,
                "an actions template needs a direction (ingress, egress or transfer)",
            ));
        }
        if actions.len() != masks.len() {
            return Err(err(
                ErrorType::ActionNum,
                format!(
                    "{} actions and {} masks: one mask per action is needed",
                    actions.len(),
                    masks.len()
                ),
            ));
        }
        for (i, (a, m)) in actions.iter().zip(&masks).enumerate() {
            if !same_type(a, m) {
                return Err(FlowError::action(
                    ErrorType::Action,
                    i,
                    format!("the mask of {} is {}", a.name(), m.name()),
                ));
            }
        }
        let fixed = masks.iter().map(|m| !mask_is_zero(m)).collect();
        let id = alloc_id(&s.actions_templates, id, "actions template")?;
        s.actions_templates.insert(
            id,
            ActionsTemplate {
                attr,
                actions,
                fixed,
                tables: 0,
            },
        );
        Ok(id)
    }

    /// Destroys an actions template no template table uses
    /// (`rte_flow_actions_template_destroy`).
    pub fn actions_template_destroy(&self, id: u32) -> Result<(), FlowError> {
        let mut s = self.tpl();
        match s.actions_templates.get(&id) {
            None => Err(
                err(ErrorType::Unspecified, format!("no actions template #{id}"))
                    .with_errno(libc::ENOENT),
            ),
            Some(t) if t.tables > 0 => Err(err(
                ErrorType::Unspecified,
                format!(
                    "actions template #{id} is used by {} template table(s)",
                    t.tables
                ),
            )
            .with_errno(libc::EBUSY)),
            Some(_) => {
                s.actions_templates.remove(&id);
                Ok(())
            }
        }
    }

    /// Creates a template table (`rte_flow_template_table_create`): rules of the attributes
    /// `attr.attr`, at most `attr.nb_flows` of them, each made of one of the pattern templates
    /// and one of the actions templates (by their index in these lists). The templates must
    /// be for the table's direction.
    pub fn template_table_create(
        &self,
        id: Option<u32>,
        attr: TemplateTableAttr,
        pattern_templates: &[u32],
        actions_templates: &[u32],
    ) -> Result<u32, FlowError> {
        let mut s = self.tpl();
        s.configured(self.port_id())?;
        let a = &attr.attr;
        if [a.ingress, a.egress, a.transfer]
            .iter()
            .filter(|&&d| d)
            .count()
            != 1
        {
            return Err(FlowError::new(
                ErrorType::Attr,
                Some(Cause::Attr),
                "a template table needs one direction (ingress, egress or transfer)",
            ));
        }
        if attr.nb_flows == 0 {
            return Err(err(ErrorType::Unspecified, "a template table of 0 rules"));
        }
        if pattern_templates.is_empty() || actions_templates.is_empty() {
            return Err(err(
                ErrorType::Unspecified,
                "a template table needs a pattern template and an actions template",
            ));
        }
        if pattern_templates.len() > u8::MAX as usize || actions_templates.len() > u8::MAX as usize
        {
            return Err(err(
                ErrorType::Unspecified,
                "a template table takes at most 255 templates of each kind",
            ));
        }
        for &p in pattern_templates {
            let Some(t) = s.pattern_templates.get(&p) else {
                return Err(
                    err(ErrorType::Unspecified, format!("no pattern template #{p}"))
                        .with_errno(libc::ENOENT),
                );
            };
            if !covers(a, t.attr.ingress, t.attr.egress, t.attr.transfer) {
                return Err(err(
                    ErrorType::Attr,
                    format!(
                        "pattern template #{p} is not for {} rules",
                        direction_name(a)
                    ),
                ));
            }
        }
        for &p in actions_templates {
            let Some(t) = s.actions_templates.get(&p) else {
                return Err(
                    err(ErrorType::Unspecified, format!("no actions template #{p}"))
                        .with_errno(libc::ENOENT),
                );
            };
            if !covers(a, t.attr.ingress, t.attr.egress, t.attr.transfer) {
                return Err(err(
                    ErrorType::Attr,
                    format!(
                        "actions template #{p} is not for {} rules",
                        direction_name(a)
                    ),
                ));
            }
        }
        let id = alloc_id(&s.tables, id, "template table")?;
        for p in pattern_templates {
            if let Some(t) = s.pattern_templates.get_mut(p) {
                t.tables += 1;
            }
        }
        for p in actions_templates {
            if let Some(t) = s.actions_templates.get_mut(p) {
                t.tables += 1;
            }
        }
        s.tables.insert(
            id,
            Table {
                attr,
                pattern_templates: pattern_templates.to_vec(),
                actions_templates: actions_templates.to_vec(),
                rules: HashSet::new(),
            },
        );
        Ok(id)
    }

    /// Destroys a template table that has no rules left (`rte_flow_template_table_destroy`).
    pub fn template_table_destroy(&self, id: u32) -> Result<(), FlowError> {
        let mut s = self.tpl();
        let pending = pending_of(&s, id);
        let Some(t) = s.tables.get_mut(&id) else {
            return Err(
                err(ErrorType::Unspecified, format!("no template table #{id}"))
                    .with_errno(libc::ENOENT),
            );
        };
        t.rules.retain(|r| pending.contains(r) || self.has_rule(*r));
        if !t.rules.is_empty() {
            return Err(err(
                ErrorType::Unspecified,
                format!("template table #{id} has {} rule(s)", t.rules.len()),
            )
            .with_errno(libc::EBUSY));
        }
        let t = s.tables.remove(&id).expect("looked up above");
        for p in &t.pattern_templates {
            if let Some(x) = s.pattern_templates.get_mut(p) {
                x.tables -= 1;
            }
        }
        for p in &t.actions_templates {
            if let Some(x) = s.actions_templates.get_mut(p) {
                x.tables -= 1;
            }
        }
        Ok(())
    }

    /// Enqueues the creation of a rule of template table `table` on flow queue `queue`
    /// (`rte_flow_async_create`): `pattern` gives the specs of the items of the table's
    /// pattern template `pattern_template_index` (same types, same order), `actions` the
    /// actions of its actions template `actions_template_index` (their configurations where
    /// the template leaves them open). Returns the rule's id. The rule is checked against its
    /// templates here, and as `create` checks rules when the queue is pushed; the outcome
    /// comes with [`FlowTable::pull`], `user_data` with it.
    #[allow(clippy::too_many_arguments)]
    pub fn async_create(
        &self,
        queue: u32,
        op: OpAttr,
        table: u32,
        pattern: &[Item],
        pattern_template_index: u8,
        actions: &[Action],
        actions_template_index: u8,
        user_data: u64,
    ) -> Result<u32, FlowError> {
        let mut s = self.tpl();
        s.configured(self.port_id())?;
        room(s.queue(queue)?, queue)?;
        let Some(t) = s.tables.get(&table) else {
            return Err(err(
                ErrorType::Unspecified,
                format!("no template table #{table}"),
            )
            .with_errno(libc::ENOENT));
        };
        let (Some(&pi), Some(&ai)) = (
            t.pattern_templates.get(pattern_template_index as usize),
            t.actions_templates.get(actions_template_index as usize),
        ) else {
            return Err(err(
                ErrorType::Unspecified,
                format!(
                    "template index out of range: table #{table} has {} pattern and {} actions templates",
                    t.pattern_templates.len(),
                    t.actions_templates.len()
                ),
            ));
        };
        let rule = build_rule(
            t.attr.attr,
            &s.pattern_templates[&pi],
            &s.actions_templates[&ai],
            pattern,
            actions,
        )?;
        let nb_flows = t.attr.nb_flows;
        if t.rules.len() >= nb_flows as usize {
            let pending = pending_of(&s, table);
            let t = s.tables.get_mut(&table).expect("looked up above");
            t.rules.retain(|r| pending.contains(r) || self.has_rule(*r));
            if t.rules.len() >= nb_flows as usize {
                return Err(err(
                    ErrorType::Unspecified,
                    format!("template table #{table} is full ({nb_flows} rules)"),
                )
                .with_errno(libc::ENOSPC));
            }
        }
        let id = self.reserve_id()?;
        s.tables
            .get_mut(&table)
            .expect("looked up above")
            .rules
            .insert(id);
        s.queue(queue)?.pending.push(Pending {
            op: BatchOp::Create { id, rule },
            user_data,
            table: Some(table),
        });
        if !op.postpone {
            self.push_locked(&mut s, queue);
        }
        Ok(id)
    }

    /// Enqueues the destruction of rule `rule` on flow queue `queue`
    /// (`rte_flow_async_destroy`); the rule goes when the queue is pushed (any rule: one of a
    /// template table, or one of `create`).
    pub fn async_destroy(
        &self,
        queue: u32,
        op: OpAttr,
        rule: u32,
        user_data: u64,
    ) -> Result<(), FlowError> {
        let mut s = self.tpl();
        s.configured(self.port_id())?;
        room(s.queue(queue)?, queue)?;
        let enqueued = || {
            s.queues.iter().any(|q| {
                q.pending
                    .iter()
                    .any(|p| matches!(p.op, BatchOp::Create { id, .. } if id == rule))
            })
        };
        if !self.has_rule(rule) && !enqueued() {
            return Err(FlowError::new(
                ErrorType::Handle,
                Some(Cause::Rule(rule)),
                format!("no flow rule #{rule}"),
            )
            .with_errno(libc::ENOENT));
        }
        s.queue(queue)?.pending.push(Pending {
            op: BatchOp::Destroy { id: rule },
            user_data,
            table: None,
        });
        if !op.postpone {
            self.push_locked(&mut s, queue);
        }
        Ok(())
    }

    /// Applies the operations waiting on flow queue `queue` (`rte_flow_push`), all with one
    /// publication of the classifier; their results wait for [`FlowTable::pull`].
    pub fn push(&self, queue: u32) -> Result<(), FlowError> {
        let mut s = self.tpl();
        s.configured(self.port_id())?;
        s.queue(queue)?;
        self.push_locked(&mut s, queue);
        Ok(())
    }

    fn push_locked(&self, s: &mut State, queue: u32) {
        let Ok(q) = s.queue(queue) else { return };
        let pending = std::mem::take(&mut q.pending);
        if pending.is_empty() {
            return;
        }
        let mut meta = Vec::with_capacity(pending.len());
        let ops: Vec<BatchOp> = pending
            .into_iter()
            .map(|p| {
                let kind = match &p.op {
                    BatchOp::Create { id, .. } => OpKind::Create(*id),
                    BatchOp::Destroy { id } => OpKind::Destroy(*id),
                };
                meta.push((kind, p.user_data, p.table));
                p.op
            })
            .collect();
        let results = self.apply_batch(ops);
        for ((op, user_data, table), r) in meta.into_iter().zip(results) {
            match (op, &r) {
                (OpKind::Create(id), Err(_)) => {
                    if let Some(t) = table.and_then(|t| s.tables.get_mut(&t)) {
                        t.rules.remove(&id);
                    }
                }
                (OpKind::Destroy(id), Ok(())) => {
                    for t in s.tables.values_mut() {
                        if t.rules.remove(&id) {
                            break;
                        }
                    }
                }
                _ => {}
            }
            let status = match r {
                Ok(()) => OpStatus::Success,
                Err(e) => OpStatus::Error(e),
            };
            if let Ok(q) = s.queue(queue) {
                q.done.push_back(OpResult {
                    status,
                    user_data,
                    op,
                });
            }
        }
    }

    /// Takes up to `max` results of pushed operations from flow queue `queue`
    /// (`rte_flow_pull`), oldest first.
    pub fn pull(&self, queue: u32, max: usize) -> Result<Vec<OpResult>, FlowError> {
        let mut s = self.tpl();
        s.configured(self.port_id())?;
        let q = s.queue(queue)?;
        let n = max.min(q.done.len());
        Ok(q.done.drain(..n).collect())
    }

    /// The pattern templates: id, attributes, items.
    pub fn pattern_templates(&self) -> Vec<(u32, PatternTemplateAttr, Vec<Item>)> {
        self.tpl()
            .pattern_templates
            .iter()
            .map(|(&i, t)| (i, t.attr, t.items.clone()))
            .collect()
    }

    /// The actions templates: id, attributes, actions, and per action whether the template
    /// fixes its configuration.
    pub fn actions_templates(&self) -> Vec<(u32, ActionsTemplateAttr, Vec<Action>, Vec<bool>)> {
        self.tpl()
            .actions_templates
            .iter()
            .map(|(&i, t)| (i, t.attr, t.actions.clone(), t.fixed.clone()))
            .collect()
    }

    /// The template tables: id, attributes, pattern and actions template ids.
    pub fn template_tables(&self) -> Vec<(u32, TemplateTableAttr, Vec<u32>, Vec<u32>)> {
        self.tpl()
            .tables
            .iter()
            .map(|(&i, t)| {
                (
                    i,
                    t.attr,
                    t.pattern_templates.clone(),
                    t.actions_templates.clone(),
                )
            })
            .collect()
    }
}

/// Refuses an operation when the queue holds `size` (enqueued and unpulled).
fn room(q: &Queue, queue: u32) -> Result<(), FlowError> {
    if q.pending.len() + q.done.len() >= q.size as usize {
        return Err(err(
            ErrorType::Unspecified,
            format!(
                "flow queue {queue} is full ({} operations): push and pull it first",
                q.size
            ),
        )
        .with_errno(libc::ENOMEM));
    }
    Ok(())
}

/// The ids of enqueued creations of table `table`.
fn pending_of(s: &State, table: u32) -> HashSet<u32> {
    s.queues
        .iter()
        .flat_map(|q| &q.pending)
        .filter(|p| p.table == Some(table))
        .filter_map(|p| match p.op {
            BatchOp::Create { id, .. } => Some(id),
            BatchOp::Destroy { .. } => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_masks() {
        assert!(mask_is_zero(&Action::Queue { index: 0 }));
        assert!(!mask_is_zero(&Action::Queue { index: 0xffff }));
        assert!(mask_is_zero(&Action::Drop));
        assert!(mask_is_zero(&Action::Rss(Default::default())));
        assert!(!mask_is_zero(&Action::Rss(crate::Rss {
            queues: vec![0, 1],
            ..Default::default()
        })));
        assert!(mask_is_zero(&Action::PortId {
            id: 0,
            original: false
        }));
        assert!(!mask_is_zero(&Action::PortId {
            id: 0,
            original: true
        }));
        assert!(!mask_is_zero(&Action::Mark { id: 1 }));
    }
}
