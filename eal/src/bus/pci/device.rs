//! An opened PCI device: its memory BARs mapped, its configuration space, bus mastering, and
//! DMA-able memory for its rings. What a PCI driver's probe receives.

use std::fs::{File, OpenOptions};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;

use super::PciDevice;
use super::mmio::Bar;
use crate::error::{Error, Result};
use crate::memory::memzone::{self, Memzone, MemzoneFlags};
use crate::memory::vfio::{self, PCI_CONFIG_REGION_INDEX, REGION_INFO_FLAG_MMAP, RegionInfo};
use crate::memory::vfio::{VfioDevice, VfioMode};
use crate::options::IovaMode;

/// The PCI command register and its bits.
const PCI_COMMAND: u64 = 0x04;
const PCI_COMMAND_MEMORY: u16 = 1 << 1;
const PCI_COMMAND_MASTER: u16 = 1 << 2;
/// The capabilities pointer and the status bit saying there is a list.
const PCI_STATUS: u64 = 0x06;
const PCI_STATUS_CAP_LIST: u16 = 1 << 4;
const PCI_CAPABILITY_LIST: u64 = 0x34;
/// The first BAR register.
const PCI_BASE_ADDRESS_0: u64 = 0x10;
/// `IORESOURCE_MEM` in a sysfs `resource` line's flags.
const IORESOURCE_MEM: u64 = 0x200;

/// How the device is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PciAccess {
    /// Through vfio-pci, in this mode.
    Vfio(VfioMode),
    /// Through uio_pci_generic (physical addresses, no IOMMU protection).
    Uio,
}

enum Config {
    Vfio(VfioDevice, RegionInfo),
    /// The sysfs `config` file.
    Uio(File),
    /// A secondary process's view of the primary's device: its BARs only, mapped from the
    /// descriptors the primary passed; the configuration space is the primary's.
    Attached(PciAccess),
}

/// A memory BAR as another process maps it (see [`PciHandle::share_bars`]): its number, and
/// where it lies in the file descriptor passed with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedBar {
    /// The BAR number (0-5).
    pub index: u8,
    /// Its offset in the descriptor's file (a VFIO device region's; 0 for a sysfs
    /// `resourceN` file).
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
}

struct Inner {
    info: PciDevice,
    config: Config,
    bars: [Option<Bar>; 6],
}

/// A PCI device opened for a driver: its memory BARs mapped and bus mastering on. Cloning shares
/// it (a driver's queues hold clones); the last clone dropped turns bus mastering off and
/// unmaps the BARs.
#[derive(Clone)]
pub struct PciHandle(Arc<Inner>);

impl std::fmt::Debug for PciHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PciHandle")
            .field("addr", &self.0.info.addr)
            .field("access", &self.access())
            .finish()
    }
}

