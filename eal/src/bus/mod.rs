//! Devices: devargs, the driver registry, and probing at init (the vdev and PCI buses).
//!
//! A driver registers under a name; a device whose name starts with it is the driver's, as in
//! DPDK (`net_af_packet0` belongs to `net_af_packet`). Drivers register statically, so that
//! linking a driver crate is enough, with [`linkme`]:
//!
//! ```
//! use rpdk_eal::bus::{Devargs, DriverError, VdevDriver, VDEV_DRIVERS};
//!
//! fn probe(dev: &Devargs) -> Result<(), DriverError> {
//!     let size: u32 = dev.parse_or("size", 64)?;
//!     log::info!(target: "pmd.net.example", "{}: size {size}", dev.name());
//!     Ok(())
//! }
//! fn remove(_name: &str) -> Result<(), DriverError> {
//!     Ok(())
//! }
//!
//! #[linkme::distributed_slice(VDEV_DRIVERS)]
//! static EXAMPLE: VdevDriver = VdevDriver {
//!     name: "net_example",
//!     aliases: &[],
//!     keys: &["size"],
//!     probe,
//!     remove,
//! };
//!
//! assert_eq!(rpdk_eal::bus::find_vdev_driver("net_example0").unwrap().name, "net_example");
//! ```
//!
//! or at run time with [`register_vdev_driver`]. [`crate::init`] probes every `--vdev` in
//! order, then (unless `--no-pci`) the PCI devices that `-a`/`-b` select and a PCI driver
//! claims; devices are removed in reverse order at cleanup.

mod devargs;
pub mod pci;

use std::path::Path;
use std::sync::Mutex;

pub use devargs::{BusKind, Devargs};
pub use pci::{Bar, PciAccess, PciAddr, PciDevice, PciHandle, PciId, SharedBar};

use crate::error::{Error, Result};
use crate::options::EalOptions;

/// The error a driver's probe or remove returns.
pub type DriverError = Box<dyn std::error::Error + Send + Sync>;

/// A driver of virtual devices (`--vdev`).
#[derive(Debug)]
pub struct VdevDriver {
    /// The name devices start with: `net_af_packet`.
    pub name: &'static str,
    /// Other accepted names (DPDK's aliases, e.g. `eth_af_packet`).
    pub aliases: &'static [&'static str],
    /// The keys the driver knows; any other is a warning before probe, and ignored.
    pub keys: &'static [&'static str],
    /// Creates the device.
    pub probe: fn(&Devargs) -> Result<(), DriverError>,
    /// Removes the device of this name.
    pub remove: fn(&str) -> Result<(), DriverError>,
}

/// A driver of PCI devices.
#[derive(Debug)]
pub struct PciDriver {
    /// The driver name: `net_virtio`.
    pub name: &'static str,
    /// The devices it handles.
    pub id_table: &'static [PciId],
    /// The keys the driver accepts in `-a` arguments.
    pub keys: &'static [&'static str],
    /// Takes the device over: it comes opened, its memory BARs mapped and bus mastering on;
    /// the driver keeps the handle as long as it drives the device.
    pub probe: fn(PciHandle, &Devargs) -> Result<(), DriverError>,
    /// Releases the device at this address.
    pub remove: fn(&PciAddr) -> Result<(), DriverError>,
}

/// Virtual-device drivers registered at link time.
#[linkme::distributed_slice]
pub static VDEV_DRIVERS: [VdevDriver];

/// PCI drivers registered at link time.
#[linkme::distributed_slice]
pub static PCI_DRIVERS: [PciDriver];

static RUNTIME_VDEV: Mutex<Vec<&'static VdevDriver>> = Mutex::new(Vec::new());
static RUNTIME_PCI: Mutex<Vec<&'static PciDriver>> = Mutex::new(Vec::new());

enum Remover {
    Vdev(fn(&str) -> Result<(), DriverError>),
    Pci(fn(&PciAddr) -> Result<(), DriverError>, PciAddr),
}

struct Probed {
    name: String,
    driver: &'static str,
    remove: Remover,
}

static PROBED: Mutex<Vec<Probed>> = Mutex::new(Vec::new());

/// Registers a virtual-device driver at run time (before [`crate::init`] or before
/// [`probe_vdev`]). Registering a name twice is an error.
pub fn register_vdev_driver(driver: &'static VdevDriver) -> Result<()> {
    if vdev_drivers().iter().any(|d| d.name == driver.name) {
        return Err(Error::Device {
            device: driver.name.into(),
            reason: "a driver of this name is already registered".into(),
        });
    }
    RUNTIME_VDEV
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(driver);
    Ok(())
}

/// Registers a PCI driver at run time.
pub fn register_pci_driver(driver: &'static PciDriver) -> Result<()> {
    if pci_drivers().iter().any(|d| d.name == driver.name) {
        return Err(Error::Device {
            device: driver.name.into(),
            reason: "a driver of this name is already registered".into(),
        });
    }
    RUNTIME_PCI
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(driver);
    Ok(())
}

