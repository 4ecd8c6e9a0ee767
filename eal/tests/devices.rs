//! The device registry on a real EAL: --vdev probing, unknown drivers (errors) and keys
//! (warnings), removal at cleanup, and cleanup when a probe fails.

use std::sync::Mutex;

use rpdk_eal::bus::{self, Devargs, DriverError, VDEV_DRIVERS, VdevDriver};
use rpdk_eal::logging::{self, LogLevel};
use rpdk_testsupport::logs::LogCapture;
use rpdk_testsupport::serial;

static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn events() -> Vec<String> {
    std::mem::take(&mut *EVENTS.lock().unwrap())
}

fn probe(dev: &Devargs) -> Result<(), DriverError> {
    let size: u32 = dev.parse_or("size", 64)?;
    if dev.has("fail") {
        return Err("asked to fail".into());
    }
    EVENTS
        .lock()
        .unwrap()
        .push(format!("probe {} size={size}", dev.name()));
    Ok(())
}

fn remove(name: &str) -> Result<(), DriverError> {
    EVENTS.lock().unwrap().push(format!("remove {name}"));
    Ok(())
}

#[linkme::distributed_slice(VDEV_DRIVERS)]
static TEST_DRIVER: VdevDriver = VdevDriver {
    name: "net_evtest",
    aliases: &["eth_evtest"],
    keys: &["size", "fail"],
    probe,
    remove,
};

fn init(extra: &[&str]) -> rpdk_eal::Result<rpdk_eal::Eal> {
    let cpu = rpdk_testsupport::allowed_cpus()[0];
    let mut args: Vec<String> = ["devices-test", "--no-huge", "--no-shconf", "-l"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(format!("0@{cpu}"));
    args.extend(extra.iter().map(|s| s.to_string()));
    rpdk_eal::init(args).map(|(e, _)| e)
}

#[test]
fn vdevs_are_probed_in_order_and_removed_in_reverse() {
    let _s = serial();
    events();
    let eal = init(&["--vdev", "net_evtest0,size=128", "--vdev=eth_evtest1"]).unwrap();
    assert_eq!(
        events(),
        ["probe net_evtest0 size=128", "probe eth_evtest1 size=64"]
    );
    assert_eq!(
        bus::probed_devices(),
        [
            ("net_evtest0".to_string(), "net_evtest"),
            ("eth_evtest1".to_string(), "net_evtest")
        ]
    );
    // Hot-plug and unplug.
    bus::probe_vdev_str("net_evtest2,size=1").unwrap();
    let e = bus::probe_vdev_str("net_evtest2").unwrap_err();
    assert!(e.to_string().contains("already probed"), "{e}");
    bus::remove_device("net_evtest2").unwrap();
    assert_eq!(events(), ["probe net_evtest2 size=1", "remove net_evtest2"]);
    drop(eal);
    assert_eq!(events(), ["remove eth_evtest1", "remove net_evtest0"]);
    assert!(bus::probed_devices().is_empty());
}

#[test]
fn unknown_drivers_and_bad_values_are_errors_and_unknown_keys_warnings() {
    let _s = serial();
    events();
    let e = init(&["--vdev", "net_nosuch0"]).unwrap_err().to_string();
    assert!(
        e.contains("device 'net_nosuch0': no driver matches this name"),
        "{e}"
    );
    assert!(e.contains("net_evtest"), "lists the known drivers: {e}");
    // As DPDK's drivers: a key the driver does not know is a warning, and the device probes.
    let logs = LogCapture::start();
    let eal = init(&["--vdev", "net_evtest0,colour=red,size=32"]).unwrap();
    assert!(
        logs.text().contains(
            "EAL: net_evtest0: ignoring unknown key 'colour' (valid keys of net_evtest: size, fail)"
        ),
        "{}",
        logs.text()
    );
    drop(logs);
    assert_eq!(events(), ["probe net_evtest0 size=32"]);
    drop(eal);
    assert_eq!(events(), ["remove net_evtest0"]);
    let e = init(&["--vdev", "net_evtest0,size=big"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid value 'big' for key 'size'"), "{e}");
    assert!(!rpdk_eal::is_initialized());
    assert!(events().is_empty());
}

#[test]
fn a_failed_probe_cleans_up_what_was_probed() {
    let _s = serial();
    events();
    let e = init(&["--vdev", "net_evtest0", "--vdev", "net_evtest1,fail"]).unwrap_err();
    assert!(
        e.to_string()
            .contains("device 'net_evtest1': net_evtest probe failed: asked to fail"),
        "{e}"
    );
    assert_eq!(
        events(),
        ["probe net_evtest0 size=64", "remove net_evtest0"]
    );
    assert!(!rpdk_eal::is_initialized());
    // And the EAL starts again afterwards.
    let eal = init(&[]).unwrap();
    drop(eal);
}

#[test]
fn absent_pci_devices_probe_nothing() {
    let _s = serial();
    // As DPDK: allowing a device that is not there is no error; nothing is probed.
    let logs = LogCapture::start();
    let eal = init(&["-a", "ffff:ff:1f.7"]).unwrap();
    assert!(
        logs.text()
            .contains("EAL: -a ffff:ff:1f.7: no such PCI device"),
        "{}",
        logs.text()
    );
    drop(logs);
    assert!(bus::probed_devices().is_empty());
    drop(eal);
    let eal = init(&["-a", "ffff:ff:1f.7", "--no-pci"]).unwrap();
    drop(eal);
}

#[test]
fn no_auto_probing_probes_only_what_is_named() {
    let _s = serial();
    events();
    let eal = init(&["--no-auto-probing", "--vdev", "net_evtest0"]).unwrap();
    assert_eq!(events(), ["probe net_evtest0 size=64"]);
    assert_eq!(bus::probed_devices().len(), 1);
    drop(eal);
    events();
    let e = init(&["--no-auto-probing", "-b", "00:01.0"]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "options -b/--block and --no-auto-probing cannot be used together"
    );
}

#[test]
fn log_levels_come_from_the_command_line() {
    let _s = serial();
    let eal = init(&[
        "--log-level",
        "pmd.net.*:debug",
        "--log-level",
        "^lib\\.ri,error",
        "--log-level",
        "warning",
    ])
    .unwrap();
    assert_eq!(logging::type_level("pmd.net.af_packet"), LogLevel::Debug);
    assert_eq!(logging::type_level("lib.ring"), LogLevel::Error);
    assert_eq!(logging::type_level("lib.eal"), LogLevel::Info);
    assert_eq!(logging::global_level(), LogLevel::Warning);
    assert!(logging::can_log("pmd.net.af_packet", LogLevel::Warning));
    assert!(
        !logging::can_log("pmd.net.af_packet", LogLevel::Debug),
        "global level caps it"
    );
    assert!(!logging::can_log("lib.ring", LogLevel::Warning));
    drop(eal);
    let eal = init(&[]).unwrap();
    assert_eq!(
        logging::type_level("pmd.net.af_packet"),
        LogLevel::Info,
        "reset by a new init"
    );
    drop(eal);
}
