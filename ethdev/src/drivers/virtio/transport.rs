//! The virtio 1.x PCI transport (virtio spec v1.2 §4.1): the vendor capabilities that locate
//! the common configuration, notification, ISR and device configuration structures in the
//! BARs, device status and feature negotiation, and virtqueue programming.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use rpdk_eal::bus::{Bar, PciHandle};

/// Vendor-specific PCI capability id, which every virtio structure capability has (§4.1.4).
const PCI_CAP_ID_VNDR: u8 = 0x09;
/// `cfg_type` of the virtio capabilities (§4.1.4).
const CAP_COMMON: u8 = 1;
const CAP_NOTIFY: u8 = 2;
const CAP_ISR: u8 = 3;
const CAP_DEVICE: u8 = 4;

/// The common configuration structure's fields (§4.1.4.3), byte offsets.
mod common {
    pub const DEVICE_FEATURE_SELECT: usize = 0x00;
    pub const DEVICE_FEATURE: usize = 0x04;
    pub const DRIVER_FEATURE_SELECT: usize = 0x08;
    pub const DRIVER_FEATURE: usize = 0x0c;
    pub const MSIX_CONFIG: usize = 0x10;
    pub const NUM_QUEUES: usize = 0x12;
    pub const DEVICE_STATUS: usize = 0x14;
    pub const CONFIG_GENERATION: usize = 0x15;
    pub const QUEUE_SELECT: usize = 0x16;
    pub const QUEUE_SIZE: usize = 0x18;
    pub const QUEUE_MSIX_VECTOR: usize = 0x1a;
    pub const QUEUE_ENABLE: usize = 0x1c;
    pub const QUEUE_NOTIFY_OFF: usize = 0x1e;
    pub const QUEUE_DESC: usize = 0x20;
    pub const QUEUE_DRIVER: usize = 0x28;
    pub const QUEUE_DEVICE: usize = 0x30;
    /// The structure's size.
    pub const LEN: u32 = 0x38;
}

/// Device status bits (§2.1).
pub mod status {
    pub const ACKNOWLEDGE: u8 = 1;
    pub const DRIVER: u8 = 2;
    pub const DRIVER_OK: u8 = 4;
    pub const FEATURES_OK: u8 = 8;
    pub const DEVICE_NEEDS_RESET: u8 = 64;
    pub const FAILED: u8 = 128;
}

/// "No MSI-X vector" for `msix_config` and `queue_msix_vector` (§4.1.5.1.2): the driver polls.
const NO_VECTOR: u16 = 0xffff;

/// Where a structure is: BAR, offset and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub bar: u8,
    pub offset: u32,
    pub length: u32,
}

/// The virtio structures a modern device's capabilities point at.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub common: Region,
    pub notify: Region,
    /// `notify_off_multiplier` of the notification capability (§4.1.4.4).
    pub notify_multiplier: u32,
    /// The ISR status structure (§4.1.4.5): found, unused (the driver polls).
    pub isr: Option<Region>,
    pub device: Option<Region>,
}

/// One vendor capability's fields (§4.1.4: `struct virtio_pci_cap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtioCap {
    pub cfg_type: u8,
    pub region: Region,
    /// The word after the structure: `notify_off_multiplier` for a notification capability.
    pub extra: u32,
}

/// Finds the structures from the capabilities; the first capability of each type is the
/// one to use (§4.1.4: "the driver SHOULD use the first instance").
pub fn layout(caps: &[VirtioCap], bar_len: impl Fn(u8) -> Option<usize>) -> Result<Layout, String> {
    let first = |t: u8| caps.iter().find(|c| c.cfg_type == t && c.region.bar < 6);
    let check = |c: &VirtioCap, what: &str, min: u32| -> Result<Region, String> {
        let r = c.region;
        let len = bar_len(r.bar).ok_or_else(|| {
            format!(
                "the {what} structure is in BAR {}, which is not mapped",
                r.bar
            )
        })?;
        if r.length < min || r.offset as usize + r.length as usize > len {
            return Err(format!(
                "the {what} structure ({:#x} bytes at {:#x} of BAR {}) does not fit the BAR \
                 ({len:#x} bytes) or is shorter than {min:#x}",
                r.length, r.offset, r.bar
            ));
        }
        Ok(r)
    };
    let common = first(CAP_COMMON).ok_or(
        "no virtio common configuration capability: not a modern (virtio 1.x) device \
         (QEMU: -device virtio-net-pci,disable-legacy=on)",
    )?;
    let notify = first(CAP_NOTIFY).ok_or("no virtio notification capability")?;
    Ok(Layout {
        common: check(common, "common configuration", common::LEN)?,
        notify: check(notify, "notification", 2)?,
        notify_multiplier: notify.extra,
        isr: first(CAP_ISR).map(|c| check(c, "ISR", 1)).transpose()?,
        device: first(CAP_DEVICE)
            .map(|c| check(c, "device configuration", 1))
            .transpose()?,
    })
}

