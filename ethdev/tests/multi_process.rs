//! The primary's ports and pktmbuf pool from a secondary process, for real: the test binary
//! starts itself again as a primary with a `net_null` port and as a secondary of it.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rpdk_eal::mp::{self, Message};
use rpdk_ethdev::remote;
use rpdk_mbuf::{MbufBurst, PktmbufPool};
use rpdk_testsupport::port::{PortFixture, PortSetup};
use rpdk_testsupport::process::{Child, eal_args, role, text, wait_for_primary};
use rpdk_testsupport::unique_prefix;

#[test]
fn child() {
    let Some((role, prefix)) = role() else {
        return;
    };
    if role == "primary" {
        let mut args = eal_args("mpeth", &prefix, "primary", 0);
        args.extend(["--vdev".to_string(), "net_null0".to_string()]);
        let f = PortFixture::with_eal_args(args, &PortSetup::default()).unwrap();
        let (tx, rx) = mpsc::channel();
        mp::action_register("t_done", move |_, _| {
            tx.send(()).unwrap();
            Ok(())
        })
        .unwrap();
        {
            let mut rxq = f.port(0).rx_queue(0).unwrap();
            let mut burst = MbufBurst::<32>::new();
            let mut got = 0;
            for _ in 0..10 {
                got += rxq.rx_burst(&mut burst);
                burst.clear();
            }
            println!("primary rx {got}");
        }
        // The secondary's turn; it says when it is done.
        let _ready = rpdk_eal::memzone::reserve("t_ready", 64, None, Default::default()).unwrap();
        rx.recv_timeout(Duration::from_secs(30)).unwrap();
        println!(
            "primary ipackets after the reset {}",
            f.port(0).stats().ipackets
        );
        // The fixture's drop audits the pool: the mbufs the secondary took are back.
    } else {
        let (_eal, _) = rpdk_eal::init(eal_args("mpeth", &prefix, "secondary", 1)).unwrap();
        let start = Instant::now();
        while rpdk_eal::memzone::lookup("t_ready").is_none() {
            assert!(start.elapsed() < Duration::from_secs(20));
            std::thread::sleep(Duration::from_millis(10));
        }
        for p in remote::ports().unwrap() {
            println!(
                "port {} {} driver {} mac {} started {} rxq {} txq {} link up {}",
                p.id, p.name, p.driver, p.mac, p.started, p.nb_rx_queues, p.nb_tx_queues, p.link.up
            );
        }
        let s = remote::stats(0).unwrap();
        println!("ipackets {} q0 {}", s.ipackets, s.q_ipackets[0]);
        let x = remote::xstats(0).unwrap();
        let good = x.iter().find(|(n, _)| n == "rx_good_packets").unwrap().1;
        println!("xstats rx_good_packets {good}");
        println!("no port 7: {}", remote::stats(7).unwrap_err());
        remote::stats_reset(0).unwrap();
        println!("after reset {}", remote::stats(0).unwrap().ipackets);
        // The primary's pktmbuf pool: mbufs taken and freed here go back to it.
        let pool = PktmbufPool::lookup("mpeth_pool").expect("the primary's pool");
        let before = pool.in_use_count();
        let mbufs: Vec<_> = (0..5).map(|_| pool.alloc().unwrap()).collect();
        println!("in use here {}", pool.in_use_count() - before);
        drop(mbufs);
        println!("in use after free {}", pool.in_use_count() - before);
        mp::sendmsg(&Message::new("t_done", b"")).unwrap();
    }
}

#[test]
fn a_secondary_reads_and_resets_the_primary_ports() {
    let prefix = unique_prefix("eth");
    let p = Child::start("primary", &prefix);
    wait_for_primary(&prefix);
    let s = Child::start("secondary", &prefix).wait();
    let p = p.wait();
    let (st, pt) = (text(&s), text(&p));
    assert!(s.status.success(), "{st}\n{pt}");
    assert!(p.status.success(), "{pt}");
    assert!(pt.contains("primary rx 320"), "{pt}");
    for want in [
        "port 0 net_null0 driver net_null mac 02:70:64:6B:00:00 started true rxq 1 txq 1 link up true",
        "ipackets 320 q0 320",
        "xstats rx_good_packets 320",
        "no port 7: the primary's ports: port 7: no such port",
        "after reset 0",
        "in use here 5",
        "in use after free 0",
    ] {
        assert!(st.contains(want), "secondary lacks {want:?}:\n{st}");
    }
    assert!(pt.contains("primary ipackets after the reset 0"), "{pt}");
}
