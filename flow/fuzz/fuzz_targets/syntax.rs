//! Feeds arbitrary lines to the testpmd flow-syntax parser: nothing may panic; what parses
//! must print and parse back to the same command; and a rule that parses goes through
//! validate, create, classify (of a few fixed frames), query, dump and destroy without a panic.
//! An encap `set` command (`set raw_encap ...`, `set vxlan ...`) fills testpmd's buffers, which
//! rules with every tunnel action then take (their headers compiled at create).
//! Template API lines (`flow configure`, `flow pattern_template`, `flow queue ...`, ...) go
//! the same way through `parse_template` and run against a table that already has flow queues,
//! a pattern template, an actions template and a template table.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rpdk_flow::syntax::{
    EncapConfs, FlowCommand, RAW_ENCAP_CONFS, execute, execute_with, is_encap_command, parse,
    parse_template,
};
use rpdk_flow::{Direction, FlowTable};
use std::sync::Arc;

/// Ethernet / IPv4 / UDP, with a VLAN tag, and VXLAN around Ethernet / IPv4 / TCP.
const FRAMES: [&[u8]; 3] = [
    b"\x00\x11\x22\x33\x44\x55\x02\x00\x00\x00\x00\x01\x08\x00\x45\x00\x00\x1c\x00\x00\x00\x00\x40\x11\x00\x00\x0a\x00\x00\x01\xc0\xa8\x01\x01\x04\x00\x00\x35\x00\x08\x00\x00",
    b"\x00\x11\x22\x33\x44\x55\x02\x00\x00\x00\x00\x01\x81\x00\x00\x05\x08\x00\x45\x00\x00\x1c\x00\x00\x00\x00\x40\x11\x00\x00\x0a\x00\x00\x01\xc0\xa8\x01\x01\x04\x00\x00\x35\x00\x08\x00\x00",
    b"\x00\x11\x22\x33\x44\x55\x02\x00\x00\x00\x00\x01\x08\x00\x45\x00\x00\x4e\x00\x00\x00\x00\x40\x11\x00\x00\x0a\x00\x00\x01\x0a\x00\x00\x02\x9c\x40\x12\xb5\x00\x3a\x00\x00\x08\x00\x00\x00\x00\x00\x2a\x00\x00\x11\x22\x33\x44\x55\x02\x00\x00\x00\x00\x01\x08\x00\x45\x00\x00\x28\x00\x00\x00\x00\x40\x06\x00\x00\xac\x10\x00\x01\xac\x10\x00\x09\x04\xd2\x00\x50\x00\x00\x00\x01\x00\x00\x00\x00\x50\x02\x04\x00\x00\x00\x00\x00",
];

/// A port with one flow queue of 16, pattern template 0 (`eth / ipv4 dst mask 255.255.255.255
/// / udp dst mask 0xffff`), actions template 0 (`queue index` per rule) and table 0 of 8 rules.
fn template_port() -> Arc<FlowTable> {
    let t = Arc::new(FlowTable::new(0, 4));
    let lookup = |p: u16| (p == 0).then(|| t.clone());
    for line in [
        "flow configure 0 queues_number 1 queues_size 16",
        "flow pattern_template 0 create pattern_template_id 0 ingress template eth / ipv4 dst mask 255.255.255.255 / udp dst mask 0xffff / end",
        "flow actions_template 0 create ingress actions_template_id 0 template queue index 0 / end mask queue index 0 / end",
        "flow template_table 0 create table_id 0 ingress rules_number 8 pattern_template 0 actions_template 0",
    ] {
        let out = execute(line, &lookup);
        assert!(out.err.is_empty() && out.syntax.is_none(), "{line}: {out:?}");
    }
    t
}

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    if is_encap_command(&line) {
        encap(&line);
        return;
    }
    if let Ok(cmd) = parse_template(&line) {
        let text = cmd.to_string();
        let back = parse_template(&text)
            .unwrap_or_else(|e| panic!("printed form does not parse: {text}: {e}"));
        assert_eq!(back, cmd, "round trip of {text}");
        let table = template_port();
        let lookup = |p: u16| (p == 0).then(|| table.clone());
        let out = execute(&text, &lookup);
        assert!(out.syntax.is_none());
        let _ = table.push(0);
        let _ = table.pull(0, 64);
        for f in FRAMES {
            let _ = table.classify_frame(Direction::Ingress, f, 0);
        }
        for (id, _) in table.rules() {
            table.destroy(id).expect("destroying a rule that exists");
        }
        return;
    }
    let Ok(cmd) = parse(&line) else {
        return;
    };
    let text = cmd.to_string();
    let back = parse(&text).unwrap_or_else(|e| panic!("printed form does not parse: {text}: {e}"));
    assert_eq!(back, cmd, "round trip of {text}");
    let table = Arc::new(FlowTable::new(0, 4));
    let lookup = |p: u16| (p == 0).then(|| table.clone());
    if let FlowCommand::Dump { .. } = cmd {
        return; // may name a file
    }
    let out = execute(&text, &lookup);
    assert!(out.syntax.is_none());
    for dir in [Direction::Ingress, Direction::Egress, Direction::Transfer] {
        for f in FRAMES {
            for cut in [f.len(), f.len() / 2, 15] {
                let _ = table.classify_frame(dir, &f[..cut], 0);
            }
        }
    }
    for (id, _) in table.rules() {
        let _ = table.query_count(id, true);
        let _ = table.dev_dump(Some(id));
        table.destroy(id).expect("destroying a rule that exists");
    }
});

/// Runs an encap `set` command, then creates rules with every tunnel action from what it left.
fn encap(line: &str) {
    let mut c = EncapConfs::default();
    let _ = c.execute(line, 1);
    let table = Arc::new(FlowTable::new(0, 4));
    let lookup = |p: u16| (p == 0).then(|| table.clone());
    for i in 0..RAW_ENCAP_CONFS {
        for actions in [
            format!("raw_decap index {i} / raw_encap index {i}"),
            format!("raw_encap index {i} / raw_decap index {i}"),
            "vxlan_encap / vxlan_decap".to_string(),
            format!("nvgre_encap / raw_decap index {i}"),
        ] {
            let rule = format!(
                "flow create 0 ingress pattern eth / ipv4 / udp / vxlan / end actions {actions} / queue index 0 / end"
            );
            let out = execute_with(&rule, &c, &lookup);
            assert!(out.syntax.is_none(), "{rule}: {:?}", out.syntax);
        }
    }
    for f in FRAMES {
        let _ = table.classify_frame(Direction::Ingress, f, 0);
    }
    table.flush().expect("flush");
}
