//! The API on heap rings, one thread: DPDK's return values, free space and available counts,
//! sizes, handles and their claims, peek and zero-copy, run-time modes.

use rpdk_ring::{
    Consumer, ConsumerMode, Error, Mc, McHts, McRts, Mp, MpHts, MpRts, Peek, Producer,
    ProducerMode, Ring, RingBuilder, RingFlags, Sc, Sp, SyncType,
};

fn pair<T: Copy + Send, P: ProducerMode, C: ConsumerMode>(
    count: u32,
) -> (Producer<T, P>, Consumer<T, C>) {
    RingBuilder::new(count).pair().expect("ring")
}

/// Bulk, burst and single on a ring of 8 slots (capacity 7), with DPDK's counts.
fn counts_as_dpdk<P: ProducerMode, C: ConsumerMode>() {
    let (tx, rx) = pair::<u32, P, C>(8);
    let ring = tx.ring().clone();
    assert_eq!((ring.size(), ring.capacity()), (8, 7));
    assert!(ring.is_empty() && !ring.is_full());

    let e = tx.enqueue_bulk(&[1, 2, 3, 4, 5]);
    assert_eq!((e.count, e.free_space), (5, 2));
    let e = tx.enqueue_bulk(&[6, 7, 8]);
    assert_eq!((e.count, e.free_space), (0, 2), "bulk is all or nothing");
    let e = tx.enqueue_burst(&[6, 7, 8]);
    assert_eq!((e.count, e.free_space), (2, 0), "burst takes what fits");
    assert!(ring.is_full());
    assert_eq!((ring.count(), ring.free_count()), (7, 0));
    assert_eq!(tx.enqueue(9), Err(9));

    let mut out = [0u32; 8];
    let d = rx.dequeue_bulk(&mut out);
    assert_eq!((d.count, d.available), (0, 7), "bulk of 8 from 7");
    let d = rx.dequeue_bulk(&mut out[..3]);
    assert_eq!((d.count, d.available), (3, 4));
    assert_eq!(out[..3], [1, 2, 3]);
    let d = rx.dequeue_burst(&mut out);
    assert_eq!((d.count, d.available), (4, 0));
    assert_eq!(out[..4], [4, 5, 6, 7]);
    assert_eq!(rx.dequeue(), None);
    assert!(ring.is_empty());

    // Wrap around many times with single elements and odd bursts.
    let mut next = 0u32;
    let mut expect = 0u32;
    for round in 0..100u32 {
        let k = (round % 6 + 1) as usize;
        let objs: Vec<u32> = (0..k as u32).map(|i| next + i).collect();
        assert_eq!(tx.enqueue_bulk(&objs).count, k);
        next += k as u32;
        tx.enqueue(next).unwrap();
        next += 1;
        let mut got = vec![0; k + 1];
        assert_eq!(rx.dequeue_burst(&mut got).count, k + 1);
        for v in got {
            assert_eq!(v, expect);
            expect += 1;
        }
    }
    // Empty bulks and bursts are no-ops that still report.
    let e = tx.enqueue_bulk(&[]);
    assert_eq!((e.count, e.free_space), (0, 7));
    let d = rx.dequeue_burst(&mut []);
    assert_eq!((d.count, d.available), (0, 0));
}

#[test]
fn every_mode_pair_counts_as_dpdk() {
    counts_as_dpdk::<Sp, Sc>();
    counts_as_dpdk::<Mp, Mc>();
    counts_as_dpdk::<MpRts, McRts>();
    counts_as_dpdk::<MpHts, McHts>();
    counts_as_dpdk::<Sp, McRts>();
    counts_as_dpdk::<MpRts, Sc>();
    counts_as_dpdk::<MpHts, Mc>();
    counts_as_dpdk::<Mp, McHts>();
}

#[test]
fn exact_size_ring_holds_exactly_count() {
    let (tx, rx) = RingBuilder::new(100)
        .exact_size(true)
        .pair::<u64, Mp, Mc>()
        .unwrap();
    assert_eq!((tx.ring().size(), tx.ring().capacity()), (128, 100));
    let objs: Vec<u64> = (0..101).collect();
    assert_eq!(tx.enqueue_burst(&objs).count, 100);
    assert!(tx.ring().is_full());
    let mut out = vec![0; 128];
    assert_eq!(rx.dequeue_burst(&mut out).count, 100);
    assert_eq!(out[..100], objs[..100]);
    assert!(tx.ring().flags().contains(RingFlags::EXACT_SZ));
}

