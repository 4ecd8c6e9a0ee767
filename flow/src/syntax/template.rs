//! testpmd's template API commands (DPDK 22.11's `cmdline_flow.c`): `flow configure`,
//! `flow pattern_template`, `flow actions_template`, `flow template_table`, `flow queue ...
//! create|destroy`, `flow push` and `flow pull`, parsed into [`TemplateCommand`]s that print
//! back as they parse, and run with testpmd 22.11's replies ([`execute_template`]).
//!
//! ```
//! use rpdk_flow::syntax::{TemplateCommand, parse_template};
//!
//! let line = "flow queue 0 create 0 template_table 1 pattern_template 0 actions_template 0 postpone no pattern eth / ipv4 dst is 10.0.0.1 / end actions queue index 1 / end";
//! let cmd = parse_template(line)?;
//! assert!(matches!(cmd, TemplateCommand::QueueCreate { table: 1, .. }));
//! assert_eq!(cmd.to_string(), line);
//! # Ok::<(), rpdk_flow::syntax::SyntaxError>(())
//! ```

use super::SyntaxError;
use super::cli::Output;
use super::parse::{R, Words, action, item};
use super::print;
use crate::action::{Action, Attr};
use crate::item::{Item, ItemType};
use crate::table::FlowTable;
use crate::template::{
    ActionsTemplateAttr, OpAttr, PatternTemplateAttr, PortAttr, QueueAttr, TemplateTableAttr,
};
use std::fmt::{self, Write as _};
use std::sync::Arc;

/// The `flow` subcommands of the template API.
const HEADS: [&str; 6] = [
    "configure",
    "pattern_template",
    "actions_template",
    "template_table",
    "push",
    "pull",
];

/// Whether `line` is one of the template API's `flow` commands (for [`execute_template`];
/// [`super::execute`] hands them over itself).
pub fn is_template_command(line: &str) -> bool {
    let mut w = line.split_whitespace();
    if w.next() != Some("flow") {
        return false;
    }
    match w.next() {
        Some("queue") => {
            // `flow queue PORT create|destroy ...`
            matches!(w.nth(1), Some("create" | "destroy"))
        }
        Some(h) => HEADS.contains(&h),
        None => false,
    }
}

/// One template API command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateCommand {
    /// `flow configure PORT queues_number N queues_size N [counters_number N]
    /// [aging_counters_number N] [meters_number N] [conn_tracks_number N] [flags N]`.
    Configure {
        /// The port.
        port: u16,
        /// How many flow queues.
        queues: u16,
        /// Their size.
        size: u32,
        /// The resources.
        attr: PortAttr,
    },
    /// `flow pattern_template PORT create [pattern_template_id ID] [relaxed BOOL] [ingress]
    /// [egress] [transfer] template ITEM / ... end`.
    PatternTemplateCreate {
        /// The port.
        port: u16,
        /// The id asked for.
        id: Option<u32>,
        /// The attributes.
        attr: PatternTemplateAttr,
        /// The items.
        pattern: Vec<Item>,
    },
    /// `flow pattern_template PORT destroy pattern_template ID [pattern_template ID ...]`.
    PatternTemplateDestroy {
        /// The port.
        port: u16,
        /// The ids.
        ids: Vec<u32>,
    },
    /// `flow actions_template PORT create [ingress] [egress] [transfer]
    /// [actions_template_id ID] template ACTION / ... end mask ACTION / ... end`.
    ActionsTemplateCreate {
        /// The port.
        port: u16,
        /// The id asked for.
        id: Option<u32>,
        /// The attributes.
        attr: ActionsTemplateAttr,
        /// The actions.
        actions: Vec<Action>,
        /// Their masks.
        masks: Vec<Action>,
    },
    /// `flow actions_template PORT destroy actions_template ID [actions_template ID ...]`.
    ActionsTemplateDestroy {
        /// The port.
        port: u16,
        /// The ids.
        ids: Vec<u32>,
    },
    /// `flow template_table PORT create [table_id ID] [group G] [priority P] [ingress]
    /// [egress] [transfer] [rules_number N] pattern_template ID [...] actions_template ID
    /// [...]`.
    TableCreate {
        /// The port.
        port: u16,
        /// The id asked for.
        id: Option<u32>,
        /// The attributes.
        attr: TemplateTableAttr,
        /// The pattern templates.
        pattern_templates: Vec<u32>,
        /// The actions templates.
        actions_templates: Vec<u32>,
    },
    /// `flow template_table PORT destroy table ID [table ID ...]`.
    TableDestroy {
        /// The port.
        port: u16,
        /// The ids.
        ids: Vec<u32>,
    },
    /// `flow queue PORT create QUEUE template_table T pattern_template I actions_template J
    /// postpone BOOL pattern ITEM / ... end actions ACTION / ... end`.
    QueueCreate {
        /// The port.
        port: u16,
        /// The flow queue.
        queue: u32,
        /// The template table.
        table: u32,
        /// The pattern template's index in the table.
        pattern_template: u8,
        /// The actions template's index in the table.
        actions_template: u8,
        /// `postpone`.
        postpone: bool,
        /// The items.
        pattern: Vec<Item>,
        /// The actions.
        actions: Vec<Action>,
    },
    /// `flow queue PORT destroy QUEUE [postpone BOOL] rule ID [rule ID ...]` (22.11.0 takes
    /// no `postpone` there, later 22.11 releases do; both are read).
    QueueDestroy {
        /// The port.
        port: u16,
        /// The flow queue.
        queue: u32,
        /// `postpone`, when given.
        postpone: Option<bool>,
        /// The rule ids.
        rules: Vec<u32>,
    },
    /// `flow push PORT queue QUEUE`.
    Push {
        /// The port.
        port: u16,
        /// The flow queue.
        queue: u32,
    },
    /// `flow pull PORT queue QUEUE`.
    Pull {
        /// The port.
        port: u16,
        /// The flow queue.
        queue: u32,
    },
}