impl PciHandle {
    /// Opens `dev` through the kernel driver it is bound to (vfio-pci or uio_pci_generic), maps
    /// its memory BARs and turns bus mastering on.
    pub(crate) fn open(dev: &PciDevice, iova_mode: IovaMode) -> Result<PciHandle> {
        let name = dev.addr.to_string();
        let err = |reason: String| Error::Device {
            device: name.clone(),
            reason,
        };
        let mut bars: [Option<Bar>; 6] = Default::default();
        let config = match dev.kernel_driver.as_deref() {
            Some("vfio-pci") => {
                let vdev = vfio::open_device(&name, &dev.sysfs_path, iova_mode)?;
                // A clean device, as DPDK's vfio-pci open does, where it has a reset.
                if !vdev.reset() {
                    log::debug!(target: "lib.eal", "{name}: no VFIO device reset");
                }
                let config = vdev
                    .region(PCI_CONFIG_REGION_INDEX)
                    .map_err(|e| err(format!("config region info: {e}")))?;
                let regions = vdev
                    .num_regions()
                    .map_err(|e| err(format!("VFIO_DEVICE_GET_INFO: {e}")))?;
                for (i, slot) in bars.iter_mut().enumerate() {
                    if i as u32 >= regions {
                        break;
                    }
                    let info = vdev
                        .region(i as u32)
                        .map_err(|e| err(format!("BAR {i} region info: {e}")))?;
                    if info.size == 0 || info.flags & REGION_INFO_FLAG_MMAP == 0 {
                        continue;
                    }
                    let mut reg = [0u8; 4];
                    vdev.config_read(&config, PCI_BASE_ADDRESS_0 + 4 * i as u64, &mut reg)?;
                    if u32::from_le_bytes(reg) & 1 != 0 {
                        continue; // an I/O port BAR
                    }
                    let bar = Bar::map(&vdev.fd, info.offset, info.size as usize, i as u8)
                        .map_err(|e| err(e.to_string()))?;
                    *slot = Some(bar);
                }
                Config::Vfio(vdev, config)
            }
            Some("uio_pci_generic") => {
                if iova_mode != IovaMode::Pa {
                    return Err(err(
                        "uio_pci_generic gives no IOMMU: devices use physical addresses; run \
                         with --iova-mode=pa (as root), or bind to vfio-pci"
                            .into(),
                    ));
                }
                let path = dev.sysfs_path.join("config");
                let config = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(|e| err(format!("opening {}: {e}", path.display())))?;
                let resources = std::fs::read_to_string(dev.sysfs_path.join("resource"))
                    .map_err(|e| err(format!("reading resource: {e}")))?;
                for (i, line) in resources.lines().take(6).enumerate() {
                    let f: Vec<u64> = line
                        .split_whitespace()
                        .filter_map(|x| u64::from_str_radix(x.trim_start_matches("0x"), 16).ok())
                        .collect();
                    let [start, end, flags] = f[..] else { continue };
                    if start == 0 || end <= start || flags & IORESOURCE_MEM == 0 {
                        continue;
                    }
                    let rpath = dev.sysfs_path.join(format!("resource{i}"));
                    let file = OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(&rpath)
                        .map_err(|e| err(format!("opening {}: {e}", rpath.display())))?;
                    let bar = Bar::map(&file, 0, (end - start + 1) as usize, i as u8)
                        .map_err(|e| err(e.to_string()))?;
                    bars[i] = Some(bar);
                }
                Config::Uio(config)
            }
            other => {
                return Err(err(format!(
                    "bound to {}, not to vfio-pci or uio_pci_generic (scripts/devbind.sh \
                     --bind=vfio-pci {name})",
                    other.unwrap_or("no driver")
                )));
            }
        };
        let handle = PciHandle(Arc::new(Inner {
            info: dev.clone(),
            config,
            bars,
        }));
        handle.set_command_bits(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, true)?;
        log::info!(
            target: "lib.eal",
            "PCI {name} ({:04x}:{:04x}) opened through {:?}",
            dev.id.vendor, dev.id.device, handle.access()
        );
        Ok(handle)
    }

    /// What the bus scan found.
    pub fn info(&self) -> &PciDevice {
        &self.0.info
    }

    /// How the device is reached.
    pub fn access(&self) -> PciAccess {
        match &self.0.config {
            Config::Vfio(d, _) => PciAccess::Vfio(d.mode),
            Config::Uio(_) => PciAccess::Uio,
            Config::Attached(a) => *a,
        }
    }

    /// Whether this is a secondary process's view of the primary's device
    /// ([`attach_shared`](Self::attach_shared)): BARs only.
    pub fn is_attached(&self) -> bool {
        matches!(self.0.config, Config::Attached(_))
    }