#[test]
fn creation_errors_say_what_is_wrong() {
    let msg = |r: Result<Ring<u32>, Error>| r.unwrap_err().to_string();
    assert!(msg(Ring::new(1000, RingFlags::empty())).contains("power of two"));
    assert!(msg(Ring::new(0, RingFlags::EXACT_SZ)).contains("out of range"));
    assert!(msg(Ring::new(1 << 31, RingFlags::empty())).contains("power of two"));
    assert!(msg(Ring::new(8, RingFlags::SP_ENQ | RingFlags::MP_RTS_ENQ)).contains("SP_ENQ"));
    assert!(msg(Ring::new(8, RingFlags::from_bits(0x100))).contains("unsupported flags"));
    let long = "x".repeat(29);
    let e = RingBuilder::new(8).name(&long).build::<u32>().unwrap_err();
    assert!(e.to_string().contains("at most 28"), "{e}");
    let e = RingBuilder::new(8).build::<()>().unwrap_err();
    assert!(e.to_string().contains("size 0"), "{e}");
    #[derive(Clone, Copy)]
    #[repr(align(256))]
    struct Big(#[allow(dead_code)] u8);
    let e = RingBuilder::new(8).build::<Big>().unwrap_err();
    assert!(e.to_string().contains("aligned to 256"), "{e}");
}

#[test]
fn single_side_handles_are_claimed_once_and_modes_must_match() {
    let ring = Ring::<u32>::new(8, RingFlags::SP_ENQ | RingFlags::SC_DEQ).unwrap();
    let tx = ring.producer::<Sp>().unwrap();
    assert!(matches!(
        ring.producer::<Sp>(),
        Err(Error::Busy {
            side: "producer",
            ..
        })
    ));
    let rx = ring.consumer::<Sc>().unwrap();
    assert!(matches!(
        ring.consumer::<Sc>(),
        Err(Error::Busy {
            side: "consumer",
            ..
        })
    ));
    drop(tx);
    let tx = ring.producer::<Sp>().expect("free again once dropped");
    let e = ring.producer::<Mp>().unwrap_err();
    assert!(e.to_string().contains("producer side is SP, not MP"), "{e}");
    let e = ring.consumer::<McHts>().unwrap_err();
    assert!(
        e.to_string().contains("consumer side is SC, not MC_HTS"),
        "{e}"
    );
    tx.enqueue(5).unwrap();
    assert_eq!(rx.dequeue(), Some(5));

    let mp = Ring::<u32>::new(8, RingFlags::empty()).unwrap();
    let a = mp.producer::<Mp>().unwrap();
    let b = mp.producer::<Mp>().unwrap();
    let c = a.clone();
    for (i, p) in [a, b, c].iter().enumerate() {
        p.enqueue(i as u32).unwrap();
    }
    assert_eq!(mp.count(), 3);
}

#[test]
fn handles_have_the_promised_auto_traits() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    fn clone<T: Clone>() {}
    send::<Producer<u64, Sp>>();
    send::<Consumer<u64, Sc>>();
    send::<Producer<u64, Mp>>();
    sync::<Producer<u64, Mp>>();
    sync::<Producer<u64, MpRts>>();
    sync::<Producer<u64, MpHts>>();
    sync::<Consumer<u64, Mc>>();
    sync::<Consumer<u64, McRts>>();
    sync::<Consumer<u64, McHts>>();
    clone::<Producer<u64, MpHts>>();
    clone::<Consumer<u64, McRts>>();
    send::<Ring<u64>>();
    sync::<Ring<u64>>();
}

#[test]
fn sixteen_byte_and_odd_sized_elements() {
    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Desc {
        addr: u64,
        len: u32,
        flags: u16,
        port: u8,
    }
    let (tx, rx) = pair::<Desc, Sp, Sc>(64);
    let objs: Vec<Desc> = (0..40)
        .map(|i| Desc {
            addr: i * 4096,
            len: i as u32 * 3,
            flags: i as u16,
            port: i as u8,
        })
        .collect();
    for _ in 0..5 {
        assert_eq!(tx.enqueue_bulk(&objs).count, 40);
        let mut out = vec![objs[0]; 40];
        assert_eq!(rx.dequeue_bulk(&mut out).count, 40);
        assert_eq!(out, objs);
    }
    let (tx, rx) = pair::<[u8; 3], Mp, Mc>(16);
    for i in 0..50u8 {
        tx.enqueue([i, i ^ 0xff, 7]).unwrap();
        assert_eq!(rx.dequeue(), Some([i, i ^ 0xff, 7]));
    }
    let (tx, rx) = pair::<u128, MpHts, McRts>(16);
    let big: Vec<u128> = (0..15).map(|i| (i as u128) << 100 | i as u128).collect();
    assert_eq!(tx.enqueue_burst(&big).count, 15);
    let mut out = [0u128; 15];
    assert_eq!(rx.dequeue_bulk(&mut out).count, 15);
    assert_eq!(out[..], big[..]);
}