impl TemplateCommand {
    /// The port it is for.
    pub fn port(&self) -> u16 {
        match self {
            TemplateCommand::Configure { port, .. }
            | TemplateCommand::PatternTemplateCreate { port, .. }
            | TemplateCommand::PatternTemplateDestroy { port, .. }
            | TemplateCommand::ActionsTemplateCreate { port, .. }
            | TemplateCommand::ActionsTemplateDestroy { port, .. }
            | TemplateCommand::TableCreate { port, .. }
            | TemplateCommand::TableDestroy { port, .. }
            | TemplateCommand::QueueCreate { port, .. }
            | TemplateCommand::QueueDestroy { port, .. }
            | TemplateCommand::Push { port, .. }
            | TemplateCommand::Pull { port, .. } => *port,
        }
    }
}

fn items(w: &mut Words<'_>) -> R<Vec<Item>> {
    let mut v = Vec::new();
    loop {
        let at = w.i;
        let t = w.next("an item or \"end\"")?;
        if t == "end" {
            return Ok(v);
        }
        let Some(ty) = ItemType::from_token(t).filter(|&t| t != ItemType::End) else {
            return w.err(at, "unknown pattern item");
        };
        v.push(item(w, ty)?);
    }
}

fn actions(w: &mut Words<'_>) -> R<Vec<Action>> {
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

fn ids(w: &mut Words<'_>, word: &str, what: &str) -> R<Vec<u32>> {
    let mut v = Vec::new();
    w.expect(word)?;
    v.push(w.u32(what)?);
    while w.eat(word) {
        v.push(w.u32(what)?);
    }
    Ok(v)
}

/// Parses one template API command line.
pub fn parse_template(line: &str) -> Result<TemplateCommand, SyntaxError> {
    let mut w = Words {
        w: line.split_whitespace().collect(),
        i: 0,
    };
    w.expect("flow")?;
    let at = w.i;
    let cmd = match w.next("a flow command")? {
        "configure" => configure(&mut w)?,
        "pattern_template" => {
            let port = w.port()?;
            let at = w.i;
            match w.next("create or destroy")? {
                "create" => {
                    let (mut id, mut attr) = (None, PatternTemplateAttr::default());
                    loop {
                        let at = w.i;
                        match w.next("attributes or \"template\"")? {
                            "pattern_template_id" => id = Some(w.u32("a pattern template id")?),
                            "relaxed" => attr.relaxed_matching = w.boolean("a boolean")?,
                            "ingress" => attr.ingress = true,
                            "egress" => attr.egress = true,
                            "transfer" => attr.transfer = true,
                            "template" => break,
                            _ => {
                                return w.err(
                                    at,
                                    "expected pattern_template_id, relaxed, ingress, egress, transfer or template",
                                );
                            }
                        }
                    }
                    TemplateCommand::PatternTemplateCreate {
                        port,
                        id,
                        attr,
                        pattern: items(&mut w)?,
                    }
                }
                "destroy" => TemplateCommand::PatternTemplateDestroy {
                    port,
                    ids: ids(&mut w, "pattern_template", "a pattern template id")?,
                },
                _ => return w.err(at, "expected create or destroy"),
            }
        }
        "actions_template" => {
            let port = w.port()?;
            let at = w.i;
            match w.next("create or destroy")? {
                "create" => {
                    let (mut id, mut attr) = (None, ActionsTemplateAttr::default());
                    loop {
                        let at = w.i;
                        match w.next("attributes or \"template\"")? {
                            // testpmd takes the directions before the id only.
                            "ingress" if id.is_none() => attr.ingress = true,
                            "egress" if id.is_none() => attr.egress = true,
                            "transfer" if id.is_none() => attr.transfer = true,
                            "actions_template_id" if id.is_none() => {
                                id = Some(w.u32("an actions template id")?)
                            }
                            "template" => break,
                            _ => {
                                return w.err(
                                    at,
                                    "expected ingress, egress, transfer, then actions_template_id or template",
                                );
                            }
                        }
                    }
                    let actions = actions(&mut w)?;
                    w.expect("mask")?;
                    let masks = self::actions(&mut w)?;
                    TemplateCommand::ActionsTemplateCreate {
                        port,
                        id,
                        attr,
                        actions,
                        masks,
                    }
                }
                "destroy" => TemplateCommand::ActionsTemplateDestroy {
                    port,
                    ids: ids(&mut w, "actions_template", "an actions template id")?,
                },
                _ => return w.err(at, "expected create or destroy"),
            }
        }
        "template_table" => {
            let port = w.port()?;
            let at = w.i;
            match w.next("create or destroy")? {
                "create" => table_create(&mut w, port)?,
                "destroy" => TemplateCommand::TableDestroy {
                    port,
                    ids: ids(&mut w, "table", "a table id")?,
                },
                _ => return w.err(at, "expected create or destroy"),
            }
        }
        "queue" => {
            let port = w.port()?;
            let at = w.i;
            match w.next("create or destroy")? {
                "create" => {
                    let queue = w.u32("a queue id")?;
                    w.expect("template_table")?;
                    let table = w.u32("a table id")?;
                    w.expect("pattern_template")?;
                    let pattern_template =
                        w.uint("a pattern template index", u8::MAX as u128)? as u8;
                    w.expect("actions_template")?;
                    let actions_template =
                        w.uint("an actions template index", u8::MAX as u128)? as u8;
                    w.expect("postpone")?;
                    let postpone = w.boolean("a boolean")?;
                    w.expect("pattern")?;
                    let pattern = items(&mut w)?;
                    w.expect("actions")?;
                    TemplateCommand::QueueCreate {
                        port,
                        queue,
                        table,
                        pattern_template,
                        actions_template,
                        postpone,
                        pattern,
                        actions: actions(&mut w)?,
                    }
                }
                "destroy" => {
                    let queue = w.u32("a queue id")?;
                    let postpone = if w.eat("postpone") {
                        Some(w.boolean("a boolean")?)
                    } else {
                        None
                    };
                    TemplateCommand::QueueDestroy {
                        port,
                        queue,
                        postpone,
                        rules: ids(&mut w, "rule", "a rule id")?,
                    }
                }
                _ => return w.err(at, "expected create or destroy"),
            }
        }
        "push" | "pull" => {
            let pull = w.w[at] == "pull";
            let port = w.port()?;
            w.expect("queue")?;
            let queue = w.u32("a queue id")?;
            if pull {
                TemplateCommand::Pull { port, queue }
            } else {
                TemplateCommand::Push { port, queue }
            }
        }
        _ => {
            return w.err(
                at,
                "expected configure, pattern_template, actions_template, template_table, queue, push or pull",
            );
        }
    };
    w.done()?;
    Ok(cmd)
}

fn configure(w: &mut Words<'_>) -> R<TemplateCommand> {
    let port = w.port()?;
    let (mut queues, mut size, mut attr) = (0, 0, PortAttr::default());
    while let Some(t) = w.peek() {
        let at = w.i;
        w.i += 1;
        match t {
            "queues_number" => queues = w.u16("a number of queues")?,
            "queues_size" => size = w.u32("a queue size")?,
            "counters_number" => attr.nb_counters = w.u32("a number of counters")?,
            "aging_counters_number" => attr.nb_aging_objects = w.u32("a number of objects")?,
            "meters_number" => attr.nb_meters = w.u32("a number of meters")?,
            "conn_tracks_number" => attr.nb_conn_tracks = w.u32("a number of objects")?,
            "flags" => attr.flags = w.u32("flags")?,
            _ => {
                return w.err(
                    at,
                    "expected queues_number, queues_size, counters_number, aging_counters_number, meters_number, conn_tracks_number or flags",
                );
            }
        }
    }
    Ok(TemplateCommand::Configure {
        port,
        queues,
        size,
        attr,
    })
}

fn table_create(w: &mut Words<'_>, port: u16) -> R<TemplateCommand> {
    let mut id = None;
    let mut attr = TemplateTableAttr::default();
    let (mut pts, mut ats) = (Vec::new(), Vec::new());
    while let Some(t) = w.peek() {
        let at = w.i;
        w.i += 1;
        match t {
            "table_id" => id = Some(w.u32("a table id")?),
            "group" => attr.attr.group = w.u32("a group id")?,
            "priority" => attr.attr.priority = w.u32("a priority")?,
            "ingress" => attr.attr.ingress = true,
            "egress" => attr.attr.egress = true,
            "transfer" => attr.attr.transfer = true,
            "rules_number" => attr.nb_flows = w.u32("a number of rules")?,
            "pattern_template" => pts.push(w.u32("a pattern template id")?),
            "actions_template" => ats.push(w.u32("an actions template id")?),
            _ => {
                return w.err(
                    at,
                    "expected table_id, group, priority, ingress, egress, transfer, rules_number, pattern_template or actions_template",
                );
            }
        }
    }
    Ok(TemplateCommand::TableCreate {
        port,
        id,
        attr,
        pattern_templates: pts,
        actions_templates: ats,
    })
}

fn write_items(f: &mut fmt::Formatter<'_>, items: &[Item]) -> fmt::Result {
    let mut s = String::new();
    for it in items {
        print::item(&mut s, it);
        s.push_str(" / ");
    }
    write!(f, "{s}end")
}

fn write_actions(f: &mut fmt::Formatter<'_>, actions: &[Action]) -> fmt::Result {
    let mut s = String::new();
    for a in actions {
        print::action(&mut s, a);
        s.push_str(" / ");
    }
    write!(f, "{s}end")
}

fn directions(
    f: &mut fmt::Formatter<'_>,
    ingress: bool,
    egress: bool,
    transfer: bool,
) -> fmt::Result {
    for (on, w) in [
        (ingress, "ingress"),
        (egress, "egress"),
        (transfer, "transfer"),
    ] {
        if on {
            write!(f, " {w}")?;
        }
    }
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

impl fmt::Display for TemplateCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateCommand::Configure {
                port,
                queues,
                size,
                attr,
            } => {
                write!(
                    f,
                    "flow configure {port} queues_number {queues} queues_size {size}"
                )?;
                for (n, v) in [
                    ("counters_number", attr.nb_counters),
                    ("aging_counters_number", attr.nb_aging_objects),
                    ("meters_number", attr.nb_meters),
                    ("conn_tracks_number", attr.nb_conn_tracks),
                    ("flags", attr.flags),
                ] {
                    if v != 0 {
                        write!(f, " {n} {v}")?;
                    }
                }
                Ok(())
            }
            TemplateCommand::PatternTemplateCreate {
                port,
                id,
                attr,
                pattern,
            } => {
                write!(f, "flow pattern_template {port} create")?;
                if let Some(i) = id {
                    write!(f, " pattern_template_id {i}")?;
                }
                if attr.relaxed_matching {
                    write!(f, " relaxed yes")?;
                }
                directions(f, attr.ingress, attr.egress, attr.transfer)?;
                write!(f, " template ")?;
                write_items(f, pattern)
            }
            TemplateCommand::PatternTemplateDestroy { port, ids } => {
                write!(f, "flow pattern_template {port} destroy")?;
                ids.iter()
                    .try_for_each(|i| write!(f, " pattern_template {i}"))
            }
            TemplateCommand::ActionsTemplateCreate {
                port,
                id,
                attr,
                actions,
                masks,
            } => {
                write!(f, "flow actions_template {port} create")?;
                directions(f, attr.ingress, attr.egress, attr.transfer)?;
                if let Some(i) = id {
                    write!(f, " actions_template_id {i}")?;
                }
                write!(f, " template ")?;
                write_actions(f, actions)?;
                write!(f, " mask ")?;
                write_actions(f, masks)
            }
            TemplateCommand::ActionsTemplateDestroy { port, ids } => {
                write!(f, "flow actions_template {port} destroy")?;
                ids.iter()
                    .try_for_each(|i| write!(f, " actions_template {i}"))
            }
            TemplateCommand::TableCreate {
                port,
                id,
                attr,
                pattern_templates,
                actions_templates,
            } => {
                write!(f, "flow template_table {port} create")?;
                if let Some(i) = id {
                    write!(f, " table_id {i}")?;
                }
                let a: &Attr = &attr.attr;
                write!(f, " group {} priority {}", a.group, a.priority)?;
                directions(f, a.ingress, a.egress, a.transfer)?;
                write!(f, " rules_number {}", attr.nb_flows)?;
                pattern_templates
                    .iter()
                    .try_for_each(|p| write!(f, " pattern_template {p}"))?;
                actions_templates
                    .iter()
                    .try_for_each(|p| write!(f, " actions_template {p}"))
            }
            TemplateCommand::TableDestroy { port, ids } => {
                write!(f, "flow template_table {port} destroy")?;
                ids.iter().try_for_each(|i| write!(f, " table {i}"))
            }
            TemplateCommand::QueueCreate {
                port,
                queue,
                table,
                pattern_template,
                actions_template,
                postpone,
                pattern,
                actions,
            } => {
                write!(
                    f,
                    "flow queue {port} create {queue} template_table {table} pattern_template {pattern_template} actions_template {actions_template} postpone {} pattern ",
                    yes_no(*postpone)
                )?;
                write_items(f, pattern)?;
                write!(f, " actions ")?;
                write_actions(f, actions)
            }
            TemplateCommand::QueueDestroy {
                port,
                queue,
                postpone,
                rules,
            } => {
                write!(f, "flow queue {port} destroy {queue}")?;
                if let Some(p) = postpone {
                    write!(f, " postpone {}", yes_no(*p))?;
                }
                rules.iter().try_for_each(|r| write!(f, " rule {r}"))
            }
            TemplateCommand::Push { port, queue } => write!(f, "flow push {port} queue {queue}"),
            TemplateCommand::Pull { port, queue } => write!(f, "flow pull {port} queue {queue}"),
        }
    }
}

