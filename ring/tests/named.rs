//! Named rings on a real EAL: in memzones on 4 KiB pages and, as root, on hugepages; lookup,
//! type checks, free, and a ring used across two lcores.

use rpdk_eal::Eal;
use rpdk_ring::{Error, Mc, McRts, Mp, Ring, RingBuilder, RingFlags, Sc, Sp};
use rpdk_testsupport::{ensure_hugepages, require_root, serial, unique_prefix};

fn init(args: &[&str]) -> Eal {
    let cpus = rpdk_testsupport::allowed_cpus();
    let lcores = if cpus.len() >= 2 {
        format!("0@{},1@{}", cpus[0], cpus[1])
    } else {
        format!("0@{}", cpus[0])
    };
    let mut full = vec!["ring-test".to_string(), "-l".into(), lcores];
    full.extend(args.iter().map(|s| s.to_string()));
    rpdk_eal::init(full).expect("EAL init").0
}

fn create_lookup_free(eal: &Eal) {
    let ring = Ring::<u64>::create("rx_ring", 1024, None, RingFlags::SP_ENQ).unwrap();
    assert_eq!(ring.name(), "rx_ring");
    let mz = ring.memzone().expect("in a memzone");
    assert_eq!(mz.name(), "RG_rx_ring");
    assert!(mz.len() >= 640 + 1024 * 8);
    assert_eq!(mz.as_ptr() as usize % 128, 0);
    assert_eq!(
        rpdk_eal::memzone::lookup("RG_rx_ring").unwrap().as_ptr(),
        mz.as_ptr()
    );

    // Duplicate names, wrong types, unknown names.
    let e = Ring::<u64>::create("rx_ring", 8, None, RingFlags::empty()).unwrap_err();
    assert!(matches!(e, Error::Exists(ref n) if n == "rx_ring"), "{e}");
    let e = Ring::<u32>::lookup("rx_ring").unwrap_err();
    assert!(e.to_string().contains("another type"), "{e}");
    let e = Ring::<i64>::lookup("rx_ring").unwrap_err();
    assert!(e.to_string().contains("another type"), "{e}");
    assert!(matches!(
        Ring::<u64>::lookup("nope"),
        Err(Error::NotFound(_))
    ));
    let e = Ring::<u64>::create("", 8, None, RingFlags::empty()).unwrap_err();
    assert!(e.to_string().contains("needs a name"), "{e}");
    let e = Ring::<u64>::create(&"n".repeat(29), 8, None, RingFlags::empty()).unwrap_err();
    assert!(e.to_string().contains("at most 28"), "{e}");
    let e = Ring::<u64>::create("bad_socket", 8, Some(99), RingFlags::empty()).unwrap_err();
    assert!(e.to_string().contains("socket 99"), "{e}");
    // A memzone with a ring's name that is not a ring.
    let raw = rpdk_eal::memzone::reserve("RG_fake", 4096, None, Default::default()).unwrap();
    // SAFETY: the zone has 4096 writable bytes.
    unsafe { raw.as_ptr().write_bytes(0xab, 4096) };
    let e = Ring::<u64>::lookup("fake").unwrap_err();
    assert!(e.to_string().contains("does not hold an rpdk ring"), "{e}");
    // The list dump shows every named ring, and skips that zone.
    let mut out = Vec::new();
    rpdk_ring::list_dump(&mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("ring <rx_ring>@"), "{out}");
    assert!(
        out.contains("  capacity=1023\n") && out.contains("  used=0\n"),
        "{out}"
    );
    assert_eq!(out.matches("ring <").count(), 1, "{out}");
    raw.free().unwrap();

    // Found by name, the same ring: what one handle enqueues the other dequeues.
    let tx = ring.producer::<Sp>().unwrap();
    let found = Ring::<u64>::lookup("rx_ring").unwrap();
    assert_eq!(
        (found.capacity(), found.prod_sync()),
        (1023, ring.prod_sync())
    );
    assert!(
        matches!(found.producer::<Sp>(), Err(Error::Busy { .. })),
        "claim is in the ring"
    );
    let rx = found.consumer::<Mc>().unwrap();

    // Across lcores, when there are two.
    let workers = eal.workers();
    let n = 200_000u64;
    eal.scope(|s| {
        let h = workers.first().map(|&w| {
            s.launch(w, || {
                let mut sum = 0u64;
                let mut got = 0;
                let mut buf = [0u64; 32];
                while got < n {
                    let d = rx.dequeue_burst(&mut buf);
                    for &v in &buf[..d.count] {
                        assert_eq!(v, got, "FIFO order");
                        got += 1;
                        sum += v;
                    }
                }
                sum
            })
            .unwrap()
        });
        let objs: Vec<u64> = (0..n).collect();
        let mut sent = 0;
        while sent < n as usize {
            let end = (sent + 32).min(n as usize);
            sent += tx.enqueue_burst(&objs[sent..end]).count;
            if h.is_none() {
                let mut buf = [0u64; 32];
                let _ = rx.dequeue_burst(&mut buf);
            }
        }
        if let Some(h) = h {
            assert_eq!(h.join().unwrap(), n * (n - 1) / 2);
        }
    });

    // Free removes the name; open handles keep working.
    ring.free().unwrap();
    assert!(matches!(
        Ring::<u64>::lookup("rx_ring"),
        Err(Error::NotFound(_))
    ));
    assert!(found.free().is_err(), "already freed");
    tx.enqueue(7).unwrap();
    assert!(rx.dequeue().is_some());
    // The name can be used again.
    let again = RingBuilder::new(16)
        .name("rx_ring")
        .sync(rpdk_ring::SyncType::MtRts, rpdk_ring::SyncType::MtRts)
        .create::<u64>()
        .unwrap();
    assert_ne!(
        again.memzone().unwrap().as_ptr(),
        tx.ring().memzone().unwrap().as_ptr()
    );
    let p = again.producer::<rpdk_ring::MpRts>().unwrap();
    let c = Ring::<u64>::lookup("rx_ring")
        .unwrap()
        .consumer::<McRts>()
        .unwrap();
    p.enqueue(1).unwrap();
    assert_eq!(c.dequeue(), Some(1));
    again.free().unwrap();

    // Heap rings have no name to free.
    let heap = RingBuilder::new(8).pair::<u8, Mp, Sc>().unwrap().0;
    assert!(matches!(
        heap.ring().clone().free(),
        Err(Error::NotSupported { .. })
    ));
    assert!(heap.ring().memzone().is_none());
}

