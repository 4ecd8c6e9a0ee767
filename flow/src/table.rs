//! A port's flow rules: the rte_flow calls (validate, create, destroy, flush, query, isolate,
//! dev_dump, indirect actions) and the burst classifier the port's software stage calls.

use crate::action::{Action, Attr, IndirectAction};
use crate::edit::ReadOnly;
use crate::engine::compile::{self, Compiled, Direction};
use crate::engine::counters::Counters;
use crate::engine::publish::{Published, slot};
use crate::engine::{Ctx, Engine, Fate, Scratch, Verdict};
use crate::error::{Cause, ErrorType, FlowError};
use crate::matcher::PatternMatch;
use crate::meter::{Meter, MeterPolicy, MeterTable, MtrError};
use crate::packet::Meta;
use crate::rule::FlowRule;
use crate::validate::{self, Context};
use rpdk_mbuf::{Mbuf, OlFlags};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A COUNT query's result (`struct rte_flow_query_count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CountQuery {
    /// `hits` is valid.
    pub hits_set: bool,
    /// `bytes` is valid.
    pub bytes_set: bool,
    /// Packets counted.
    pub hits: u64,
    /// Bytes counted.
    pub bytes: u64,
}

struct RuleEntry {
    rule: FlowRule,
    compiled: Arc<Compiled>,
    /// Counters of its COUNT actions (not the indirect ones).
    counters: Vec<u32>,
}

struct Indirect {
    attr: Attr,
    action: IndirectAction,
    counter: u32,
    users: usize,
}

struct Control {
    rules: BTreeMap<u32, RuleEntry>,
    indirect: BTreeMap<u32, Indirect>,
    seq: u64,
    /// Jump edges (from, to) -> how many rules, per direction.
    jumps: [HashMap<(u32, u32), usize>; 3],
    /// Ids given to rules whose creation is enqueued on a flow queue (the template API) and
    /// not pushed yet: `create` numbers past them.
    reserved: BTreeSet<u32>,
}

/// One operation of a batch ([`FlowTable::apply_batch`]): the template API's pushed queue.
pub(crate) enum BatchOp {
    /// Creates `rule` with the id reserved for it.
    Create { id: u32, rule: FlowRule },
    /// Destroys a rule.
    Destroy { id: u32 },
}

/// The flow rules of one port, and their classifier.
///
/// Control calls (create, destroy, ...) take a mutex and may wait for the classifying lcores to
/// finish their current burst; `classify` takes no lock and allocates nothing.
pub struct FlowTable {
    port_id: u16,
    nb_rx_queues: AtomicU16,
    /// Hairpin RX queues, numbered after the normal ones (`hairpin.rs`).
    pub(crate) nb_hairpin: AtomicU16,
    isolated: AtomicBool,
    engine: Published<Engine>,
    counters: Counters,
    meters: MeterTable,
    /// Packets dropped because a packet-modifying action could not change them.
    edit_drops: AtomicU64,
    /// The rules' AGE actions (`age.rs`).
    pub(crate) ages: Arc<crate::age::Aging>,
    control: Mutex<Control>,
    /// The template API's state: flow queues, templates, template tables.
    pub(crate) templates: crate::template::Templates,
}

impl FlowTable {
    /// The table of port `port_id`, whose rx queues QUEUE and RSS actions may name.
    pub fn new(port_id: u16, nb_rx_queues: u16) -> FlowTable {
        FlowTable {
            port_id,
            nb_rx_queues: AtomicU16::new(nb_rx_queues),
            nb_hairpin: AtomicU16::new(0),
            isolated: AtomicBool::new(false),
            engine: Published::new(Engine::default()),
            counters: Counters::new(),
            meters: MeterTable::new(),
            edit_drops: AtomicU64::new(0),
            ages: crate::age::Aging::new(port_id),
            control: Mutex::new(Control {
                rules: BTreeMap::new(),
                indirect: BTreeMap::new(),
                seq: 0,
                jumps: Default::default(),
                reserved: BTreeSet::new(),
            }),
            templates: Default::default(),
        }
    }

