//! The `/ethdev/...` telemetry commands, with DPDK 22.11's names, parameters and replies
//! (`docs/telemetry.md`). They register by being linked, so every application using ports
//! serves them. Statistics come from the same per-queue counters as [`Port::stats`]: the
//! drivers' plain stores, read with relaxed loads, so a reader never takes a lock the burst
//! path takes.

use linkme::distributed_slice;
use rpdk_eal::telemetry::{Command, CommandError, Data, TELEMETRY_COMMANDS, ValueType};

use crate::port::{self, Port};
use crate::stats::QUEUE_STAT_CNTRS;

type Reply = Result<(), CommandError>;

/// `RTE_ETH_DEV_AUTOFILL_QUEUE_XSTATS`: ethdev gives per-queue xstats for every port.
const DEV_FLAG_AUTOFILL_QUEUE_XSTATS: u64 = 1 << 6;

/// `RTE_ETH_DEV_ATTACHED`, the state of every port in the table.
const DEV_ATTACHED: i64 = 1;

/// Parses a number as C's `strtoul(s, &end, 0)`: `0x` hexadecimal, a leading `0` octal,
/// decimal otherwise; the longest valid prefix, and what follows.
fn strtoul(s: &str) -> (u64, &str) {
    let (digits, radix) = if let Some(h) = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .filter(|h| h.starts_with(|c: char| c.is_ascii_hexdigit()))
    {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let v =
        u64::from_str_radix(&digits[..end], radix).unwrap_or(if end == 0 { 0 } else { u64::MAX });
    (v, &digits[end..])
}

/// The port of a command's parameters (DPDK's checks: present, starting with a digit, a valid
/// port), and what follows the number.
fn port_param(params: Option<&str>) -> Result<(Port, &str), CommandError> {
    let p = params
        .filter(|p| p.starts_with(|c: char| c.is_ascii_digit()))
        .ok_or("a port id is needed")?;
    let (id, rest) = strtoul(p);
    let id = u16::try_from(id).map_err(|_| "no such port")?;
    let port = Port::get(id).map_err(|e| e.to_string())?;
    Ok((port, rest))
}

/// As DPDK, parameters after the port id are ignored, with a notice.
fn no_more(cmd: &str, rest: &str) {
    if !rest.is_empty() {
        log::info!(target: "lib.ethdev", "{cmd}: extra parameters '{rest}' ignored");
    }
}

fn list(_cmd: &str, _params: Option<&str>, d: &mut Data) -> Reply {
    d.start_array(ValueType::Int);
    for id in port::ports() {
        d.add_array_int(i64::from(id))?;
    }
    Ok(())
}

fn queue_array(values: &[u64; QUEUE_STAT_CNTRS]) -> Result<Data, CommandError> {
    let mut a = Data::new();
    a.start_array(ValueType::Uint);
    for &v in values {
        a.add_array_uint(v)?;
    }
    Ok(a)
}

fn stats(cmd: &str, params: Option<&str>, d: &mut Data) -> Reply {
    let (port, rest) = port_param(params)?;
    no_more(cmd, rest);
    let s = port.stats();
    d.start_dict();
    for (name, v) in [
        ("ipackets", s.ipackets),
        ("opackets", s.opackets),
        ("ibytes", s.ibytes),
        ("obytes", s.obytes),
        ("imissed", s.imissed),
        ("ierrors", s.ierrors),
        ("oerrors", s.oerrors),
        ("rx_nombuf", s.rx_nombuf),
    ] {
        d.add_dict_uint(name, v)?;
    }
    for (name, q) in [
        ("q_ipackets", &s.q_ipackets),
        ("q_opackets", &s.q_opackets),
        ("q_ibytes", &s.q_ibytes),
        ("q_obytes", &s.q_obytes),
        ("q_errors", &s.q_errors),
    ] {
        d.add_dict_container(name, queue_array(q)?)?;
    }
    Ok(())
}

/// `/ethdev/xstats,N[,hide_zero=true]`: every extended statistic by name (`hide_zero`, from
/// later DPDK, leaves out those at 0). A name DPDK could not carry (other than letters,
/// digits, `_` and `/`) is left out, as DPDK leaves it out.
fn xstats(cmd: &str, params: Option<&str>, d: &mut Data) -> Reply {
    let (port, rest) = port_param(params)?;
    let hide_zero = match rest.strip_prefix(',').unwrap_or(rest) {
        "hide_zero=true" => true,
        "" | "hide_zero=false" => false,
        other => {
            no_more(cmd, other);
            false
        }
    };
    d.start_dict();
    for (name, v) in port.xstats() {
        if hide_zero && v == 0 {
            continue;
        }
        if let Err(e) = d.add_dict_uint(&name, v) {
            log::debug!(target: "lib.ethdev", "{cmd}: xstat {name}: {e}");
        }
    }
    Ok(())
}

fn link_status(cmd: &str, params: Option<&str>, d: &mut Data) -> Reply {
    let (port, rest) = port_param(params)?;
    no_more(cmd, rest);
    let link = port.link();
    d.start_dict();
    if !link.up {
        d.add_dict_string("status", "DOWN")?;
        return Ok(());
    }
    d.add_dict_string("status", "UP")?;
    d.add_dict_uint("speed", u64::from(link.speed))?;
    d.add_dict_string(
        "duplex",
        if link.full_duplex {
            "full-duplex"
        } else {
            "half-duplex"
        },
    )?;
    Ok(())
}

fn queue_states(n: u16, started: bool) -> Result<Data, CommandError> {
    let mut a = Data::new();
    a.start_array(ValueType::Int);
    for _ in 0..n {
        // RTE_ETH_QUEUE_STATE_STARTED or _STOPPED: rpdk starts every queue with its port.
        a.add_array_int(i64::from(started))?;
    }
    Ok(a)
}

fn info(cmd: &str, params: Option<&str>, d: &mut Data) -> Reply {
    let (port, rest) = port_param(params)?;
    no_more(cmd, rest);
    let conf = port.conf();
    let (nb_rx, nb_tx) = (port.nb_rx_queues(), port.nb_tx_queues());
    let started = port.is_started();
    d.start_dict();
    d.add_dict_string("name", port.name())?;
    d.add_dict_int("state", DEV_ATTACHED)?;
    d.add_dict_int("nb_rx_queues", i64::from(nb_rx))?;
    d.add_dict_int("nb_tx_queues", i64::from(nb_tx))?;
    d.add_dict_int("port_id", i64::from(port.id()))?;
    d.add_dict_int("mtu", i64::from(port.mtu()))?;
    d.add_dict_uint("rx_mbuf_size_min", u64::from(port.min_rx_buf_size()))?;
    d.add_dict_string("mac_addr", &port.mac_addr().to_string())?;
    d.add_dict_int("promiscuous", i64::from(port.promiscuous()))?;
    d.add_dict_int("scattered_rx", 0)?;
    d.add_dict_int("all_multicast", i64::from(port.allmulticast()))?;
    d.add_dict_int("dev_started", i64::from(started))?;
    d.add_dict_int("lro", 0)?;
    d.add_dict_int("dev_configured", i64::from(port.is_configured()))?;
    d.add_dict_container("rxq_state", queue_states(nb_rx, started)?)?;
    d.add_dict_container("txq_state", queue_states(nb_tx, started)?)?;
    d.add_dict_int("numa_node", i64::from(port.socket_id()))?;
    d.add_dict_uint("dev_flags", DEV_FLAG_AUTOFILL_QUEUE_XSTATS)?;
    d.add_dict_uint("rx_offloads", conf.rx_offloads)?;
    d.add_dict_uint("tx_offloads", conf.tx_offloads)?;
    d.add_dict_uint("ethdev_rss_hf", conf.rss.hf.0)?;
    Ok(())
}

macro_rules! command {
    ($id:ident, $name:literal, $help:literal, $handler:ident) => {
        #[distributed_slice(TELEMETRY_COMMANDS)]
        static $id: Command = Command {
            name: $name,
            help: $help,
            handler: $handler,
        };
    };
}

command!(
    LIST,
    "/ethdev/list",
    "Returns list of available ethdev ports. Takes no parameters",
    list
);
command!(
    STATS,
    "/ethdev/stats",
    "Returns the common stats for a port. Parameters: int port_id",
    stats
);
command!(
    XSTATS,
    "/ethdev/xstats",
    "Returns the extended stats for a port. Parameters: int port_id",
    xstats
);
command!(
    LINK_STATUS,
    "/ethdev/link_status",
    "Returns the link status for a port. Parameters: int port_id",
    link_status
);
command!(
    INFO,
    "/ethdev/info",
    "Returns the device info for a port. Parameters: int port_id",
    info
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_as_strtoul_base_0() {
        assert_eq!(strtoul("12"), (12, ""));
        assert_eq!(strtoul("0"), (0, ""));
        assert_eq!(strtoul("0x1f,x"), (31, ",x"));
        assert_eq!(strtoul("010"), (8, ""));
        assert_eq!(strtoul("3abc"), (3, "abc"));
        assert_eq!(strtoul("0x"), (0, "x"));
        assert_eq!(strtoul("99999999999999999999999"), (u64::MAX, ""));
    }

    #[test]
    fn bad_port_parameters_give_null() {
        let mut d = Data::new();
        assert!(stats("/ethdev/stats", None, &mut d).is_err());
        assert!(stats("/ethdev/stats", Some(""), &mut d).is_err());
        assert!(stats("/ethdev/stats", Some("x1"), &mut d).is_err());
        assert!(info("/ethdev/info", Some("70000"), &mut d).is_err());
        assert!(d.is_null());
    }
}