    /// What another process of this primary needs to map the device's memory BARs (as DPDK's
    /// secondaries map the primary's, from the VFIO device descriptor it passes them): each
    /// mapped BAR, with a descriptor of the file to map it from (a duplicate of the VFIO
    /// device's, or the sysfs `resourceN` file opened anew for uio_pci_generic), in the same
    /// order. The configuration space and the device's DMA set-up stay this process's.
    pub fn share_bars(&self) -> Result<(Vec<SharedBar>, Vec<OwnedFd>)> {
        let name = self.0.info.addr.to_string();
        let err = |what: String, e: std::io::Error| Error::Device {
            device: name.clone(),
            reason: format!("{what}: {e}"),
        };
        let mut bars = Vec::new();
        let mut fds = Vec::new();
        for bar in self.0.bars.iter().flatten() {
            let file = match &self.0.config {
                Config::Vfio(d, _) => {
                    d.fd.try_clone()
                        .map_err(|e| err("duplicating the VFIO device descriptor".into(), e))?
                }
                Config::Uio(_) => {
                    let path = self
                        .0
                        .info
                        .sysfs_path
                        .join(format!("resource{}", bar.index()));
                    OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(&path)
                        .map_err(|e| err(format!("opening {}", path.display()), e))?
                }
                Config::Attached(_) => {
                    return Err(Error::Device {
                        device: name,
                        reason: "a secondary process's view of the device shares nothing".into(),
                    });
                }
            };
            bars.push(SharedBar {
                index: bar.index(),
                offset: bar.offset(),
                len: bar.len() as u64,
            });
            fds.push(OwnedFd::from(file));
        }
        Ok((bars, fds))
    }

    /// Maps, in a secondary process, the BARs the primary shared with
    /// [`share_bars`](Self::share_bars) (`fds` in the order of `bars`). The handle reads and
    /// writes registers; it has no configuration space (those calls fail, naming the device),
    /// and dropping it leaves the device as the primary has it.
    pub fn attach_shared(
        addr: &super::PciAddr,
        access: PciAccess,
        bars: &[SharedBar],
        fds: Vec<OwnedFd>,
    ) -> Result<PciHandle> {
        let name = addr.to_string();
        let err = |reason: String| Error::Device {
            device: name.clone(),
            reason,
        };
        if bars.len() != fds.len() {
            return Err(err(format!(
                "{} BARs shared with {} descriptors",
                bars.len(),
                fds.len()
            )));
        }
        let info = super::scan(Path::new(super::SYSFS_PCI_DEVICES))
            .map_err(|e| err(format!("scanning {}: {e}", super::SYSFS_PCI_DEVICES)))?
            .into_iter()
            .find(|d| d.addr == *addr)
            .ok_or_else(|| err(format!("not in {}", super::SYSFS_PCI_DEVICES)))?;
        let mut mapped: [Option<Bar>; 6] = Default::default();
        for (b, fd) in bars.iter().zip(fds) {
            let slot = mapped
                .get_mut(b.index as usize)
                .ok_or_else(|| err(format!("BAR {} does not exist", b.index)))?;
            let len = usize::try_from(b.len).map_err(|_| err(format!("BAR {} length", b.index)))?;
            *slot = Some(Bar::map(&File::from(fd), b.offset, len, b.index)?);
        }
        Ok(PciHandle(Arc::new(Inner {
            info,
            config: Config::Attached(access),
            bars: mapped,
        })))
    }

    /// Memory BAR `index`, if the device has it and it could be mapped.
    pub fn bar(&self, index: usize) -> Option<&Bar> {
        self.0.bars.get(index)?.as_ref()
    }

