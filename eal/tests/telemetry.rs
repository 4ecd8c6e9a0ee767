//! The telemetry socket of a real EAL, over real sockets: the v2 protocol, DPDK's replies to
//! unknown, oversize and malformed requests, ten clients at once and the eleventh refused, a
//! client that does not read, stale and live sockets at start, and `--no-telemetry`.

use std::io::ErrorKind;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rpdk_eal::telemetry::{self, Client, MAX_CONNECTIONS, SOCKET_NAME};
use rpdk_testsupport::{serial, unique_prefix};

const TIMEOUT: Option<Duration> = Some(Duration::from_secs(10));

fn start(prefix: &str, extra: &[&str]) -> rpdk_eal::Eal {
    let mut args = vec![
        "teltest",
        "--no-huge",
        "--no-shconf",
        "-l",
        "0",
        "--file-prefix",
        prefix,
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "-x", "app arg"]);
    rpdk_eal::init(args).expect("EAL init").0
}

fn connect() -> Client {
    Client::connect_timeout(&telemetry::socket_path().expect("a socket"), TIMEOUT).unwrap()
}

/// A new seqpacket socket and the address of `path`.
fn seqpacket(path: &Path) -> (i32, libc::sockaddr_un, libc::socklen_t) {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: socket has no preconditions; sockaddr_un is plain data.
    let (fd, mut addr) = unsafe {
        (
            libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0),
            std::mem::zeroed::<libc::sockaddr_un>(),
        )
    };
    assert!(fd >= 0);
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(path.as_os_str().as_bytes()) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    (fd, addr, len)
}

/// A seqpacket socket bound at `path`, listening or not (a stale socket file once dropped).
fn raw_socket(path: &Path, listen: bool) -> OwnedFd {
    let (fd, addr, len) = seqpacket(path);
    // SAFETY: plain socket calls on the descriptor we own; `addr` is a valid sockaddr_un.
    unsafe {
        assert_eq!(
            libc::bind(fd, (&raw const addr).cast(), len),
            0,
            "{}",
            std::io::Error::last_os_error()
        );
        if listen {
            assert_eq!(libc::listen(fd, 4), 0);
        }
        OwnedFd::from_raw_fd(fd)
    }
}

