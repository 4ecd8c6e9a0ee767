//! The VFIO ioctls (`<linux/vfio.h>`), each behind a safe function over an owned fd.
//!
//! The structures are written out here rather than taken from `vfio-bindings`: the EAL uses
//! five of them, their layout is kernel ABI that does not change, and bindgen's versions would
//! still need every wrapper below. Every `unsafe` block of the VFIO code is in this file.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;

/// `VFIO_TYPE`, the ioctl type character `;`.
const VFIO_TYPE: u64 = b';' as u64;
const VFIO_BASE: u64 = 100;

/// `_IO(VFIO_TYPE, VFIO_BASE + n)`: every VFIO ioctl passes its argument size in the struct.
const fn io(n: u64) -> u64 {
    (VFIO_TYPE << 8) | (VFIO_BASE + n)
}

const GET_API_VERSION: u64 = io(0);
const CHECK_EXTENSION: u64 = io(1);
const SET_IOMMU: u64 = io(2);
const GROUP_GET_STATUS: u64 = io(3);
const GROUP_SET_CONTAINER: u64 = io(4);
const GROUP_GET_DEVICE_FD: u64 = io(6);
const DEVICE_GET_INFO: u64 = io(7);
const DEVICE_GET_REGION_INFO: u64 = io(8);
const DEVICE_RESET: u64 = io(11);
const IOMMU_MAP_DMA: u64 = io(13);
const IOMMU_UNMAP_DMA: u64 = io(14);

/// The API version every kernel since 3.6 reports.
pub const API_VERSION: i32 = 0;
/// The type 1 IOMMU, version 2 (`VFIO_TYPE1v2_IOMMU`).
pub const TYPE1V2_IOMMU: u32 = 3;
/// No IOMMU at all (`VFIO_NOIOMMU_IOMMU`): devices DMA to physical addresses.
pub const NOIOMMU_IOMMU: u32 = 8;
/// `VFIO_GROUP_FLAGS_VIABLE`: every device of the group is bound to a VFIO driver (or none).
pub const GROUP_FLAGS_VIABLE: u32 = 1;
/// `VFIO_REGION_INFO_FLAG_MMAP`.
pub const REGION_INFO_FLAG_MMAP: u32 = 1 << 2;
/// `VFIO_PCI_CONFIG_REGION_INDEX`: the region of the PCI configuration space.
pub const PCI_CONFIG_REGION_INDEX: u32 = 7;

#[repr(C)]
#[derive(Default)]
struct GroupStatus {
    argsz: u32,
    flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct DeviceInfo {
    argsz: u32,
    flags: u32,
    num_regions: u32,
    num_irqs: u32,
}

/// `struct vfio_region_info`: where a region lies in the device fd and what it allows.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RegionInfo {
    argsz: u32,
    /// `VFIO_REGION_INFO_FLAG_*`.
    pub flags: u32,
    index: u32,
    cap_offset: u32,
    /// Length in bytes (0: the region does not exist).
    pub size: u64,
    /// Offset of the region in the device fd.
    pub offset: u64,
}

#[repr(C)]
struct DmaMap {
    argsz: u32,
    flags: u32,
    vaddr: u64,
    iova: u64,
    size: u64,
}

#[repr(C)]
struct DmaUnmap {
    argsz: u32,
    flags: u32,
    iova: u64,
    size: u64,
}

const DMA_MAP_FLAG_READ: u32 = 1;
const DMA_MAP_FLAG_WRITE: u32 = 2;

