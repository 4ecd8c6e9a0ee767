//! RX and TX callbacks (the software stage): order, dropping and rewriting, and adding and
//! removing them while two lcores forward on `net_ring` ports, with nothing lost or freed twice
//! and no removed callback ever called after its removal returned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rpdk_eal::Eal;
use rpdk_ethdev::drivers::net_ring::from_rings;
use rpdk_ethdev::{EthConf, Port, RxConf, TxConf};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, MbufBurst, MbufRing, PktmbufPool};
use rpdk_ring::RingFlags;
use rpdk_testsupport::{allowed_cpus, serial};

/// Main lcore 0 and workers 1 and 2, on the first and last CPUs this process may use.
fn init() -> Eal {
    let cpus = allowed_cpus();
    let (a, b) = (cpus[0], cpus[cpus.len() - 1]);
    let args = [
        "callbacks-test".to_string(),
        "--no-huge".into(),
        "--no-shconf".into(),
        "--lcores".into(),
        format!("0@{a},1@{b},2@{a}"),
    ];
    rpdk_eal::init(args).unwrap().0
}

fn setup(port: &Port, pool: &PktmbufPool) {
    port.configure(1, 1, &EthConf::default()).unwrap();
    port.rx_queue_setup(0, 0, None, &RxConf::default(), pool)
        .unwrap();
    port.tx_queue_setup(0, 0, None, &TxConf::default()).unwrap();
    port.start().unwrap();
}

fn seq(m: &rpdk_mbuf::Mbuf) -> u32 {
    u32::from_be_bytes(m.data()[..4].try_into().unwrap())
}

