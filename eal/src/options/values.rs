//! Values of the memory, device and thread flags DPDK 26.07 added or kept: `--pagesz-mem`,
//! `--base-virtaddr`, `--vfio-intr`, `--huge-worker-stack`, and the sizes they take.
//!
//! Each parser returns a reason on error; the caller adds the flag and the value.

/// One `--pagesz-mem=<pagesz>:<limit>`: at most `limit` bytes of pages of `page_size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSizeLimit {
    /// The page size, a power of two.
    pub page_size: u64,
    /// The most memory of that page size the EAL maps, a multiple of it (0: none).
    pub limit: u64,
}

/// `--vfio-intr`: the interrupt mode of VFIO devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VfioIntr {
    /// Legacy INTx.
    Legacy,
    /// MSI.
    Msi,
    /// MSI-X.
    Msix,
}

/// `--huge-worker-stack[=KB]`: the stack size of worker lcore threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerStack {
    /// No value: the system's default thread stack size.
    Default,
    /// This many bytes.
    Bytes(usize),
}

/// Parses a size as DPDK's `rte_str_to_size`: a number (decimal, `0x` hex or `0` octal), then
/// an optional space and one of `K`, `M`, `G`, `T`, `P`, `E` (binary multiples, either case).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim_start();
    if t.is_empty() {
        return Err("an empty size".into());
    }
    if t.starts_with('-') {
        return Err(format!("'{s}' is negative"));
    }
    let (radix, digits) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (16, h)
    } else if t.len() > 1 && t.starts_with('0') && t.as_bytes()[1].is_ascii_digit() {
        (8, &t[1..])
    } else {
        (10, t)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    if end == 0 {
        return Err(format!("'{s}' is not a size (a number, then K, M, G...)"));
    }
    let n =
        u64::from_str_radix(&digits[..end], radix).map_err(|_| format!("'{s}' is too large"))?;
    let rest = digits[end..].strip_prefix(' ').unwrap_or(&digits[end..]);
    let shift = match rest {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        "P" | "p" => 50,
        "E" | "e" => 60,
        _ => return Err(format!("'{s}' has an unknown unit (K, M, G, T, P or E)")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// Parses one `--pagesz-mem` value: `<pagesz>:<limit>`, the page size a power of two and the
/// limit a multiple of it.
pub fn parse_pagesz_mem(v: &str) -> Result<PageSizeLimit, String> {
    let fields: Vec<&str> = v.split(':').collect();
    let [size, limit] = fields[..] else {
        return Err("expected <pagesz>:<limit>, such as 2M:512M".into());
    };
    if size.is_empty() || limit.is_empty() {
        return Err("expected <pagesz>:<limit>, such as 2M:512M".into());
    }
    if limit.contains(',') {
        return Err("one <pagesz>:<limit> pair per --pagesz-mem; repeat the flag".into());
    }
    let page_size = parse_size(size).map_err(|e| format!("page size: {e}"))?;
    if page_size == 0 {
        return Err(format!("page size '{size}' is 0"));
    }
    if !page_size.is_power_of_two() {
        return Err(format!("page size '{size}' is not a power of two"));
    }
    let limit_bytes = parse_size(limit).map_err(|e| format!("limit: {e}"))?;
    if limit_bytes % page_size != 0 {
        return Err(format!(
            "limit '{limit}' is not a multiple of the page size '{size}'"
        ));
    }
    Ok(PageSizeLimit {
        page_size,
        limit: limit_bytes,
    })
}

/// The alignment DPDK rounds `--base-virtaddr` up to (16 MiB, the largest base page size).
pub const BASE_VIRTADDR_ALIGN: u64 = 16 << 20;

/// Parses `--base-virtaddr`: a hexadecimal address (`0x` optional), rounded up to 16 MiB.
pub fn parse_base_virtaddr(v: &str) -> Result<u64, String> {
    let digits = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .unwrap_or(v);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("not a hexadecimal address".into());
    }
    let addr = u64::from_str_radix(digits, 16).map_err(|_| "the address is too large")?;
    addr.checked_next_multiple_of(BASE_VIRTADDR_ALIGN)
        .ok_or_else(|| "the address is too large".to_string())
}

/// Parses `--vfio-intr`.
pub fn parse_vfio_intr(v: &str) -> Result<VfioIntr, String> {
    match v {
        "legacy" => Ok(VfioIntr::Legacy),
        "msi" => Ok(VfioIntr::Msi),
        "msix" => Ok(VfioIntr::Msix),
        _ => Err("expected 'legacy', 'msi' or 'msix'".into()),
    }
}

/// Parses `--huge-worker-stack`'s value: none, or a size in KiB (more than 0).
pub fn parse_worker_stack(v: Option<&str>) -> Result<WorkerStack, String> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Ok(WorkerStack::Default);
    };
    let kb: u64 = v
        .parse()
        .map_err(|_| "not a number of kilobytes".to_string())?;
    if kb == 0 {
        return Err("the stack size must be more than 0 KB".into());
    }
    kb.checked_mul(1024)
        .and_then(|b| usize::try_from(b).ok())
        .map(WorkerStack::Bytes)
        .ok_or_else(|| "the stack size is too large".into())
}