/// Reads the virtio vendor capabilities of `dev`'s configuration space.
pub fn read_caps(dev: &PciHandle) -> Result<Vec<VirtioCap>, String> {
    let name = dev.info().addr;
    let caps = dev
        .capabilities()
        .map_err(|e| format!("{name}: reading capabilities: {e}"))?;
    let mut out = Vec::new();
    for (id, at) in caps {
        if id != PCI_CAP_ID_VNDR {
            continue;
        }
        let at = at as u64;
        let rd8 = |o: u64| dev.config_read8(at + o);
        let rd32 = |o: u64| dev.config_read32(at + o);
        let read = || -> rpdk_eal::Result<VirtioCap> {
            let cap_len = rd8(2)?;
            Ok(VirtioCap {
                cfg_type: rd8(3)?,
                region: Region {
                    bar: rd8(4)?,
                    offset: rd32(8)?,
                    length: rd32(12)?,
                },
                extra: if cap_len >= 20 { rd32(16)? } else { 0 },
            })
        };
        out.push(read().map_err(|e| format!("{name}: reading a virtio capability: {e}"))?);
    }
    Ok(out)
}

/// The modern transport of one device: register access to its structures.
pub struct Transport {
    dev: PciHandle,
    pub layout: Layout,
}

impl Transport {
    /// Locates the structures of `dev`.
    pub fn new(dev: PciHandle) -> Result<Transport, String> {
        let caps = read_caps(&dev)?;
        let layout = layout(&caps, |b| dev.bar(b as usize).map(Bar::len))
            .map_err(|e| format!("{}: {e}", dev.info().addr))?;
        Ok(Transport { dev, layout })
    }

    pub fn handle(&self) -> &PciHandle {
        &self.dev
    }

    fn bar(&self, r: Region) -> &Bar {
        self.dev
            .bar(r.bar as usize)
            .expect("layout checked the BAR is mapped")
    }

    fn common(&self) -> (&Bar, usize) {
        (
            self.bar(self.layout.common),
            self.layout.common.offset as usize,
        )
    }

    pub fn status(&self) -> u8 {
        let (b, o) = self.common();
        b.read8(o + common::DEVICE_STATUS)
    }

    pub fn set_status(&self, s: u8) {
        let (b, o) = self.common();
        b.write8(o + common::DEVICE_STATUS, s);
    }

