//! Mbufs on a real EAL: allocation, room, chains, clones, external buffers, copies, bursts,
//! dynamic fields, and lcores sharing pools. Every test ends with the pool audit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rpdk_eal::Eal;
use rpdk_mbuf::{
    DynField, DynFlag, ExternalBuffer, MBUF_DEFAULT_BUF_SIZE, MBUF_PORT_INVALID, Mbuf, MbufBurst,
    MbufError, OlFlags, PacketType, PktmbufPool,
};
use rpdk_mempool::Ops;
use rpdk_testsupport::{allowed_cpus, serial};

fn init() -> Eal {
    let cpus = allowed_cpus();
    let map = format!("0@{},1@{}", cpus[0], cpus[cpus.len() - 1]);
    rpdk_eal::init(["mbuf-test", "--no-huge", "--no-shconf", "--lcores", &map])
        .unwrap()
        .0
}

fn pool(name: &str, n: u32) -> PktmbufPool {
    PktmbufPool::create(name, n, 0, 8, MBUF_DEFAULT_BUF_SIZE, None).unwrap()
}

fn done(p: PktmbufPool) {
    p.audit().expect("every mbuf back, none twice");
    p.free();
}

#[test]
fn alloc_reset_and_room() {
    let _s = serial();
    let _eal = init();
    // A stack gives the last freed mbuf back first, which the end of the test relies on.
    let p = PktmbufPool::create_with_ops("room", 16, 0, 8, MBUF_DEFAULT_BUF_SIZE, None, Ops::Stack)
        .unwrap();
    assert_eq!(
        (p.data_room_size(), p.priv_size()),
        (MBUF_DEFAULT_BUF_SIZE, 8)
    );
    let mut m = p.alloc().unwrap();
    assert_eq!(
        (m.headroom(), m.tailroom(), m.data_len(), m.pkt_len()),
        (128, 2048, 0, 0)
    );
    assert_eq!(
        (m.port(), m.nb_segs(), m.refcnt()),
        (MBUF_PORT_INVALID, 1, 1)
    );
    assert!(m.is_direct() && !m.is_shared());
    assert_eq!(m.pool_name(), "room");
    assert_eq!(m.data_iova(), m.data().as_ptr() as u64, "VA mode");
    assert_eq!(m.priv_data().len(), 8);
    m.priv_data_mut().copy_from_slice(b"private!");

    m.append(10).unwrap().copy_from_slice(b"0123456789");
    m.prepend(4).unwrap().copy_from_slice(b"head");
    assert_eq!(m.data(), b"head0123456789");
    assert_eq!((m.headroom(), m.tailroom(), m.pkt_len()), (124, 2038, 14));
    m.adj(4).unwrap();
    m.trim(5).unwrap();
    assert_eq!(m.data(), b"01234");
    assert_eq!(m.prepend(129).unwrap_err(), MbufError::NoRoom);
    assert_eq!(m.append(2044).unwrap_err(), MbufError::NoRoom);
    assert_eq!(m.adj(6).unwrap_err(), MbufError::OutOfBounds);
    assert_eq!(m.trim(6).unwrap_err(), MbufError::OutOfBounds);
    assert_eq!(m.data(), b"01234", "failed operations change nothing");
    m.data_mut().unwrap()[0] = b'X';

    m.set_port(3);
    m.set_ol_flags(OlFlags::RX_VLAN | OlFlags::RX_IP_CKSUM_GOOD);
    m.set_rss_hash(0xdead_beef);
    assert_eq!(m.rss_hash(), 0xdead_beef);
    m.set_packet_type(PacketType::L2_ETHER | PacketType::L3_IPV4);
    m.set_tx_lens(14, 20, 8);
    assert_eq!((m.l2_len(), m.l3_len(), m.l4_len()), (14, 20, 8));
    assert!(
        m.ol_flags()
            .contains(OlFlags::RX_RSS_HASH | OlFlags::RX_VLAN)
    );
    drop(m);
    // The next allocation (the same mbuf) is reset.
    let m = p.alloc().unwrap();
    assert_eq!(
        (
            m.port(),
            m.ol_flags(),
            m.packet_type(),
            m.data_len(),
            m.l2_len()
        ),
        (MBUF_PORT_INVALID, OlFlags::NONE, PacketType::UNKNOWN, 0, 0)
    );
    assert_eq!(
        m.priv_data(),
        b"private!",
        "the private area is the application's"
    );
    drop(m);
    done(p);
}

