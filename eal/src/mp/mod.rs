//! Messages between the primary and its secondary processes (DPDK's `rte_mp`).
//!
//! Each process of a file prefix binds a Unix datagram socket in the runtime directory: the
//! primary `mp_socket`, each secondary `mp_socket_<pid>_<n>`. A thread of each process
//! (`rpdk-mp-msg`) receives and calls the action registered under the message's name. A
//! message has a name (at most [`MAX_NAME_LEN`] bytes), up to [`MAX_PARAM_LEN`] bytes of
//! parameters and up to [`MAX_FD_NUM`] file descriptors, which the kernel duplicates into the
//! receiver (`SCM_RIGHTS`).
//!
//! As in DPDK, the primary talks to every secondary and a secondary to the primary only:
//! [`sendmsg`] wants no answer; [`request_sync`] waits for one reply from each peer, that its
//! action gives with [`reply`]; [`request_async`] calls a function once every peer replied or
//! the time is up. A peer without an action of the name tells the requester at once (DPDK's
//! `MP_IGN`), and is not counted in [`Reply::nb_sent`].
//!
//! ```no_run
//! use std::time::Duration;
//! use rpdk_eal::mp::{self, Message};
//!
//! // In the primary:
//! mp::action_register("app_hello", |msg, peer| {
//!     let mut answer = b"hello, ".to_vec();
//!     answer.extend_from_slice(&msg.param);
//!     mp::reply(&Message::new("app_hello", &answer), peer)
//! })?;
//!
//! // In a secondary (`--proc-type secondary`, same `--file-prefix`):
//! let reply = mp::request_sync(&Message::new("app_hello", b"world"), Duration::from_secs(1))?;
//! assert_eq!(reply.msgs[0].param, b"hello, world");
//! # Ok::<(), rpdk_eal::Error>(())
//! ```
//!
//! Without a runtime directory (`--no-shconf`, `--in-memory`) there is no channel: messages
//! reach nobody (`sendmsg` and the requests succeed with no peers, as in DPDK). An action runs
//! on the receiving thread, so it must not wait on [`request_sync`] (refused there); it may
//! reply, send, or use [`request_async`].

mod channel;
mod socket;
mod wire;

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub(crate) use channel::Channel;

use crate::error::{Error, Result};

/// Longest message name, in bytes (DPDK's `RTE_MP_MAX_NAME_LEN` less the NUL).
pub const MAX_NAME_LEN: usize = 63;
/// Most parameter bytes a message carries (`RTE_MP_MAX_PARAM_LEN`).
pub const MAX_PARAM_LEN: usize = 256;
/// Most file descriptors a message carries (`RTE_MP_MAX_FD_NUM`).
pub const MAX_FD_NUM: usize = socket::MAX_FDS;

/// A message: a name, parameter bytes and file descriptors (DPDK's `struct rte_mp_msg`).
/// Descriptors of a received message are the receiver's own, closed when the message drops
/// unless taken out of `fds`.
#[derive(Debug)]
pub struct Message {
    /// The action it is for.
    pub name: String,
    /// Up to [`MAX_PARAM_LEN`] bytes.
    pub param: Vec<u8>,
    /// Up to [`MAX_FD_NUM`] descriptors; sending leaves them open here.
    pub fds: Vec<OwnedFd>,
}

impl Message {
    /// A message without descriptors.
    pub fn new(name: &str, param: &[u8]) -> Message {
        Message {
            name: name.to_string(),
            param: param.to_vec(),
            fds: Vec::new(),
        }
    }

    /// The same message with descriptors attached.
    pub fn with_fds(mut self, fds: Vec<OwnedFd>) -> Message {
        self.fds = fds;
        self
    }

    /// The same message with `bytes` attached in a memfd (its first descriptor), for what
    /// does not fit [`MAX_PARAM_LEN`] bytes of parameters: the receiver reads it with
    /// [`Message::payload`].
    pub fn with_payload(mut self, bytes: &[u8]) -> Result<Message> {
        let fd = socket::memfd_with(bytes)
            .map_err(|e| Error::io(format!("writing the payload of {}", self.name), e))?;
        self.fds.insert(0, fd);
        Ok(self)
    }

    /// The bytes of the memfd [`Message::with_payload`] attached.
    pub fn payload(&self) -> Result<Vec<u8>> {
        use std::io::{Read, Seek};
        let fd = self.fds.first().ok_or_else(|| Error::Mp {
            name: self.name.clone(),
            reason: "no payload descriptor".into(),
        })?;
        let mut f = std::fs::File::from(
            fd.try_clone()
                .map_err(|e| Error::io(format!("duplicating the payload of {}", self.name), e))?,
        );
        let mut out = Vec::new();
        f.rewind()
            .and_then(|_| f.read_to_end(&mut out))
            .map_err(|e| Error::io(format!("reading the payload of {}", self.name), e))?;
        Ok(out)
    }