fn argsz<T>() -> u32 {
    std::mem::size_of::<T>() as u32
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// `ioctl(fd, req, arg)` with an integer argument.
fn ioctl_int(fd: &File, req: u64, arg: libc::c_ulong) -> io::Result<libc::c_int> {
    // SAFETY: the VFIO ioctls called through here take an integer (or nothing) and touch no
    // memory of ours.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg) })
}

/// `ioctl(fd, req, &mut arg)` for a VFIO struct whose first field is its `argsz`.
fn ioctl_struct<T>(fd: &File, req: u64, arg: &mut T) -> io::Result<libc::c_int> {
    // SAFETY: `arg` is a live, exclusive, repr(C) struct of the layout `req` expects, with its
    // argsz set to its size, so the kernel reads and writes only inside it.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg as *mut T) })
}

/// `VFIO_GET_API_VERSION` of a container.
pub fn api_version(container: &File) -> io::Result<i32> {
    ioctl_int(container, GET_API_VERSION, 0)
}

/// `VFIO_CHECK_EXTENSION`: whether the container supports IOMMU type `ext`.
pub fn check_extension(container: &File, ext: u32) -> bool {
    ioctl_int(container, CHECK_EXTENSION, ext as libc::c_ulong).is_ok_and(|r| r > 0)
}

/// `VFIO_SET_IOMMU`.
pub fn set_iommu(container: &File, kind: u32) -> io::Result<()> {
    ioctl_int(container, SET_IOMMU, kind as libc::c_ulong).map(drop)
}

/// `VFIO_GROUP_GET_STATUS`: the group's flags.
pub fn group_flags(group: &File) -> io::Result<u32> {
    let mut st = GroupStatus {
        argsz: argsz::<GroupStatus>(),
        flags: 0,
    };
    ioctl_struct(group, GROUP_GET_STATUS, &mut st)?;
    Ok(st.flags)
}

/// `VFIO_GROUP_SET_CONTAINER`.
pub fn group_set_container(group: &File, container: &File) -> io::Result<()> {
    let mut fd: libc::c_int = container.as_raw_fd();
    ioctl_struct(group, GROUP_SET_CONTAINER, &mut fd).map(drop)
}

/// `VFIO_GROUP_GET_DEVICE_FD` for the device named `name` (its PCI address).
pub fn group_device_fd(group: &File, name: &str) -> io::Result<File> {
    let cname = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "device name holds a NUL"))?;
    // SAFETY: the ioctl reads the NUL-terminated name, which lives across the call.
    let fd =
        check(unsafe { libc::ioctl(group.as_raw_fd(), GROUP_GET_DEVICE_FD as _, cname.as_ptr()) })?;
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// `VFIO_DEVICE_GET_INFO`: the number of regions.
pub fn device_num_regions(device: &File) -> io::Result<u32> {
    let mut info = DeviceInfo {
        argsz: argsz::<DeviceInfo>(),
        ..DeviceInfo::default()
    };
    ioctl_struct(device, DEVICE_GET_INFO, &mut info)?;
    Ok(info.num_regions)
}

/// `VFIO_DEVICE_GET_REGION_INFO` of region `index`.
pub fn region_info(device: &File, index: u32) -> io::Result<RegionInfo> {
    let mut info = RegionInfo {
        argsz: argsz::<RegionInfo>(),
        index,
        ..RegionInfo::default()
    };
    ioctl_struct(device, DEVICE_GET_REGION_INFO, &mut info)?;
    Ok(info)
}

/// `VFIO_DEVICE_RESET` (a function-level reset when the device has one).
pub fn device_reset(device: &File) -> io::Result<()> {
    ioctl_int(device, DEVICE_RESET, 0).map(drop)
}

/// `VFIO_IOMMU_MAP_DMA`: lets devices of the container read and write `[vaddr, vaddr + size)`
/// at `iova`. The pages are pinned until unmapped.
pub fn map_dma(container: &File, vaddr: usize, iova: u64, size: usize) -> io::Result<()> {
    let mut m = DmaMap {
        argsz: argsz::<DmaMap>(),
        flags: DMA_MAP_FLAG_READ | DMA_MAP_FLAG_WRITE,
        vaddr: vaddr as u64,
        iova,
        size: size as u64,
    };
    ioctl_struct(container, IOMMU_MAP_DMA, &mut m).map(drop)
}

/// `VFIO_IOMMU_UNMAP_DMA`.
pub fn unmap_dma(container: &File, iova: u64, size: usize) -> io::Result<()> {
    let mut m = DmaUnmap {
        argsz: argsz::<DmaUnmap>(),
        flags: 0,
        iova,
        size: size as u64,
    };
    ioctl_struct(container, IOMMU_UNMAP_DMA, &mut m).map(drop)
}

/// Reads configuration space (or any region) at `offset` of the device fd.
pub fn pread(device: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    device.read_exact_at(buf, offset)
}

/// Writes configuration space (or any region) at `offset` of the device fd.
pub fn pwrite(device: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    device.write_all_at(buf, offset)
}
