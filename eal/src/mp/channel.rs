//! The channel of one process: its socket in the runtime directory, the thread that receives
//! and dispatches, and the requests waiting for replies.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use super::wire::{self, Kind};
use super::{AsyncCallback, Message, Peer, Reply, socket};
use crate::error::{Error, Result};

/// The primary's socket in the runtime directory (DPDK's `mp_socket`).
pub const PRIMARY_SOCKET: &str = "mp_socket";
/// Secondaries' sockets start so: `mp_socket_<pid>_<n>`.
const SECONDARY_PREFIX: &str = "mp_socket_";

/// Replies awaited by one `request_sync` or `request_async` call.
struct Group {
    /// Peers asked that have not answered.
    waiting: usize,
    /// Peers asked, less those that said they have no such action.
    sent: usize,
    msgs: Vec<Message>,
    deadline: Instant,
    /// For `request_async`: the request and what to call.
    callback: Option<(Message, AsyncCallback)>,
    timed_out: bool,
}

#[derive(Default)]
struct Pending {
    next_id: u64,
    groups: HashMap<u64, Group>,
    /// Request id (one per peer asked) to its group.
    requests: HashMap<u64, u64>,
}

impl Pending {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

pub(crate) struct Channel {
    sock: UnixDatagram,
    path: PathBuf,
    dir: PathBuf,
    primary: bool,
    pending: Mutex<Pending>,
    replied: Condvar,
    stop: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: Mutex<Option<ThreadId>>,
}

impl Channel {
    /// Binds this process's socket in `dir` and starts the receiving thread.
    pub fn start(dir: &Path, primary: bool) -> Result<Arc<Channel>> {
        let path = if primary {
            // Sockets of secondaries left by a dead primary's era are stale now.
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().starts_with(PRIMARY_SOCKET) {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
            dir.join(PRIMARY_SOCKET)
        } else {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            dir.join(format!(
                "{SECONDARY_PREFIX}{}_{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ))
        };
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path)
            .map_err(|e| Error::io(format!("binding the IPC socket {}", path.display()), e))?;
        let chan = Arc::new(Channel {
            sock,
            path,
            dir: dir.to_path_buf(),
            primary,
            pending: Mutex::new(Pending::default()),
            replied: Condvar::new(),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
            thread_id: Mutex::new(None),
        });
        let me = chan.clone();
        let handle = std::thread::Builder::new()
            .name("rpdk-mp-msg".into())
            .spawn(move || me.run())
            .map_err(|e| Error::io("starting the IPC thread", e))?;
        *chan.thread_id.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle.thread().id());
        *chan.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        log::debug!(target: "lib.eal", "IPC socket {}", chan.path.display());
        Ok(chan)
    }

    /// Stops the thread and removes the socket.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake();
        if let Some(h) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
        let _ = std::fs::remove_file(&self.path);
        if self.primary {
            // Sockets of secondaries that were killed: nobody else removes them.
            for peer in self.peers() {
                let pid = peer
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix(SECONDARY_PREFIX))
                    .and_then(|n| n.split('_').next())
                    .and_then(|p| p.parse::<u32>().ok());
                if pid.is_some_and(|p| !crate::runtime::pid_alive(p)) {
                    let _ = std::fs::remove_file(&peer);
                }
            }
        } else {
            // A primary that exited while this socket was still here could not remove the
            // runtime directory; the last one out does (rmdir fails while anything is left,
            // the primary's config among them, and a primary claiming it again retries).
            let _ = std::fs::remove_dir(&self.dir);
        }
        // Whoever waits gets a timeout now rather than at its deadline.
        let mut p = self.lock();
        for g in p.groups.values_mut() {
            g.deadline = Instant::now();
        }
        drop(p);
        self.replied.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self) {
        let _ = socket::send(
            &self.sock,
            &self.path,
            &wire::encode(Kind::Wake, 0, "", &[], 0),
            &[],
        );
    }

    /// Whether the caller is this channel's receiving thread.
    pub fn on_own_thread(&self) -> bool {
        *self.thread_id.lock().unwrap_or_else(|e| e.into_inner())
            == Some(std::thread::current().id())
    }