#[test]
fn exhaustion_is_an_error() {
    let _s = serial();
    let _eal = init();
    let p = pool("exhaust", 40);
    let mut a = MbufBurst::<32>::new();
    p.alloc_bulk(&mut a, 32).unwrap();
    let mut b = MbufBurst::<32>::new();
    assert!(p.alloc_bulk(&mut b, 9).is_err(), "all or nothing");
    assert!(b.is_empty());
    assert_eq!(p.in_use_count(), 32);
    p.alloc_bulk(&mut b, 8).unwrap();
    assert!(p.alloc().is_err());
    assert!(p.alloc_bulk(&mut a, 1).is_err(), "a full burst refuses too");
    drop(a);
    drop(b);
    assert_eq!(p.in_use_count(), 0);
    done(p);
}

#[test]
fn chains_read_and_linearize() {
    let _s = serial();
    let _eal = init();
    let p = pool("chains", 16);
    let mut head = p.alloc().unwrap();
    head.append(3).unwrap().copy_from_slice(b"abc");
    for part in [&b"defg"[..], b"hi", b"jklmn"] {
        let mut seg = p.alloc().unwrap();
        seg.append(part.len() as u16).unwrap().copy_from_slice(part);
        head.chain(seg).unwrap();
    }
    assert_eq!(
        (head.nb_segs(), head.pkt_len(), head.data_len()),
        (4, 14, 3)
    );
    let segs: Vec<&[u8]> = head.segments().map(|s| s.data()).collect();
    assert_eq!(segs, [&b"abc"[..], b"defg", b"hi", b"jklmn"]);
    let mut buf = [0u8; 8];
    assert_eq!(
        head.read(2, &mut buf).unwrap(),
        b"cdefghij",
        "across segments"
    );
    let mut two = [0u8; 2];
    assert_eq!(head.read(4, &mut two).unwrap(), b"ef", "inside one segment");
    assert!(head.read(10, &mut [0u8; 5]).is_none(), "past the end");
    assert_eq!(head.tailroom(), 2048 - 5, "the last segment's");
    head.append(1).unwrap()[0] = b'o';
    assert_eq!(head.pkt_len(), 15);
    assert_eq!(p.in_use_count(), 4);
    head.linearize().unwrap();
    assert_eq!(head.data(), b"abcdefghijklmno");
    assert_eq!((head.nb_segs(), head.pkt_len()), (1, 15));
    assert_eq!(p.in_use_count(), 1, "the other segments went back");
    let (pt, _) = head.parse_packet_type(PacketType::ALL_MASK);
    assert_eq!(pt.l2(), PacketType::L2_ETHER);
    drop(head);
    done(p);
}