#[test]
fn peek_enqueue_and_dequeue_on_st_and_hts() {
    fn run<P: ProducerMode + Peek, C: ConsumerMode + Peek>() {
        let (mut tx, mut rx) = pair::<u32, P, C>(8);
        // Reserve 4, publish 2: the other 2 go back.
        let g = tx.enqueue_bulk_start(4);
        assert_eq!((g.len(), g.free_space()), (4, 3));
        assert_eq!(g.finish(&[10, 11]), 2);
        assert_eq!(tx.ring().count(), 2);
        // A bulk reservation larger than the room gives nothing.
        let g = tx.enqueue_bulk_start(6);
        assert_eq!((g.len(), g.free_space(), g.is_empty()), (0, 5, true));
        assert_eq!(g.finish(&[1]), 0);
        // A dropped reservation publishes nothing.
        let g = tx.enqueue_burst_start(3);
        assert_eq!(g.len(), 3);
        drop(g);
        assert_eq!(tx.ring().count(), 2);
        // Peek dequeue: see both, remove one.
        let mut out = [0; 2];
        let g = rx.dequeue_burst_start(&mut out);
        assert_eq!((g.len(), g.available()), (2, 0));
        assert_eq!(g.finish(1), 1);
        assert_eq!(out, [10, 11]);
        assert_eq!(rx.ring().count(), 1);
        let mut out = [0; 1];
        drop(rx.dequeue_bulk_start(&mut out));
        assert_eq!(rx.ring().count(), 1, "a dropped peek leaves the element");
        let g = rx.dequeue_bulk_start(&mut out);
        assert_eq!(g.finish(5), 1, "finish is capped at the reservation");
        assert_eq!(out, [11]);
        assert!(rx.ring().is_empty());
    }
    run::<Sp, Sc>();
    run::<MpHts, McHts>();
    run::<Sp, McHts>();
    run::<MpHts, Sc>();
}

#[test]
fn zero_copy_gives_two_slices_when_wrapping() {
    let (mut tx, mut rx) = pair::<u64, Sp, McHts>(8);
    // Move positions to 5 so a reservation of 5 wraps (slots 5, 6, 7, then 0, 1).
    assert_eq!(tx.enqueue_burst(&[0; 5]).count, 5);
    let mut out = [0; 5];
    assert_eq!(rx.dequeue_bulk(&mut out).count, 5);

    let mut zc = tx.enqueue_zc_bulk_start(5);
    assert_eq!((zc.len(), zc.free_space()), (5, 2));
    {
        let (a, b) = zc.slices_mut();
        assert_eq!((a.len(), b.len()), (3, 2));
    }
    for v in 100..105 {
        zc.push(v).unwrap();
    }
    assert_eq!(zc.push(1), Err(1), "full reservation");
    assert_eq!(zc.finish(), 5);

    let zc = rx.dequeue_zc_burst_start(8);
    assert_eq!((zc.len(), zc.available()), (5, 0));
    let (a, b) = zc.slices();
    assert_eq!((a, b), (&[100, 101, 102][..], &[103, 104][..]));
    assert_eq!(zc.finish(2), 2);
    assert_eq!(rx.ring().count(), 3);

    // Written through the slices, published with set_written.
    let mut zc = tx.enqueue_zc_burst_start(2);
    {
        let (a, _) = zc.slices_mut();
        a[0].write(7);
        a[1].write(8);
    }
    // SAFETY: both reserved slots were written above.
    unsafe { zc.set_written(2) };
    assert_eq!(zc.finish(), 2);
    // A dropped zero-copy reservation publishes nothing.
    let mut zc = tx.enqueue_zc_burst_start(2);
    zc.push(99).unwrap();
    drop(zc);
    let zc = rx.dequeue_zc_bulk_start(5);
    let (a, b) = zc.slices();
    let all: Vec<u64> = a.iter().chain(b).copied().collect();
    assert_eq!(all, [102, 103, 104, 7, 8]);
    drop(zc);
    assert_eq!(
        rx.ring().count(),
        5,
        "dropped dequeue reservation keeps them"
    );
    let zc = rx.dequeue_zc_bulk_start(6);
    assert!(zc.is_empty(), "bulk of 6 from 5");
}

