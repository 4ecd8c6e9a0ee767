//! A PCI NIC's queue driven from a secondary process: how the primary passes the device's
//! registers, and how the secondary maps them.
//!
//! The primary passes a descriptor per memory BAR the queue needs (`SCM_RIGHTS`: a duplicate
//! of the VFIO device's descriptor, or the sysfs `resourceN` file of a uio_pci_generic device)
//! and, in the message's bytes, where each BAR lies in it; the driver's own bytes follow:
//!
//! | byte | what |
//! |---|---|
//! | 0 | format, 1 |
//! | 1 | access: 0 VFIO with an IOMMU, 1 VFIO without (no-IOMMU mode), 2 uio_pci_generic |
//! | 2 | length of the PCI address, `n` |
//! | 3..3+n | the PCI address (`0000:00:03.0`) |
//! | then | BAR count `b`; per BAR its number (u8), offset and length (u64, little-endian) |
//! | then | the driver's bytes |
//!
//! The descriptor rings and the queue's mbuf slots are memzones (the secondary finds them by
//! the names in the driver's bytes), IOVAs are the primary's (the secondary's memory is the
//! primary's, mapped at the same addresses, and the device's DMA mappings are the primary's
//! too), and the device's configuration stays the primary's.
//!
//! A secondary takes the queue's position words ([`take_words`]) only from a driver that gave
//! the queue back: after a crash the primary takes the queue back first.

#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;

use rpdk_eal::bus::{PciAccess, PciAddr, PciHandle, SharedBar};
use rpdk_eal::memory::vfio::VfioMode;

use crate::driver::{DriverResult, SharedQueue};
use crate::error::DriverError;
use crate::shared::QueueWords;

const FORMAT: u8 = 1;

/// What the primary passes for a queue of `dev` whose driver needs BARs `bars`, followed by
/// the driver's `own` bytes.
pub(crate) fn share(dev: &PciHandle, bars: &[u8], own: &[u8]) -> DriverResult<SharedQueue> {
    let (all, fds) = dev
        .share_bars()
        .map_err(|e| DriverError::Other(format!("sharing the device's registers: {e}")))?;
    let access = match dev.access() {
        PciAccess::Vfio(VfioMode::Iommu) => 0,
        PciAccess::Vfio(VfioMode::NoIommu) => 1,
        PciAccess::Uio => 2,
    };
    let addr = dev.info().addr.to_string();
    let mut args = vec![FORMAT, access, addr.len() as u8];
    args.extend_from_slice(addr.as_bytes());
    let mut kept = Vec::new();
    for (b, fd) in all.into_iter().zip(fds) {
        if bars.contains(&b.index) {
            kept.push((b, fd));
        }
    }
    if kept.len() != bars.len() {
        return Err(DriverError::Other(format!(
            "{addr}: BARs {bars:?} are not all mapped"
        )));
    }
    args.push(kept.len() as u8);
    let mut out = Vec::new();
    for (b, fd) in kept {
        args.push(b.index);
        args.extend_from_slice(&b.offset.to_le_bytes());
        args.extend_from_slice(&b.len.to_le_bytes());
        out.push(fd);
    }
    args.extend_from_slice(own);
    Ok(SharedQueue { args, fds: out })
}

/// The device handle a secondary maps from what [`share`] passed, and the driver's bytes.
pub(crate) fn attach(shared: SharedQueue) -> DriverResult<(PciHandle, Vec<u8>)> {
    let SharedQueue { args, fds } = shared;
    let bad = |what: &str| DriverError::Invalid(format!("the primary's PCI queue share: {what}"));
    let mut r = Reader(&args);
    if r.u8()? != FORMAT {
        return Err(bad("unknown format"));
    }
    let access = match r.u8()? {
        0 => PciAccess::Vfio(VfioMode::Iommu),
        1 => PciAccess::Vfio(VfioMode::NoIommu),
        2 => PciAccess::Uio,
        _ => return Err(bad("unknown access")),
    };
    let n = r.u8()? as usize;
    let addr: PciAddr = std::str::from_utf8(r.take(n)?)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("malformed PCI address"))?;
    let count = r.u8()? as usize;
    let mut bars = Vec::with_capacity(count);
    for _ in 0..count {
        bars.push(SharedBar {
            index: r.u8()?,
            offset: r.u64()?,
            len: r.u64()?,
        });
    }
    if fds.len() != count {
        return Err(bad("descriptor count"));
    }
    let fds: Vec<OwnedFd> = fds;
    let dev = PciHandle::attach_shared(&addr, access, &bars, fds)
        .map_err(|e| DriverError::Other(format!("mapping the device's registers: {e}")))?;
    Ok((dev, r.0.to_vec()))
}

/// Refuses to share a queue whose words are this process's own (a port without shared port
/// data): a secondary could not find where the queue stands.
pub(crate) fn check_shared(words: &QueueWords) -> DriverResult<()> {
    if words.shared() {
        Ok(())
    } else {
        Err(DriverError::NotSupported(
            "driving its queues from a secondary process without shared port data",
        ))
    }
}

/// The words of queue `queue` of port `port` (RX or TX), marked driven by this process; refused
/// when the queue's last driver died without parking them, since only the primary can take
/// such a queue back (its `start` rebuilds the ring from where the words stand).
pub(crate) fn take_words(port: u16, rx: bool, queue: u16) -> DriverResult<QueueWords> {
    let words = QueueWords::of(port, rx, queue);
    if !words.take() {
        return Err(DriverError::Invalid(
            "the process that drove the queue last died without giving it back; the primary \
             has to take it back first"
                .into(),
        ));
    }
    Ok(words)
}

/// Reads the fields of a share's bytes in order.
pub(crate) struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    fn short() -> DriverError {
        DriverError::Invalid("the primary's queue share is too short".into())
    }

    pub fn take(&mut self, n: usize) -> DriverResult<&'a [u8]> {
        if self.0.len() < n {
            return Err(Self::short());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    pub fn u8(&mut self) -> DriverResult<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> DriverResult<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    pub fn u64(&mut self) -> DriverResult<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A string prefixed by its length (one byte).
    pub fn name(&mut self) -> DriverResult<String> {
        let n = self.u8()? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
}

/// Appends `s` prefixed by its length, as [`Reader::name`] reads it.
pub(crate) fn push_name(out: &mut Vec<u8>, s: &str) {
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}