    /// The peers a message goes to: every secondary's socket for the primary, the primary's
    /// for a secondary.
    fn peers(&self) -> Vec<PathBuf> {
        if !self.primary {
            return vec![self.dir.join(PRIMARY_SOCKET)];
        }
        let mut out: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .starts_with(SECONDARY_PREFIX)
                    })
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// Sends a datagram; `Ok(false)` when the peer is gone (its socket refuses or was removed):
    /// a dead secondary's socket is removed, as DPDK's primary does.
    fn send_to(&self, to: &Path, kind: Kind, id: u64, msg: &Message) -> Result<bool> {
        let data = wire::encode(kind, id, &msg.name, &msg.param, msg.fds.len());
        let fds: Vec<RawFd> = msg.fds.iter().map(AsRawFd::as_raw_fd).collect();
        match socket::send(&self.sock, to, &data, &fds) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) && self.primary => {
                let _ = std::fs::remove_file(to);
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.primary => Ok(false),
            Err(e)
                if !self.primary
                    && matches!(e.raw_os_error(), Some(libc::ECONNREFUSED | libc::ENOENT)) =>
            {
                Err(Error::Mp {
                    name: msg.name.clone(),
                    reason: format!("the primary process is gone ({}: {e})", to.display()),
                })
            }
            Err(e) => Err(Error::Mp {
                name: msg.name.clone(),
                reason: format!("sending to {}: {e}", to.display()),
            }),
        }
    }

    /// `rte_mp_sendmsg`: to every peer; returns how many got it.
    pub fn sendmsg(&self, msg: &Message) -> Result<usize> {
        let mut n = 0;
        for peer in self.peers() {
            n += usize::from(self.send_to(&peer, Kind::Msg, 0, msg)?);
        }
        Ok(n)
    }

    /// `rte_mp_reply`.
    pub fn reply(&self, msg: &Message, peer: &Peer) -> Result<()> {
        self.send_to(&peer.path, Kind::Rep, peer.id, msg)
            .map(|_| ())
    }

    /// Sends `req` to every peer as one group; returns the group id.
    fn send_group(
        &self,
        req: &Message,
        timeout: Duration,
        callback: Option<(Message, AsyncCallback)>,
    ) -> Result<u64> {
        let peers = self.peers();
        let mut p = self.lock();
        let group = p.id();
        let mut ids = Vec::with_capacity(peers.len());
        for _ in &peers {
            let id = p.id();
            p.requests.insert(id, group);
            ids.push(id);
        }
        p.groups.insert(
            group,
            Group {
                waiting: peers.len(),
                sent: peers.len(),
                msgs: Vec::new(),
                deadline: Instant::now() + timeout,
                callback,
                timed_out: false,
            },
        );
        // Replies cannot be handled before the lock is released, so the entries are in place.
        for (peer, id) in peers.iter().zip(ids) {
            let sent = self.send_to(peer, Kind::Req, id, req);
            if !matches!(sent, Ok(true)) {
                p.requests.remove(&id);
                let g = p.groups.get_mut(&group).expect("inserted above");
                g.waiting -= 1;
                g.sent -= 1;
            }
            if let Err(e) = sent {
                Self::drop_group(&mut p, group);
                return Err(e);
            }
        }
        Ok(group)
    }

    fn drop_group(p: &mut Pending, group: u64) -> Option<Group> {
        p.requests.retain(|_, g| *g != group);
        p.groups.remove(&group)
    }

    /// `rte_mp_request_sync`.
    pub fn request_sync(&self, req: &Message, timeout: Duration) -> Result<Reply> {
        if self.on_own_thread() {
            return Err(Error::Mp {
                name: req.name.clone(),
                reason: "request_sync from an IPC action would wait for itself: use \
                         request_async there"
                    .into(),
            });
        }
        let group = self.send_group(req, timeout, None)?;
        let mut p = self.lock();
        loop {
            let g = p.groups.get(&group).expect("only this call removes it");
            if g.waiting == 0 {
                let g = Self::drop_group(&mut p, group).expect("present");
                return Ok(Reply {
                    nb_sent: g.sent,
                    msgs: g.msgs,
                });
            }
            let now = Instant::now();
            if now >= g.deadline {
                let g = Self::drop_group(&mut p, group).expect("present");
                return Err(Error::Mp {
                    name: req.name.clone(),
                    reason: format!(
                        "timed out after {timeout:?}: {} of {} peers replied",
                        g.msgs.len(),
                        g.sent
                    ),
                });
            }
            let wait = g.deadline - now;
            p = self
                .replied
                .wait_timeout(p, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// `rte_mp_request_async`.
    pub fn request_async(
        &self,
        req: Message,
        timeout: Duration,
        callback: AsyncCallback,
    ) -> Result<()> {
        let copy = req.try_clone()?;
        self.send_group(&copy, timeout, Some((req, callback)))?;
        // The thread computes its next wake-up from the deadlines; an empty group is due now.
        self.wake();
        Ok(())
    }

    /// The receiving thread.
    fn run(&self) {
        let mut buf = vec![0u8; wire::MAX_FRAME + 1];
        while !self.stop.load(Ordering::Acquire) {
            let timeout = self
                .lock()
                .groups
                .values()
                .filter(|g| g.callback.is_some())
                .map(|g| g.deadline.saturating_duration_since(Instant::now()))
                .min()
                .map(|d| d.max(Duration::from_millis(1)));
            let _ = self.sock.set_read_timeout(timeout);
            match socket::recv(&self.sock, &mut buf) {
                Ok(r) => self.handle(&buf[..r.len.min(buf.len())], r),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => {
                    log::error!(target: "lib.eal", "IPC socket {}: {e}", self.path.display());
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            self.finish_async();
        }
    }

    /// Calls the callbacks of async groups that are complete or past their deadline.
    fn finish_async(&self) {
        let now = Instant::now();
        let mut done = Vec::new();
        {
            let mut p = self.lock();
            let due: Vec<u64> = p
                .groups
                .iter()
                .filter(|(_, g)| g.callback.is_some() && (g.waiting == 0 || g.deadline <= now))
                .map(|(&id, _)| id)
                .collect();
            for id in due {
                let mut g = Self::drop_group(&mut p, id).expect("listed above");
                g.timed_out = g.waiting > 0;
                done.push(g);
            }
        }
        for g in done {
            let (req, cb) = g.callback.expect("filtered on it");
            if g.timed_out {
                log::warn!(target: "lib.eal", "IPC request {}: {} of {} peers replied in time", req.name, g.msgs.len(), g.sent);
            }
            cb(
                &req,
                Reply {
                    nb_sent: g.sent,
                    msgs: g.msgs,
                },
            );
        }
    }

    fn handle(&self, data: &[u8], r: socket::Received) {
        let frame = match wire::decode(data) {
            Ok(f) => f,
            Err(e) => {
                log::error!(target: "lib.eal", "IPC: dropping a datagram from {}: {e}", r.from.display());
                return;
            }
        };
        if r.truncated || frame.num_fds != r.fds.len() {
            log::error!(target: "lib.eal", "IPC: message {} from {} lost descriptors ({} sent, {} arrived)", frame.name, r.from.display(), frame.num_fds, r.fds.len());
        }
        let msg = Message {
            name: frame.name,
            param: frame.param,
            fds: r.fds,
        };
        match frame.kind {
            Kind::Wake => {}
            Kind::Rep | Kind::Ign => {
                let mut p = self.lock();
                let Some(group) = p.requests.remove(&frame.id) else {
                    log::warn!(target: "lib.eal", "IPC: dropping a late or unknown reply {} from {}", msg.name, r.from.display());
                    return;
                };
                if let Some(g) = p.groups.get_mut(&group) {
                    g.waiting -= 1;
                    if frame.kind == Kind::Rep {
                        g.msgs.push(msg);
                    } else {
                        g.sent -= 1;
                    }
                }
                drop(p);
                self.replied.notify_all();
            }
            Kind::Msg | Kind::Req => {
                let peer = Peer {
                    path: r.from,
                    id: if frame.kind == Kind::Req { frame.id } else { 0 },
                };
                let Some(action) = super::action(&msg.name) else {
                    if frame.kind == Kind::Req {
                        let ign = Message::new(&msg.name, &[]);
                        let _ = self.send_to(&peer.path, Kind::Ign, peer.id, &ign);
                    } else {
                        log::error!(target: "lib.eal", "IPC: no action for message {}", msg.name);
                    }
                    return;
                };
                let name = msg.name.clone();
                if let Err(e) = action(msg, &peer) {
                    log::error!(target: "lib.eal", "IPC: action {name} failed: {e}");
                }
            }
        }
    }
}