    /// A copy, with the descriptors duplicated.
    pub fn try_clone(&self) -> Result<Message> {
        let fds = self
            .fds
            .iter()
            .map(|f| f.try_clone())
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| Error::io(format!("duplicating the descriptors of {}", self.name), e))?;
        Ok(Message {
            name: self.name.clone(),
            param: self.param.clone(),
            fds,
        })
    }

    fn check(&self) -> Result<()> {
        let reason = if self.name.is_empty() {
            "a message needs a name".to_string()
        } else if self.name.len() > MAX_NAME_LEN {
            format!("names have at most {MAX_NAME_LEN} bytes")
        } else if self.param.len() > MAX_PARAM_LEN {
            format!(
                "{} parameter bytes, at most {MAX_PARAM_LEN}",
                self.param.len()
            )
        } else if self.fds.len() > MAX_FD_NUM {
            format!("{} descriptors, at most {MAX_FD_NUM}", self.fds.len())
        } else {
            return Ok(());
        };
        Err(Error::Mp {
            name: self.name.clone(),
            reason,
        })
    }
}

/// Who sent a message, to [`reply`] to (DPDK's `peer` argument).
#[derive(Clone, Debug)]
pub struct Peer {
    path: PathBuf,
    /// The request's id; 0 for a message that wants no reply.
    id: u64,
}

impl Peer {
    /// The peer's socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the message was a request (so a reply is awaited).
    pub fn is_request(&self) -> bool {
        self.id != 0
    }
}

/// The replies to a request (DPDK's `struct rte_mp_reply`): `msgs.len()` is `nb_received`.
#[derive(Debug, Default)]
pub struct Reply {
    /// Peers the request reached that have an action of its name.
    pub nb_sent: usize,
    /// One reply per peer that answered.
    pub msgs: Vec<Message>,
}

impl Reply {
    /// `nb_received`.
    pub fn nb_received(&self) -> usize {
        self.msgs.len()
    }
}

/// What an action does with a message and its sender.
pub type Action = Arc<dyn Fn(Message, &Peer) -> Result<()> + Send + Sync>;

/// What [`request_async`] calls with the request and its replies.
pub type AsyncCallback = Box<dyn FnOnce(&Message, Reply) + Send>;

static ACTIONS: Mutex<Option<HashMap<String, Action>>> = Mutex::new(None);
static CHANNEL: RwLock<Option<Arc<Channel>>> = RwLock::new(None);

fn action(name: &str) -> Option<Action> {
    ACTIONS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|m| m.get(name).cloned())
}

/// Registers the action for messages and requests named `name` (`rte_mp_action_register`);
/// fails if one is registered under that name. It may be registered before `init`.
pub fn action_register<F>(name: &str, f: F) -> Result<()>
where
    F: Fn(Message, &Peer) -> Result<()> + Send + Sync + 'static,
{
    Message::new(name, &[]).check()?;
    let mut actions = ACTIONS.lock().unwrap_or_else(|e| e.into_inner());
    let map = actions.get_or_insert_with(HashMap::new);
    if map.contains_key(name) {
        return Err(Error::Mp {
            name: name.to_string(),
            reason: "an action of this name is registered".into(),
        });
    }
    map.insert(name.to_string(), Arc::new(f));
    Ok(())
}

/// Removes the action of `name` (`rte_mp_action_unregister`); whether there was one.
pub fn action_unregister(name: &str) -> bool {
    ACTIONS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .is_some_and(|m| m.remove(name).is_some())
}

fn channel() -> Option<Arc<Channel>> {
    CHANNEL.read().unwrap_or_else(|e| e.into_inner()).clone()
}

pub(crate) fn set_channel(chan: Option<Arc<Channel>>) {
    let old = std::mem::replace(
        &mut *CHANNEL.write().unwrap_or_else(|e| e.into_inner()),
        chan,
    );
    if let Some(old) = old {
        old.stop();
    }
}

/// Sends `msg` to every peer (`rte_mp_sendmsg`); returns how many it reached.
pub fn sendmsg(msg: &Message) -> Result<usize> {
    msg.check()?;
    channel().map_or(Ok(0), |c| c.sendmsg(msg))
}

/// Sends `req` to every peer and waits up to `timeout` for each one's reply
/// (`rte_mp_request_sync`). A peer that does not answer in time makes it an error saying how
/// many did; a secondary whose primary is gone gets an error saying so.
pub fn request_sync(req: &Message, timeout: Duration) -> Result<Reply> {
    req.check()?;
    channel().map_or(Ok(Reply::default()), |c| c.request_sync(req, timeout))
}

/// Sends `req` to every peer and calls `callback` on the IPC thread once each one replied or
/// `timeout` passed (`rte_mp_request_async`), with what arrived; with no peer, at once.
pub fn request_async<F>(req: &Message, timeout: Duration, callback: F) -> Result<()>
where
    F: FnOnce(&Message, Reply) + Send + 'static,
{
    req.check()?;
    match channel() {
        Some(c) => c.request_async(req.try_clone()?, timeout, Box::new(callback)),
        None => {
            callback(req, Reply::default());
            Ok(())
        }
    }
}

/// Answers the request `peer` sent (`rte_mp_reply`), from its action.
pub fn reply(msg: &Message, peer: &Peer) -> Result<()> {
    msg.check()?;
    if !peer.is_request() {
        return Err(Error::Mp {
            name: msg.name.clone(),
            reason: "the message answered was not a request".into(),
        });
    }
    let chan = channel().ok_or_else(|| Error::Mp {
        name: msg.name.clone(),
        reason: "no IPC channel (the EAL is not running, or runs with --no-shconf)".into(),
    })?;
    chan.reply(msg, peer)
}
