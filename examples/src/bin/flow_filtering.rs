//! DPDK's flow_filtering example on rpdk: one port with 5 RX queues, one flow rule sending
//! IPv4 packets to 192.168.1.1 to queue 1, and a loop that prints the MAC addresses and the
//! queue of every packet received.
//!
//! ```text
//! flow_filtering [EAL options] [-- --template | --non-template]
//! ```
//!
//! As DPDK's example since 24.11, the rule is made through the template API by default
//! (`--template`): the port is stopped, its flow engine configured with one flow queue, the
//! port started again, then a pattern template (`eth / ipv4` with the source and destination
//! masks, relaxed matching), an actions template (`queue`) and a template table of one rule
//! are made, and the rule is enqueued on flow queue 0 without `postpone`. `--non-template`
//! validates and creates the same rule with `rte_flow_create` (DPDK 22.11's example).
//!
//! The rule is made with rpdk-flow's typed builder and runs in the port's software stage, so
//! the example works on every port, whatever its driver: a driver with one queue (such as
//! `net_af_packet0,iface=veth0`) gets its 5 queues from the stage's software queues. SIGINT or
//! SIGTERM stops the loop; the rules are flushed and the port stopped and closed.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpdk_ethdev::{EthConf, Port, RxConf, RxQueue, TxConf, tx_offload};
use rpdk_examples::signals;
use rpdk_flow::template::{
    ActionsTemplateAttr, OpAttr, PatternTemplateAttr, PortAttr, QueueAttr, TemplateTableAttr,
};
use rpdk_flow::{Action, Attr, FlowError, FlowRule, FlowTable, Item, ItemType, eth, ipv4};
use rpdk_mbuf::net::MacAddr;
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, MbufBurst, PktmbufPool};

const PORT_ID: u16 = 0;
const NR_QUEUES: u16 = 5;
const SELECTED_QUEUE: u16 = 1;
const SRC_IP: Ipv4Addr = Ipv4Addr::new(0, 0, 0, 0);
const DEST_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
const FULL_MASK: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 255);
const EMPTY_MASK: Ipv4Addr = Ipv4Addr::new(0, 0, 0, 0);
const NB_DESC: u16 = 512;
/// The flow queue the template rule is enqueued on, and its size.
const QUEUE_ID: u32 = 0;
const MAX_QUEUE_SIZE: u32 = 1;

/// Prints the message as DPDK's `rte_exit(EXIT_FAILURE, ...)` does and exits with 1.
fn rte_exit(msg: impl std::fmt::Display) -> ! {
    eprintln!("EAL: Error - exiting with code: 1\n  Cause: {msg}");
    std::process::exit(1)
}

/// The example's rule: ingress, `eth / ipv4 src spec S src mask SM dst spec D dst mask DM /
/// end`, `actions queue index Q / end`, validated and then created.
fn generate_ipv4_flow(
    table: &FlowTable,
    rx_q: u16,
    (src_ip, src_mask): (Ipv4Addr, Ipv4Addr),
    (dest_ip, dest_mask): (Ipv4Addr, Ipv4Addr),
) -> Result<u32, FlowError> {
    let rule = FlowRule::ingress()
        // Any Ethernet frame: the IPv4 layer is what the rule is about.
        .item(eth::item())
        .item(
            ipv4::item()
                .spec(ipv4::SRC, src_ip)
                .mask(ipv4::SRC, src_mask)
                .spec(ipv4::DST, dest_ip)
                .mask(ipv4::DST, dest_mask),
        )
        .action(Action::Queue { index: rx_q });
    table.validate(&rule)?;
    table.create(rule)
}

