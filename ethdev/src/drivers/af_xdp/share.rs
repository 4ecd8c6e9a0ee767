//! Queues driven from a secondary process: what the primary passes of a queue pair's socket,
//! and the queue objects a secondary builds from it.
//!
//! The primary passes a descriptor of the queue pair's AF_XDP socket (`SCM_RIGHTS`) for each
//! side it lends. The secondary maps the side's two rings from it (fill and RX, or TX and
//! completion), at the offsets the kernel reports for that socket (`XDP_MMAP_OFFSETS`, asked
//! again in the secondary), so both processes see the same kernel rings; the rings' producer
//! and consumer indexes live in those mappings, and each side reads them afresh when it maps
//! a ring (a driver publishes all it wrote before it goes). The UMEM is the pool's memzone,
//! at the same address in every process of the prefix: the secondary checks that the pool it
//! finds by name covers the region the primary registered. What a driver keeps of its own,
//! the record of the mbufs it gave the kernel (`umem::Lent`), is handed over in a memzone
//! named for the queue and checked against the socket's inode.
//!
//! | byte | what |
//! |---|---|
//! | 0 | format, 1 |
//! | 1 | `R` (RX) or `T` (TX) |
//! | 2 | bit 0: `need_wakeup`; bit 1: busy polling |
//! | 3 | length of the pool's name |
//! | 4..8 | ring entries (u32, little-endian) |
//! | 8..12 | the interface's queue |
//! | 12..20 | the socket's inode (u64) |
//! | 20..28 | the page size the UMEM was aligned to |
//! | 28..36, 36..44 | the UMEM's start and length |
//! | 44.. | the pool's name |

#![forbid(unsafe_code)]

use std::sync::Arc;

use rpdk_mbuf::PktmbufPool;

use super::rx::AfXdpRx;
use super::socket::QueueSocket;
use super::tx::AfXdpTx;
use super::umem::Umem;
use crate::driver::{DriverResult, RxQueueOps, TxQueueOps};
use crate::error::DriverError;
use crate::secondary::Attach;

const FORMAT: u8 = 1;
const FIXED: usize = 44;

/// What the primary says of a queue side it lends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Desc {
    pub rx: bool,
    pub ring_size: u32,
    pub queue: u32,
    pub ino: u64,
    pub page: u64,
    pub base: u64,
    pub len: u64,
    pub need_wakeup: bool,
    pub busy: bool,
    pub pool: String,
}