#[test]
fn run_time_modes_dispatch_to_every_protocol() {
    for prod in [SyncType::Mt, SyncType::St, SyncType::MtRts, SyncType::MtHts] {
        for cons in [SyncType::Mt, SyncType::St, SyncType::MtRts, SyncType::MtHts] {
            let ring = RingBuilder::new(16)
                .sync(prod, cons)
                .build::<u64>()
                .unwrap();
            assert_eq!((ring.prod_sync(), ring.cons_sync()), (prod, cons));
            // SAFETY: one thread uses the ring.
            unsafe {
                assert_eq!(ring.enqueue_bulk(&[1, 2, 3]).count, 3);
                assert_eq!(ring.enqueue(4), Ok(()));
                let e = ring.enqueue_burst(&[5; 20]);
                assert_eq!((e.count, e.free_space), (11, 0));
                assert_eq!(ring.dequeue(), Some(1));
                let mut out = [0; 3];
                let d = ring.dequeue_bulk(&mut out);
                assert_eq!((d.count, d.available, out), (3, 11, [2, 3, 4]));
                let mut out = [0; 20];
                assert_eq!(ring.dequeue_burst(&mut out).count, 11);
                assert_eq!(ring.enqueue_bulk(&[9; 5]).count, 5);
                ring.reset();
            }
            assert!(ring.is_empty());
            assert_eq!(ring.count(), 0);
            // SAFETY: one thread uses the ring.
            unsafe { assert_eq!(ring.dequeue(), None) };
        }
    }
}

#[test]
fn rts_head_tail_distance_is_settable_on_rts_sides_only() {
    let ring = Ring::<u32>::new(1024, RingFlags::MP_RTS_ENQ).unwrap();
    assert_eq!(ring.prod_htd_max(), 1023 / 8);
    assert_eq!(ring.cons_htd_max(), u32::MAX);
    ring.set_prod_htd_max(3).unwrap();
    assert_eq!(ring.prod_htd_max(), 3);
    let e = ring.set_cons_htd_max(3).unwrap_err();
    assert!(e.to_string().contains("not RTS"), "{e}");
    // With a distance of 3, single-thread use still works (head never runs ahead).
    let tx = ring.producer::<MpRts>().unwrap();
    let rx = ring.consumer::<Mc>().unwrap();
    for i in 0..100 {
        tx.enqueue(i).unwrap();
        assert_eq!(rx.dequeue(), Some(i));
    }
}

#[test]
fn dump_and_debug_show_the_state() {
    let (tx, _rx) = RingBuilder::new(16)
        .name("dumped")
        .pair::<u32, Mp, Sc>()
        .unwrap();
    assert_eq!(tx.enqueue_bulk(&[1, 2, 3]).count, 3);
    let mut out = Vec::new();
    tx.ring().dump(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    for line in [
        "ring <dumped>@",
        "size=16",
        "capacity=15",
        "pt=3",
        "ph=3",
        "used=3",
        "avail=12",
    ] {
        assert!(text.contains(line), "{line} missing in\n{text}");
    }
    let dbg = format!("{tx:?}");
    assert!(dbg.contains("MP") && dbg.contains("dumped"), "{dbg}");
}

/// Dequeues into memory not yet initialised write exactly what they report.
#[test]
fn dequeues_into_uninitialised_memory() {
    use std::mem::MaybeUninit;
    let (tx, rx) = RingBuilder::new(16).pair::<u64, Sp, Sc>().unwrap();
    assert_eq!(tx.enqueue_burst(&[1, 2, 3, 4, 5]).count, 5);
    let mut out = [MaybeUninit::<u64>::uninit(); 8];
    assert_eq!(
        rx.dequeue_bulk_uninit(&mut out).count,
        0,
        "8 are not there: none"
    );
    let got = rx.dequeue_burst_uninit(&mut out);
    assert_eq!((got.count, got.available), (5, 0));
    // SAFETY: the first 5 were written by the dequeue.
    let vals: Vec<u64> = out[..5]
        .iter()
        .map(|v| unsafe { v.assume_init() })
        .collect();
    assert_eq!(vals, [1, 2, 3, 4, 5]);
    assert_eq!(tx.enqueue_burst(&[6, 7]).count, 2);
    assert_eq!(rx.dequeue_bulk_uninit(&mut out[..2]).count, 2);
    // SAFETY: both written.
    let both = unsafe { [out[0].assume_init(), out[1].assume_init()] };
    assert_eq!(both, [6, 7]);
}