/// The example's rule through the template API: a pattern template matching the IPv4
/// source and destination under the masks (relaxed: the `eth` item has no mask, so only the
/// IPv4 header is matched), an actions template with a QUEUE, a table of one rule, and the
/// rule with the addresses, enqueued on flow queue 0 and applied at once (no `postpone`).
fn generate_ipv4_flow_template(
    table: &FlowTable,
    rx_q: u16,
    (src_ip, src_mask): (Ipv4Addr, Ipv4Addr),
    (dest_ip, dest_mask): (Ipv4Addr, Ipv4Addr),
) -> Result<u32, FlowError> {
    let pt = table.pattern_template_create(
        None,
        PatternTemplateAttr {
            relaxed_matching: true,
            ingress: true,
            ..Default::default()
        },
        vec![
            Item::new(ItemType::Eth),
            ipv4::item()
                .mask(ipv4::SRC, src_mask)
                .mask(ipv4::DST, dest_mask)
                .into(),
        ],
    )?;
    // The mask fixes the queue for every rule of the table.
    let queue = Action::Queue { index: rx_q };
    let at = table.actions_template_create(
        None,
        ActionsTemplateAttr {
            ingress: true,
            ..Default::default()
        },
        vec![queue.clone()],
        vec![Action::Queue { index: u16::MAX }],
    )?;
    let tbl = table.template_table_create(
        None,
        TemplateTableAttr {
            attr: Attr {
                ingress: true,
                ..Attr::default()
            },
            nb_flows: 1,
        },
        &[pt],
        &[at],
    )?;
    let pattern = [
        Item::new(ItemType::Eth),
        ipv4::item()
            .spec(ipv4::SRC, src_ip)
            .spec(ipv4::DST, dest_ip)
            .into(),
    ];
    let id = table.async_create(
        QUEUE_ID,
        OpAttr { postpone: false },
        tbl,
        &pattern,
        0,
        &[queue],
        0,
        0,
    )?;
    // Without postpone the operation is done; its result says how.
    for r in table.pull(QUEUE_ID, MAX_QUEUE_SIZE as usize)? {
        if let rpdk_flow::template::OpStatus::Error(e) = r.status {
            return Err(e);
        }
    }
    Ok(id)
}

/// As DPDK's example in template mode: the port is stopped, its flow engine configured with
/// one flow queue (and one counter), and the port started again.
fn configure_port_template(port: &Port, table: &FlowTable) {
    if let Err(e) = port.stop() {
        rte_exit(format!("rte_eth_dev_stop:err={e}, port={PORT_ID}"));
    }
    let attr = PortAttr {
        nb_counters: 1,
        ..PortAttr::default()
    };
    if let Err(e) = table.configure(
        &attr,
        &[QueueAttr {
            size: MAX_QUEUE_SIZE,
        }],
    ) {
        rte_exit(format!(
            "rte_flow_configure:err={}, port={PORT_ID}",
            -e.errno
        ));
    }
    println!(":: Configuring template port [{PORT_ID}] Done ..");
    if let Err(e) = port.start() {
        rte_exit(format!("rte_eth_dev_start:err={e}, port={PORT_ID}"));
    }
}

/// Configures the port with `NR_QUEUES` RX and TX queues, promiscuous, starts it and waits
/// for its link.
fn init_port(port: &Port, pool: &PktmbufPool) {
    let info = port.info();
    let conf = EthConf {
        tx_offloads: (tx_offload::VLAN_INSERT
            | tx_offload::IPV4_CKSUM
            | tx_offload::UDP_CKSUM
            | tx_offload::TCP_CKSUM
            | tx_offload::TCP_TSO)
            & info.tx_offload_capa,
        ..EthConf::default()
    };
    println!(":: initializing port: {PORT_ID}");
    if let Err(e) = port.configure(NR_QUEUES, NR_QUEUES, &conf) {
        rte_exit(format!(
            ":: cannot configure device: err={e}, port={PORT_ID}"
        ));
    }
    for q in 0..NR_QUEUES {
        if let Err(e) = port.rx_queue_setup(q, NB_DESC, None, &RxConf::default(), pool) {
            rte_exit(format!(":: Rx queue setup failed: err={e}, port={PORT_ID}"));
        }
    }
    for q in 0..NR_QUEUES {
        if let Err(e) = port.tx_queue_setup(q, NB_DESC, None, &TxConf::default()) {
            rte_exit(format!(":: Tx queue setup failed: err={e}, port={PORT_ID}"));
        }
    }
    if let Err(e) = port.promiscuous_enable() {
        rte_exit(format!(
            ":: promiscuous mode enable failed: err={e}, port={PORT_ID}"
        ));
    }
    if let Err(e) = port.start() {
        rte_exit(format!("rte_eth_dev_start:err={e}, port={PORT_ID}"));
    }
    assert_link_status(port);
    println!(":: initializing port: {PORT_ID} done");
}