#[test]
fn clones_share_data_and_refcounts() {
    let _s = serial();
    let _eal = init();
    let p = pool("clones", 16);
    let clones = pool("clonepool", 16);
    let mut m = p.alloc().unwrap();
    m.append(5).unwrap().copy_from_slice(b"hello");
    let mut tail = p.alloc().unwrap();
    tail.append(6).unwrap().copy_from_slice(b" world");
    m.chain(tail).unwrap();
    m.set_port(7);

    let c = m.clone_indirect(&clones).unwrap();
    assert!(c.is_indirect() && !c.is_direct());
    assert!(m.is_own_buffer_of(&p) && !m.is_own_buffer_of(&clones));
    assert!(
        !c.is_own_buffer_of(&clones) && !c.is_own_buffer_of(&p),
        "a clone's buffer is not its own"
    );
    assert_eq!(
        c.buf_addr(),
        m.buf_addr(),
        "the clone points at the direct mbuf's buffer"
    );
    assert_eq!(
        m.data().as_ptr(),
        m.buf_addr().wrapping_add(m.headroom() as usize),
        "the data starts headroom bytes into the buffer"
    );
    assert_eq!((c.pkt_len(), c.nb_segs(), c.port()), (11, 2, 7));
    assert_eq!(c.data().as_ptr(), m.data().as_ptr(), "same bytes");
    assert_eq!(m.refcnt(), 2);
    assert!(m.is_shared() && c.is_shared());
    assert_eq!(m.data_mut().unwrap_err(), MbufError::Shared);
    assert_eq!(m.append(1).unwrap_err(), MbufError::Shared);

    let c2 = c.clone_indirect(&clones).unwrap();
    assert_eq!(
        m.refcnt(),
        3,
        "a clone of a clone points at the direct mbuf"
    );
    drop(m);
    assert_eq!(
        p.in_use_count(),
        2,
        "the original's buffers live while clones do"
    );
    let mut buf = [0u8; 11];
    assert_eq!(c2.read(0, &mut buf).unwrap(), b"hello world");
    drop(c);
    assert_eq!(p.in_use_count(), 2);
    assert_eq!(clones.in_use_count(), 2);
    let mut c2 = c2;
    assert!(!c2.is_shared(), "the last user may write");
    c2.data_mut().unwrap()[0] = b'J';
    drop(c2);
    assert_eq!((p.in_use_count(), clones.in_use_count()), (0, 0));
    done(p);
    done(clones);
}

#[test]
fn external_buffers_are_freed_by_the_last_user() {
    let _s = serial();
    let _eal = init();
    let p = pool("extbuf", 16);
    let freed = Arc::new(AtomicUsize::new(0));
    let mut backing = vec![0u8; 4096].into_boxed_slice();
    backing[100..105].copy_from_slice(b"outer");
    let ptr = std::ptr::NonNull::new(Box::into_raw(backing) as *mut u8).unwrap();
    let f = freed.clone();
    // SAFETY: the memory is ours until the callback, which frees it.
    let ext = unsafe {
        ExternalBuffer::from_raw(ptr, 4096, ptr.as_ptr() as u64, move |p| {
            f.fetch_add(1, Ordering::SeqCst);
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, 4096)));
        })
    };
    let mut m = p.alloc().unwrap();
    m.attach_external(ext, 100).map_err(|(e, _)| e).unwrap();
    assert!(m.has_external());
    assert_eq!((m.headroom(), m.buf_len()), (100, 4096));
    m.append(5).unwrap();
    assert_eq!(m.data(), b"outer");
    let c = m.clone_indirect(&p).unwrap();
    assert!(c.has_external());
    drop(m);
    assert_eq!(freed.load(Ordering::SeqCst), 0, "the clone still uses it");
    assert_eq!(c.data(), b"outer");
    drop(c);
    assert_eq!(
        freed.load(Ordering::SeqCst),
        1,
        "freed once, by the last user"
    );

    // An unattached external buffer frees itself; the mbuf gets its own buffer back.
    let boxed = ExternalBuffer::from_boxed(vec![7u8; 300].into_boxed_slice()).unwrap();
    assert_eq!(boxed.len(), 300);
    drop(boxed);
    assert!(ExternalBuffer::from_boxed(vec![0u8; 70_000].into_boxed_slice()).is_err());
    let mut m = p.alloc().unwrap();
    let ext = ExternalBuffer::from_boxed(vec![1u8; 64].into_boxed_slice()).unwrap();
    m.attach_external(ext, 0).map_err(|(e, _)| e).unwrap();
    m.reset();
    assert!(m.is_direct());
    assert_eq!((m.buf_len(), m.headroom()), (MBUF_DEFAULT_BUF_SIZE, 128));
    drop(m);
    done(p);
}

