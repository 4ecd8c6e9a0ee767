//! `scripts/devbind.sh` over a made-up sysfs tree (`DEVBIND_SYSFS`): the status listing and the
//! refusals that need no real device. Binding for real is tested in the QEMU guest
//! (`scripts/qemu-guest.sh`), never on the host, whose NICs carry its own traffic.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct FakeSysfs(PathBuf);

impl FakeSysfs {
    fn new(tag: &str) -> FakeSysfs {
        let root = std::env::temp_dir().join(format!("rpdk-devbind-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("bus/pci/drivers")).unwrap();
        fs::create_dir_all(root.join("class/net")).unwrap();
        FakeSysfs(root)
    }

    /// A device with ids and class, bound to `driver` (if any), with interface `iface`.
    fn device(
        &self,
        addr: &str,
        id: (&str, &str),
        class: &str,
        driver: Option<&str>,
        iface: Option<&str>,
    ) {
        let dev = self.0.join("bus/pci/devices").join(addr);
        fs::create_dir_all(&dev).unwrap();
        fs::write(dev.join("vendor"), format!("0x{}\n", id.0)).unwrap();
        fs::write(dev.join("device"), format!("0x{}\n", id.1)).unwrap();
        fs::write(dev.join("class"), format!("{class}\n")).unwrap();
        if let Some(d) = driver {
            let drv = self.0.join("bus/pci/drivers").join(d);
            fs::create_dir_all(&drv).unwrap();
            symlink(&drv, dev.join("driver")).unwrap();
        }
        if let Some(i) = iface {
            fs::create_dir_all(dev.join("net").join(i)).unwrap();
            let net = self.0.join("class/net").join(i);
            fs::create_dir_all(&net).unwrap();
            symlink(&dev, net.join("device")).unwrap();
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/devbind.sh");
        Command::new("sh")
            .arg(script)
            .args(args)
            .env("DEVBIND_SYSFS", &self.0)
            .output()
            .expect("running devbind.sh")
    }
}

impl Drop for FakeSysfs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn status_groups_devices_by_driver() {
    let sys = FakeSysfs::new("status");
    sys.device(
        "0000:00:03.0",
        ("8086", "100e"),
        "0x020000",
        Some("vfio-pci"),
        None,
    );
    sys.device(
        "0000:00:04.0",
        ("8086", "10d3"),
        "0x020000",
        Some("e1000e"),
        Some("rpdkfake0"),
    );
    sys.device("0000:00:05.0", ("1af4", "1041"), "0x020000", None, None);
    sys.device(
        "0000:00:1f.2",
        ("8086", "2922"),
        "0x010601",
        Some("ahci"),
        None,
    );
    let o = sys.run(&["--status"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let dpdk = out.find("using DPDK-compatible driver").unwrap();
    let kernel = out.find("using kernel driver").unwrap();
    let other = out.find("Other Network devices").unwrap();
    let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("no {s:?} in:\n{out}"));
    let vfio = at("0000:00:03.0 '8086:100e' drv=vfio-pci");
    let kern = at("0000:00:04.0 '8086:10d3' if=rpdkfake0 drv=e1000e");
    let none = at("0000:00:05.0 '1af4:1041'");
    assert!(dpdk < vfio && vfio < kernel && kernel < kern && kern < other && other < none);
    assert!(
        !out.contains("0000:00:1f.2"),
        "only network devices are listed"
    );
}

#[test]
fn refusals_say_what_to_do() {
    let sys = FakeSysfs::new("refuse");
    sys.device(
        "0000:00:03.0",
        ("8086", "100e"),
        "0x020000",
        Some("e1000"),
        None,
    );
    fs::create_dir_all(sys.0.join("bus/pci/drivers/vfio-pci")).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--bind=vfio-pci", "00:09.0"], "no PCI device 00:09.0"),
        (
            &["--bind=vfio-pci", "nosuchif0"],
            "neither a PCI address nor an interface",
        ),
        (&["--bind=vfio-pci", "00:03.0"], "no IOMMU group"),
        (&["--bind=vfio-pci"], "--bind needs a device"),
        (&["--unbind"], "--unbind needs a device"),
        (&["--frobnicate"], "unknown option --frobnicate"),
    ];
    for (args, want) in cases {
        let o = sys.run(args);
        let (_, err) = text(&o);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // The device was left alone.
    let drv = fs::read_link(sys.0.join("bus/pci/devices/0000:00:03.0/driver")).unwrap();
    assert!(drv.ends_with("e1000"));
}
