//! The port fixture's teardown: a clean test passes it, and an mbuf not given back fails it.

use rpdk_mbuf::MbufBurst;
use rpdk_testsupport::port::{PortFixture, PortSetup};
use rpdk_testsupport::serial;

#[test]
fn a_clean_test_passes_the_teardown() {
    let _s = serial();
    let f = PortFixture::new(
        "fixture-test",
        &["net_null0", "net_null1"],
        &PortSetup::queues(2),
    )
    .unwrap();
    assert_eq!(f.ports().len(), 2);
    assert!(f.port(1).is_started());
    let mut rxq = f.port(1).rx_queue(1).unwrap();
    let mut b = MbufBurst::<32>::new();
    assert_eq!(rxq.rx_burst(&mut b), 32);
    drop((b, rxq));
    drop(f);
    assert_eq!(rpdk_ethdev::port_count(), 0);
    assert!(!rpdk_eal::is_initialized());
}

#[test]
fn an_mbuf_not_given_back_fails_the_teardown() {
    let _s = serial();
    let f = PortFixture::new("fixture-test", &["net_null0"], &PortSetup::default()).unwrap();
    std::mem::forget(f.pool().alloc().unwrap());
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(f))).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("1 mbufs of the pool were not given back"),
        "{msg}"
    );
    assert!(
        !rpdk_eal::is_initialized(),
        "the EAL is cleaned up all the same"
    );
}

#[test]
fn a_held_queue_handle_fails_the_teardown() {
    let _s = serial();
    let f = PortFixture::new("fixture-test", &["net_null0"], &PortSetup::default()).unwrap();
    let rxq = f.port(0).rx_queue(0).unwrap();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(f))).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("closing port 0"), "{msg}");
    // The port stayed open for its handle: once it is back, the port closes.
    drop(rxq);
    rpdk_ethdev::Port::get(0).unwrap().close().unwrap();
}
