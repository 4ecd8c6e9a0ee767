//! Queues driven from a secondary process: what the primary passes of a queue, and the queue
//! objects a secondary builds from it.
//!
//! Each queue has its own socket with one ring (RX or TX), mapped from offset 0. The primary
//! passes a descriptor of the socket (`SCM_RIGHTS`; mapping it maps the same kernel ring) with
//! the ring's layout and the queue's settings in the message's bytes:
//!
//! | byte | what |
//! |---|---|
//! | 0 | format, 1 |
//! | 1 | `R` (RX) or `T` (TX) |
//! | 2 | TPACKET version, 2 or 3 (TX: 2) |
//! | 3 | RX: `VLAN_STRIP` on (1) or off (0) |
//! | 4..20 | block size, block count, frame size, frame count (u32, little-endian) |
//!
//! The RX pool is the port layer's (by name). The ring's position is in the queue's record
//! in the shared port data (`crate::shared::QueueRecord`): whoever drops a queue object parks
//! its position there (the primary's when it lends the queue, before its answer goes out; the
//! secondary's when it gives the queue back), whoever builds one takes it. A queue whose last
//! driver died without parking has no position: an RX ring is resynchronised from its status
//! words (`RxFrames::resync`), a TX ring is replaced by a new socket (see `device`).

#![forbid(unsafe_code)]

use std::sync::Arc;

use super::device::{RxRing, record, rx_queue};
use super::rx::RxCfg;
use super::tpacket::{RxRingV2, RxRingV3, TX_DATA_OFF, TxRing, V2_RX_MAC};
use super::tx::{AfPacketTx, TxXstats};
use crate::driver::{DriverResult, RxQueueOps, TxQueueOps};
use crate::drivers::packet_socket::Socket;
use crate::error::DriverError;
use crate::secondary::Attach;

const FORMAT: u8 = 1;
const ARGS_LEN: usize = 20;
/// Bytes of a V3 block's descriptor: a block holds more.
const BLOCK_DESC: u32 = 48;

/// A ring's layout, as `tpacket_req` has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Geometry {
    /// TPACKET_V2 (otherwise V3: RX only).
    pub v2: bool,
    pub block_size: u32,
    pub block_count: u32,
    pub frame_size: u32,
    pub frame_count: u32,
}

impl Geometry {
    /// The RX or TX ring of a queue of a port with these devargs.
    pub fn of(p: &super::devargs::Params, rx: bool) -> Geometry {
        Geometry {
            v2: !rx || p.rx_v2,
            block_size: p.block_size,
            block_count: p.block_count(),
            frame_size: p.frame_size,
            frame_count: p.frame_count,
        }
    }

    /// Bytes of the ring.
    pub fn bytes(&self) -> usize {
        self.block_size as usize * self.block_count as usize
    }

    /// Checks a layout another process sent: one the ring views accept (the kernel checks the
    /// size again when it maps the ring).
    fn check(&self) -> Result<(), String> {
        let per_block = self.block_size.checked_div(self.frame_size).unwrap_or(0);
        let ok = self.frame_size.is_multiple_of(16)
            && self.frame_size as usize > V2_RX_MAC
            && self.block_size > BLOCK_DESC
            && per_block > 0
            && self.block_count > 0
            && u64::from(per_block) * u64::from(self.block_count) == u64::from(self.frame_count)
            && u64::from(self.block_size) * u64::from(self.block_count) <= 1 << 40;
        if ok {
            Ok(())
        } else {
            Err(format!(
                "the primary passed a ring layout that does not hold together: {self:?}"
            ))
        }
    }
}