#[test]
fn copies_are_deep_and_may_chain() {
    let _s = serial();
    let _eal = init();
    let p = pool("copies", 16);
    let small = PktmbufPool::create("copies_small", 16, 0, 0, 128 + 100, None).unwrap();
    let mut m = p.alloc().unwrap();
    let payload: Vec<u8> = (0..250u8).collect();
    m.append(250).unwrap().copy_from_slice(&payload);
    m.set_port(2);
    let c = m.copy(&small, 10, 230).unwrap();
    assert!(c.nb_segs() > 1, "does not fit one 100-byte buffer");
    assert_eq!((c.pkt_len(), c.port()), (230, 2));
    let mut buf = vec![0u8; 230];
    assert_eq!(c.read(0, &mut buf).unwrap(), &payload[10..240]);
    m.data_mut().unwrap()[20] = 0;
    assert_eq!(
        c.read(10, &mut [0u8; 1]).unwrap(),
        &[20],
        "independent bytes"
    );
    assert_eq!(m.copy(&p, 200, 51).unwrap_err(), MbufError::OutOfBounds);
    drop((m, c));
    done(p);
    done(small);
}

#[test]
fn bursts_move_and_free_in_bulk() {
    let _s = serial();
    let _eal = init();
    let p = pool("bursts", 64);
    let mut b = MbufBurst::<16>::new();
    p.alloc_bulk(&mut b, 10).unwrap();
    for (i, m) in b.iter_mut().enumerate() {
        m.set_port(i as u16);
    }
    let mut sent = Vec::new();
    b.take_front(4, |m| sent.push(m.port()));
    assert_eq!(sent, [0, 1, 2, 3]);
    assert_eq!(
        b.iter().map(Mbuf::port).collect::<Vec<_>>(),
        [4, 5, 6, 7, 8, 9]
    );
    assert_eq!(
        p.in_use_count(),
        6,
        "taken mbufs were dropped by the closure"
    );
    let extra = p.alloc().unwrap();
    let mut full = MbufBurst::<1>::new();
    full.push(p.alloc().unwrap()).unwrap();
    let back = full.push(extra).unwrap_err();
    drop(back);
    // A chained mbuf frees every segment.
    let mut head = p.alloc().unwrap();
    head.chain(p.alloc().unwrap()).unwrap();
    b.push(head).unwrap();
    assert_eq!(p.in_use_count(), 9);
    b.clear();
    drop(full);
    assert_eq!(p.in_use_count(), 0);
    done(p);
}

#[test]
fn tail_views_keep_drop_and_add() {
    let _s = serial();
    let _eal = init();
    let p = pool("tails", 64);
    let mut b = MbufBurst::<16>::new();
    p.alloc_bulk(&mut b, 8).unwrap();
    for (i, m) in b.iter_mut().enumerate() {
        m.set_port(i as u16);
    }
    // The view starts at 3: the odd ones of 3..8 go, one is added, 0..3 are untouched.
    let freed = b.with_tail_view(3, 2, |v| {
        assert_eq!((v.len(), v.room()), (5, 2));
        let freed = v.retain(|m| m.port() % 2 == 0);
        let mut extra = p.alloc().unwrap();
        extra.set_port(100);
        v.push(extra).unwrap();
        freed
    });
    assert_eq!(freed, 3);
    assert_eq!(
        b.iter().map(Mbuf::port).collect::<Vec<_>>(),
        [0, 1, 2, 4, 6, 100]
    );
    assert_eq!(p.in_use_count(), 6, "dropped mbufs went back to the pool");
    b.clear();
    done(p);
}