    /// The port.
    pub fn port_id(&self) -> u16 {
        self.port_id
    }

    /// The port's meter profiles, policies and meter objects (`rte_mtr_*`), which METER
    /// actions name. A meter's policy changes for its rules through
    /// [`FlowTable::meter_policy_update`].
    pub fn meters(&self) -> &MeterTable {
        &self.meters
    }

    /// The policy of meter `mtr_id`, as its rules run it.
    fn meter_policy(&self, mtr_id: u32) -> Option<MeterPolicy> {
        let (_, policy) = self.meters.meter_ids(mtr_id).ok()?;
        self.meters.policy(policy)
    }

    /// Sets how many rx queues the port has (after a reconfiguration); existing rules keep
    /// their queues.
    pub fn set_nb_rx_queues(&self, n: u16) {
        self.nb_rx_queues.store(n, Ordering::Relaxed);
    }

    /// The port's rx queue count the rules are checked against.
    pub fn nb_rx_queues(&self) -> u16 {
        self.nb_rx_queues.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check(&self, c: &Control, rule: &FlowRule) -> Result<(), FlowError> {
        let ctx = Context {
            nb_rx_queues: self.nb_rx_queues() + self.nb_hairpin_queues(),
            indirect_exists: &|h| c.indirect.contains_key(&h),
            meter_policy: &|m| self.meter_policy(m),
        };
        validate::validate(rule, &ctx)?;
        self.check_hairpin(rule)?;
        // A jump loop: an edge from -> to closes one when `to` already reaches `from`.
        let dir = Direction::of(&rule.attr);
        let edges = &c.jumps[dir.index()];
        let from = rule.attr.group;
        for (i, a) in rule.actions.iter().enumerate() {
            if let Action::Jump { group: to } = a {
                let mut seen = vec![*to];
                let mut stack = vec![*to];
                while let Some(g) = stack.pop() {
                    if g == from {
                        return Err(FlowError::action(
                            ErrorType::ActionConf,
                            i,
                            format!(
                                "jump from group {from} to group {to} makes a loop: group {to} already leads to group {from}"
                            ),
                        ));
                    }
                    for &(f, t) in edges.keys() {
                        if f == g && !seen.contains(&t) {
                            seen.push(t);
                            stack.push(t);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks a rule as `create` would, without creating it (`rte_flow_validate`).
    pub fn validate(&self, rule: &FlowRule) -> Result<(), FlowError> {
        let c = self.lock();
        self.check(&c, rule)
    }

    /// Creates a rule (`rte_flow_create`) and returns its id: one more than the highest id in
    /// use, 0 for the first, as testpmd numbers rules. Packets classified after this returns
    /// see it.
    pub fn create(&self, rule: FlowRule) -> Result<u32, FlowError> {
        let mut c = self.lock();
        self.check(&c, &rule)?;
        let id = Self::next_id(&c)?;
        self.insert_checked(&mut c, id, rule, None)?;
        Ok(id)
    }

    /// One more than the highest id in use or reserved.
    fn next_id(c: &Control) -> Result<u32, FlowError> {
        let max = c
            .rules
            .keys()
            .next_back()
            .into_iter()
            .chain(c.reserved.iter().next_back())
            .max();
        match max {
            Some(&max) if max == u32::MAX => {
                Err(
                    FlowError::new(ErrorType::Handle, None, "highest rule id in use")
                        .with_errno(libc::ENOSPC),
                )
            }
            Some(&max) => Ok(max + 1),
            None => Ok(0),
        }
    }

    /// Reserves the id the next rule gets, for a creation enqueued on a flow queue.
    pub(crate) fn reserve_id(&self) -> Result<u32, FlowError> {
        let mut c = self.lock();
        let id = Self::next_id(&c)?;
        c.reserved.insert(id);
        Ok(id)
    }

    /// Whether rule `id` exists.
    pub(crate) fn has_rule(&self, id: u32) -> bool {
        self.lock().rules.contains_key(&id)
    }

    /// Applies a batch of creations (with reserved ids) and destructions, in order, with one
    /// publication to the classifying lcores for the whole batch: they see all of it from
    /// their next burst, or none of it. Each operation succeeds or fails alone (a creation is
    /// checked as `create` checks it, against the rules before it in the batch).
    pub(crate) fn apply_batch(&self, ops: Vec<BatchOp>) -> Vec<Result<(), FlowError>> {
        let mut c = self.lock();
        let mut publish = Vec::with_capacity(ops.len());
        let mut freed = Vec::new();
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            results.push(match op {
                BatchOp::Create { id, rule } => {
                    c.reserved.remove(&id);
                    if c.rules.contains_key(&id) {
                        Err(FlowError::new(
                            ErrorType::Handle,
                            Some(Cause::Rule(id)),
                            format!("flow rule #{id} exists"),
                        )
                        .with_errno(libc::EEXIST))
                    } else {
                        self.check(&c, &rule).and_then(|()| {
                            self.insert_checked(&mut c, id, rule, Some(&mut publish))
                        })
                    }
                }
                BatchOp::Destroy { id } => match c.rules.remove(&id) {
                    None => Err(no_rule(id)),
                    Some(e) => {
                        publish.push((false, e.compiled.clone()));
                        self.unlink(&mut c, &e);
                        // Freed once no lcore can count into them any more.
                        freed.extend(e.counters);
                        Ok(())
                    }
                },
            });
        }
        if !publish.is_empty() {
            self.engine.write(|en| {
                for (insert, r) in &publish {
                    if *insert {
                        en.insert(r);
                    } else {
                        en.remove(r);
                    }
                }
            });
        }
        freed.iter().for_each(|&i| self.counters.free(i));
        results
    }

    /// Creates a checked rule under id `id`: published now, or, with `batch`, added to it for
    /// the caller to publish.
    fn insert_checked(
        &self,
        c: &mut Control,
        id: u32,
        rule: FlowRule,
        batch: Option<&mut Vec<(bool, Arc<Compiled>)>>,
    ) -> Result<(), FlowError> {
        let mut counters = Vec::new();
        let mut failed = false;
        let mut meter_error = None;
        let steps = {
            let indirect = &c.indirect;
            compile::steps(
                &rule.actions,
                self.nb_rx_queues(),
                |a| match a {
                    Action::Count { .. } => match self.counters.alloc() {
                        Some(i) => {
                            counters.push(i);
                            Some(i)
                        }
                        None => {
                            failed = true;
                            None
                        }
                    },
                    Action::Indirect { handle } => indirect.get(handle).map(|h| h.counter),
                    _ => None,
                },
                |m| match self.attach_meter(m) {
                    Ok(x) => Some(x),
                    Err(e) => {
                        meter_error.get_or_insert(e);
                        None
                    }
                },
            )
        };
        if failed || meter_error.is_some() {
            counters.iter().for_each(|&i| self.counters.free(i));
            if let Some(e) = meter_error {
                let i = rule
                    .actions
                    .iter()
                    .position(|a| matches!(a, Action::Meter { .. }))
                    .unwrap_or(0);
                return Err(
                    FlowError::action(ErrorType::ActionConf, i, e.message).with_errno(e.errno)
                );
            }
            return Err(
                FlowError::action(ErrorType::Action, 0, "no counter left").with_errno(libc::ENOSPC)
            );
        }
        for a in &rule.actions {
            if let Action::Indirect { handle } = a
                && let Some(h) = c.indirect.get_mut(handle)
            {
                h.users += 1;
            }
        }
        if rule.actions.iter().any(sets_meta) {
            // Where SET_META's value reaches the application (without room for it, the rules
            // still see it).
            let _ = crate::dynf::dynf_metadata_register();
        }
        let mut steps = steps;
        let age = rule.actions.iter().find_map(|a| match a {
            Action::Age { timeout, context } => Some((*timeout, *context)),
            _ => None,
        });
        let age_cell = age.map(|_| {
            let cell = crate::age::Aging::cell();
            steps.insert(0, compile::Step::Age(cell.clone()));
            cell
        });
        let pattern = PatternMatch::new(&rule.pattern);
        let dir = Direction::of(&rule.attr);
        c.seq += 1;
        let compiled = Arc::new(Compiled {
            id,
            order: (rule.attr.priority, c.seq),
            group: rule.attr.group,
            dir,
            fast: compile::fast(&pattern),
            pattern,
            steps,
        });
        for a in &rule.actions {
            if let Action::Jump { group } = a {
                *c.jumps[dir.index()]
                    .entry((rule.attr.group, *group))
                    .or_default() += 1;
            }
        }
        if let (Some((timeout, context)), Some(cell)) = (age, age_cell) {
            self.ages.add(id, cell, timeout, context);
        }
        match batch {
            Some(b) => b.push((true, compiled.clone())),
            None => self.engine.write(|e| e.insert(&compiled)),
        }
        c.rules.insert(
            id,
            RuleEntry {
                rule,
                compiled,
                counters,
            },
        );
        Ok(())
    }

    /// A METER's meter for a new rule (refused when it is not shared and a rule has it) and
    /// its policy.
    fn attach_meter(&self, mtr_id: u32) -> Result<(Arc<Meter>, MeterPolicy), MtrError> {
        let meter = self.meters.attach(mtr_id)?;
        let (_, policy) = self.meters.meter_ids(mtr_id)?;
        let policy = self.meters.policy(policy).unwrap_or_default();
        Ok((meter, policy))
    }

    /// `rte_mtr_meter_policy_update` for the port's rules: meter `mtr_id` takes policy
    /// `policy_id`, and the rules that meter with it run the new policy from the next burst
    /// on. Refused, with nothing changed, when the policy does not suit one of those rules
    /// (a queue the port lacks, an action of the wrong direction).
    pub fn meter_policy_update(&self, mtr_id: u32, policy_id: u32) -> Result<(), FlowError> {
        let to_flow =
            |e: MtrError| FlowError::new(ErrorType::Action, None, e.message).with_errno(e.errno);
        let mut c = self.lock();
        let policy = self.meters.policy(policy_id).ok_or_else(|| {
            FlowError::new(
                ErrorType::Action,
                None,
                format!("meter policy {policy_id} does not exist"),
            )
            .with_errno(libc::ENOENT)
        })?;
        let meter = self.meters.get(mtr_id).ok_or_else(|| {
            FlowError::new(
                ErrorType::Action,
                None,
                format!("meter {mtr_id} does not exist"),
            )
            .with_errno(libc::ENOENT)
        })?;
        let users: Vec<u32> = c
            .rules
            .iter()
            .filter(|(_, e)| e.rule.actions.contains(&Action::Meter { mtr_id }))
            .map(|(&id, _)| id)
            .collect();
        // Check every rule against the new policy before changing anything.
        for id in &users {
            let rule = &c.rules[id].rule;
            let ctx = Context {
                nb_rx_queues: self.nb_rx_queues() + self.nb_hairpin_queues(),
                indirect_exists: &|h| c.indirect.contains_key(&h),
                meter_policy: &|m| {
                    if m == mtr_id {
                        Some(policy.clone())
                    } else {
                        self.meter_policy(m)
                    }
                },
            };
            validate::validate(rule, &ctx)?;
        }
        self.meters
            .policy_update(mtr_id, policy_id)
            .map_err(to_flow)?;
        for id in users {
            let e = c.rules.get(&id).expect("listed above");
            let mut own = e.counters.iter();
            let mut steps = compile::steps(
                &e.rule.actions,
                self.nb_rx_queues(),
                |a| match a {
                    Action::Count { .. } => own.next().copied(),
                    Action::Indirect { handle } => c.indirect.get(handle).map(|h| h.counter),
                    _ => None,
                },
                |m| {
                    let meter = if m == mtr_id {
                        meter.clone()
                    } else {
                        self.meters.get(m)?
                    };
                    Some((meter, self.meter_policy(m).unwrap_or_default()))
                },
            );
            if let Some(cell) = self.ages.cell_of(id) {
                steps.insert(0, compile::Step::Age(cell));
            }
            let old = e.compiled.clone();
            let new = Arc::new(Compiled {
                id: old.id,
                order: old.order,
                group: old.group,
                dir: old.dir,
                pattern: old.pattern.clone(),
                fast: old.fast.clone(),
                steps,
            });
            self.engine.write(|en| {
                en.remove(&old);
                en.insert(&new);
            });
            c.rules.get_mut(&id).expect("listed above").compiled = new;
        }
        Ok(())
    }

    fn unlink(&self, c: &mut Control, e: &RuleEntry) {
        let dir = e.compiled.dir;
        for a in &e.rule.actions {
            match a {
                Action::Jump { group } => {
                    let k = (e.rule.attr.group, *group);
                    let edges = &mut c.jumps[dir.index()];
                    if let Some(n) = edges.get_mut(&k) {
                        *n -= 1;
                        if *n == 0 {
                            edges.remove(&k);
                        }
                    }
                }
                Action::Indirect { handle } => {
                    if let Some(h) = c.indirect.get_mut(handle) {
                        h.users -= 1;
                    }
                }
                _ => {}
            }
        }
    }

    /// Destroys a rule (`rte_flow_destroy`). When this returns, no lcore still runs it.
    pub fn destroy(&self, id: u32) -> Result<(), FlowError> {
        let mut c = self.lock();
        let Some(e) = c.rules.remove(&id) else {
            return Err(no_rule(id));
        };
        self.engine.write(|en| en.remove(&e.compiled));
        self.ages.remove(id);
        self.unlink(&mut c, &e);
        e.counters.iter().for_each(|&i| self.counters.free(i));
        Ok(())
    }

    /// Destroys every rule (`rte_flow_flush`); indirect actions stay.
    pub fn flush(&self) -> Result<(), FlowError> {
        let mut c = self.lock();
        self.engine.write(Engine::clear);
        self.ages.clear();
        let rules = std::mem::take(&mut c.rules);
        for e in rules.values() {
            self.unlink(&mut c, e);
            e.counters.iter().for_each(|&i| self.counters.free(i));
        }
        Ok(())
    }

    /// The rule's first COUNT action's counts (`rte_flow_query`), reset to zero after when
    /// `reset`.
    pub fn query_count(&self, id: u32, reset: bool) -> Result<CountQuery, FlowError> {
        let c = self.lock();
        let Some(e) = c.rules.get(&id) else {
            return Err(FlowError::new(
                ErrorType::Handle,
                Some(Cause::Rule(id)),
                format!("no flow rule #{id}"),
            )
            .with_errno(libc::ENOENT));
        };
        let Some(&ctr) = e.counters.first() else {
            return Err(FlowError::new(
                ErrorType::Action,
                Some(Cause::Rule(id)),
                "the rule has no COUNT action",
            )
            .with_errno(libc::ENOTSUP));
        };
        let (hits, bytes) = self.counters.query(ctr, reset);
        Ok(CountQuery {
            hits_set: true,
            bytes_set: true,
            hits,
            bytes,
        })
    }

    /// Restricts ingress traffic to the rules (`rte_flow_isolate`): packets no ingress rule
    /// matches get [`crate::Fate::Isolated`].
    pub fn isolate(&self, on: bool) -> Result<(), FlowError> {
        self.isolated.store(on, Ordering::Relaxed);
        Ok(())
    }

    /// Whether the port is isolated.
    pub fn is_isolated(&self) -> bool {
        self.isolated.load(Ordering::Relaxed)
    }

    /// The rules, by id.
    pub fn rules(&self) -> Vec<(u32, FlowRule)> {
        self.lock()
            .rules
            .iter()
            .map(|(&id, e)| (id, e.rule.clone()))
            .collect()
    }

    /// A rule by id.
    pub fn rule(&self, id: u32) -> Option<FlowRule> {
        self.lock().rules.get(&id).map(|e| e.rule.clone())
    }

    /// Creates an indirect action (`rte_flow_action_handle_create`): with `id`, that id
    /// (refused if in use), else one more than the highest. Rules use it with
    /// [`Action::Indirect`].
    pub fn action_handle_create(
        &self,
        id: Option<u32>,
        attr: Attr,
        action: IndirectAction,
    ) -> Result<u32, FlowError> {
        let mut c = self.lock();
        let id = match id {
            Some(i) if c.indirect.contains_key(&i) => {
                return Err(FlowError::new(
                    ErrorType::Action,
                    Some(Cause::Indirect(i)),
                    format!("indirect action #{i} is already assigned, delete it first"),
                )
                .with_errno(libc::EEXIST));
            }
            Some(i) => i,
            None => c
                .indirect
                .keys()
                .next_back()
                .map_or(0, |m| m.saturating_add(1)),
        };
        let IndirectAction::Count = action;
        let Some(counter) = self.counters.alloc() else {
            return Err(
                FlowError::new(ErrorType::Action, None, "no counter left").with_errno(libc::ENOSPC)
            );
        };
        c.indirect.insert(
            id,
            Indirect {
                attr,
                action,
                counter,
                users: 0,
            },
        );
        Ok(id)
    }

    /// Destroys an indirect action no rule uses (`rte_flow_action_handle_destroy`).
    pub fn action_handle_destroy(&self, id: u32) -> Result<(), FlowError> {
        let mut c = self.lock();
        match c.indirect.get(&id) {
            None => Err(FlowError::new(
                ErrorType::Action,
                Some(Cause::Indirect(id)),
                format!("no indirect action #{id}"),
            )
            .with_errno(libc::ENOENT)),
            Some(h) if h.users > 0 => Err(FlowError::new(
                ErrorType::Action,
                Some(Cause::Indirect(id)),
                format!("indirect action #{id} is used by {} rule(s)", h.users),
            )
            .with_errno(libc::EBUSY)),
            Some(h) => {
                self.counters.free(h.counter);
                c.indirect.remove(&id);
                Ok(())
            }
        }
    }

    /// An indirect counter's counts (`rte_flow_action_handle_query`).
    pub fn action_handle_query(&self, id: u32, reset: bool) -> Result<CountQuery, FlowError> {
        let c = self.lock();
        let Some(h) = c.indirect.get(&id) else {
            return Err(FlowError::new(
                ErrorType::Action,
                Some(Cause::Indirect(id)),
                format!("no indirect action #{id}"),
            )
            .with_errno(libc::ENOENT));
        };
        let (hits, bytes) = self.counters.query(h.counter, reset);
        Ok(CountQuery {
            hits_set: true,
            bytes_set: true,
            hits,
            bytes,
        })
    }

    /// The indirect actions: id, attributes, action.
    pub fn action_handles(&self) -> Vec<(u32, Attr, IndirectAction)> {
        self.lock()
            .indirect
            .iter()
            .map(|(&i, h)| (i, h.attr, h.action.clone()))
            .collect()
    }

    /// A text dump of the rules (one, or all) and of the engine's tables
    /// (`rte_flow_dev_dump`).
    pub fn dev_dump(&self, id: Option<u32>) -> Result<String, FlowError> {
        let c = self.lock();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "port {} flow engine: software (tuple space search)",
            self.port_id
        );
        let rules: Vec<_> = match id {
            Some(i) => match c.rules.get(&i) {
                Some(e) => vec![(i, e)],
                None => {
                    return Err(FlowError::new(
                        ErrorType::Handle,
                        Some(Cause::Rule(i)),
                        format!("no flow rule #{i}"),
                    )
                    .with_errno(libc::ENOENT));
                }
            },
            None => c.rules.iter().map(|(&i, e)| (i, e)).collect(),
        };
        for (i, e) in rules {
            let path = if e.compiled.fast.is_some() {
                "hash"
            } else {
                "list"
            };
            let _ = writeln!(
                out,
                "rule #{i}: group {} priority {} {} ({path}): {}",
                e.rule.attr.group,
                e.rule.attr.priority,
                e.rule.attr.flags(),
                crate::syntax::rule_text(&e.rule)
            );
        }
        if id.is_none() {
            self.engine.inspect(|en| {
                for (dir, name) in [
                    (Direction::Ingress, "ingress"),
                    (Direction::Egress, "egress"),
                    (Direction::Transfer, "transfer"),
                ] {
                    for (g, t, s, l) in en.stats(dir) {
                        let _ = writeln!(
                            out,
                            "{name} group {g}: {t} tuples, {s} shapes, {l} listed rules"
                        );
                    }
                }
            });
        }
        Ok(out)
    }

    /// Whether `dir` has rules: a stage can skip `classify` without (it returns the default
    /// anyway, at the cost of a parse per packet).
    pub fn has_rules(&self, dir: Direction) -> bool {
        self.engine.read(|e| e.has_rules(dir)) || (dir == Direction::Ingress && self.is_isolated())
    }

    fn ctx(&self, dir: Direction) -> Ctx<'_> {
        Ctx {
            counters: &self.counters,
            slot: slot(),
            isolated: dir != Direction::Egress && self.is_isolated(),
            now: rpdk_eal::time::rdtsc(),
        }
    }

    /// Packets the rules dropped because a packet-modifying action could not change them (too
    /// short for what it removes, no headroom for what it adds).
    pub fn edit_drops(&self) -> u64 {
        self.edit_drops.load(Ordering::Relaxed)
    }

    /// Counts a verdict's failed edit (rare: an atomic add only then).
    #[inline]
    fn count_edit(&self, v: &Verdict) {
        if v.edit_failed {
            self.edit_drops.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Classifies one frame that came in on (or goes out of) `port`. The frame is not changed:
    /// packet-modifying actions are skipped (the steps and groups after them see the frame as
    /// it is); [`FlowTable::classify`] applies them to mbufs.
    pub fn classify_frame(&self, dir: Direction, frame: &[u8], port: u16) -> Verdict {
        let ctx = self.ctx(dir);
        self.engine.read(|e| {
            let meta = Meta {
                port,
                ..Meta::default()
            };
            e.run(
                dir,
                &mut ReadOnly(frame),
                meta,
                &ctx,
                &mut Scratch::default(),
            )
        })
    }

    /// Classifies a burst: one verdict per packet in `out` (which must be as long), and the
    /// mbufs get what MARK, FLAG and RSS set (`hash.fdir.hi` with `RTE_MBUF_F_RX_FDIR |
    /// RTE_MBUF_F_RX_FDIR_ID`, `RTE_MBUF_F_RX_FDIR`, `hash.rss` with
    /// `RTE_MBUF_F_RX_RSS_HASH`). Headers are read from each packet's first segment. No lock,
    /// no allocation.
    pub fn classify(&self, dir: Direction, pkts: &mut [Mbuf], out: &mut [Verdict]) {
        let ctx = self.ctx(dir);
        for m in pkts.iter().take(PREFETCH) {
            m.prefetch_data();
        }
        let mut scratch = Scratch::default();
        self.engine.read(|e| {
            for i in 0..pkts.len().min(out.len()) {
                if let Some(next) = pkts.get(i + PREFETCH) {
                    next.prefetch_data();
                }
                let (m, v) = (&mut pkts[i], &mut out[i]);
                let meta = Meta {
                    port: m.port(),
                    // An application's TX metadata, for the META items of egress rules.
                    meta: if dir == Direction::Egress {
                        crate::dynf::dynf_metadata(m).unwrap_or(0)
                    } else {
                        0
                    },
                    ..Meta::default()
                };
                *v = e.run(dir, m, meta, &ctx, &mut scratch);
                self.count_edit(v);
                apply(m, v);
            }
        });
    }
}

impl FlowTable {
    /// The stage's RX classification of packets received on `port`: the transfer rules first
    /// (the switch domain), then, for a packet they leave to the default fate, the ingress
    /// rules; one parse per packet. Marks and flags of both add up (the ingress rule's mark
    /// wins). PORT_ID items see `port` (a driver may leave `mbuf.port` unset).
    pub(crate) fn classify_rx(&self, port: u16, pkts: &mut [Mbuf], out: &mut [Verdict]) {
        let (t, i) = self.engine.read(|e| {
            (
                e.has_rules(Direction::Transfer),
                e.has_rules(Direction::Ingress),
            )
        });
        let isolated = self.is_isolated();
        let slot = slot();
        let now = rpdk_eal::time::rdtsc();
        let tctx = Ctx {
            counters: &self.counters,
            slot,
            isolated: false,
            now,
        };
        let ictx = Ctx {
            counters: &self.counters,
            slot,
            isolated,
            now,
        };
        for m in pkts.iter().take(PREFETCH) {
            m.prefetch_data();
        }
        let mut scratch = Scratch::default();
        self.engine.read(|e| {
            for k in 0..pkts.len().min(out.len()) {
                if let Some(next) = pkts.get(k + PREFETCH) {
                    next.prefetch_data();
                }
                let (m, v) = (&mut pkts[k], &mut out[k]);
                let meta = Meta {
                    port,
                    ..Meta::default()
                };
                let tv = if t {
                    e.run(Direction::Transfer, m, meta, &tctx, &mut scratch)
                } else {
                    Verdict::default()
                };
                *v = if tv.fate != Fate::Default {
                    tv
                } else if i || isolated {
                    let meta = Meta {
                        mark: tv.mark,
                        ..meta
                    };
                    let mut iv = e.run(Direction::Ingress, m, meta, &ictx, &mut scratch);
                    if iv.fate == Fate::Isolated && tv != Verdict::default() {
                        // A transfer rule matched: the packet is not unmatched.
                        iv.fate = Fate::Default;
                    }
                    Verdict {
                        mark: iv.mark.or(tv.mark),
                        flag: iv.flag || tv.flag,
                        rss_hash: iv.rss_hash.or(tv.rss_hash),
                        meta: iv.meta.or(tv.meta),
                        ..iv
                    }
                } else {
                    tv
                };
                self.count_edit(v);
                apply(m, v);
            }
        });
    }
}

/// The error for an unknown rule id.
fn no_rule(id: u32) -> FlowError {
    FlowError::new(
        ErrorType::Handle,
        Some(Cause::Rule(id)),
        format!("no flow rule #{id}"),
    )
    .with_errno(libc::ENOENT)
}

/// Packets whose first data line is asked for ahead of their classification: the parse then
/// finds their headers in the cache (a burst's frames are usually cold in a forwarding loop's
/// pool-sized working set).
const PREFETCH: usize = 4;

/// Whether an action sets the packet's metadata (SET_META, MODIFY_FIELD into META).
fn sets_meta(a: &Action) -> bool {
    match a {
        Action::SetMeta { .. } => true,
        Action::ModifyField(m) => m.dst.field == crate::modify::FieldId::Meta,
        _ => false,
    }
}

/// Writes MARK, FLAG and the RSS hash into the mbuf.
#[inline]
fn apply(m: &mut Mbuf, v: &Verdict) {
    if let Some(id) = v.mark {
        m.set_fdir_id(id);
    } else if v.flag {
        m.set_ol_flags(m.ol_flags() | OlFlags::RX_FDIR);
    }
    if let Some(h) = v.rss_hash {
        m.set_rss_hash(h);
    }
    if let Some(x) = v.meta {
        crate::dynf::set_dynf_metadata(m, x);
    }
}
