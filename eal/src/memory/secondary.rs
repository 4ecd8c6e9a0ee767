//! Memory in a secondary process: attaching to the primary's heaps and memzone table, and the
//! primary's side of it (the IPC actions a secondary calls).
//!
//! The secondary asks the primary (`rpdk_mem_attach`) for the shared configuration and the
//! file (or memfd) under each heap, passed as descriptors, and maps each heap at the address
//! the primary has it, or fails naming the heap. Memzones are found in the shared table; a
//! secondary reserves and frees them by asking the primary (`rpdk_mz_reserve`,
//! `rpdk_mz_free`), which owns every heap's allocator.

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use super::memzone::{self, Memzone, MemzoneFlags};
use super::shared::SharedConfig;
use super::{Memory, MemoryConfig, PageKind};
use crate::error::{Error, Result};
use crate::mp::{self, Message};
use crate::options::{HugeUnlink, IovaMode};

const ATTACH: &str = "rpdk_mem_attach";
const RESERVE: &str = "rpdk_mz_reserve";
const FREE: &str = "rpdk_mz_free";
/// How long a secondary waits for the primary to answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Registers the primary's actions for secondaries.
pub(crate) fn register_primary_actions(memory: Arc<Memory>, shared: Arc<SharedConfig>) {
    let _ = mp::action_unregister(ATTACH);
    let _ = mp::action_register(ATTACH, move |_msg, peer| {
        let files = memory.shareable_files()?;
        let mut param = vec![
            1,
            u8::from(memory.iova_mode() == IovaMode::Va),
            files.len() as u8,
        ];
        param.extend_from_slice(&(memory.page_size() as u64).to_le_bytes());
        let mut fds = vec![
            shared
                .fd()
                .try_clone()
                .map_err(|e| Error::io("duplicating the memory configuration", e))?,
        ];
        for (socket, file) in files {
            param.extend_from_slice(&socket.to_le_bytes());
            fds.push(file.into());
        }
        mp::reply(&Message::new(ATTACH, &param).with_fds(fds), peer)
    });
    let _ = mp::action_unregister(RESERVE);
    let _ = mp::action_register(RESERVE, |msg, peer| {
        let outcome =
            parse_reserve(&msg.param).and_then(|(name, len, socket, flags, align, bound)| {
                memzone::reserve_bounded(&name, len, socket, flags, align, bound).map(|_| ())
            });
        mp::reply(&Message::new(RESERVE, &outcome_bytes(outcome)), peer)
    });
    let _ = mp::action_unregister(FREE);
    let _ = mp::action_register(FREE, |msg, peer| {
        let outcome =
            parse_free(&msg.param).and_then(|(name, addr)| match memzone::lookup(&name) {
                Some(z) if z.as_ptr() as usize == addr => z.free(),
                _ => Err(Error::Memzone {
                    name,
                    reason: "already freed".into(),
                }),
            });
        mp::reply(&Message::new(FREE, &outcome_bytes(outcome)), peer)
    });
}

/// Removes the primary's actions (at cleanup).
pub(crate) fn unregister_primary_actions() {
    for a in [ATTACH, RESERVE, FREE] {
        mp::action_unregister(a);
    }
}

fn outcome_bytes(outcome: Result<()>) -> Vec<u8> {
    match outcome {
        Ok(()) => vec![0],
        Err(e) => {
            let mut v = vec![1];
            let text = e.to_string();
            let mut end = text.len().min(mp::MAX_PARAM_LEN - 1);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            v.extend_from_slice(&text.as_bytes()[..end]);
            v
        }
    }
}

fn ask(name: &str, param: Vec<u8>, zone: &str) -> Result<Message> {
    let mut reply = mp::request_sync(&Message::new(name, &param), TIMEOUT)?;
    let msg = reply.msgs.pop().ok_or_else(|| Error::Memzone {
        name: zone.to_string(),
        reason: "the primary did not answer".into(),
    })?;
    Ok(msg)
}

fn outcome(msg: &Message, zone: &str) -> Result<()> {
    match msg.param.split_first() {
        Some((0, _)) => Ok(()),
        Some((_, text)) => Err(Error::Memzone {
            name: zone.to_string(),
            reason: format!("the primary refused: {}", String::from_utf8_lossy(text)),
        }),
        None => Err(Error::Memzone {
            name: zone.to_string(),
            reason: "empty answer from the primary".into(),
        }),
    }
}

fn take_name(p: &[u8]) -> Result<(String, &[u8])> {
    let bad = || Error::Mp {
        name: RESERVE.into(),
        reason: "malformed request".into(),
    };
    let (&n, rest) = p.split_first().ok_or_else(bad)?;
    let n = n as usize;
    if rest.len() < n {
        return Err(bad());
    }
    let name = std::str::from_utf8(&rest[..n])
        .map_err(|_| bad())?
        .to_string();
    Ok((name, &rest[n..]))
}