#[test]
fn callbacks_run_in_order_drop_and_rewrite() {
    let _s = serial();
    let _eal = init();
    let pool = PktmbufPool::create("cb_order", 1023, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let ring = MbufRing::create("cb_lo", 256, None, RingFlags::SP_ENQ | RingFlags::SC_DEQ).unwrap();
    let port = Port::get(rpdk_ethdev::drivers::net_ring::from_ring(&ring).unwrap()).unwrap();
    setup(&port, &pool);
    assert!(port.add_rx_callback(1, |_, _, _| {}).is_err(), "no queue 1");
    // RX: the first callback drops odd sequence numbers, the second (added first: it runs
    // before) writes the port and queue into byte 4. TX: doubles byte 5.
    let drop_odd = port
        .add_rx_callback(0, |_, _, b| {
            b.retain(|m| seq(m).is_multiple_of(2));
        })
        .unwrap();
    port.add_first_rx_callback(0, |p, q, b| {
        for m in b.as_mut_slice() {
            m.data_mut().unwrap()[4] = (p as u8) << 4 | q as u8;
        }
    })
    .unwrap();
    port.add_tx_callback(0, |_, _, b| {
        for m in b.as_mut_slice() {
            m.data_mut().unwrap()[5] *= 2;
        }
    })
    .unwrap();
    let (mut rx, mut tx) = (port.rx_queue(0).unwrap(), port.tx_queue(0).unwrap());
    let mut out = MbufBurst::<32>::new();
    pool.alloc_bulk(&mut out, 10).unwrap();
    for (i, m) in out.iter_mut().enumerate() {
        let d = m.append(6).unwrap();
        d[..4].copy_from_slice(&(i as u32).to_be_bytes());
        d[4] = 0;
        d[5] = 21;
    }
    assert_eq!(tx.tx_burst(&mut out), 10);
    // A packet already in the burst is not the callbacks'.
    let mut got = MbufBurst::<32>::new();
    got.push(pool.alloc().unwrap()).unwrap();
    got.as_mut_slice()[0].append(6).unwrap().fill(0xff);
    assert_eq!(rx.rx_burst(&mut got), 5, "the odd ones were dropped");
    assert_eq!(got.len(), 6);
    assert_eq!(got.as_slice()[0].data(), [0xff; 6]);
    let seqs: Vec<u32> = got.iter().skip(1).map(seq).collect();
    assert_eq!(seqs, [0, 2, 4, 6, 8]);
    for m in got.iter().skip(1) {
        assert_eq!(m.data()[4..], [(port.id() as u8) << 4, 42]);
    }
    got.clear();
    port.remove_rx_callback(drop_odd).unwrap();
    assert!(port.remove_rx_callback(drop_odd).is_err(), "removed once");
    pool.alloc_bulk(&mut out, 3).unwrap();
    for m in out.iter_mut() {
        m.append(6).unwrap().fill(1);
    }
    assert_eq!(tx.tx_burst(&mut out), 3);
    assert_eq!(rx.rx_burst(&mut got), 3, "nothing dropped any more");
    got.clear();
    // A TX callback that drops: those count as taken, the rest is sent.
    port.add_tx_callback(0, |_, _, b| {
        b.retain(|m| m.data()[0] != 9);
    })
    .unwrap();
    pool.alloc_bulk(&mut out, 4).unwrap();
    for (i, m) in out.iter_mut().enumerate() {
        m.append(6).unwrap().fill(if i % 2 == 0 { 9 } else { 1 });
    }
    assert_eq!(tx.tx_burst(&mut out), 4);
    assert!(out.is_empty());
    assert_eq!(rx.rx_burst(&mut got), 2);
    got.clear();
    drop((rx, tx));
    port.stop().unwrap();
    port.close().unwrap();
    assert_eq!(pool.in_use_count(), 0);
    pool.audit().unwrap();
    pool.free();
    ring.free().unwrap();
}

/// What a forwarding lcore did.
struct Fwd {
    bursts: u64,
    /// Sequence numbers of the packets it held when told to stop.
    held: Vec<u32>,
}

/// Receives on `port`'s queue 0 and sends on its queue 0 until `stop`, keeping what the ring
/// did not take for the next round.
fn forward(port: &Port, stop: &AtomicBool) -> Fwd {
    let (mut rx, mut tx) = (port.rx_queue(0).unwrap(), port.tx_queue(0).unwrap());
    let mut b = MbufBurst::<32>::new();
    let mut bursts = 0;
    while !stop.load(Ordering::Relaxed) {
        rx.rx_burst(&mut b);
        tx.tx_burst(&mut b);
        bursts += 1;
    }
    let held = b.iter().map(seq).collect();
    b.clear();
    Fwd { bursts, held }
}

#[test]
fn callbacks_come_and_go_while_two_lcores_forward() {
    let _s = serial();
    let eal = init();
    const PACKETS: u32 = 600;
    let pool = PktmbufPool::create("cb_fwd", 2047, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let flags = RingFlags::SP_ENQ | RingFlags::SC_DEQ;
    let ab = MbufRing::create("cb_ab", 1024, None, flags).unwrap();
    let ba = MbufRing::create("cb_ba", 1024, None, flags).unwrap();
    // a sends into ab, which b receives; b sends into ba, which a receives.
    let a = Port::get(
        from_rings(
            "cba",
            std::slice::from_ref(&ba),
            std::slice::from_ref(&ab),
            None,
        )
        .unwrap(),
    )
    .unwrap();
    let b = Port::get(
        from_rings(
            "cbb",
            std::slice::from_ref(&ab),
            std::slice::from_ref(&ba),
            None,
        )
        .unwrap(),
    )
    .unwrap();
    setup(&a, &pool);
    setup(&b, &pool);
    {
        let mut tx = b.tx_queue(0).unwrap();
        let mut out = MbufBurst::<32>::new();
        for first in (0..PACKETS).step_by(30) {
            pool.alloc_bulk(&mut out, 30).unwrap();
            for (i, m) in out.iter_mut().enumerate() {
                let d = m.append(8).unwrap();
                d[..4].copy_from_slice(&(first + i as u32).to_be_bytes());
                d[4..].fill(0);
            }
            assert_eq!(tx.tx_burst(&mut out), 30);
        }
    }

    let stop = AtomicBool::new(false);
    let violations = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let (mut rounds, mut fwd) = (0u64, Vec::new());
    eal.scope(|s| {
        let ha = s.launch(1, || forward(&a, &stop)).unwrap();
        let hb = s.launch(2, || forward(&b, &stop)).unwrap();
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            // Each round: an RX callback on a (rewriting), a first RX callback on b and a TX
            // callback on b (counting); then all three go, and each marks itself removed.
            let mut ids = Vec::new();
            let mut marks = Vec::new();
            for kind in 0..3 {
                let removed = Arc::new(AtomicBool::new(false));
                let (r, v, c) = (removed.clone(), violations.clone(), calls.clone());
                // Looks at its mark for a while: a removal must wait until it is done.
                let cb = move |_: u16, _: u16, burst: &mut rpdk_mbuf::BurstView<'_>| {
                    for _ in 0..64 {
                        if r.load(Ordering::SeqCst) {
                            v.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        std::hint::spin_loop();
                    }
                    c.fetch_add(1, Ordering::Relaxed);
                    if kind == 0 {
                        for m in burst.as_mut_slice() {
                            let d = m.data_mut().unwrap();
                            d[4] = d[4].wrapping_add(1);
                        }
                    }
                };
                let id = match kind {
                    0 => (a.clone(), true, a.add_rx_callback(0, cb).unwrap()),
                    1 => (b.clone(), true, b.add_first_rx_callback(0, cb).unwrap()),
                    _ => (b.clone(), false, b.add_tx_callback(0, cb).unwrap()),
                };
                ids.push(id);
                marks.push(removed);
            }
            std::thread::sleep(Duration::from_micros(200));
            for ((port, is_rx, id), removed) in ids.into_iter().zip(marks) {
                if is_rx {
                    port.remove_rx_callback(id).unwrap();
                } else {
                    port.remove_tx_callback(id).unwrap();
                }
                removed.store(true, Ordering::SeqCst);
            }
            rounds += 1;
        }
        // Removed callbacks stay silent while traffic keeps flowing.
        std::thread::sleep(Duration::from_millis(20));
        stop.store(true, Ordering::Relaxed);
        fwd.push(ha.join().unwrap());
        fwd.push(hb.join().unwrap());
    });
    assert_eq!(
        violations.load(Ordering::Relaxed),
        0,
        "a removed callback ran"
    );
    assert!(rounds > 10 && calls.load(Ordering::Relaxed) > 0);
    assert!(fwd.iter().all(|f| f.bursts > 0));

    // Every packet is somewhere exactly once: in a ring or held by a forwarder.
    let mut seen: Vec<u32> = fwd.iter().flat_map(|f| f.held.iter().copied()).collect();
    for port in [&a, &b] {
        let mut rx = port.rx_queue(0).unwrap();
        let mut got = MbufBurst::<32>::new();
        while rx.rx_burst(&mut got) > 0 {
            seen.extend(got.iter().map(seq));
            got.clear();
        }
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..PACKETS).collect::<Vec<_>>(),
        "none lost, none twice"
    );
    for p in [a, b] {
        p.stop().unwrap();
        p.close().unwrap();
    }
    assert_eq!(pool.in_use_count(), 0);
    pool.audit().unwrap();
    pool.free();
    ab.free().unwrap();
    ba.free().unwrap();
}
