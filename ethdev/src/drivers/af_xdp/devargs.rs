//! The devargs of `net_af_xdp`, with DPDK's names and defaults (`drivers/net/af_xdp`), and
//! rpdk's `need_wakeup`. DPDK's `use_cni`, `use_pinned_map` and `dp_path` (the Kubernetes
//! AF_XDP device plugin's) are refused with an error that says so.

#![forbid(unsafe_code)]

use rpdk_eal::bus::Devargs;

use crate::drivers::{flag_arg, netif};

/// The keys the driver takes.
pub(super) const KEYS: &[&str] = &[
    "iface",
    "start_queue",
    "queue_count",
    "shared_umem",
    "xdp_prog",
    "busy_budget",
    "force_copy",
    "use_cni",
    "use_pinned_map",
    "dp_path",
    "mode",
    "need_wakeup",
];

/// Most queues a port takes.
pub(super) const MAX_QUEUES: u16 = 64;
/// DPDK's default busy-poll budget (`ETH_AF_XDP_DFLT_BUSY_BUDGET`).
pub(super) const DEFAULT_BUSY_BUDGET: u32 = 64;

/// Where the XDP program runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// Native where the interface's driver has XDP, generic otherwise.
    Auto,
    /// In the driver (`XDP_FLAGS_DRV_MODE`).
    Native,
    /// On the kernel's socket buffers, any interface (`XDP_FLAGS_SKB_MODE`).
    Generic,
}

/// What the devargs ask for.
#[derive(Clone, Debug)]
pub(super) struct Params {
    /// The interface (`iface`).
    pub iface: String,
    /// The interface's first queue the port uses (`start_queue`).
    pub start_queue: u32,
    /// How many (`queue_count`): the port's queue pairs.
    pub queue_count: u16,
    /// Queues with the same pool share one UMEM registration (`shared_umem`).
    pub shared_umem: bool,
    /// Busy-poll budget, 0 for none (`busy_budget`).
    pub busy_budget: u32,
    /// Copy mode even where zero-copy is possible (`force_copy`).
    pub force_copy: bool,
    /// `mode`.
    pub mode: Mode,
    /// Ask the kernel to say when it needs a wake-up (`need_wakeup`, rpdk's own; default 1).
    pub need_wakeup: bool,
    /// A BPF ELF object whose XDP program to attach instead of the built-in one (`xdp_prog`).
    pub xdp_prog: Option<String>,
}

/// Parses and checks the devargs; errors name the key and the value.
pub(super) fn parse(dev: &Devargs) -> Result<Params, String> {
    let iface = match dev.get("iface") {
        Some(v) => v.to_string(),
        None => return Err("missing key 'iface' (the kernel interface to attach to)".into()),
    };
    netif::check_name(&iface)
        .map_err(|e| format!("invalid value '{iface}' for key 'iface': {e}"))?;
    let start_queue: u32 = dev.parse_or("start_queue", 0)?;
    let queue_count: u16 = dev.parse_or("queue_count", 1)?;
    if queue_count == 0 || queue_count > MAX_QUEUES {
        return Err(format!(
            "invalid value '{queue_count}' for key 'queue_count' (1 to {MAX_QUEUES})"
        ));
    }
    if start_queue
        .checked_add(queue_count as u32)
        .is_none_or(|e| e > u16::MAX as u32)
    {
        return Err(format!(
            "invalid value '{start_queue}' for key 'start_queue' (with queue_count {queue_count}, beyond queue 65535)"
        ));
    }
    let mode = match dev.get("mode") {
        None => Mode::Auto,
        Some("native" | "drv") => Mode::Native,
        Some("generic" | "skb") => Mode::Generic,
        Some(v) => {
            return Err(format!(
                "invalid value '{v}' for key 'mode' (native or drv, generic or skb; \
                 absent: native where the interface's driver has XDP, generic otherwise)"
            ));
        }
    };
    let xdp_prog = match dev.get("xdp_prog") {
        None => None,
        Some("") => {
            return Err("invalid value '' for key 'xdp_prog' (a BPF ELF object file)".into());
        }
        Some(p) => Some(p.to_string()),
    };
    for key in ["use_cni", "use_pinned_map", "dp_path"] {
        if dev.has(key) {
            return Err(format!(
                "key '{key}': the AF_XDP device plugin's socket and pinned maps are not \
                 supported by rpdk's net_af_xdp (it attaches its own program)"
            ));
        }
    }
    Ok(Params {
        iface,
        start_queue,
        queue_count,
        shared_umem: flag_arg(dev, "shared_umem", false)?,
        busy_budget: dev.parse_or("busy_budget", DEFAULT_BUSY_BUDGET)?,
        force_copy: flag_arg(dev, "force_copy", false)?,
        mode,
        need_wakeup: flag_arg(dev, "need_wakeup", true)?,
        xdp_prog,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Params, String> {
        parse(&Devargs::parse_vdev(&format!("net_af_xdp0{s}")).unwrap())
    }

    #[test]
    fn defaults_are_dpdks() {
        let p = p(",iface=veth0").unwrap();
        assert_eq!(p.iface, "veth0");
        assert_eq!((p.start_queue, p.queue_count, p.busy_budget), (0, 1, 64));
        assert!(!p.shared_umem && !p.force_copy && p.need_wakeup);
        assert_eq!((p.mode, p.xdp_prog), (Mode::Auto, None));
    }

    #[test]
    fn values_are_taken() {
        let p = p(
            ",iface=eth1,start_queue=2,queue_count=4,shared_umem=1,busy_budget=0,force_copy=1,\
             mode=skb,need_wakeup=0",
        )
        .unwrap();
        assert_eq!((p.start_queue, p.queue_count, p.busy_budget), (2, 4, 0));
        assert!(p.shared_umem && p.force_copy && !p.need_wakeup);
        assert_eq!(p.mode, Mode::Generic);
        let q =
            super::parse(&Devargs::parse_vdev("net_af_xdp0,iface=e,mode=native").unwrap()).unwrap();
        assert_eq!(q.mode, Mode::Native);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (args, want) in [
            ("", "missing key 'iface'"),
            (",iface=a/b", "invalid value 'a/b' for key 'iface'"),
            (
                ",iface=v,queue_count=0",
                "invalid value '0' for key 'queue_count' (1 to 64)",
            ),
            (
                ",iface=v,queue_count=x",
                "invalid value 'x' for key 'queue_count'",
            ),
            (
                ",iface=v,start_queue=-1",
                "invalid value '-1' for key 'start_queue'",
            ),
            (
                ",iface=v,start_queue=65535,queue_count=2",
                "beyond queue 65535",
            ),
            (",iface=v,mode=hw", "invalid value 'hw' for key 'mode'"),
            (
                ",iface=v,force_copy=2",
                "invalid value '2' for key 'force_copy'",
            ),
            (",iface=v,xdp_prog=", "invalid value '' for key 'xdp_prog'"),
            (",iface=v,use_cni=1", "key 'use_cni'"),
            (",iface=v,use_pinned_map=1", "key 'use_pinned_map'"),
            (",iface=v,dp_path=/x", "key 'dp_path'"),
            (
                ",iface=v,busy_budget=x",
                "invalid value 'x' for key 'busy_budget'",
            ),
        ] {
            let e = p(args).unwrap_err();
            assert!(e.contains(want), "{args}: {e}");
        }
    }
}