#[test]
fn dynamic_fields_and_flags() {
    let _s = serial();
    let _eal = init();
    let p = pool("dynf", 8);
    let ts: DynField<u64> = DynField::register("test_timestamp").unwrap();
    let seq: DynField<u32> = DynField::register("test_seq").unwrap();
    let again: DynField<u64> = DynField::register("test_timestamp").unwrap();
    assert_eq!(ts.offset(), again.offset());
    assert_ne!(ts.offset(), seq.offset());
    assert!(ts.offset() >= 92 && ts.offset() + 8 <= 128 && ts.offset().is_multiple_of(8));
    assert!(matches!(
        DynField::<u16>::register("test_timestamp"),
        Err(rpdk_mbuf::DynError::Conflict(_))
    ));
    let flag = DynFlag::register("test_flag").unwrap();
    assert!((23..=40).contains(&flag.bit()));
    let mut m = p.alloc().unwrap();
    ts.set(&mut m, 0x0102_0304_0506_0708);
    seq.set(&mut m, 77);
    flag.set(&mut m, true);
    m.set_port(1);
    assert_eq!((ts.get(&m), seq.get(&m)), (0x0102_0304_0506_0708, 77));
    assert!(flag.get(&m));
    m.set_ol_flags(m.ol_flags() | OlFlags::RX_VLAN);
    assert!(flag.get(&m), "other flags leave it alone");
    flag.set(&mut m, false);
    assert!(!flag.get(&m));
    // The area is bytes 92..128: seq took 92..96 and ts 96..104, so three more u64 fit.
    let mut regs = 0;
    while DynField::<u64>::register(&format!("test_fill_{regs}")).is_ok() {
        regs += 1;
        assert!(regs < 10);
    }
    assert_eq!(regs, 3, "104..128 holds three u64");
    let mut out = Vec::new();
    rpdk_mbuf::dynfield::dump(&mut out).unwrap();
    assert!(String::from_utf8(out).unwrap().contains("name=test_seq"));
    drop(m);
    done(p);
}