/// The bytes the primary passes with a queue's socket.
pub(super) fn encode(d: &Desc) -> Vec<u8> {
    let name = d.pool.as_bytes();
    let mut v = vec![
        FORMAT,
        if d.rx { b'R' } else { b'T' },
        u8::from(d.need_wakeup) | u8::from(d.busy) << 1,
        name.len().min(255) as u8,
    ];
    v.extend_from_slice(&d.ring_size.to_le_bytes());
    v.extend_from_slice(&d.queue.to_le_bytes());
    for w in [d.ino, d.page, d.base, d.len] {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v.extend_from_slice(&name[..name.len().min(255)]);
    v
}

/// Reads what [`encode`] wrote.
fn decode(rx: bool, a: &[u8]) -> Result<Desc, String> {
    if a.len() < FIXED || a[0] != FORMAT || a.len() != FIXED + a[3] as usize {
        return Err(format!(
            "the primary's queue parameters are not those of this rpdk ({} bytes, format {})",
            a.len(),
            a.first().copied().unwrap_or(0)
        ));
    }
    if a[1] != if rx { b'R' } else { b'T' } {
        return Err("the primary passed a queue of the other direction".into());
    }
    let w32 = |at: usize| u32::from_le_bytes([a[at], a[at + 1], a[at + 2], a[at + 3]]);
    let w64 = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&a[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let d = Desc {
        rx,
        need_wakeup: a[2] & 1 != 0,
        busy: a[2] & 2 != 0,
        ring_size: w32(4),
        queue: w32(8),
        ino: w64(12),
        page: w64(20),
        base: w64(28),
        len: w64(36),
        pool: String::from_utf8(a[FIXED..].to_vec())
            .map_err(|_| "the primary passed a pool name that is not UTF-8".to_string())?,
    };
    if !d.ring_size.is_power_of_two() || !d.page.is_power_of_two() {
        return Err(format!(
            "the primary passed rings of {} entries on pages of {} bytes: not powers of two",
            d.ring_size, d.page
        ));
    }
    Ok(d)
}

/// The socket and UMEM of the side `a` describes.
fn socket(mut a: Attach, rx: bool) -> DriverResult<(Arc<QueueSocket>, Desc, Attach)> {
    let dir = if rx { "RX" } else { "TX" };
    let d = decode(rx, &a.shared.args).map_err(DriverError::Invalid)?;
    let pool = match a.pool.take() {
        Some(p) => p,
        None => PktmbufPool::lookup(&d.pool).ok_or_else(|| {
            DriverError::Invalid(format!(
                "{dir} queue {}: the UMEM's pool '{}' is not in the shared memory",
                a.queue, d.pool
            ))
        })?,
    };
    let umem = Umem::new(&pool, d.page as usize).map_err(DriverError::Invalid)?;
    let (base, len) = umem.region();
    if base as u64 != d.base || len as u64 != d.len {
        return Err(DriverError::Invalid(format!(
            "{dir} queue {}: pool '{}' is at {:#x} ({len} bytes) here, the primary registered \
             {:#x} ({} bytes) as the UMEM",
            a.queue, d.pool, base as u64, d.base, d.len
        )));
    }
    let fd = a.shared.fds.pop().ok_or_else(|| {
        DriverError::Invalid(format!(
            "{dir} queue {}: the primary passed no socket",
            a.queue
        ))
    })?;
    let sock = QueueSocket::adopt(
        fd,
        Arc::new(umem),
        d.queue,
        d.ring_size,
        d.ino,
        (a.port, a.queue),
    )
    .map_err(|e| DriverError::io(format!("{dir} queue {}: the socket passed", a.queue), e))?;
    Ok((sock, d, a))
}

/// The RX queue a secondary process drives: the primary's socket, rings and lent mbufs.
pub(crate) fn attach_rx(a: Attach) -> DriverResult<Box<dyn RxQueueOps>> {
    let (sock, d, a) = socket(a, true)?;
    let (rings, lent) = sock
        .rx_side()
        .map_err(|e| DriverError::io(format!("RX queue {}: mapping its rings", a.queue), e))?;
    let mut rx = AfXdpRx {
        rings,
        lent,
        xsk: sock,
        target: d.ring_size / 2,
        port: a.port,
        busy: d.busy,
        counters: a.counters,
    };
    rx.fill_to_target();
    Ok(Box::new(rx))
}

/// The TX queue a secondary process drives.
pub(crate) fn attach_tx(a: Attach) -> DriverResult<Box<dyn TxQueueOps>> {
    let (sock, d, a) = socket(a, false)?;
    let tx = AfXdpTx::attached(sock, d.need_wakeup, d.busy, a.counters)
        .map_err(|e| DriverError::io(format!("TX queue {}: mapping its rings", a.queue), e))?;
    Ok(Box::new(tx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_round_trip_and_bad_ones_are_refused() {
        let d = Desc {
            rx: true,
            ring_size: 256,
            queue: 3,
            ino: 0x1234_5678_9abc,
            page: 4096,
            base: 0x7f00_0000_0000,
            len: 1 << 22,
            need_wakeup: true,
            busy: false,
            pool: "mbuf_pool".into(),
        };
        assert_eq!(decode(true, &encode(&d)), Ok(d.clone()));
        let t = Desc {
            rx: false,
            busy: true,
            need_wakeup: false,
            ..d.clone()
        };
        assert_eq!(decode(false, &encode(&t)), Ok(t.clone()));
        assert!(
            decode(false, &encode(&d))
                .unwrap_err()
                .contains("other direction")
        );
        let bad = Desc {
            ring_size: 300,
            ..d.clone()
        };
        assert!(
            decode(true, &encode(&bad))
                .unwrap_err()
                .contains("powers of two")
        );
        let mut cut = encode(&d);
        cut.pop();
        assert!(decode(true, &cut).unwrap_err().contains("52 bytes"));
    }
}
