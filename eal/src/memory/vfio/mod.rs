//! VFIO: the container, IOMMU groups, device fds, and DMA mapping of EAL memory
//! (DPDK's `lib/eal/linux/eal_vfio.c`).
//!
//! One container per process holds every group of the devices rpdk opens. When its first group
//! joins, the container gets an IOMMU type: type 1 (v2) when the machine has an IOMMU, or VFIO's
//! no-IOMMU mode (`/dev/vfio/noiommu-N`, after `enable_unsafe_noiommu_mode`) when it has none.
//! With an IOMMU, every page of EAL memory is mapped into it at its IOVA (the virtual address in
//! IOVA mode VA, the physical address in PA): what is mapped when the container is set up, and
//! what the heaps add later (their regions call `dma_map` as they grow and `dma_unmap` as they
//! shrink). Without an IOMMU nothing is mapped and devices use physical addresses, so IOVA mode
//! must be PA.

mod sys;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::options::IovaMode;

pub(crate) use sys::{PCI_CONFIG_REGION_INDEX, REGION_INFO_FLAG_MMAP, RegionInfo};

/// Whether devices sit behind an IOMMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VfioMode {
    /// An IOMMU translates device addresses (type 1): EAL memory is mapped into it.
    Iommu,
    /// No IOMMU (`enable_unsafe_noiommu_mode`): devices see physical addresses and can reach
    /// all memory.
    NoIommu,
}

struct Container {
    file: File,
    mode: VfioMode,
    /// Open groups by number, with how many devices of each are open.
    groups: BTreeMap<u32, (Arc<File>, usize)>,
    /// IOVA ranges mapped into the IOMMU, by start: their length.
    mapped: BTreeMap<u64, usize>,
}

static CONTAINER: Mutex<Option<Container>> = Mutex::new(None);

fn lock() -> std::sync::MutexGuard<'static, Option<Container>> {
    CONTAINER.lock().unwrap_or_else(|e| e.into_inner())
}

/// An open VFIO device: its fd, the group that keeps it reachable, and its regions.
#[derive(Debug)]
pub(crate) struct VfioDevice {
    name: String,
    group: u32,
    /// The device fd: regions are read, written and mapped through it.
    pub fd: File,
    /// The mode of the container it is in.
    pub mode: VfioMode,
}

impl VfioDevice {
    /// Information on region `index` (BAR 0-5, or [`PCI_CONFIG_REGION_INDEX`]).
    pub fn region(&self, index: u32) -> std::io::Result<RegionInfo> {
        sys::region_info(&self.fd, index)
    }

    /// The number of regions the device has.
    pub fn num_regions(&self) -> std::io::Result<u32> {
        sys::device_num_regions(&self.fd)
    }

    /// Reads `buf.len()` bytes of configuration space at `offset`.
    pub fn config_read(&self, config: &RegionInfo, offset: u64, buf: &mut [u8]) -> Result<()> {
        sys::pread(&self.fd, buf, config.offset + offset)
            .map_err(|e| Error::io(format!("{}: reading config space", self.name), e))
    }

    /// Writes configuration space at `offset`.
    pub fn config_write(&self, config: &RegionInfo, offset: u64, buf: &[u8]) -> Result<()> {
        sys::pwrite(&self.fd, buf, config.offset + offset)
            .map_err(|e| Error::io(format!("{}: writing config space", self.name), e))
    }

    /// Resets the device, when it supports a reset; false when it does not.
    pub fn reset(&self) -> bool {
        sys::device_reset(&self.fd).is_ok()
    }
}

impl Drop for VfioDevice {
    fn drop(&mut self) {
        let mut guard = lock();
        let Some(c) = guard.as_mut() else { return };
        if let Some((_, users)) = c.groups.get_mut(&self.group) {
            *users -= 1;
            if *users == 0 {
                c.groups.remove(&self.group);
            }
        }
        if c.groups.is_empty() {
            // The last group is gone: closing the container unmaps everything.
            log::debug!(target: "lib.eal", "VFIO: closing the container");
            *guard = None;
        }
    }
}

/// The IOMMU group of a PCI device (from its sysfs `iommu_group` link).
fn iommu_group(sysfs_dev: &Path) -> Option<u32> {
    std::fs::read_link(sysfs_dev.join("iommu_group"))
        .ok()?
        .file_name()?
        .to_str()?
        .parse()
        .ok()
}

