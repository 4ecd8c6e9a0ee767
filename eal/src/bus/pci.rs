//! PCI addresses, the PCI bus scan (sysfs), and opened devices: memory BARs mapped through
//! VFIO or UIO ([`PciHandle`], [`Bar`]).

mod device;
mod mmio;

pub use device::{PciAccess, PciHandle, SharedBar};
pub use mmio::Bar;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A PCI address, `domain:bus:devid.function` (`0000:00:03.0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PciAddr {
    /// Domain (segment).
    pub domain: u32,
    /// Bus.
    pub bus: u8,
    /// Device.
    pub devid: u8,
    /// Function.
    pub function: u8,
}

impl fmt::Display for PciAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.devid, self.function
        )
    }
}

impl FromStr for PciAddr {
    type Err = String;

    /// Parses `DDDD:BB:DD.F` or `BB:DD.F` (domain 0), in hexadecimal.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "'{s}' is not a PCI address (expected [domain:]bus:devid.func, e.g. 0000:00:03.0)"
            )
        };
        let (head, function) = s.rsplit_once('.').ok_or_else(bad)?;
        let parts: Vec<&str> = head.split(':').collect();
        let (domain, bus, devid) = match parts.as_slice() {
            [d, b, v] => (*d, *b, *v),
            [b, v] => ("0", *b, *v),
            _ => return Err(bad()),
        };
        let hex = |x: &str, max: u32| -> Result<u32, String> {
            if x.is_empty() || x.len() > 8 {
                return Err(bad());
            }
            let v = u32::from_str_radix(x, 16).map_err(|_| bad())?;
            if v > max {
                return Err(bad());
            }
            Ok(v)
        };
        Ok(PciAddr {
            domain: hex(domain, 0xffff_ffff)?,
            bus: hex(bus, 0xff)? as u8,
            devid: hex(devid, 0x1f)? as u8,
            function: hex(function, 0x7)? as u8,
        })
    }
}

/// A vendor and device id pair, for a driver's id table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciId {
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
}

/// A PCI device found by the bus scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciDevice {
    /// Its address.
    pub addr: PciAddr,
    /// Vendor and device ids.
    pub id: PciId,
    /// Subsystem vendor and device ids.
    pub subsystem: PciId,
    /// Class code (24 bits).
    pub class: u32,
    /// NUMA node, when the machine reports one.
    pub numa_node: Option<u32>,
    /// The kernel driver the device is bound to (`vfio-pci`, `virtio-pci`, ...).
    pub kernel_driver: Option<String>,
    /// Its sysfs directory.
    pub sysfs_path: PathBuf,
}

/// Where the kernel lists PCI devices.
pub const SYSFS_PCI_DEVICES: &str = "/sys/bus/pci/devices";

/// Lists the PCI devices under `dir` (normally [`SYSFS_PCI_DEVICES`]), sorted by address.
/// A machine without PCI gives an empty list.
pub fn scan(dir: &Path) -> std::io::Result<Vec<PciDevice>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(addr) = entry.file_name().to_string_lossy().parse::<PciAddr>() else {
            continue;
        };
        let path = entry.path();
        let read_hex = |name: &str| -> Option<u32> {
            let s = fs::read_to_string(path.join(name)).ok()?;
            u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok()
        };
        let (Some(vendor), Some(device)) = (read_hex("vendor"), read_hex("device")) else {
            continue;
        };
        let numa_node = fs::read_to_string(path.join("numa_node"))
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .and_then(|n| u32::try_from(n).ok());
        let kernel_driver = fs::read_link(path.join("driver"))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        out.push(PciDevice {
            addr,
            id: PciId {
                vendor: vendor as u16,
                device: device as u16,
            },
            subsystem: PciId {
                vendor: read_hex("subsystem_vendor").unwrap_or(0) as u16,
                device: read_hex("subsystem_device").unwrap_or(0) as u16,
            },
            class: read_hex("class").unwrap_or(0),
            numa_node,
            kernel_driver,
            sysfs_path: path,
        });
    }
    out.sort_by_key(|d| d.addr);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a: PciAddr = "0000:00:03.0".parse().unwrap();
        assert_eq!(
            a,
            PciAddr {
                domain: 0,
                bus: 0,
                devid: 3,
                function: 0
            }
        );
        let b: PciAddr = "af:1f.7".parse().unwrap();
        assert_eq!(b.to_string(), "0000:af:1f.7");
        let c: PciAddr = "10000:01:00.1".parse().unwrap();
        assert_eq!(c.to_string(), "10000:01:00.1");
        for bad in [
            "",
            "00:03",
            "00:20.0",
            "00:03.8",
            "0:0:0:0.0",
            "zz:00.0",
            "00:03.",
            ":00.0",
        ] {
            assert!(bad.parse::<PciAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn scan_reads_sysfs_layout() {
        let dir = std::env::temp_dir().join(format!("rpdk-pci-scan-{}", std::process::id()));
        let dev = dir.join("0000:00:04.0");
        fs::create_dir_all(&dev).unwrap();
        fs::write(dev.join("vendor"), "0x1af4\n").unwrap();
        fs::write(dev.join("device"), "0x1000\n").unwrap();
        fs::write(dev.join("class"), "0x020000\n").unwrap();
        fs::write(dev.join("numa_node"), "-1\n").unwrap();
        fs::create_dir_all(dir.join("not-a-device")).unwrap();
        let found = scan(&dir).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].id,
            PciId {
                vendor: 0x1af4,
                device: 0x1000
            }
        );
        assert_eq!(found[0].class, 0x020000);
        assert_eq!(found[0].numa_node, None);
        assert_eq!(found[0].kernel_driver, None);
        assert!(scan(Path::new("/nonexistent/rpdk")).unwrap().is_empty());
    }
}