/// DPDK's largest SIMD bitwidth (`RTE_VECT_SIMD_MAX`), what `--force-max-simd-bitwidth=0` means.
pub const SIMD_MAX: u32 = 1 << 15;

/// Parses `--force-max-simd-bitwidth`: 0 (no limit) or a power of two from 64 (vectors off)
/// to 32768; decimal, `0x` hex or `0` octal, as `strtoul`.
pub fn parse_simd_bitwidth(v: &str) -> Result<u32, String> {
    let n = parse_size(v)
        .ok()
        .filter(|_| {
            v.trim()
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == 'x' || c == 'X')
        })
        .ok_or_else(|| "not a number".to_string())?;
    match n {
        0 => Ok(SIMD_MAX),
        64..=32768 if n.is_power_of_two() => Ok(n as u32),
        _ => Err("expected 0 or a power of two from 64 to 32768".into()),
    }
}

/// Parses `--vfio-vf-token`: a UUID, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hexadecimal.
pub fn parse_uuid(v: &str) -> Result<[u8; 16], String> {
    let groups: Vec<&str> = v.split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if lens != [8, 4, 4, 4, 12] || !v.chars().all(|c| c == '-' || c.is_ascii_hexdigit()) {
        return Err("not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)".into());
    }
    let hex: String = groups.concat();
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2M"), Ok(2 << 20));
        assert_eq!(parse_size("1k"), Ok(1024));
        assert_eq!(parse_size("64 G"), Ok(64 << 30));
        assert_eq!(parse_size("0x10"), Ok(16));
        assert_eq!(parse_size("010"), Ok(8));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("garbage").unwrap_err().contains("not a size"));
        assert!(parse_size("-1M").unwrap_err().contains("negative"));
        assert!(parse_size("2Q").unwrap_err().contains("unit"));
        assert!(parse_size("16E").unwrap_err().contains("too large"));
    }

    #[test]
    fn pagesz_mem_as_dpdk() {
        assert_eq!(
            parse_pagesz_mem("2M:64M"),
            Ok(PageSizeLimit {
                page_size: 2 << 20,
                limit: 64 << 20
            })
        );
        assert_eq!(parse_pagesz_mem("1K:0").unwrap().limit, 0);
        for (bad, why) in [
            ("", "expected <pagesz>:<limit>"),
            ("2M", "expected <pagesz>:<limit>"),
            ("2M:", "expected <pagesz>:<limit>"),
            (":2M", "expected <pagesz>:<limit>"),
            ("2M:4M:6M", "expected <pagesz>:<limit>"),
            ("2M:3M", "not a multiple of the page size"),
            ("garbage", "expected <pagesz>:<limit>"),
            ("2M:garbage", "limit: 'garbage' is not a size"),
            ("3M:6M", "not a power of two"),
            ("0:0", "page size '0' is 0"),
            ("2M:2M,4M", "one <pagesz>:<limit> pair"),
        ] {
            let e = parse_pagesz_mem(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn base_virtaddr_rounds_up_to_16m() {
        assert_eq!(parse_base_virtaddr("0x23456789"), Ok(0x2400_0000));
        assert_eq!(parse_base_virtaddr("1000000"), Ok(0x100_0000));
        assert!(parse_base_virtaddr("0x").is_err());
        assert!(parse_base_virtaddr("0xzz").is_err());
        assert!(parse_base_virtaddr("ffffffffffffffff").is_err());
    }

    #[test]
    fn simd_and_uuid() {
        assert_eq!(parse_simd_bitwidth("0"), Ok(SIMD_MAX));
        assert_eq!(parse_simd_bitwidth("256"), Ok(256));
        assert_eq!(parse_simd_bitwidth("0x200"), Ok(512));
        for bad in ["32", "100", "65536", "big", "-64", ""] {
            assert!(parse_simd_bitwidth(bad).is_err(), "{bad}");
        }
        let u = parse_uuid("bd48ea05-4fe4-4d52-a04a-43d8d2dcb87d").unwrap();
        assert_eq!((u[0], u[15]), (0xbd, 0x7d));
        assert!(parse_uuid("bd48ea05-4fe4-4d52-a04a-43d8d2dcb87").is_err());
        assert!(parse_uuid("bd48ea05x4fe4-4d52-a04a-43d8d2dcb87d").is_err());
    }

    #[test]
    fn worker_stacks() {
        assert_eq!(parse_worker_stack(None), Ok(WorkerStack::Default));
        assert_eq!(
            parse_worker_stack(Some("512")),
            Ok(WorkerStack::Bytes(512 << 10))
        );
        assert!(parse_worker_stack(Some("0")).is_err());
        assert!(parse_worker_stack(Some("big")).is_err());
        assert_eq!(parse_vfio_intr("msix"), Ok(VfioIntr::Msix));
        assert!(parse_vfio_intr("invalid").is_err());
    }
}