/// The group file of a device and the mode it implies.
fn group_path(group: u32) -> Option<(PathBuf, VfioMode)> {
    let iommu = PathBuf::from(format!("/dev/vfio/{group}"));
    if iommu.exists() {
        return Some((iommu, VfioMode::Iommu));
    }
    let noiommu = PathBuf::from(format!("/dev/vfio/noiommu-{group}"));
    noiommu.exists().then_some((noiommu, VfioMode::NoIommu))
}

/// The mode a device bound to vfio-pci would be used in, for choosing the IOVA mode.
pub(crate) fn device_mode(sysfs_dev: &Path) -> Option<VfioMode> {
    group_path(iommu_group(sysfs_dev)?).map(|(_, m)| m)
}

/// Opens the device at `sysfs_dev` (bound to vfio-pci): joins its group to the container,
/// sets the container up on first use (mapping EAL memory into the IOMMU), and returns the
/// device fd.
pub(crate) fn open_device(name: &str, sysfs_dev: &Path, iova_mode: IovaMode) -> Result<VfioDevice> {
    let err = |reason: String| Error::Device {
        device: name.to_string(),
        reason,
    };
    let group = iommu_group(sysfs_dev).ok_or_else(|| {
        err(
            "no IOMMU group: the kernel has neither an IOMMU (intel_iommu=on / amd_iommu=on) \
             nor VFIO's no-IOMMU mode enabled (echo 1 > \
             /sys/module/vfio/parameters/enable_unsafe_noiommu_mode)"
                .into(),
        )
    })?;
    let (path, mode) = group_path(group).ok_or_else(|| {
        err(format!(
            "IOMMU group {group} has no /dev/vfio/{group} (is the device bound to vfio-pci? \
             scripts/devbind.sh --bind=vfio-pci {name})"
        ))
    })?;
    if mode == VfioMode::NoIommu && iova_mode == IovaMode::Va {
        return Err(err(
            "VFIO is in no-IOMMU mode, where devices use physical addresses: run with \
             --iova-mode=pa (as root)"
                .into(),
        ));
    }
    let setup = {
        let mut guard = lock();
        let first = guard.is_none();
        if first {
            *guard = Some(open_container(mode).map_err(|e| err(e.to_string()))?);
        }
        let c = guard.as_mut().expect("the container is open");
        if c.mode != mode {
            return Err(err(format!(
                "group {group} is in {mode:?} mode but the container is in {:?} mode",
                c.mode
            )));
        }
        let gfile = match c.groups.get(&group) {
            Some((f, _)) => f.clone(),
            None => {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(|e| {
                        err(format!(
                            "opening {}: {e}{}",
                            path.display(),
                            if e.kind() == std::io::ErrorKind::ResourceBusy {
                                " (another process uses the group)"
                            } else {
                                ""
                            }
                        ))
                    })?;
                let flags =
                    sys::group_flags(&f).map_err(|e| err(format!("VFIO_GROUP_GET_STATUS: {e}")))?;
                if flags & sys::GROUP_FLAGS_VIABLE == 0 {
                    return Err(err(format!(
                        "IOMMU group {group} is not viable: bind every device of \
                         /sys/kernel/iommu_groups/{group}/devices to vfio-pci (or unbind them)"
                    )));
                }
                sys::group_set_container(&f, &c.file)
                    .map_err(|e| err(format!("VFIO_GROUP_SET_CONTAINER: {e}")))?;
                if first {
                    let kind = match mode {
                        VfioMode::Iommu => sys::TYPE1V2_IOMMU,
                        VfioMode::NoIommu => sys::NOIOMMU_IOMMU,
                    };
                    sys::set_iommu(&c.file, kind)
                        .map_err(|e| err(format!("VFIO_SET_IOMMU: {e}")))?;
                    log::info!(
                        target: "lib.eal",
                        "VFIO: container in {} mode (group {group} of {name})",
                        match mode {
                            VfioMode::Iommu => "IOMMU type 1",
                            VfioMode::NoIommu => "no-IOMMU (unsafe: devices reach all memory)",
                        }
                    );
                }
                let f = Arc::new(f);
                c.groups.insert(group, (f.clone(), 0));
                f
            }
        };
        let fd = sys::group_device_fd(&gfile, name)
            .map_err(|e| err(format!("VFIO_GROUP_GET_DEVICE_FD: {e}")))?;
        if let Some((_, users)) = c.groups.get_mut(&group) {
            *users += 1;
        }
        let dev = VfioDevice {
            name: name.to_string(),
            group,
            fd,
            mode,
        };
        (dev, first && mode == VfioMode::Iommu)
    };
    let (dev, map_memory) = setup;
    if map_memory {
        // Outside the container's lock: the heaps' lock comes first, as when they grow.
        if let Ok(state) = crate::state::get() {
            state.memory.for_each_segment(dma_map)?;
        }
    }
    Ok(dev)
}