#[test]
fn named_rings_on_small_pages() {
    let _s = serial();
    let eal = init(&["--no-huge", "--no-shconf"]);
    create_lookup_free(&eal);
}

#[test]
fn named_rings_on_hugepages() {
    if !require_root("named_rings_on_hugepages") {
        return;
    }
    let _s = serial();
    ensure_hugepages(64).expect("hugepages");
    let prefix = unique_prefix("ring");
    let eal = init(&["--file-prefix", &prefix]);
    create_lookup_free(&eal);
    let ring = Ring::<u64>::create("huge", 4096, None, RingFlags::empty()).unwrap();
    assert_eq!(ring.memzone().unwrap().hugepage_size(), 2 << 20);
    ring.free().unwrap();
}

#[test]
fn named_rings_need_the_eal() {
    let _s = serial();
    let e = Ring::<u64>::create("no_eal", 8, None, RingFlags::empty()).unwrap_err();
    assert!(matches!(e, Error::Eal(_)), "{e}");
    assert!(e.to_string().contains("not initialised"), "{e}");
}

#[test]
fn telemetry_lists_and_describes_named_rings() {
    use rpdk_eal::telemetry::{self, Client};
    let _s = serial();
    let prefix = unique_prefix("ringtel");
    let eal = init(&["--no-huge", "--no-shconf", "--file-prefix", &prefix]);
    let ring = Ring::<u64>::create("rx_to_worker", 1024, None, RingFlags::SP_ENQ).unwrap();
    let tx = ring.producer::<Sp>().unwrap();
    for i in 0..5 {
        tx.enqueue(i).unwrap();
    }
    let _other = RingBuilder::new(100)
        .name("exact")
        .exact_size(true)
        .sync(rpdk_ring::SyncType::MtRts, rpdk_ring::SyncType::MtHts)
        .create::<u32>()
        .unwrap();
    let mut c = Client::connect(&telemetry::socket_path().unwrap()).unwrap();
    let list = c.request("/ring/list").unwrap();
    assert!(
        list.starts_with(r#"{"/ring/list":["#)
            && list.contains(r#""rx_to_worker""#)
            && list.contains(r#""exact""#),
        "{list}"
    );
    let mz = ring.memzone().unwrap();
    assert_eq!(
        c.request("/ring/info,rx_to_worker").unwrap(),
        format!(
            r#"{{"/ring/info":{{"name":"rx_to_worker","socket":0,"flags":1,"producer_type":"SP","consumer_type":"MC","size":1024,"mask":"0x3ff","capacity":1023,"used_count":5,"mz_name":"RG_rx_to_worker","mz_len":{},"mz_hugepage_sz":{},"mz_socket_id":0,"mz_flags":"0x0"}}}}"#,
            mz.len(),
            mz.hugepage_size()
        )
    );
    let exact = c.request("/ring/info,exact").unwrap();
    assert!(
        exact.contains(r#""producer_type":"MP_RTS","consumer_type":"MC_HTS","size":128,"mask":"0x7f","capacity":100,"used_count":0"#),
        "{exact}"
    );
    assert_eq!(
        c.request("/ring/info,nosuch").unwrap(),
        r#"{"/ring/info":{}}"#
    );
    assert_eq!(c.request("/ring/info").unwrap(), r#"{"/ring/info":null}"#);
    drop(tx);
    ring.free().unwrap();
    assert!(!c.request("/ring/list").unwrap().contains("rx_to_worker"));
    drop(eal);
}