/// The bytes the primary passes with a queue's socket.
pub(super) fn encode(rx: bool, vlan_strip: bool, g: &Geometry) -> Vec<u8> {
    let mut v = vec![
        FORMAT,
        if rx { b'R' } else { b'T' },
        if g.v2 { 2 } else { 3 },
        u8::from(vlan_strip),
    ];
    for w in [g.block_size, g.block_count, g.frame_size, g.frame_count] {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v
}

/// Reads what [`encode`] wrote: the layout and `VLAN_STRIP`.
fn decode(rx: bool, args: &[u8]) -> Result<(Geometry, bool), String> {
    if args.len() != ARGS_LEN || args[0] != FORMAT {
        return Err(format!(
            "the primary's queue parameters are not those of this rpdk ({} bytes, format {})",
            args.len(),
            args.first().copied().unwrap_or(0)
        ));
    }
    if args[1] != if rx { b'R' } else { b'T' } {
        return Err("the primary passed a queue of the other direction".into());
    }
    let word = |i: usize| {
        let at = 4 + 4 * i;
        u32::from_le_bytes([args[at], args[at + 1], args[at + 2], args[at + 3]])
    };
    let v2 = match (args[2], rx) {
        (2, _) => true,
        (3, true) => false,
        (v, _) => return Err(format!("the primary passed a TPACKET version {v} ring")),
    };
    let g = Geometry {
        v2,
        block_size: word(0),
        block_count: word(1),
        frame_size: word(2),
        frame_count: word(3),
    };
    g.check()?;
    Ok((g, args[3] == 1))
}

fn map(sock: &Socket, g: &Geometry, what: &str) -> DriverResult<super::super::packet_socket::Mmap> {
    sock.map(g.bytes())
        .map_err(|e| DriverError::io(format!("mapping the {what} ring"), e))
}

/// Maps the RX ring of `sock` (which has one of layout `g`).
pub(super) fn map_rx(sock: &Socket, g: &Geometry) -> DriverResult<RxRing> {
    let m = map(sock, g, "RX")?;
    Ok(if g.v2 {
        RxRing::V2(RxRingV2::new(
            m,
            g.block_size as usize,
            g.frame_size as usize,
            g.frame_count as usize,
        ))
    } else {
        RxRing::V3(RxRingV3::new(
            m,
            g.block_size as usize,
            g.block_count as usize,
        ))
    })
}

/// Maps the TX ring of `sock` (which has one of layout `g`).
pub(super) fn map_tx(sock: &Socket, g: &Geometry) -> DriverResult<TxRing> {
    let m = map(sock, g, "TX")?;
    Ok(TxRing::new(
        m,
        g.block_size as usize,
        g.frame_size as usize,
        g.frame_count as usize,
    ))
}

fn socket_of(a: &mut Attach, dir: &str) -> DriverResult<Arc<Socket>> {
    let fd = a.shared.fds.pop().ok_or_else(|| {
        DriverError::Invalid(format!(
            "{dir} queue {}: the primary passed no socket",
            a.queue
        ))
    })?;
    Ok(Arc::new(Socket::from_fd(fd)))
}

/// The RX queue a secondary process drives: the primary's socket and ring, from where the
/// primary left it.
pub(crate) fn attach_rx(mut a: Attach) -> DriverResult<Box<dyn RxQueueOps>> {
    let (g, vlan_strip) = decode(true, &a.shared.args).map_err(DriverError::Invalid)?;
    let pool = a
        .pool
        .take()
        .ok_or_else(|| DriverError::Invalid(format!("RX queue {}: no pool", a.queue)))?;
    let room = pool
        .data_room_size()
        .saturating_sub(rpdk_mbuf::PKTMBUF_HEADROOM) as usize;
    let off = if g.v2 { V2_RX_MAC } else { TX_DATA_OFF };
    let max_frame = g.frame_size as usize - off;
    if room < max_frame {
        return Err(DriverError::Invalid(format!(
            "frames of up to {max_frame} bytes do not fit the pool's {room}-byte mbufs"
        )));
    }
    let sock = socket_of(&mut a, "RX")?;
    let mut ring = map_rx(&sock, &g)?;
    let rec = record(a.port, true, a.queue);
    ring.resume(rec.as_ref().and_then(|r| r.take()))?;
    let cfg = RxCfg {
        port: a.port,
        room,
        vlan_strip,
    };
    Ok(rx_queue(ring, sock, pool, cfg, a.counters, rec).0)
}

/// The TX queue a secondary process drives.
pub(crate) fn attach_tx(mut a: Attach) -> DriverResult<Box<dyn TxQueueOps>> {
    let (g, _) = decode(false, &a.shared.args).map_err(DriverError::Invalid)?;
    let sock = socket_of(&mut a, "TX")?;
    let mut ring = map_tx(&sock, &g)?;
    let rec = record(a.port, false, a.queue);
    match rec.as_ref().and_then(|r| r.take()) {
        Some(pos) => ring.set_position(pos).map_err(DriverError::Invalid)?,
        // Its last driver died holding it: where the kernel stands in the ring is not known
        // (see `device`), the primary gives it a new ring when it takes it back.
        None => {
            return Err(DriverError::Invalid(format!(
                "TX queue {}: the process that drove it last died without giving it back; \
                 the primary has to take it back first (it sets up a new ring)",
                a.queue
            )));
        }
    }
    Ok(Box::new(AfPacketTx {
        ring,
        sock,
        counters: a.counters,
        xstats: Arc::new(TxXstats::default()),
        record: rec,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_round_trip_and_bad_ones_are_refused() {
        let g = Geometry {
            v2: false,
            block_size: 4096,
            block_count: 256,
            frame_size: 2048,
            frame_count: 512,
        };
        assert_eq!(decode(true, &encode(true, true, &g)), Ok((g, true)));
        assert!(decode(false, &encode(true, false, &g)).is_err());
        let v2 = Geometry { v2: true, ..g };
        assert_eq!(decode(false, &encode(false, false, &v2)), Ok((v2, false)));
        // V3 is RX only.
        assert!(decode(false, &encode(false, false, &g)).is_err());
        for bad in [
            Geometry { frame_size: 0, ..g },
            Geometry {
                frame_size: 2050,
                ..g
            },
            Geometry {
                frame_count: 511,
                ..g
            },
            Geometry {
                block_count: 0,
                frame_count: 0,
                ..g
            },
            Geometry {
                block_size: 1024,
                ..g
            },
        ] {
            let e = decode(true, &encode(true, false, &bad)).unwrap_err();
            assert!(e.contains("does not hold together"), "{e}");
        }
        assert!(decode(true, &[1, b'R']).unwrap_err().contains("2 bytes"));
    }
}
