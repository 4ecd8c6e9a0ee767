//! # rpdk-flow
//!
//! rte_flow in software: rules of attributes, a pattern of items (spec, last, mask) and
//! actions, checked as `rte_flow_validate` does, compiled into a classifier that any port's
//! rx/tx path can run on every burst, with DPDK's calls (validate, create, destroy, flush,
//! query, isolate, dev_dump, indirect counters), a typed builder, and testpmd's `flow`
//! command syntax ([`syntax`]).
//!
//! ```
//! use rpdk_flow::{Action, Direction, Fate, FlowRule, FlowTable, eth, ipv4};
//! use std::net::Ipv4Addr;
//!
//! let table = FlowTable::new(0, 4);
//! let id = table.create(
//!     FlowRule::ingress()
//!         .item(eth::item())
//!         .item(ipv4::item().is(ipv4::DST, Ipv4Addr::new(192, 168, 1, 1)))
//!         .action(Action::Mark { id: 7 })
//!         .action(Action::Queue { index: 1 }),
//! )?;
//! assert_eq!(id, 0);
//!
//! // A UDP datagram to 192.168.1.1.
//! let mut frame = Vec::new();
//! etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
//!     .ipv4([10, 0, 0, 1], [192, 168, 1, 1], 64)
//!     .udp(1000, 2000)
//!     .write(&mut frame, b"hi")
//!     .unwrap();
//! let v = table.classify_frame(Direction::Ingress, &frame, 0);
//! assert_eq!((v.fate, v.mark), (Fate::Queue(1), Some(7)));
//!
//! // The same rule in testpmd's syntax, and testpmd's reply.
//! let table = std::sync::Arc::new(table);
//! let out = rpdk_flow::syntax::execute(
//!     "flow create 0 ingress pattern eth / ipv4 src is 10.0.0.1 / end actions drop / end",
//!     &|port| (port == 0).then(|| table.clone()),
//! );
//! assert_eq!(out.out, "Flow rule #1 created\n");
//! # Ok::<(), rpdk_flow::FlowError>(())
//! ```
//!
//! ## The engine
//!
//! Each [`FlowTable`] holds its rules per direction and group in tuple tables (see
//! `docs/flow.md`): a packet is parsed once into its protocol layers by rpdk-mbuf's parser,
//! then each tuple (a pattern shape and a set of whole bytes) costs one hash lookup, visited in
//! priority order with pruning. Rules at equal priority resolve by creation order: the rule
//! created first wins. Updates are published left-right (two copies), so `classify` takes no
//! lock and allocates nothing; counters are per lcore.
//!
//! No crate on crates.io does multi-field packet classification with rte_flow's semantics,
//! so the classifier is ours; it depends on rpdk-mbuf (the parser), rpdk-ethdev (RSS hashing
//! and port limits), rpdk-eal (lcore ids), crossbeam-utils (cache-line padding) and libc
//! (errno values).

#![deny(unsafe_code)]

mod action;
mod age;
mod dynf;
mod edit;
mod engine;
mod error;
mod hairpin;
mod item;
mod matcher;
pub mod meter;
mod modify;
mod packet;
mod rewrite;
mod rule;
mod stage;
pub mod syntax;
mod table;
pub mod template;
mod tunnel;
mod validate;

pub use action::{Action, Attr, IndirectAction, RawDecap, RawEncap, Rss, RssFunc};
pub use age::{AgeQuery, AgedFlow, MAX_AGE_TIMEOUT};
pub use dynf::{dynf_metadata, dynf_metadata_avail, dynf_metadata_register};
pub use engine::compile::Direction;
pub use engine::{Fate, Verdict};
pub use error::{Cause, ErrorType, FlowError};
pub use item::{Item, ItemType};
pub use modify::{FieldId, ModifyData, ModifyField, ModifyOp, ModifySrc};
pub use packet::{Layer, Layers, MAX_LAYERS, MAX_TAGS, Meta};
pub use rule::{
    FieldRef, FieldValue, ItemBuilder, TypedItem, any, eth, geneve, gre, icmp, icmp6, ipv4, ipv6,
    mark, meta, mpls, nvgre, port_id, raw, represented_port, sctp, tag, tcp, udp, vlan, vxlan,
};
pub use table::{CountQuery, FlowTable};

/// The reference matcher, for tests and benchmarks that compare the engine with it: whether
/// `rule`'s pattern matches the frame (interpreted item by item, no precompilation).
pub fn reference_matches(rule: &FlowRule, frame: &[u8], meta: &Meta) -> bool {
    matcher::PatternMatch::new(&rule.pattern).matches(&Layers::parse(frame), meta)
}

pub use rule::FlowRule;