/// Parses and runs one template API line, with testpmd 22.11's replies; `table` gives a
/// port's flow table (`None`: no such port).
pub fn execute_template(line: &str, table: &dyn Fn(u16) -> Option<Arc<FlowTable>>) -> Output {
    let mut o = Output::default();
    let cmd = match parse_template(line) {
        Ok(c) => c,
        Err(e) => {
            o.out.push_str("Bad arguments\n");
            o.syntax = Some(e);
            return o;
        }
    };
    let port = cmd.port();
    let Some(t) = table(port) else {
        let _ = writeln!(o.err, "Invalid port {port}");
        return o;
    };
    let complain = |o: &mut Output, e: crate::FlowError| {
        let _ = writeln!(o.err, "{}", e.complain());
    };
    // testpmd's own checks of queue ids (against the last `flow configure`).
    let nb_queues = t.configuration().map_or(0, |(_, q)| q.len() as u32);
    let queue_size = t.configuration().map_or(0, |(_, q)| q[0].size);
    match cmd {
        TemplateCommand::Configure {
            queues, size, attr, ..
        } => {
            let q = vec![QueueAttr { size }; queues as usize];
            match t.configure(&attr, &q) {
                Ok(()) => {
                    let _ = writeln!(
                        o.out,
                        "Configure flows on port {port}: number of queues {queues} with {size} elements"
                    );
                }
                Err(e) => complain(&mut o, e),
            }
        }
        TemplateCommand::PatternTemplateCreate {
            id, attr, pattern, ..
        } => {
            if let Some(i) = id.filter(|i| t.pattern_templates().iter().any(|p| p.0 == *i)) {
                let _ = writeln!(o.out, "Template #{i} is already assigned, delete it first");
                return o;
            }
            match t.pattern_template_create(id, attr, pattern) {
                Ok(id) => {
                    let _ = writeln!(o.out, "Pattern template #{id} created");
                }
                Err(e) => complain(&mut o, e),
            }
        }
        TemplateCommand::PatternTemplateDestroy { ids, .. } => {
            let known: Vec<u32> = t.pattern_templates().iter().map(|p| p.0).collect();
            for id in ids.into_iter().filter(|i| known.contains(i)) {
                match t.pattern_template_destroy(id) {
                    Ok(()) => {
                        let _ = writeln!(o.out, "Pattern template #{id} destroyed");
                    }
                    Err(e) => complain(&mut o, e),
                }
            }
        }
        TemplateCommand::ActionsTemplateCreate {
            id,
            attr,
            actions,
            masks,
            ..
        } => {
            if let Some(i) = id.filter(|i| t.actions_templates().iter().any(|p| p.0 == *i)) {
                let _ = writeln!(o.out, "Template #{i} is already assigned, delete it first");
                return o;
            }
            match t.actions_template_create(id, attr, actions, masks) {
                Ok(id) => {
                    let _ = writeln!(o.out, "Actions template #{id} created");
                }
                Err(e) => complain(&mut o, e),
            }
        }
        TemplateCommand::ActionsTemplateDestroy { ids, .. } => {
            let known: Vec<u32> = t.actions_templates().iter().map(|p| p.0).collect();
            for id in ids.into_iter().filter(|i| known.contains(i)) {
                match t.actions_template_destroy(id) {
                    Ok(()) => {
                        let _ = writeln!(o.out, "Actions template #{id} destroyed");
                    }
                    Err(e) => complain(&mut o, e),
                }
            }
        }
        TemplateCommand::TableCreate {
            id,
            attr,
            pattern_templates,
            actions_templates,
            ..
        } => {
            let pts: Vec<u32> = t.pattern_templates().iter().map(|p| p.0).collect();
            let ats: Vec<u32> = t.actions_templates().iter().map(|p| p.0).collect();
            if let Some(p) = pattern_templates.iter().find(|p| !pts.contains(p)) {
                let _ = writeln!(o.out, "Pattern template #{p} is invalid");
                return o;
            }
            if let Some(p) = actions_templates.iter().find(|p| !ats.contains(p)) {
                let _ = writeln!(o.out, "Actions template #{p} is invalid");
                return o;
            }
            if let Some(i) = id.filter(|i| t.template_tables().iter().any(|x| x.0 == *i)) {
                let _ = writeln!(o.out, "Table #{i} is already assigned, delete it first");
                return o;
            }
            match t.template_table_create(id, attr, &pattern_templates, &actions_templates) {
                Ok(id) => {
                    let _ = writeln!(o.out, "Template table #{id} created");
                }
                Err(e) => complain(&mut o, e),
            }
        }
        TemplateCommand::TableDestroy { ids, .. } => {
            let known: Vec<u32> = t.template_tables().iter().map(|x| x.0).collect();
            for id in ids.into_iter().filter(|i| known.contains(i)) {
                match t.template_table_destroy(id) {
                    Ok(()) => {
                        let _ = writeln!(o.out, "Template table #{id} destroyed");
                    }
                    Err(e) => complain(&mut o, e),
                }
            }
        }
        TemplateCommand::QueueCreate {
            queue,
            table,
            pattern_template,
            actions_template,
            postpone,
            pattern,
            actions,
            ..
        } => {
            if queue >= nb_queues {
                let _ = writeln!(o.out, "Queue #{queue} is invalid");
                return o;
            }
            let Some((_, _, pts, ats)) = t.template_tables().into_iter().find(|x| x.0 == table)
            else {
                let _ = writeln!(o.out, "Table #{table} is invalid");
                return o;
            };
            if pattern_template as usize >= pts.len() {
                let _ = writeln!(
                    o.out,
                    "Pattern template index #{pattern_template} is invalid, {} templates present in the table",
                    pts.len()
                );
                return o;
            }
            if actions_template as usize >= ats.len() {
                let _ = writeln!(
                    o.out,
                    "Actions template index #{actions_template} is invalid, {} templates present in the table",
                    ats.len()
                );
                return o;
            }
            match t.async_create(
                queue,
                OpAttr { postpone },
                table,
                &pattern,
                pattern_template,
                &actions,
                actions_template,
                0,
            ) {
                Ok(id) => {
                    let _ = writeln!(o.out, "Flow rule #{id} creation enqueued");
                }
                Err(e) => complain(&mut o, e),
            }
        }
        TemplateCommand::QueueDestroy {
            queue,
            postpone,
            rules,
            ..
        } => {
            if queue >= nb_queues {
                let _ = writeln!(o.out, "Queue #{queue} is invalid");
                return o;
            }
            for id in rules {
                let op = OpAttr {
                    postpone: postpone.unwrap_or(false),
                };
                match t.async_destroy(queue, op, id, 0) {
                    Ok(()) => {
                        let _ = writeln!(o.out, "Flow rule #{id} destruction enqueued");
                    }
                    // testpmd skips ids it does not know.
                    Err(e) if e.errno == libc::ENOENT => {}
                    Err(e) => complain(&mut o, e),
                }
            }
        }
        TemplateCommand::Push { queue, .. } => {
            if queue >= nb_queues {
                let _ = writeln!(o.out, "Queue #{queue} is invalid");
                return o;
            }
            match t.push(queue) {
                Ok(()) => {
                    let _ = writeln!(o.out, "Queue #{queue} operations pushed");
                }
                Err(_) => o.out.push_str("Failed to push operations in the queue\n"),
            }
        }
        TemplateCommand::Pull { queue, .. } => {
            if queue >= nb_queues {
                let _ = writeln!(o.out, "Queue #{queue} is invalid");
                return o;
            }
            match t.pull(queue, queue_size as usize) {
                Ok(res) => {
                    let ok = res.iter().filter(|r| r.status.is_success()).count();
                    let _ = writeln!(
                        o.out,
                        "Queue #{queue} pulled {} operations ({} failed, {ok} succeeded)",
                        res.len(),
                        res.len() - ok
                    );
                }
                Err(_) => o.out.push_str("Failed to pull a operation results\n"),
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip() {
        for line in [
            "flow configure 0 queues_number 1 queues_size 64",
            "flow configure 1 queues_number 4 queues_size 1024 counters_number 10 flags 1",
            "flow pattern_template 0 create pattern_template_id 1 ingress template eth / ipv4 dst mask 255.255.255.255 / udp dst mask 0xffff / end",
            "flow pattern_template 0 create relaxed yes egress template eth / end",
            "flow pattern_template 0 destroy pattern_template 1 pattern_template 2",
            "flow actions_template 0 create ingress actions_template_id 1 template queue index 0 / end mask queue index 0 / end",
            "flow actions_template 0 create ingress template mark id 3 / drop / end mask mark id 4294967295 / drop / end",
            "flow actions_template 0 destroy actions_template 1",
            "flow template_table 0 create table_id 1 group 0 priority 0 ingress rules_number 64 pattern_template 1 actions_template 1",
            "flow template_table 0 create group 2 priority 1 transfer rules_number 8 pattern_template 1 pattern_template 2 actions_template 1",
            "flow template_table 0 destroy table 1 table 3",
            "flow queue 0 create 0 template_table 1 pattern_template 0 actions_template 0 postpone no pattern eth / ipv4 dst is 10.0.0.1 / end actions queue index 1 / end",
            "flow queue 0 destroy 0 rule 0 rule 1",
            "flow queue 0 destroy 0 postpone yes rule 0",
            "flow push 0 queue 0",
            "flow pull 0 queue 0",
        ] {
            assert!(is_template_command(line), "{line}");
            let c = parse_template(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(c.to_string(), line);
            assert_eq!(parse_template(&c.to_string()), Ok(c));
        }
        for line in [
            "flow create 0 ingress pattern end actions drop / end",
            "flow queue 0 aged 0",
            "flow list 0",
        ] {
            assert!(!is_template_command(line), "{line}");
        }
    }

    #[test]
    fn bad_lines_name_the_word() {
        for (line, word) in [
            (
                "flow actions_template 0 create actions_template_id 1 ingress template drop / end mask drop / end",
                "ingress",
            ),
            (
                "flow actions_template 0 create ingress template drop / end",
                "",
            ),
            (
                "flow queue 0 create 0 template_table 1 pattern_template 0 actions_template 0 pattern end actions drop / end",
                "pattern",
            ),
            ("flow push 0 queue x", "x"),
            ("flow configure 0 queues 1", "queues"),
        ] {
            let e = parse_template(line).expect_err(line);
            assert_eq!(e.token, word, "{line}: {e}");
        }
    }
}