/// Waits up to 9 s (90 checks 100 ms apart) for the link to come up.
fn assert_link_status(port: &Port) {
    let deadline = Instant::now() + Duration::from_secs(9);
    while !port.link().up {
        if Instant::now() >= deadline {
            rte_exit(":: error: link is still down");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One line per packet: `src=.. - dst=.. - queue=0x1`, as DPDK's example prints them.
fn main_loop(queues: &mut [RxQueue]) {
    let mut burst = MbufBurst::<32>::new();
    while !signals::quit_requested() {
        for (i, rxq) in queues.iter_mut().enumerate() {
            if rxq.rx_burst(&mut burst) == 0 {
                continue;
            }
            for m in burst.iter() {
                let d = m.data();
                if d.len() < 12 {
                    continue;
                }
                let mac = |b: &[u8]| MacAddr(b.try_into().expect("6 bytes"));
                println!(
                    "src={} - dst={} - queue=0x{i:x}",
                    mac(&d[6..12]),
                    mac(&d[0..6])
                );
            }
            burst.clear();
        }
    }
}

fn main() {
    let (eal, args) = match rpdk_eal::init(std::env::args()) {
        Ok(v) => v,
        Err(e) if e.exit_code() == 0 => std::process::exit(0),
        Err(e) => {
            eprintln!("EAL: {e}");
            rte_exit(":: invalid EAL arguments");
        }
    };
    signals::install();
    let mut use_template_api = true;
    for a in &args {
        match a.as_str() {
            "--template" => use_template_api = true,
            "--non-template" => use_template_api = false,
            _ => {
                eprintln!("flow_filtering: unknown argument {a:?} (--template or --non-template)");
                rte_exit("Invalid flow filtering arguments");
            }
        }
    }

    let nr_ports = rpdk_ethdev::port_count();
    if nr_ports == 0 {
        rte_exit(":: no Ethernet ports found");
    }
    if nr_ports != 1 {
        println!(":: warn: {nr_ports} ports detected, but we use only one: port {PORT_ID}");
    }
    let pool = PktmbufPool::create("mbuf_pool", 4096, 128, 0, MBUF_DEFAULT_BUF_SIZE, None)
        .unwrap_or_else(|e| rte_exit(format!("Cannot init mbuf pool ({e})")));
    let port = Port::get(PORT_ID).unwrap_or_else(|e| rte_exit(e));
    // rte_flow on this port: the software engine in the port's stage.
    let table = Arc::new(FlowTable::new(PORT_ID, NR_QUEUES));
    init_port(&port, &pool);
    if use_template_api {
        configure_port_template(&port, &table);
    }
    if let Err(e) = port.set_classifier(Some(table.clone())) {
        rte_exit(format!("Flow can't be installed on port {PORT_ID}: {e}"));
    }
    let generate = if use_template_api {
        generate_ipv4_flow_template
    } else {
        generate_ipv4_flow
    };
    if let Err(e) = generate(
        &table,
        SELECTED_QUEUE,
        (SRC_IP, EMPTY_MASK),
        (DEST_IP, FULL_MASK),
    ) {
        println!(
            "Flow can't be created {} message: {}",
            e.kind as u8, e.message
        );
        rte_exit("error in creating flow");
    }
    println!("Flow created!!:");
    let mut queues: Vec<RxQueue> = (0..NR_QUEUES)
        .map(|q| port.rx_queue(q).unwrap_or_else(|e| rte_exit(e)))
        .collect();
    main_loop(&mut queues);
    if let Some(sig) = signals::signal() {
        println!("\n\nSignal {sig} received, preparing to exit...");
    }

    // Closing and releasing resources.
    drop(queues);
    let _ = table.flush();
    let _ = port.set_classifier(None);
    let mut code = 0;
    if let Err(e) = port.stop() {
        println!("Failed to stop port {PORT_ID}: {e}");
        code = 1;
    }
    let _ = port.close();
    drop(pool);
    drop(eal);
    std::process::exit(code);
}