    /// Reads `buf.len()` bytes of configuration space at `offset`.
    pub fn config_read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        match &self.0.config {
            Config::Vfio(d, region) => d.config_read(region, offset, buf),
            Config::Uio(f) => std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
                .map_err(|e| Error::io(format!("{}: reading config space", self.0.info.addr), e)),
            Config::Attached(_) => Err(self.not_here()),
        }
    }

    fn not_here(&self) -> Error {
        Error::Device {
            device: self.0.info.addr.to_string(),
            reason: "the configuration space is the primary process's".into(),
        }
    }

    /// Writes configuration space at `offset`.
    pub fn config_write(&self, offset: u64, buf: &[u8]) -> Result<()> {
        match &self.0.config {
            Config::Vfio(d, region) => d.config_write(region, offset, buf),
            Config::Uio(f) => std::os::unix::fs::FileExt::write_all_at(f, buf, offset)
                .map_err(|e| Error::io(format!("{}: writing config space", self.0.info.addr), e)),
            Config::Attached(_) => Err(self.not_here()),
        }
    }

    /// Reads a byte of configuration space.
    pub fn config_read8(&self, offset: u64) -> Result<u8> {
        let mut b = [0u8; 1];
        self.config_read(offset, &mut b)?;
        Ok(b[0])
    }

    /// Reads a 16-bit word of configuration space.
    pub fn config_read16(&self, offset: u64) -> Result<u16> {
        let mut b = [0u8; 2];
        self.config_read(offset, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// Reads a 32-bit word of configuration space.
    pub fn config_read32(&self, offset: u64) -> Result<u32> {
        let mut b = [0u8; 4];
        self.config_read(offset, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn set_command_bits(&self, bits: u16, on: bool) -> Result<()> {
        let cmd = self.config_read16(PCI_COMMAND)?;
        let new = if on { cmd | bits } else { cmd & !bits };
        if new != cmd {
            self.config_write(PCI_COMMAND, &new.to_le_bytes())?;
        }
        Ok(())
    }

    /// Whether bus mastering (the device's DMA) is on.
    pub fn bus_master(&self) -> Result<bool> {
        Ok(self.config_read16(PCI_COMMAND)? & PCI_COMMAND_MASTER != 0)
    }

    /// The capabilities in configuration space: (id, offset) of each, in list order.
    pub fn capabilities(&self) -> Result<Vec<(u8, u8)>> {
        let mut out = Vec::new();
        if self.config_read16(PCI_STATUS)? & PCI_STATUS_CAP_LIST == 0 {
            return Ok(out);
        }
        let mut at = self.config_read8(PCI_CAPABILITY_LIST)? & !3;
        // 48 capabilities at most fit the 192 bytes after the header: stop on a loop.
        while at >= 0x40 && out.len() < 48 {
            let id = self.config_read8(at as u64)?;
            out.push((id, at));
            at = self.config_read8(at as u64 + 1)? & !3;
        }
        Ok(out)
    }

    /// Reserves memory the device can DMA to: a memzone contiguous in IOVA space, on the
    /// device's NUMA node (or `socket` when it has none), aligned to `align` bytes.
    pub fn dma_zone(&self, name: &str, len: usize, align: usize, socket: u32) -> Result<Memzone> {
        let socket = self.0.info.numa_node.unwrap_or(socket);
        memzone::reserve_aligned(name, len, Some(socket), MemzoneFlags::IOVA_CONTIG, align)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Stop the device's DMA before its memory goes back to the heaps.
        let mut cmd = [0u8; 2];
        let read = match &self.config {
            Config::Vfio(d, r) => d.config_read(r, PCI_COMMAND, &mut cmd).is_ok(),
            Config::Uio(f) => {
                std::os::unix::fs::FileExt::read_exact_at(f, &mut cmd, PCI_COMMAND).is_ok()
            }
            // The primary's device: its DMA is the primary's to stop.
            Config::Attached(_) => false,
        };
        if read {
            let new = (u16::from_le_bytes(cmd) & !PCI_COMMAND_MASTER).to_le_bytes();
            let _ = match &self.config {
                Config::Vfio(d, r) => d.config_write(r, PCI_COMMAND, &new).is_ok(),
                Config::Uio(f) => {
                    std::os::unix::fs::FileExt::write_all_at(f, &new, PCI_COMMAND).is_ok()
                }
                Config::Attached(_) => false,
            };
        }
    }
}
