//! Running `flow` commands against flow tables, with DPDK 22.11 testpmd's replies.

use super::encap::EncapConfs;
use super::{FlowCommand, parse_with};
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

/// testpmd's `port_flow_aged()`: the count, then a row per aged rule (destroyed with
/// `destroy`, each saying so as `flow destroy` does).
fn aged(o: &mut Output, t: &FlowTable, port: u16, destroy: bool) {
    let aged = t.get_aged_flows();
    let _ = writeln!(o.out, "Port {port} total aged flows: {}", aged.len());
    if aged.is_empty() {
        return;
    }
    let _ = writeln!(o.out, "{:<20}\tID\tGroup\tPrio\tAttr", "Type");
    let mut destroyed = 0;
    for a in aged {
        let Some(r) = t.rule(a.rule) else { continue };
        let _ = writeln!(
            o.out,
            "{:<20}\t{}\t{}\t{}\t{}\t",
            "Flow",
            a.rule,
            r.attr.group,
            r.attr.priority,
            r.attr.flags()
        );
        if destroy {
            match t.destroy(a.rule) {
                Ok(()) => {
                    let _ = writeln!(o.out, "Flow rule #{} destroyed", a.rule);
                    destroyed += 1;
                }
                Err(e) => {
                    let _ = writeln!(o.err, "{}", e.complain());
                }
            }
        }
    }
    let _ = write!(o.out, "\n{destroyed} flows destroyed\n");
}

/// Parses and runs one `flow ...` line; `table` gives a port's flow table (`None`: no such
/// port). The encap actions take testpmd's buffers at start (see [`execute_with`]).
pub fn execute(line: &str, table: &dyn Fn(u16) -> Option<Arc<FlowTable>>) -> Output {
    execute_with(line, &EncapConfs::default(), table)
}

/// [`execute`], the encap actions taking the buffers and configurations of `confs` (what
/// testpmd's `set raw_encap`, `set vxlan`, ... left).
pub fn execute_with(
    line: &str,
    confs: &EncapConfs,
    table: &dyn Fn(u16) -> Option<Arc<FlowTable>>,
) -> Output {
    if super::is_template_command(line) {
        return super::execute_template(line, table);
    }
    let mut o = Output::default();
    let cmd = match parse_with(line, confs) {
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
        | FlowCommand::QueryAge { port, .. }
        | FlowCommand::Aged { port, .. }
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
        FlowCommand::QueryAge { rule, .. } => {
            if t.rule(rule).is_none() {
                let _ = writeln!(o.err, "Flow rule #{rule} not found");
            } else {
                match t.query_age(rule) {
                    Ok(q) => {
                        let _ = write!(
                            o.out,
                            "AGE:\n aged: {}\n sec_since_last_hit_valid: {}\n sec_since_last_hit: {}\n",
                            q.aged as u8, q.sec_since_last_hit_valid as u8, q.sec_since_last_hit
                        );
                    }
                    Err(e) => complain(&mut o, e),
                }
            }
        }
        FlowCommand::Aged { destroy, .. } => aged(&mut o, &t, port, destroy),
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
            if let Some(r) = rule
                && t.rule(r).is_none()
            {
                let _ = writeln!(o.err, "Failed to dump to flow {r}");
                return o;
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