/// Every virtual-device driver known, static and run-time.
pub fn vdev_drivers() -> Vec<&'static VdevDriver> {
    let mut all: Vec<&'static VdevDriver> = VDEV_DRIVERS.iter().collect();
    all.extend(
        RUNTIME_VDEV
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter(),
    );
    all
}

/// Every PCI driver known, static and run-time.
pub fn pci_drivers() -> Vec<&'static PciDriver> {
    let mut all: Vec<&'static PciDriver> = PCI_DRIVERS.iter().collect();
    all.extend(RUNTIME_PCI.lock().unwrap_or_else(|e| e.into_inner()).iter());
    all
}

/// The driver of virtual device `device` (the longest registered name it starts with).
pub fn find_vdev_driver(device: &str) -> Option<&'static VdevDriver> {
    vdev_drivers()
        .into_iter()
        .filter_map(|d| {
            std::iter::once(d.name)
                .chain(d.aliases.iter().copied())
                .filter(|n| device.starts_with(n))
                .map(|n| (n.len(), d))
                .max_by_key(|(len, _)| *len)
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, d)| d)
}

/// Probes one virtual device (DPDK's `rte_vdev_init`): at init for each `--vdev`, or later for
/// hot-plugging. An unknown driver is an error naming it; keys the driver does not know are
/// warnings naming them, and the device is probed without them, as in DPDK.
pub fn probe_vdev(dev: &Devargs) -> Result<()> {
    let err = |reason: String| Error::Device {
        device: dev.name().to_string(),
        reason,
    };
    if dev.bus() != BusKind::Vdev {
        return Err(err("not a virtual device".into()));
    }
    let driver = find_vdev_driver(dev.name()).ok_or_else(|| {
        let known: Vec<&str> = vdev_drivers().iter().map(|d| d.name).collect();
        err(if known.is_empty() {
            "no driver matches this name (no virtual-device driver is linked in)".to_string()
        } else {
            format!(
                "no driver matches this name (drivers: {})",
                known.join(", ")
            )
        })
    })?;
    if is_probed(dev.name()) {
        return Err(err("already probed".into()));
    }
    dev.warn_unknown_keys(driver.name, driver.keys);
    (driver.probe)(dev).map_err(|e| err(format!("{} probe failed: {e}", driver.name)))?;
    log::info!(target: "lib.eal", "probed {} with driver {}", dev, driver.name);
    PROBED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Probed {
            name: dev.name().to_string(),
            driver: driver.name,
            remove: Remover::Vdev(driver.remove),
        });
    Ok(())
}

/// Parses and probes a virtual device given as on the command line (`net_null0,size=64`).
pub fn probe_vdev_str(s: &str) -> Result<()> {
    let dev = Devargs::parse_vdev(s).map_err(|reason| Error::Device {
        device: s.to_string(),
        reason,
    })?;
    probe_vdev(&dev)
}

fn is_probed(name: &str) -> bool {
    PROBED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|p| p.name == name)
}

/// The devices probed so far, with their drivers, in probe order.
pub fn probed_devices() -> Vec<(String, &'static str)> {
    PROBED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|p| (p.name.clone(), p.driver))
        .collect()
}

/// Removes a probed device by name (DPDK's `rte_dev_remove`).
pub fn remove_device(name: &str) -> Result<()> {
    let probed = {
        let mut list = PROBED.lock().unwrap_or_else(|e| e.into_inner());
        let pos = list
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| Error::Device {
                device: name.to_string(),
                reason: "no such probed device".into(),
            })?;
        list.remove(pos)
    };
    let res = match probed.remove {
        Remover::Vdev(f) => f(&probed.name),
        Remover::Pci(f, addr) => f(&addr),
    };
    res.map_err(|e| Error::Device {
        device: name.to_string(),
        reason: format!("{} remove failed: {e}", probed.driver),
    })
}

/// Removes every probed device, newest first; failures are logged.
pub(crate) fn remove_all() {
    loop {
        let last = PROBED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .map(|p| p.name.clone());
        let Some(name) = last else { break };
        if let Err(e) = remove_device(&name) {
            log::error!(target: "lib.eal", "{e}");
        }
    }
}

/// Probes what the command line asks for: every `--vdev`, then the PCI devices.
pub(crate) fn probe_all(opts: &EalOptions) -> Result<()> {
    for dev in &opts.vdevs {
        probe_vdev(dev)?;
    }
    if opts.no_pci {
        if !opts.allow.is_empty() {
            log::warn!(target: "lib.eal", "--no-pci given: ignoring -a devices");
        }
        return Ok(());
    }
    if opts.no_auto_probing && opts.allow.is_empty() {
        log::debug!(target: "lib.eal", "--no-auto-probing and no -a: no PCI device probed");
        return Ok(());
    }
    probe_pci(opts, Path::new(pci::SYSFS_PCI_DEVICES))
}

