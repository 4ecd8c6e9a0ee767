//! Queues driven from a secondary process: what the primary passes of a queue, and the queue
//! objects a secondary builds from it.
//!
//! The primary passes a duplicate of the queue's descriptor (`SCM_RIGHTS`): the capture file
//! it opened at probe (so a relative path, or a file renamed since, is the same file in the
//! secondary), or the interface's packet socket. The message's bytes say what it is:
//!
//! | byte | what |
//! |---|---|
//! | 0 | format, 1 |
//! | 1 | `R` (RX) or `T` (TX) |
//! | 2 | [`Kind`]: 0 nothing (an empty RX queue, a dropping TX queue), 1 a file, 2 a file replayed (`infinite_rx`), 3 an interface |
//! | 3.. | the file's path or the interface's name, for messages (cut to [`NAME_MAX`] bytes) |
//!
//! Where a file queue stands is in its words in the shared port data
//! (`crate::shared::QueueWords`), written after every burst by whichever process drives it:
//! RX, the offset of the next record, which every driver reads with `pread` from there (and
//! the port's start count, so a start by the primary rewinds the file under a secondary too);
//! `infinite_rx`, the next packet's index; TX, the end of the last whole burst, where the next
//! write goes (with `pwrite`); a new driver keeps the whole records a dead one wrote after it
//! and cuts the file after the last of them. An interface queue has no position of its own:
//! the socket is the queue.

#![forbid(unsafe_code)]

use std::fs::File;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use super::file::{Clock, DropTx, FileRx, FileTx, InfiniteRx, NullRx, RxTimestamp};
use super::iface::{IfaceRx, IfaceTx};
use crate::driver::{DriverResult, RxQueueOps, SharedQueue, TxQueueOps};
use crate::error::DriverError;
use crate::secondary::Attach;
use crate::shared::QueueWords;

const FORMAT: u8 = 1;
/// Most bytes of a name passed (the message has room for some 200 bytes of parameters).
pub(super) const NAME_MAX: usize = 160;

/// What a queue is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// No source or destination: RX receives nothing, TX frees and counts.
    Nothing = 0,
    File = 1,
    /// A file replayed forever (`infinite_rx`).
    Replay = 2,
    Iface = 3,
}

/// What the primary passes of a queue: its kind, its name and its descriptors.
pub(super) fn encode(rx: bool, kind: Kind, name: &str, fds: Vec<OwnedFd>) -> SharedQueue {
    let mut cut = name.len().min(NAME_MAX);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut args = vec![FORMAT, if rx { b'R' } else { b'T' }, kind as u8];
    args.extend_from_slice(&name.as_bytes()[..cut]);
    SharedQueue { args, fds }
}

/// Reads what [`encode`] wrote: the kind and the name.
fn decode(rx: bool, args: &[u8]) -> Result<(Kind, Arc<str>), String> {
    let [format, dir, kind, name @ ..] = args else {
        return Err(format!(
            "the primary's net_pcap queue parameters are {} bytes, too few",
            args.len()
        ));
    };
    if *format != FORMAT {
        return Err(format!(
            "the primary's net_pcap queue parameters are of format {format}, not this rpdk's \
             {FORMAT}"
        ));
    }
    if *dir != if rx { b'R' } else { b'T' } {
        return Err("the primary passed a queue of the other direction".into());
    }
    let kind = match (*kind, rx) {
        (0, _) => Kind::Nothing,
        (1, _) => Kind::File,
        (2, true) => Kind::Replay,
        (3, _) => Kind::Iface,
        (k, _) => return Err(format!("the primary passed a queue of unknown kind {k}")),
    };
    Ok((kind, String::from_utf8_lossy(name).into()))
}

fn descriptor(a: &mut Attach, name: &str) -> DriverResult<OwnedFd> {
    a.shared.fds.pop().ok_or_else(|| {
        DriverError::Invalid(format!(
            "queue {} over '{name}': the primary passed no descriptor",
            a.queue
        ))
    })
}

/// The queue's words in the shared port data; a secondary's queue always has them.
fn words(a: &Attach, rx: bool, name: &str) -> DriverResult<Arc<QueueWords>> {
    let w = QueueWords::of(a.port, rx, a.queue);
    if !w.shared() {
        return Err(DriverError::Invalid(format!(
            "queue {} over '{name}' has no record in the shared port data",
            a.queue
        )));
    }
    if !w.take() {
        log::warn!(
            target: super::LOG,
            "port {}: {} queue {} is taken from a process that died driving it: going on from \
             where its last burst left the file",
            a.port,
            if rx { "RX" } else { "TX" },
            a.queue
        );
    }
    Ok(Arc::new(w))
}

/// The RX queue a secondary process drives.
pub(crate) fn attach_rx(mut a: Attach) -> DriverResult<Box<dyn RxQueueOps>> {
    let (kind, name) = decode(true, &a.shared.args).map_err(DriverError::Invalid)?;
    if kind == Kind::Nothing {
        return Ok(Box::new(NullRx));
    }
    let pool = a
        .pool
        .take()
        .ok_or_else(|| DriverError::Invalid(format!("RX queue {}: no pool", a.queue)))?;
    let fd = descriptor(&mut a, &name)?;
    if kind == Kind::Iface {
        return Ok(Box::new(IfaceRx::new(fd, &pool, a.port, a.counters, name)));
    }
    let words = words(&a, true, &name)?;
    let file = Arc::new(File::from(fd));
    Ok(if kind == Kind::Replay {
        Box::new(InfiniteRx::load(
            &file, &name, &pool, a.port, a.counters, words,
        )?)
    } else {
        Box::new(FileRx::resume(
            file,
            name,
            &pool,
            a.port,
            a.counters,
            words,
            RxTimestamp::register(),
        )?)
    })
}

/// The TX queue a secondary process drives.
pub(crate) fn attach_tx(mut a: Attach) -> DriverResult<Box<dyn TxQueueOps>> {
    let (kind, name) = decode(false, &a.shared.args).map_err(DriverError::Invalid)?;
    Ok(match kind {
        // `decode` gives no replay for TX.
        Kind::Nothing | Kind::Replay => Box::new(DropTx::new(a.counters)),
        Kind::Iface => Box::new(IfaceTx::new(descriptor(&mut a, &name)?, a.counters, name)),
        Kind::File => {
            let fd = descriptor(&mut a, &name)?;
            let words = words(&a, false, &name)?;
            Box::new(FileTx::new(
                Arc::new(File::from(fd)),
                name,
                Clock::new(),
                a.counters,
                words,
            )?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_round_trip_and_bad_ones_are_refused() {
        let s = encode(true, Kind::Replay, "in.pcap", Vec::new());
        assert_eq!(decode(true, &s.args), Ok((Kind::Replay, "in.pcap".into())));
        let s = encode(false, Kind::Iface, "veth0", Vec::new());
        assert_eq!(decode(false, &s.args), Ok((Kind::Iface, "veth0".into())));
        assert!(
            decode(true, &s.args)
                .unwrap_err()
                .contains("other direction")
        );
        // A long name is cut at a character boundary.
        let long = "é".repeat(100);
        let s = encode(true, Kind::File, &long, Vec::new());
        let (_, name) = decode(true, &s.args).unwrap();
        assert_eq!(name.len(), NAME_MAX);
        assert!(long.starts_with(&*name));
        assert!(decode(true, &[1, b'R']).unwrap_err().contains("2 bytes"));
        assert!(
            decode(true, &[2, b'R', 1])
                .unwrap_err()
                .contains("format 2")
        );
        assert!(decode(false, &[1, b'T', 2]).unwrap_err().contains("kind 2"));
    }
}
