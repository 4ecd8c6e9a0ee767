//! The registry across processes: the primary's registry is the one every process uses.
//!
//! DPDK keeps its dynamic fields in a shared memzone. Here the primary owns the registry and
//! answers secondaries through the EAL's IPC (`rpdk_mbuf_dyn`): a secondary's registration
//! and lookup go to the primary, which places (or finds) the field or flag, and the secondary
//! keeps the answer, so every process of a file prefix reads the same field at the same offset.
//! The primary answers from its first pktmbuf pool or dynamic field on (the action is
//! registered then); a secondary of a primary that has neither gets an error saying so.
//!
//! A request is `[op, name length, name, op's arguments]`; a reply `[0, three u32]` (offset,
//! size and alignment of a field; the bit of a flag), `[1]` (not found) or `[2, error kind,
//! message]`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rpdk_eal::mp::{self, Message};
use rpdk_eal::options::ProcType;

use super::DynError;

const ACTION: &str = "rpdk_mbuf_dyn";
/// How long a secondary waits for the primary.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What a request asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Op {
    RegisterField = 0,
    RegisterFlag = 1,
    LookupField = 2,
    LookupFlag = 3,
}

impl Op {
    fn from_u8(b: u8) -> Option<Op> {
        [
            Op::RegisterField,
            Op::RegisterFlag,
            Op::LookupField,
            Op::LookupFlag,
        ]
        .into_iter()
        .find(|o| *o as u8 == b)
    }
}

/// Whether this process must ask the primary (it is a secondary).
pub(super) fn is_secondary() -> bool {
    rpdk_eal::process_type() == Some(ProcType::Secondary)
}

/// In the primary, registers the answer to secondaries (once per process).
pub(crate) fn serve() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if rpdk_eal::process_type() != Some(ProcType::Primary) || DONE.swap(true, Ordering::AcqRel) {
        return;
    }
    // For the life of the process, as the registry itself.
    let _ = mp::action_register(ACTION, |msg, peer| {
        mp::reply(&Message::new(ACTION, &answer(&msg.param)), peer)
    });
}

/// The primary's answer to one request.
fn answer(p: &[u8]) -> Vec<u8> {
    let Some((op, name, args)) = split(p) else {
        return error(&DynError::BadName("(malformed request)".into()));
    };
    let arg = |i: usize| {
        args.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    // Wanted positions travel as u32::MAX for "anywhere".
    let want = |v: u32| (v != u32::MAX).then_some(v);
    let found = |a: u32, b: u32, c: u32| {
        let mut v = vec![0];
        for x in [a, b, c] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    };
    match (op, arg(0), arg(1), arg(2)) {
        (Op::RegisterField, Some(size), Some(align), Some(at)) => super::local::register_field(
            name,
            size as usize,
            align as usize,
            want(at).map(|w| w as usize),
        )
        .map_or_else(|e| error(&e), |off| found(off as u32, size, align)),
        (Op::RegisterFlag, Some(at), _, _) => super::local::register_flag(name, want(at))
            .map_or_else(|e| error(&e), |bit| found(bit, 0, 0)),
        (Op::LookupField, _, _, _) => match super::local::lookup_field(name) {
            Some((o, s, a)) => found(o as u32, s as u32, a as u32),
            None => vec![1],
        },
        (Op::LookupFlag, _, _, _) => match super::local::lookup_flag(name) {
            Some(b) => found(b, 0, 0),
            None => vec![1],
        },
        _ => error(&DynError::BadName(format!("{name} (malformed request)"))),
    }
}

fn split(p: &[u8]) -> Option<(Op, &str, &[u8])> {
    let (&op, rest) = p.split_first()?;
    let (&n, rest) = rest.split_first()?;
    let name = std::str::from_utf8(rest.get(..n as usize)?).ok()?;
    Some((Op::from_u8(op)?, name, &rest[n as usize..]))
}

fn error(e: &DynError) -> Vec<u8> {
    let (kind, name) = match e {
        DynError::BadName(n) => (0, n),
        DynError::Conflict(n) => (1, n),
        DynError::NoSpace(n) => (2, n),
        DynError::BadPosition(n) => (3, n),
        DynError::Primary(n) => (4, n),
    };
    let mut v = vec![2, kind];
    let end = name.len().min(mp::MAX_PARAM_LEN - 2);
    v.extend_from_slice(&name.as_bytes()[..end]);
    v
}

/// What the primary answered: `Some([a, b, c])`, `None` for not found.
pub(super) fn ask(op: Op, name: &str, args: &[u32]) -> Result<Option<[u32; 3]>, DynError> {
    let mut p = vec![op as u8, name.len() as u8];
    p.extend_from_slice(name.as_bytes());
    for a in args {
        p.extend_from_slice(&a.to_le_bytes());
    }
    let no_answer = |why: String| {
        DynError::Primary(format!(
            "{name}: {why} (the primary answers once it has made a pktmbuf pool or a dynamic \
             field)"
        ))
    };
    let mut reply = mp::request_sync(&Message::new(ACTION, &p), TIMEOUT)
        .map_err(|e| no_answer(e.to_string()))?;
    let msg = reply
        .msgs
        .pop()
        .ok_or_else(|| no_answer("the primary did not answer".into()))?;
    let r = &msg.param;
    match r.split_first() {
        Some((0, v)) if v.len() == 12 => {
            let w = |i: usize| u32::from_le_bytes(v[i * 4..i * 4 + 4].try_into().expect("4"));
            Ok(Some([w(0), w(1), w(2)]))
        }
        Some((1, _)) => Ok(None),
        Some((2, rest)) if !rest.is_empty() => {
            let n = String::from_utf8_lossy(&rest[1..]).into_owned();
            Err(match rest[0] {
                0 => DynError::BadName(n),
                1 => DynError::Conflict(n),
                2 => DynError::NoSpace(n),
                3 => DynError::BadPosition(n),
                _ => DynError::Primary(n),
            })
        }
        _ => Err(no_answer("malformed answer".into())),
    }
}