fn open_container(mode: VfioMode) -> Result<Container> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/vfio/vfio")
        .map_err(|e| Error::io("opening /dev/vfio/vfio (is the vfio module loaded?)", e))?;
    let version = sys::api_version(&file).map_err(|e| Error::io("VFIO_GET_API_VERSION", e))?;
    if version != sys::API_VERSION {
        return Err(Error::Device {
            device: "/dev/vfio/vfio".into(),
            reason: format!("unknown VFIO API version {version}"),
        });
    }
    let kind = match mode {
        VfioMode::Iommu => sys::TYPE1V2_IOMMU,
        VfioMode::NoIommu => sys::NOIOMMU_IOMMU,
    };
    if !sys::check_extension(&file, kind) {
        return Err(Error::Device {
            device: "/dev/vfio/vfio".into(),
            reason: match mode {
                VfioMode::Iommu => "the kernel's VFIO has no type 1 IOMMU support \
                                    (modprobe vfio_iommu_type1)"
                    .into(),
                VfioMode::NoIommu => "the kernel's VFIO has no no-IOMMU support".into(),
            },
        });
    }
    Ok(Container {
        file,
        mode,
        groups: BTreeMap::new(),
        mapped: BTreeMap::new(),
    })
}

/// Maps `[va, va + len)` into the IOMMU at `iova`, if a container in IOMMU mode is open (the
/// heaps call it for pages they add). Mapping a range already mapped is not an error.
pub(crate) fn dma_map(va: usize, iova: u64, len: usize) -> Result<()> {
    let mut guard = lock();
    let Some(c) = guard.as_mut() else {
        return Ok(());
    };
    if c.mode != VfioMode::Iommu || c.mapped.contains_key(&iova) {
        return Ok(());
    }
    sys::map_dma(&c.file, va, iova, len).map_err(|e| {
        Error::Memory(format!(
            "VFIO DMA map of {len:#x} bytes at {va:#x} (IOVA {iova:#x}): {e}{}",
            if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::EFAULT) {
                " (is the IOMMU's address width below the IOVA? try --iova-mode=pa)"
            } else if e.raw_os_error() == Some(libc::ENOMEM) {
                " (the locked-memory limit, ulimit -l, may be too low)"
            } else {
                ""
            }
        ))
    })?;
    c.mapped.insert(iova, len);
    log::debug!(target: "lib.eal", "VFIO: mapped {len:#x} bytes at IOVA {iova:#x}");
    Ok(())
}

/// Unmaps what [`dma_map`] mapped inside `[iova, iova + len)` (the heaps call it before giving
/// pages back).
pub(crate) fn dma_unmap(iova: u64, len: usize) {
    let mut guard = lock();
    let Some(c) = guard.as_mut() else { return };
    let end = iova + len as u64;
    let inside: Vec<(u64, usize)> = c.mapped.range(iova..end).map(|(&a, &l)| (a, l)).collect();
    for (a, l) in inside {
        if let Err(e) = sys::unmap_dma(&c.file, a, l) {
            log::warn!(target: "lib.eal", "VFIO DMA unmap of IOVA {a:#x}: {e}");
        }
        c.mapped.remove(&a);
    }
}

/// The IOVA ranges mapped into the IOMMU now (start, length), for tests and dumps.
pub fn dma_mappings() -> Vec<(u64, usize)> {
    lock()
        .as_ref()
        .map(|c| c.mapped.iter().map(|(&a, &l)| (a, l)).collect())
        .unwrap_or_default()
}

/// The mode of the open container, if any device is open through VFIO.
pub fn mode() -> Option<VfioMode> {
    lock().as_ref().map(|c| c.mode)
}