#[test]
fn speaks_dpdk_v2_and_goes_with_the_eal() {
    let _s = serial();
    let prefix = unique_prefix("tel");
    let eal = start(&prefix, &["--telemetry"]);
    let dir = telemetry::socket_dir(&prefix);
    let path = telemetry::socket_path().unwrap();
    assert_eq!(path, dir.join(SOCKET_NAME));

    let mut c = connect();
    assert_eq!(
        c.greeting(),
        format!(
            r#"{{"version":"rpdk {}","pid":{},"max_output_len":16384}}"#,
            rpdk_eal::VERSION,
            std::process::id()
        )
    );
    let list = c.request("/").unwrap();
    for cmd in [
        r#"{"/":["/","/eal/app_params","#,
        r#""/eal/lcore/list""#,
        r#""/help","/info""#,
    ] {
        assert!(list.contains(cmd), "{cmd} in {list}");
    }
    assert_eq!(
        c.request("/info").unwrap(),
        format!(
            r#"{{"/info":{{"version":"rpdk {}","pid":{},"max_output_len":16384}}}}"#,
            rpdk_eal::VERSION,
            std::process::id()
        )
    );
    assert_eq!(
        c.request("/eal/params").unwrap(),
        format!(
            r#"{{"/eal/params":["teltest","--no-huge","--no-shconf","-l","0","--file-prefix","{prefix}","--telemetry"]}}"#
        )
    );
    assert_eq!(
        c.request("/eal/app_params").unwrap(),
        r#"{"/eal/app_params":["-x","app arg"]}"#
    );
    assert_eq!(
        c.request("/eal/lcore/list").unwrap(),
        r#"{"/eal/lcore/list":[0]}"#
    );
    let info = c.request("/eal/lcore/info,0").unwrap();
    assert!(
        info.starts_with(r#"{"/eal/lcore/info":{"lcore_id":0,"socket":"#)
            && info.contains(r#""role":"RTE","cpuset":["#),
        "{info}"
    );
    assert_eq!(
        c.request("/eal/lcore/info,5").unwrap(),
        r#"{"/eal/lcore/info":null}"#
    );
    assert_eq!(
        c.request("/help,/eal/lcore/list").unwrap(),
        r#"{"/help":{"/eal/lcore/list":"List of lcore ids. Takes no parameters"}}"#
    );

    // Unknown, oversize and malformed requests, as DPDK answers them.
    assert_eq!(
        c.request("/no/such/command").unwrap(),
        r#"{"/no/such/command":null}"#
    );
    let huge = format!("/{}", "x".repeat(5000));
    assert_eq!(
        c.request(&huge).unwrap(),
        format!(r#"{{"{}":null}}"#, &huge[..56])
    );
    assert_eq!(c.request(",,,").unwrap(), r#"{"(null)":null}"#);
    assert_eq!(
        c.request(",/eal/lcore/list").unwrap(),
        r#"{"/eal/lcore/list":[0]}"#
    );
    // The connection still serves after all that.
    assert!(c.request("/info").unwrap().starts_with(r#"{"/info":"#));

    drop(eal);
    assert!(telemetry::socket_path().is_none());
    assert!(!path.exists(), "socket removed at cleanup");
    assert!(!dir.exists(), "empty prefix directory removed");
    // The connection is closed: the next read sees the end.
    let r = c.request("/info");
    assert!(r.is_err(), "{r:?}");
}

#[test]
fn ten_clients_at_once_and_one_more_is_closed() {
    let _s = serial();
    let prefix = unique_prefix("tel10");
    let eal = start(&prefix, &[]);
    let mut clients: Vec<Client> = (0..MAX_CONNECTIONS).map(|_| connect()).collect();
    assert_eq!(MAX_CONNECTIONS, 10);
    let extra = Client::connect_timeout(&telemetry::socket_path().unwrap(), TIMEOUT);
    assert_eq!(extra.unwrap_err().kind(), ErrorKind::UnexpectedEof);

    // All ten ask at once, many times each, from their own threads.
    std::thread::scope(|s| {
        for (i, c) in clients.iter_mut().enumerate() {
            s.spawn(move || {
                for n in 0..200 {
                    let r = c.request("/help,/info").unwrap();
                    assert_eq!(
                        r,
                        r#"{"/help":{"/info":"Returns DPDK Telemetry information. Takes no parameters"}}"#,
                        "client {i}, request {n}"
                    );
                }
            });
        }
    });
    // A place frees when a client leaves.
    clients.pop();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut again = loop {
        match Client::connect_timeout(&telemetry::socket_path().unwrap(), TIMEOUT) {
            Ok(c) => break c,
            Err(e) if e.kind() == ErrorKind::UnexpectedEof && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(again.request("/").unwrap().starts_with(r#"{"/":["#));
    drop(eal);
}

/// A client connection made by hand, so that it can send without blocking.
fn raw_client(path: &Path) -> std::os::unix::net::UnixStream {
    use std::io::Read;
    let (fd, addr, len) = seqpacket(path);
    // SAFETY: connect on the descriptor we own; `addr` is a valid sockaddr_un.
    let fd = unsafe {
        assert_eq!(libc::connect(fd, (&raw const addr).cast(), len), 0);
        OwnedFd::from_raw_fd(fd)
    };
    let mut s = std::os::unix::net::UnixStream::from(fd);
    let mut greeting = [0u8; 1024];
    assert!(s.read(&mut greeting).unwrap() > 0);
    s
}

#[test]
fn a_client_that_does_not_read_holds_up_no_one() {
    use std::io::{Read, Write};
    let _s = serial();
    let prefix = unique_prefix("telslow");
    let eal = start(&prefix, &[]);
    let mut slow = raw_client(&telemetry::socket_path().unwrap());
    slow.set_nonblocking(true).unwrap();
    // Requests until its socket takes no more: the replies fill its receive queue and then
    // the server's pending slot; it reads none of them.
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match slow.write(b"/") {
            Ok(_) => sent += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                // The server may still be draining: wait a moment and see if it stays full.
                std::thread::sleep(Duration::from_millis(100));
                if slow.write(b"/").is_err() {
                    break;
                }
                sent += 1;
            }
            Err(e) => panic!("{e}"),
        }
        assert!(
            Instant::now() < deadline,
            "the server kept reading ({sent} requests)"
        );
    }
    assert!(sent > 10, "{sent}");
    let mut quick = connect();
    let t = Instant::now();
    for _ in 0..50 {
        assert!(quick.request("/info").unwrap().starts_with(r#"{"/info":"#));
    }
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // The slow one gets every reply, in order, when it reads.
    slow.set_nonblocking(false).unwrap();
    slow.set_read_timeout(TIMEOUT).unwrap();
    let mut buf = vec![0u8; 16384];
    for i in 0..sent {
        let n = slow.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(br#"{"/":["#), "reply {i} of {sent}");
    }
    drop(eal);
}

#[test]
fn a_stale_socket_is_replaced_and_a_live_one_kept() {
    let _s = serial();
    let prefix = unique_prefix("telstale");
    let dir = telemetry::socket_dir(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.join(SOCKET_NAME);

    // As a process killed with SIGKILL leaves it: the file, and no one listening.
    drop(raw_socket(&base, false));
    assert!(base.exists());
    let eal = start(&prefix, &[]);
    assert_eq!(telemetry::socket_path().unwrap(), base);
    assert!(connect().request("/info").is_ok());
    drop(eal);
    assert!(!base.exists());

    // A live socket of another instance: this one takes ":1", as DPDK.
    std::fs::create_dir_all(&dir).unwrap();
    let live = raw_socket(&base, true);
    let eal = start(&prefix, &[]);
    let suffixed = PathBuf::from(format!("{}:1", base.display()));
    assert_eq!(telemetry::socket_path().unwrap(), suffixed);
    assert!(connect().request("/info").is_ok());
    drop(eal);
    assert!(!suffixed.exists());
    assert!(base.exists(), "the other instance's socket is left alone");
    drop(live);
    std::fs::remove_file(&base).unwrap();
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn no_telemetry_means_no_socket() {
    let _s = serial();
    let prefix = unique_prefix("telnone");
    let eal = start(&prefix, &["--no-telemetry"]);
    assert!(telemetry::socket_path().is_none());
    assert!(!telemetry::socket_dir(&prefix).exists());
    drop(eal);
}

/// The CPUs the thread named `name` of this process may run on, from /proc.
fn thread_cpus(name: &str) -> Option<String> {
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            let status = std::fs::read_to_string(task.path().join("status")).ok()?;
            return status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string());
        }
    }
    None
}

#[test]
fn the_thread_keeps_off_the_workers_cpus() {
    let _s = serial();
    let prefix = unique_prefix("telcpu");
    // Lcore 0 is on CPU 0: the thread gets the others, or CPU 0 (the main lcore's) if there are
    // none. (Read before init pins this thread.)
    let others: Vec<String> = rpdk_testsupport::allowed_cpus()
        .into_iter()
        .filter(|&c| c != 0)
        .map(|c| c.to_string())
        .collect();
    let eal = start(&prefix, &[]);
    let got = thread_cpus("rpdk-telemetry").expect("the telemetry thread");
    let got: Vec<String> = rpdk_eal::cpuset::CpuSet::parse_list(&got)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    if others.is_empty() {
        assert_eq!(got, ["0"]);
    } else {
        assert_eq!(got, others);
    }
    drop(eal);
    assert_eq!(thread_cpus("rpdk-telemetry"), None, "the thread is joined");
}