/// Lcores allocate and free mbufs across each other's caches, and clone and free the same
/// mbufs concurrently: refcounts settle, nothing leaks.
#[test]
fn lcores_allocate_free_and_clone_concurrently() {
    let _s = serial();
    let eal = init();
    let p = PktmbufPool::create("mt", 4096, 256, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let clones = PktmbufPool::create("mtclones", 8192, 256, 0, 0, None).unwrap();
    let originals: Vec<Mbuf> = (0..256)
        .map(|i| {
            let mut m = p.alloc().unwrap();
            m.append(4)
                .unwrap()
                .copy_from_slice(&(i as u32).to_be_bytes());
            m
        })
        .collect();
    let results = eal.run_on_lcores(|lcore| {
        let mut kept = Vec::new();
        let mut burst = MbufBurst::<32>::new();
        for round in 0..2000 {
            // Clone every 8th original and keep a few clones around for a while.
            let o = &originals[(round * 7 + lcore as usize) % originals.len()];
            let c = o.clone_indirect(&clones).unwrap();
            assert_eq!(c.data(), o.data());
            kept.push(c);
            if kept.len() > 16 {
                kept.drain(..8);
            }
            p.alloc_bulk(&mut burst, 16).unwrap();
            burst.clear();
        }
        kept.len()
    });
    for (lcore, r) in results {
        r.unwrap_or_else(|e| panic!("lcore {lcore}: {e}"));
    }
    assert!(
        originals.iter().all(|m| m.refcnt() == 1),
        "every clone released its reference"
    );
    drop(originals);
    done(p);
    done(clones);
}

/// Pools take `ring_mp_mc` unless `--mbuf-pool-ops-name` says otherwise; bad names and
/// single-thread ops are errors that say what was wrong.
#[test]
fn pool_ops_come_from_the_eal_flag() {
    let _s = serial();
    {
        let _eal = init();
        let p = pool("ops_default", 64);
        assert_eq!(p.mempool().ops(), Ops::RingMpMc);
        done(p);
        let e = PktmbufPool::create_with_ops("ops_st", 64, 0, 0, 256, None, Ops::RingSpSc)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ops ring_sp_sc has a single-thread side"), "{e}");
        assert!(PktmbufPool::lookup("ops_st").is_none());
    }
    for (name, want) in [
        ("stack", Ok(Ops::Stack)),
        ("ring_mt_hts", Ok(Ops::RingMtHts)),
        (
            "rings",
            Err("--mbuf-pool-ops-name: unknown mempool ops 'rings'"),
        ),
    ] {
        let (_eal, _) = rpdk_eal::init([
            "mbuf-test",
            "--no-huge",
            "--no-shconf",
            "-l",
            "0",
            "--mbuf-pool-ops-name",
            name,
        ])
        .unwrap();
        match (PktmbufPool::create("ops_flag", 64, 0, 0, 256, None), want) {
            (Ok(p), Ok(ops)) => {
                assert_eq!(p.mempool().ops(), ops);
                done(p);
            }
            (Err(e), Err(msg)) => assert!(e.to_string().contains(msg), "{e}"),
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

/// Mbufs through rings: a full ring gives the mbuf back, bulks are all or nothing, a named
/// ring is found again, and two lcores pass mbufs (with their data) through an SP/SC ring.
#[test]
fn mbuf_rings_move_ownership_between_lcores() {
    use rpdk_mbuf::MbufRing;
    use rpdk_ring::{Mc, Mp, RingFlags, Sc, Sp};
    let _s = serial();
    let eal = init();
    let p = pool("rings", 1024);

    let ring = MbufRing::create("mbr", 8, None, RingFlags::empty()).unwrap();
    assert_eq!(ring.capacity(), 7);
    let (tx, rx) = (
        ring.producer::<Mp>().unwrap(),
        ring.consumer::<Mc>().unwrap(),
    );
    let mut burst = MbufBurst::<32>::new();
    p.alloc_bulk(&mut burst, 10).unwrap();
    assert_eq!(tx.enqueue_burst(&mut burst.view()), 7, "as many as fit");
    assert_eq!(burst.len(), 3, "the rest stay");
    assert!(
        !tx.enqueue_bulk(&mut burst.view()),
        "a bulk that does not fit takes none"
    );
    let m = burst.pop().unwrap();
    assert!(tx.enqueue(m).is_err(), "full: the mbuf comes back");
    assert!(!rx.dequeue_bulk(&mut burst.view(), 8), "not 8 in the ring");
    assert_eq!(burst.len(), 2);
    assert!(rx.dequeue_bulk(&mut burst.view(), 4));
    assert_eq!((burst.len(), ring.count()), (6, 3));
    let found = MbufRing::lookup("mbr").unwrap();
    assert_eq!(found.count(), 3);
    assert!(
        rpdk_ring::Ring::<u64>::lookup("mbr").is_err(),
        "not a ring of u64"
    );
    assert_eq!(rx.drain(), 3);
    drop(burst);
    ring.free().unwrap();

    let ring = MbufRing::new(64, RingFlags::SP_ENQ | RingFlags::SC_DEQ).unwrap();
    let tx = ring.producer::<Sp>().unwrap();
    let rx = ring.consumer::<Sc>().unwrap();
    assert!(ring.producer::<Sp>().is_err(), "one SP handle at a time");
    let total = 20_000u32;
    eal.scope(|s| {
        let pool = &p;
        let sender = s
            .launch(1, move || {
                let mut sent = 0u32;
                let mut burst = MbufBurst::<32>::new();
                while sent < total {
                    let want = (total - sent).min(32) as usize;
                    if burst.is_empty() && pool.alloc_bulk(&mut burst, want).is_ok() {
                        for (i, m) in burst.iter_mut().enumerate() {
                            let seq = sent + i as u32;
                            m.append(4).unwrap().copy_from_slice(&seq.to_be_bytes());
                        }
                    }
                    sent += tx.enqueue_burst(&mut burst.view()) as u32;
                }
            })
            .unwrap();
        let mut next = 0u32;
        let mut burst = MbufBurst::<32>::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while next < total && std::time::Instant::now() < deadline {
            rx.dequeue_burst(&mut burst.view());
            for m in burst.iter() {
                assert_eq!(m.data(), next.to_be_bytes(), "in order, data intact");
                next += 1;
            }
            burst.clear();
        }
        sender.join().unwrap();
        assert_eq!(next, total);
    });
    assert_eq!(ring.count(), 0);
    done(p);
}
