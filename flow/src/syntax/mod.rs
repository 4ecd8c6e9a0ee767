//! testpmd's `flow` command syntax (`app/test-pmd/cmdline_flow.c`): parsing into
//! [`FlowCommand`]s, printing them back (parse and print round-trip), and running them against
//! flow tables with testpmd's replies ([`execute`]).
//!
//! ```
//! use rpdk_flow::syntax::{FlowCommand, parse};
//!
//! let cmd = parse("flow create 0 ingress pattern eth / ipv4 dst is 192.168.1.1 / end actions queue index 1 / end")?;
//! let FlowCommand::Create { port: 0, rule } = &cmd else { unreachable!() };
//! assert_eq!(rule.pattern.len(), 2);
//! assert_eq!(cmd.to_string(), "flow create 0 ingress pattern eth / ipv4 dst is 192.168.1.1 / end actions queue index 1 / end");
//! # Ok::<(), rpdk_flow::syntax::SyntaxError>(())
//! ```

mod cli;
mod encap;
mod meter;
mod parse;
mod print;
mod template;

pub use cli::{Output, execute, execute_with};
pub use encap::{EncapConfs, RAW_ENCAP_CONFS, hexdump, is_encap_command};
pub use meter::{execute_meter, is_meter_command};
pub use parse::{parse, parse_with};
pub(crate) use print::rule_text;
pub use template::{TemplateCommand, execute_template, is_template_command, parse_template};

use crate::action::{Attr, IndirectAction};
use crate::rule::FlowRule;
use std::fmt;

/// One `flow` command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowCommand {
    /// `flow validate PORT RULE`.
    Validate {
        /// The port.
        port: u16,
        /// The rule.
        rule: FlowRule,
    },
    /// `flow create PORT RULE`.
    Create {
        /// The port.
        port: u16,
        /// The rule.
        rule: FlowRule,
    },
    /// `flow destroy PORT rule ID [rule ID ...]`.
    Destroy {
        /// The port.
        port: u16,
        /// The rule ids.
        rules: Vec<u32>,
    },
    /// `flow flush PORT`.
    Flush {
        /// The port.
        port: u16,
    },
    /// `flow query PORT ID count`.
    Query {
        /// The port.
        port: u16,
        /// The rule id.
        rule: u32,
    },
    /// `flow query PORT ID age`.
    QueryAge {
        /// The port.
        port: u16,
        /// The rule id.
        rule: u32,
    },
    /// `flow aged PORT [destroy]`: the aged rules, destroyed with `destroy`.
    Aged {
        /// The port.
        port: u16,
        /// Destroy them.
        destroy: bool,
    },
    /// `flow list PORT [group N ...]`.
    List {
        /// The port.
        port: u16,
        /// Only these groups (all when empty).
        groups: Vec<u32>,
    },
    /// `flow isolate PORT BOOLEAN`.
    Isolate {
        /// The port.
        port: u16,
        /// On or off.
        on: bool,
    },
    /// `flow dump PORT all [FILE]` or `flow dump PORT rule ID [FILE]`.
    Dump {
        /// The port.
        port: u16,
        /// One rule, or all.
        rule: Option<u32>,
        /// A file to write to instead of stdout.
        file: Option<String>,
    },
    /// `flow indirect_action PORT create [action_id ID] [ingress] [egress] [transfer] action
    /// count / end`.
    IndirectCreate {
        /// The port.
        port: u16,
        /// The id asked for.
        id: Option<u32>,
        /// The directions.
        attr: Attr,
        /// The action.
        action: IndirectAction,
    },
    /// `flow indirect_action PORT destroy action_id ID [action_id ID ...]`.
    IndirectDestroy {
        /// The port.
        port: u16,
        /// The ids.
        ids: Vec<u32>,
    },
    /// `flow indirect_action PORT query ID`.
    IndirectQuery {
        /// The port.
        port: u16,
        /// The id.
        id: u32,
    },
}

/// A command that does not parse: the token at fault (by position among the line's words,
/// from 0) and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// The word at fault, or empty at the end of the line.
    pub token: String,
    /// Its position among the words.
    pub position: usize,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.token.is_empty() {
            write!(
                f,
                "unexpected end of command (word {}): {}",
                self.position, self.reason
            )
        } else {
            write!(
                f,
                "bad token \"{}\" (word {}): {}",
                self.token, self.position, self.reason
            )
        }
    }
}

impl std::error::Error for SyntaxError {}

impl fmt::Display for FlowCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        print::command(self, f)
    }
}
