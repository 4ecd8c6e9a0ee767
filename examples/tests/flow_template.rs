//! rpdk-testpmd's template API commands, as DPDK 22.11's testpmd takes them and replies, on
//! two net_null ports: `flow configure` on a stopped port (and refused on a started one),
//! pattern and actions templates, a template table, a rule enqueued on flow queue 0, push and
//! pull, the rule counting the forwarded frames, then its destruction and the destroy
//! commands.

use std::time::Duration;

use rpdk_testsupport::testpmd::{CmdlineRun, null_pair_with_cmdline_file};

#[test]
fn testpmd_template_api_session() {
    let CmdlineRun { stdout, stderr, .. } = null_pair_with_cmdline_file(
        env!("CARGO_BIN_EXE_rpdk-testpmd"),
        "tmplcmd",
        "flow configure 1 queues_number 1 queues_size 64\n\
         port stop 0\n\
         flow configure 0 queues_number 1 queues_size 64\n\
         port start 0\n\
         flow pattern_template 0 create pattern_template_id 1 ingress template eth / end\n\
         flow pattern_template 0 create ingress template eth / ipv4 dst mask 255.255.255.255 / end\n\
         flow actions_template 0 create ingress actions_template_id 1 template count / queue index 0 / end mask count / queue index 0xffff / end\n\
         flow actions_template 0 create ingress template drop / end mask drop / end\n\
         flow template_table 0 create table_id 1 group 0 priority 0 ingress rules_number 64 pattern_template 1 actions_template 1\n\
         flow template_table 0 create table_id 2 ingress rules_number 64 pattern_template 9 actions_template 1\n\
         flow queue 0 create 0 template_table 1 pattern_template 0 actions_template 0 postpone yes pattern eth / end actions count / queue index 0 / end\n\
         flow queue 0 create 0 template_table 1 pattern_template 1 actions_template 0 postpone yes pattern eth / end actions count / queue index 0 / end\n\
         flow queue 0 create 3 template_table 1 pattern_template 0 actions_template 0 postpone yes pattern eth / end actions count / queue index 0 / end\n\
         flow push 0 queue 0\n\
         flow pull 0 queue 0\n\
         flow list 0\n",
        Some((
            Duration::from_millis(300),
            "stop\n\
             flow query 0 0 count\n\
             flow queue 0 destroy 0 rule 0\n\
             flow push 0 queue 0\n\
             flow pull 0 queue 0\n\
             flow pull 0 queue 0\n\
             flow template_table 0 destroy table 1\n\
             flow actions_template 0 destroy actions_template 1\n\
             flow pattern_template 0 destroy pattern_template 1 pattern_template 2\n\
             flow queue 0 create 0 template_table 1 pattern_template 0 actions_template 0 postpone no pattern eth / end actions drop / end\n\
             flow queue 0 destroy 0 postpone no rule 5\n\
             quit\n",
        )),
    );
    // The replies, in order (prompts and other lines between them).
    let want = [
        "Configure flows on port 0: number of queues 1 with 64 elements",
        "Pattern template #1 created",
        "Pattern template #2 created",
        "Actions template #1 created",
        "Actions template #2 created",
        "Template table #1 created",
        "Pattern template #9 is invalid",
        "Flow rule #0 creation enqueued",
        "Pattern template index #1 is invalid, 1 templates present in the table",
        "Queue #3 is invalid",
        "Queue #0 operations pushed",
        "Queue #0 pulled 1 operations (0 failed, 1 succeeded)",
        "ID\tGroup\tPrio\tAttr\tRule",
        "0\t0\t0\ti--\tETH => COUNT QUEUE",
        "COUNT:",
        "Flow rule #0 destruction enqueued",
        "Queue #0 operations pushed",
        "Queue #0 pulled 1 operations (0 failed, 1 succeeded)",
        "Queue #0 pulled 0 operations (0 failed, 0 succeeded)",
        "Template table #1 destroyed",
        "Actions template #1 destroyed",
        "Pattern template #1 destroyed",
        "Pattern template #2 destroyed",
        "Table #1 is invalid",
    ];
    let lines: Vec<&str> = stdout
        .lines()
        .map(|l| l.trim_start_matches("testpmd> "))
        .collect();
    let mut at = 0;
    for w in want {
        match lines[at..].iter().position(|l| *l == w) {
            Some(i) => at += i + 1,
            None => panic!("no {w:?} after line {at}:\n{stdout}\n{stderr}"),
        }
    }
    // The started port refuses `flow configure`.
    assert!(
        stderr.contains(
            "port_flow_complain(): Caught PMD error type 1 (cause unspecified): port 1 is started"
        ),
        "{stderr}"
    );
    // The rule counted what net_null sent to port 0.
    let hits: u64 = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("hits: "))
        .unwrap_or_else(|| panic!("no hits line: {stdout}"))
        .parse()
        .unwrap();
    assert!(hits > 0, "{stdout}");
    // Rule 5 does not exist: testpmd says nothing.
    assert!(!stdout.contains("Flow rule #5"), "{stdout}");
}