    /// Device reset (§4.1.4.3.1): write 0, then wait until the device reads back 0 (it has
    /// stopped using the queues' memory).
    pub fn reset(&self) -> Result<(), String> {
        self.set_status(0);
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.status() != 0 {
            if Instant::now() > deadline {
                return Err("the device did not complete its reset".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// The 64 feature bits the device offers (§4.1.4.3: two 32-bit windows).
    pub fn device_features(&self) -> u64 {
        let (b, o) = self.common();
        let mut f = 0u64;
        for sel in 0..2u32 {
            b.write32(o + common::DEVICE_FEATURE_SELECT, sel);
            f |= (b.read32(o + common::DEVICE_FEATURE) as u64) << (32 * sel);
        }
        f
    }

    pub fn set_driver_features(&self, features: u64) {
        let (b, o) = self.common();
        for sel in 0..2u32 {
            b.write32(o + common::DRIVER_FEATURE_SELECT, sel);
            b.write32(o + common::DRIVER_FEATURE, (features >> (32 * sel)) as u32);
        }
    }

    /// Reset, acknowledge, negotiate `features` and check the device took them (§3.1.1 steps
    /// 1 to 6). The device is left at FEATURES_OK, ready for its queues.
    pub fn init(&self, features: u64) -> Result<(), String> {
        self.reset()?;
        self.set_status(status::ACKNOWLEDGE);
        self.set_status(status::ACKNOWLEDGE | status::DRIVER);
        self.set_driver_features(features);
        let s = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK;
        self.set_status(s);
        if self.status() & status::FEATURES_OK == 0 {
            self.set_status(s | status::FAILED);
            return Err(format!(
                "the device refused the features {features:#x} (FEATURES_OK did not stay set)"
            ));
        }
        let (b, o) = self.common();
        b.write16(o + common::MSIX_CONFIG, NO_VECTOR);
        Ok(())
    }

    /// DRIVER_OK (§3.1.1 step 8): the device may use the queues.
    pub fn driver_ok(&self) {
        self.set_status(
            status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK,
        );
    }

    pub fn num_queues(&self) -> u16 {
        let (b, o) = self.common();
        b.read16(o + common::NUM_QUEUES)
    }

    /// The largest size of queue `index` (0: the queue does not exist).
    pub fn queue_max_size(&self, index: u16) -> u16 {
        let (b, o) = self.common();
        b.write16(o + common::QUEUE_SELECT, index);
        b.read16(o + common::QUEUE_SIZE)
    }

    /// Programs queue `index` (§4.1.5.1.3): size, the three areas' addresses, no interrupt
    /// vector, then enabled.
    pub fn setup_queue(&self, index: u16, size: u16, desc: u64, driver: u64, device: u64) {
        let (b, o) = self.common();
        b.write16(o + common::QUEUE_SELECT, index);
        b.write16(o + common::QUEUE_SIZE, size);
        b.write16(o + common::QUEUE_MSIX_VECTOR, NO_VECTOR);
        b.write64(o + common::QUEUE_DESC, desc);
        b.write64(o + common::QUEUE_DRIVER, driver);
        b.write64(o + common::QUEUE_DEVICE, device);
        b.write16(o + common::QUEUE_ENABLE, 1);
    }

    /// The offset of queue `index`'s notification register in the notification structure's
    /// BAR (§4.1.4.4: `queue_notify_off` times `notify_off_multiplier`).
    pub fn notify_offset(&self, index: u16) -> Result<usize, String> {
        let (b, o) = self.common();
        b.write16(o + common::QUEUE_SELECT, index);
        let off = b.read16(o + common::QUEUE_NOTIFY_OFF) as usize;
        let n = self.layout.notify;
        let at = n.offset as usize + off * self.layout.notify_multiplier as usize;
        if at + 2 > n.offset as usize + n.length as usize {
            return Err(format!(
                "queue {index}'s notification register ({at:#x}) lies outside the \
                 notification structure"
            ));
        }
        Ok(at)
    }

    /// The BAR holding the notification registers.
    pub fn notify_bar(&self) -> &Bar {
        self.bar(self.layout.notify)
    }

    /// Reads the device configuration with a stable `config_generation` (§4.1.4.3.1): `f`
    /// reads fields through the closure it gets, and runs again if the generation moved.
    pub fn read_device_config<T>(&self, f: impl Fn(&dyn Fn(usize) -> u8) -> T) -> Option<T> {
        let r = self.layout.device?;
        let (cb, co) = self.common();
        let bar = self.bar(r);
        let byte = |off: usize| -> u8 {
            if off < r.length as usize {
                bar.read8(r.offset as usize + off)
            } else {
                0
            }
        };
        loop {
            let before = cb.read8(co + common::CONFIG_GENERATION);
            let v = f(&byte);
            if cb.read8(co + common::CONFIG_GENERATION) == before {
                return Some(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(t: u8, bar: u8, offset: u32, length: u32, extra: u32) -> VirtioCap {
        VirtioCap {
            cfg_type: t,
            region: Region {
                bar,
                offset,
                length,
            },
            extra,
        }
    }

    #[test]
    fn layout_from_qemus_capabilities() {
        // What QEMU's virtio-net-pci (modern) lists: common, ISR, device, notify in BAR 4,
        // and a PCI-configuration-access capability (type 5), which the driver does not use.
        let caps = [
            cap(CAP_COMMON, 4, 0x0000, 0x1000, 0),
            cap(CAP_ISR, 4, 0x1000, 0x1000, 0),
            cap(CAP_DEVICE, 4, 0x2000, 0x1000, 0),
            cap(CAP_NOTIFY, 4, 0x3000, 0x1000, 4),
            cap(5, 0, 0, 0, 0),
            cap(CAP_COMMON, 2, 0, 0x1000, 0),
        ];
        let l = layout(&caps, |b| (b == 4).then_some(0x4000)).unwrap();
        assert_eq!(l.common.offset, 0);
        assert_eq!(l.common.bar, 4);
        assert_eq!(l.notify.offset, 0x3000);
        assert_eq!(l.notify_multiplier, 4);
        assert_eq!(l.device.unwrap().offset, 0x2000);
        assert_eq!(l.isr.unwrap().offset, 0x1000);
    }

    #[test]
    fn layout_errors_name_the_problem() {
        let legacy = [cap(CAP_ISR, 4, 0, 0x1000, 0)];
        let e = layout(&legacy, |_| Some(0x4000)).unwrap_err();
        assert!(e.contains("disable-legacy=on"), "{e}");
        let caps = [
            cap(CAP_COMMON, 4, 0x3800, 0x1000, 0),
            cap(CAP_NOTIFY, 4, 0, 0x1000, 4),
        ];
        let e = layout(&caps, |_| Some(0x4000)).unwrap_err();
        assert!(e.contains("does not fit"), "{e}");
        let e = layout(&caps, |_| None).unwrap_err();
        assert!(e.contains("not mapped"), "{e}");
    }
}
