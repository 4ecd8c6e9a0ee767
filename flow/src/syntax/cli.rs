//! Running `flow` commands against flow tables, with DPDK 22.11 testpmd's replies.

use super::{FlowCommand, parse};
use crate::table::{CountQuery, FlowTable};
use std::fmt::Write;
use std::sync::Arc;

/// What a command printed: testpmd's stdout and stderr lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Lines for stdout.
    pub out: String,
    /// Lines for stderr (errors, `port_flow_complain`).
    pub err: String,
    /// For a line that did not parse, why (testpmd itself only says `Bad arguments`).
    pub syntax: Option<super::SyntaxError>,
}

fn count_block(out: &mut String, title: &str, q: &CountQuery) {
    let _ = write!(
        out,
        "{title}:\n hits_set: {}\n bytes_set: {}\n hits: {}\n bytes: {}\n",
        q.hits_set as u8, q.bytes_set as u8, q.hits, q.bytes
    );
}

/// Parses and runs one `flow ...` line; `table` gives a port's flow table (`None`: no such
/// port).
pub fn execute(line: &str, table: &dyn Fn(u16) -> Option<Arc<FlowTable>>) -> Output {
    if super::is_template_command(line) {
        return super::execute_template(line, table);
    }
    let mut o = Output::default();
    let cmd = match parse(line) {
        Ok(c) => c,
        Err(e) => {
            o.out.push_str("Bad arguments\n");
            o.syntax = Some(e);
            return o;
        }
    };
    let port = match &cmd {
        FlowCommand::Validate { port, .. }
        | FlowCommand::Create { port, .. }
        | FlowCommand::Destroy { port, .. }
        | FlowCommand::Flush { port }
        | FlowCommand::Query { port, .. }
        | FlowCommand::List { port, .. }
        | FlowCommand::Isolate { port, .. }
        | FlowCommand::Dump { port, .. }
        | FlowCommand::IndirectCreate { port, .. }
        | FlowCommand::IndirectDestroy { port, .. }
        | FlowCommand::IndirectQuery { port, .. } => *port,
    };
    let Some(t) = table(port) else {
        let _ = writeln!(o.err, "Invalid port {port}");
        return o;
    };
    let complain = |o: &mut Output, e: crate::FlowError| {
        let _ = writeln!(o.err, "{}", e.complain());
    };
    match cmd {
        FlowCommand::Validate { rule, .. } => match t.validate(&rule) {
            Ok(()) => o.out.push_str("Flow rule validated\n"),
            Err(e) => complain(&mut o, e),
        },
        FlowCommand::Create { rule, .. } => match t.create(rule) {
            Ok(id) => {
                let _ = writeln!(o.out, "Flow rule #{id} created");
            }
            Err(e) => complain(&mut o, e),
        },
        FlowCommand::Destroy { rules, .. } => {
            for id in rules {
                // testpmd skips ids it does not know.
                if t.rule(id).is_some() {
                    match t.destroy(id) {
                        Ok(()) => {
                            let _ = writeln!(o.out, "Flow rule #{id} destroyed");
                        }
                        Err(e) => complain(&mut o, e),
                    }
                }
            }
        }
        FlowCommand::Flush { .. } => {
            if let Err(e) = t.flush() {
                complain(&mut o, e);
            }
        }
        FlowCommand::Query { rule, .. } => {
            if t.rule(rule).is_none() {
                let _ = writeln!(o.err, "Flow rule #{rule} not found");
            } else {
                match t.query_count(rule, false) {
                    Ok(q) => count_block(&mut o.out, "COUNT", &q),
                    Err(e) => complain(&mut o, e),
                }
            }
        }
        FlowCommand::List { groups, .. } => {
            let mut rules: Vec<_> = t
                .rules()
                .into_iter()
                .filter(|(_, r)| groups.is_empty() || groups.contains(&r.attr.group))
                .collect();
            if !rules.is_empty() || !t.rules().is_empty() {
                rules.sort_by_key(|(id, r)| (r.attr.group, r.attr.priority, *id));
                o.out.push_str("ID\tGroup\tPrio\tAttr\tRule\n");
                for (id, r) in rules {
                    let _ = write!(
                        o.out,
                        "{id}\t{}\t{}\t{}\t",
                        r.attr.group,
                        r.attr.priority,
                        r.attr.flags()
                    );
                    for it in r
                        .pattern
                        .iter()
                        .take_while(|i| i.ty != crate::ItemType::End)
                    {
                        if it.ty != crate::ItemType::Void {
                            let _ = write!(o.out, "{} ", it.ty.name());
                        }
                    }
                    o.out.push_str("=>");
                    for a in &r.actions {
                        if !matches!(a, crate::Action::Void) {
                            let _ = write!(o.out, " {}", a.name());
                        }
                    }
                    o.out.push('\n');
                }
            }
        }
        FlowCommand::Isolate { on, .. } => match t.isolate(on) {
            Ok(()) => {
                let _ = writeln!(
                    o.out,
                    "Ingress traffic on port {port} is {} to the defined flow rules",
                    if on {
                        "now restricted"
                    } else {
                        "not restricted anymore"
                    }
                );
            }
            Err(e) => complain(&mut o, e),
        },
        FlowCommand::Dump { rule, file, .. } => {
            if let Some(r) = rule {
                if t.rule(r).is_none() {
                    let _ = writeln!(o.err, "Failed to dump to flow {r}");
                    return o;
                }
            }
            match t.dev_dump(rule) {
                Ok(text) => {
                    match file.as_deref().filter(|f| !f.is_empty()) {
                        Some(path) => {
                            if let Err(e) = std::fs::write(path, text) {
                                let _ = writeln!(o.err, "Failed to create file {path}: {e}");
                                return o;
                            }
                        }
                        None => o.out.push_str(&text),
                    }
                    o.out.push_str("Flow dump finished\n");
                }
                Err(e) => {
                    complain(&mut o, e);
                    o.err.push_str("Failed to dump flow: Invalid argument\n");
                }
            }
        }
        FlowCommand::IndirectCreate {
            id, attr, action, ..
        } => match t.action_handle_create(id, attr, action) {
            Ok(id) => {
                let _ = writeln!(o.out, "Indirect action #{id} created");
            }
            Err(e) => complain(&mut o, e),
        },
        FlowCommand::IndirectDestroy { ids, .. } => {
            for id in ids {
                match t.action_handle_destroy(id) {
                    Ok(()) => {
                        let _ = writeln!(o.out, "Indirect action #{id} destroyed");
                    }
                    Err(e) if e.errno == libc::ENOENT => {}
                    Err(e) => {
                        complain(&mut o, e);
                        let _ = writeln!(o.out, "Indirect action #{id} not destroyed");
                    }
                }
            }
        }
        FlowCommand::IndirectQuery { id, .. } => match t.action_handle_query(id, false) {
            Ok(q) => count_block(&mut o.out, "Indirect COUNT action", &q),
            Err(e) => complain(&mut o, e),
        },
    }
    o
}