/// Why the PCI devices this run would drive need physical addresses, if they do (DPDK's bus
/// IOVA-mode vote): devices bound to uio_pci_generic, or to vfio-pci in no-IOMMU mode, that a
/// registered driver handles and `-a`/`-b`/`--no-pci` select.
pub(crate) fn pci_needs_pa(opts: &EalOptions) -> Option<String> {
    if opts.no_pci {
        return None;
    }
    let devices = pci::scan(Path::new(pci::SYSFS_PCI_DEVICES)).ok()?;
    let drivers = pci_drivers();
    let needs: Vec<String> = devices
        .iter()
        .filter(|d| {
            if opts.allow.is_empty() {
                !opts.block.contains(&d.addr)
            } else {
                opts.allow.iter().any(|a| a.pci_addr() == Some(d.addr))
            }
        })
        .filter(|d| drivers.iter().any(|drv| drv.id_table.contains(&d.id)))
        .filter_map(|d| match d.kernel_driver.as_deref() {
            Some("uio_pci_generic") => Some(format!("{} is bound to uio_pci_generic", d.addr)),
            Some("vfio-pci")
                if crate::memory::vfio::device_mode(&d.sysfs_path)
                    == Some(crate::memory::vfio::VfioMode::NoIommu) =>
            {
                Some(format!("{} is in VFIO no-IOMMU mode", d.addr))
            }
            _ => None,
        })
        .collect();
    (!needs.is_empty()).then(|| needs.join(", "))
}

fn probe_pci(opts: &EalOptions, sysfs: &Path) -> Result<()> {
    let devices =
        pci::scan(sysfs).map_err(|e| Error::io(format!("scanning {}", sysfs.display()), e))?;
    for allowed in &opts.allow {
        let addr = allowed.pci_addr().expect("allow entries are PCI devargs");
        if !devices.iter().any(|d| d.addr == addr) {
            // As DPDK: an allowed device that is not there is probed as nothing.
            log::warn!(
                target: "lib.eal",
                "-a {addr}: no such PCI device (not in {}); nothing to probe there",
                sysfs.display()
            );
        }
    }
    for blocked in &opts.block {
        if !devices.iter().any(|d| d.addr == *blocked) {
            log::warn!(target: "lib.eal", "-b {blocked}: no such PCI device");
        }
    }
    let drivers = pci_drivers();
    for dev in &devices {
        let devargs = if opts.allow.is_empty() {
            if opts.block.contains(&dev.addr) {
                continue;
            }
            None
        } else {
            match opts.allow.iter().find(|a| a.pci_addr() == Some(dev.addr)) {
                Some(a) => Some(a),
                None => continue,
            }
        };
        let Some(driver) = drivers.iter().find(|d| d.id_table.contains(&dev.id)) else {
            if devargs.is_some() {
                log::warn!(
                    target: "lib.eal",
                    "{} ({:04x}:{:04x}): no rpdk driver handles this device; skipped",
                    dev.addr, dev.id.vendor, dev.id.device
                );
            }
            continue;
        };
        let plain;
        let devargs = match devargs {
            Some(d) => d,
            None => {
                plain =
                    Devargs::parse_pci(&dev.addr.to_string()).expect("a scanned address parses");
                &plain
            }
        };
        let err = |reason: String| Error::Device {
            device: dev.addr.to_string(),
            reason,
        };
        devargs.warn_unknown_keys(driver.name, driver.keys);
        if !matches!(
            dev.kernel_driver.as_deref(),
            Some("vfio-pci" | "uio_pci_generic")
        ) {
            // As DPDK: a device the kernel drives is not ours, unless asked for by -a.
            let msg = format!(
                "{} ({:04x}:{:04x}, {}) is bound to {}, not to vfio-pci or uio_pci_generic: \
                 skipped (scripts/devbind.sh --bind=vfio-pci {})",
                dev.addr,
                dev.id.vendor,
                dev.id.device,
                driver.name,
                dev.kernel_driver.as_deref().unwrap_or("no driver"),
                dev.addr
            );
            if devargs.args().is_empty() && opts.allow.is_empty() {
                log::debug!(target: "lib.eal", "{msg}");
            } else {
                log::warn!(target: "lib.eal", "{msg}");
            }
            continue;
        }
        let iova_mode = crate::state::get()?.memory.iova_mode();
        let handle = PciHandle::open(dev, iova_mode)?;
        (driver.probe)(handle, devargs)
            .map_err(|e| err(format!("{} probe failed: {e}", driver.name)))?;
        log::info!(target: "lib.eal", "probed PCI {} with driver {}", dev.addr, driver.name);
        PROBED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Probed {
                name: dev.addr.to_string(),
                driver: driver.name,
                remove: Remover::Pci(driver.remove, dev.addr),
            });
    }
    Ok(())
}
