//! Dynamic fields across processes: a secondary finds the primary's fields and flags at the
//! primary's offsets, a field the secondary registers is placed by the primary (which then
//! finds it), a conflicting registration is refused by the primary, and the values a secondary
//! writes into mbufs of the primary's pool are read back by the primary through its own
//! handles.

use std::time::{Duration, Instant};

use rpdk_mbuf::{DynError, DynField, DynFlag, MBUF_DEFAULT_BUF_SIZE, MbufRing, PktmbufPool};
use rpdk_ring::{Mc, Mp, RingFlags};
use rpdk_testsupport::process::{Child, eal_args, role, runtime_dir, text, wait_for_primary};
use rpdk_testsupport::unique_prefix;

const FRAMES: u32 = 64;

#[test]
fn child() {
    let Some((role, prefix)) = role() else {
        return;
    };
    match role.as_str() {
        "primary" => primary(&prefix),
        "secondary" => secondary(&prefix),
        r => panic!("unknown role {r}"),
    }
}

fn primary(prefix: &str) {
    let (_eal, _) = rpdk_eal::init(eal_args("mp-dyn-test", prefix, "primary", 0)).unwrap();
    // Taken first, so that a secondary placing its own field could not land here by chance.
    let pad: DynField<u64> = DynField::register("mp_test_pad").unwrap();
    let seq: DynField<u32> = DynField::register("mp_test_seq").unwrap();
    let flag = DynFlag::register("mp_test_flag").unwrap();
    println!("primary: seq at {}, flag bit {}", seq.offset(), flag.bit());
    let _pool = PktmbufPool::create("mp_dyn_pool", 255, 0, 0, MBUF_DEFAULT_BUF_SIZE, None).unwrap();
    let ring = MbufRing::create("mp_dyn_ring", 128, None, RingFlags::empty()).unwrap();
    let rx = ring.consumer::<Mc>().unwrap();
    let start = Instant::now();
    let mut got = 0;
    while got < FRAMES {
        let Some(m) = rx.dequeue() else {
            assert!(start.elapsed() < Duration::from_secs(60), "got {got} mbufs");
            std::thread::sleep(Duration::from_millis(1));
            continue;
        };
        assert_eq!(
            seq.get(&m),
            1000 + got,
            "the secondary's value at the primary's offset"
        );
        assert!(flag.get(&m), "the secondary's flag");
        assert_eq!(pad.get(&m), 0);
        got += 1;
    }
    // The secondary's own field was placed here, by this process.
    let (off, size, _) = rpdk_mbuf::dynfield::lookup_field("mp_test_mark").unwrap();
    assert_eq!(size, 2);
    println!("primary: got {got} mbufs; mp_test_mark at {off}");
    // Until the secondary has gone, its mbufs may still be in flight.
    while std::fs::read_dir(runtime_dir(prefix))
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("mp_socket_"))
        })
        .unwrap_or(false)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(_pool.avail_count(), 255, "every mbuf back in the pool");
    ring.free().unwrap();
}

fn secondary(prefix: &str) {
    let (_eal, _) = rpdk_eal::init(eal_args("mp-dyn-test", prefix, "secondary", 1)).unwrap();
    let start = Instant::now();
    let ring = loop {
        if let Ok(r) = MbufRing::lookup("mp_dyn_ring") {
            break r;
        }
        assert!(start.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(10));
    };
    let pool = PktmbufPool::lookup("mp_dyn_pool").expect("the primary's pool");
    let seq = DynField::<u32>::lookup("mp_test_seq").expect("the primary's field");
    let flag = DynFlag::lookup("mp_test_flag").expect("the primary's flag");
    // Registering a name the primary has gives the primary's place...
    assert_eq!(
        DynField::<u32>::register("mp_test_seq").unwrap().offset(),
        seq.offset()
    );
    // ... and with another size, the primary's refusal.
    assert_eq!(
        DynField::<u16>::register("mp_test_seq").unwrap_err(),
        DynError::Conflict("mp_test_seq".into())
    );
    let mark = DynField::<u16>::register("mp_test_mark").unwrap();
    assert_ne!(mark.offset(), seq.offset());
    println!(
        "secondary: seq at {}, flag bit {}, mark at {}",
        seq.offset(),
        flag.bit(),
        mark.offset()
    );
    let tx = ring.producer::<Mp>().unwrap();
    for i in 0..FRAMES {
        let mut m = pool.alloc().unwrap();
        seq.set(&mut m, 1000 + i);
        flag.set(&mut m, true);
        mark.set(&mut m, 7);
        assert!(tx.enqueue(m).is_ok());
    }
}

#[test]
fn a_secondary_uses_the_primarys_dynamic_fields() {
    let prefix = unique_prefix("mpdyn");
    let p = Child::start("primary", &prefix);
    wait_for_primary(&prefix);
    let s = Child::start("secondary", &prefix);
    let (so, po) = (s.wait(), p.wait());
    let (st, pt) = (text(&so), text(&po));
    assert!(so.status.success(), "secondary: {st}\nprimary: {pt}");
    assert!(po.status.success(), "primary: {pt}\nsecondary: {st}");
    let line = |t: &str, start: &str| {
        t.lines()
            .find_map(|l| l.find(start).map(|i| l[i..].to_string()))
            .unwrap_or_else(|| panic!("no '{start}' in {t}"))
    };
    let (a, b) = (line(&pt, "primary: seq at"), line(&st, "secondary: seq at"));
    assert_eq!(
        a["primary: ".len()..],
        b["secondary: ".len()..b.find(", mark").unwrap()]
    );
    let mark = |t: &str, key: &str| {
        let at = t.rfind(key).unwrap() + key.len();
        t[at..].lines().next().unwrap().trim().to_string()
    };
    assert_eq!(mark(&pt, "mp_test_mark at"), mark(&st, "mark at"));
}