fn u64_at(p: &[u8], i: usize) -> Option<u64> {
    p.get(i..i + 8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

type ReserveArgs = (String, usize, Option<u32>, MemzoneFlags, usize, usize);

fn parse_reserve(p: &[u8]) -> Result<ReserveArgs> {
    let (name, rest) = take_name(p)?;
    let bad = || Error::Mp {
        name: RESERVE.into(),
        reason: "malformed request".into(),
    };
    let len = u64_at(rest, 0).ok_or_else(bad)? as usize;
    let socket = u64_at(rest, 8).ok_or_else(bad)?;
    let flags = u64_at(rest, 16).ok_or_else(bad)? as u32;
    let align = u64_at(rest, 24).ok_or_else(bad)? as usize;
    let bound = u64_at(rest, 32).ok_or_else(bad)? as usize;
    let socket = (socket != u64::MAX).then_some(socket as u32);
    Ok((
        name,
        len,
        socket,
        MemzoneFlags::from_bits(flags),
        align,
        bound,
    ))
}

fn parse_free(p: &[u8]) -> Result<(String, usize)> {
    let (name, rest) = take_name(p)?;
    let addr = u64_at(rest, 0).ok_or_else(|| Error::Mp {
        name: FREE.into(),
        reason: "malformed request".into(),
    })?;
    Ok((name, addr as usize))
}

fn name_bytes(name: &str) -> Vec<u8> {
    let mut v = vec![name.len() as u8];
    v.extend_from_slice(name.as_bytes());
    v
}

/// A secondary's `memzone::reserve`: the primary reserves it.
pub(crate) fn reserve(
    name: &str,
    len: usize,
    socket: Option<u32>,
    flags: MemzoneFlags,
    align: usize,
    bound: usize,
) -> Result<()> {
    let socket = socket.or_else(crate::lcore::socket_id);
    let mut p = name_bytes(name);
    for v in [
        len as u64,
        socket.map_or(u64::MAX, u64::from),
        u64::from(flags.bits()),
        align as u64,
        bound as u64,
    ] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    outcome(&ask(RESERVE, p, name)?, name)
}

/// A secondary's `Memzone::free`: the primary frees it.
pub(crate) fn free(name: &str, addr: usize) -> Result<()> {
    let mut p = name_bytes(name);
    p.extend_from_slice(&(addr as u64).to_le_bytes());
    outcome(&ask(FREE, p, name)?, name)
}

/// What the primary answers to `rpdk_mem_attach`.
struct Offer {
    iova_mode: IovaMode,
    page_size: usize,
    config: std::os::fd::OwnedFd,
    heaps: Vec<(u32, File)>,
}

/// Asks the primary for its shared configuration and the files under its heaps.
fn offer() -> Result<Offer> {
    let reply = mp::request_sync(&Message::new(ATTACH, &[]), TIMEOUT)
        .map_err(|e| Error::Memory(format!("attaching to the primary's memory: {e}")))?;
    let Some(mut msg) = reply.msgs.into_iter().next() else {
        return Err(Error::Memory(
            "attaching to the primary's memory: the primary did not answer (is it an rpdk \
             primary of this version?)"
                .into(),
        ));
    };
    let p = &msg.param;
    let bad = || Error::Memory("attaching to the primary's memory: malformed answer".into());
    if p.len() < 11 || p[0] != 1 {
        return Err(bad());
    }
    let iova_mode = if p[1] == 1 {
        IovaMode::Va
    } else {
        IovaMode::Pa
    };
    let n = p[2] as usize;
    let page_size = u64_at(p, 3).ok_or_else(bad)? as usize;
    let sockets: Vec<u32> = (0..n)
        .map(|i| {
            p.get(11 + 4 * i..15 + 4 * i)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        })
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    if msg.fds.len() != n + 1 {
        return Err(bad());
    }
    let mut fds = std::mem::take(&mut msg.fds).into_iter();
    let config = fds.next().expect("counted");
    Ok(Offer {
        iova_mode,
        page_size,
        config,
        heaps: sockets.into_iter().zip(fds.map(File::from)).collect(),
    })
}

/// The secondary's memory: the primary's configuration, and every heap it has now mapped at
/// the primary's addresses.
pub(crate) fn attach() -> Result<Memory> {
    let offer = offer()?;
    let shared = Arc::new(SharedConfig::open(offer.config)?);
    let memory = Memory::attached(
        MemoryConfig {
            kind: PageKind::Small,
            page_size: offer.page_size,
            iova_mode: offer.iova_mode,
            prefix: String::new(),
            unlink: HugeUnlink::Never,
            numa: false,
            fixed: true,
            limit: None,
            base_hint: None,
            node_limits: (Vec::new(), String::new()),
            shared: None,
        },
        shared,
    );
    for (socket, file) in offer.heaps {
        memory.attach_heap(socket, file)?;
    }
    Ok(memory)
}

/// Maps the heap of `socket` if the primary made it after we attached.
fn ensure_heap(memory: &Memory, socket: u32) -> Result<()> {
    if !memory.has_heap(socket) {
        for (s, file) in offer()?.heaps {
            if !memory.has_heap(s) {
                memory.attach_heap(s, file)?;
            }
        }
    }
    memory.sync_heap(socket)
}

fn view(memory: &Arc<Memory>, info: &super::shared::ZoneInfo) -> Option<Memzone> {
    match ensure_heap(memory, info.socket) {
        Ok(()) => Some(Memzone::attached(info, memory.clone())),
        Err(e) => {
            log::error!(target: "lib.eal", "memzone {}: {e}", info.name);
            None
        }
    }
}

/// A secondary's `memzone::lookup`.
pub(crate) fn lookup(memory: &Arc<Memory>, name: &str) -> Option<Memzone> {
    let shared = memory.attached_config()?;
    let info = shared.zones().into_iter().find(|z| z.name == name)?;
    view(memory, &info)
}

/// A secondary's `memzone::list`.
pub(crate) fn list(memory: &Arc<Memory>) -> Vec<Memzone> {
    let Some(shared) = memory.attached_config() else {
        return Vec::new();
    };
    shared
        .zones()
        .iter()
        .filter_map(|z| view(memory, z))
        .collect()
}
