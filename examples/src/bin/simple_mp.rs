//! DPDK's `multi_process/simple_mp`: two processes pass strings to each other through two
//! named rings, the strings in objects of a shared mempool. Start the primary, then the
//! secondary with the same `--file-prefix` and lcore ids of its own; each has a prompt:
//!
//! ```text
//! simple_mp -l 0-1 --proc-type primary
//! simple_mp -l 2@0,3@1 --proc-type secondary
//! simple_mp > send hello
//! ```
//!
//! `send STRING` puts the string (at most 127 bytes) in an object of `MSG_POOL` and enqueues it
//! for the other process, whose worker lcores print `core N: Received 'STRING'` and give the
//! object back to the pool; `help` says so; `quit` (or end of input) leaves.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rpdk_eal::options::ProcType;
use rpdk_mempool::Mempool;
use rpdk_ring::{Ring, RingFlags};

const MSG_POOL: &str = "MSG_POOL";
const SEC_2_PRI: &str = "SEC_2_PRI";
const PRI_2_SEC: &str = "PRI_2_SEC";
/// DPDK's `STR_TOKEN_SIZE`: a message's bytes, the terminating NUL included.
const STR_TOKEN_SIZE: usize = 128;

static QUIT: AtomicBool = AtomicBool::new(false);

fn fail(what: &str) -> ! {
    eprintln!("EAL: Error - exiting with code: 1\n  Cause: {what}");
    std::process::exit(1)
}

/// Receives messages and prints them, until `quit`.
fn lcore_recv(recv: Ring<usize>, pool: Mempool) -> i32 {
    let lcore = rpdk_eal::lcore::id().unwrap_or(0);
    println!("Starting core {lcore}");
    let mut msg = [0usize; 1];
    while !QUIT.load(Ordering::Acquire) {
        // SAFETY: a multi-consumer ring.
        if unsafe { recv.dequeue_bulk(&mut msg) }.count == 0 {
            std::thread::sleep(Duration::from_micros(5));
            continue;
        }
        let obj = msg[0] as *mut u8;
        // SAFETY: the sender wrote a NUL-terminated string of at most STR_TOKEN_SIZE bytes in
        // the object before enqueueing it; the object is ours until put back.
        let bytes = unsafe { std::slice::from_raw_parts(obj, STR_TOKEN_SIZE) };
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(STR_TOKEN_SIZE);
        println!(
            "core {lcore}: Received '{}'",
            String::from_utf8_lossy(&bytes[..end])
        );
        let _ = std::io::stdout().flush();
        // SAFETY: the object came from `pool` and is not used after this.
        unsafe { pool.put_bulk(&[obj]) };
    }
    0
}

fn send(text: &str, ring: &Ring<usize>, pool: &Mempool) {
    let mut obj = [std::ptr::null_mut::<u8>(); 1];
    if pool.get_bulk(&mut obj).is_err() {
        println!("Failed to get message buffer - message discarded");
        return;
    }
    let bytes = text.as_bytes();
    let n = bytes.len().min(STR_TOKEN_SIZE - 1);
    // SAFETY: the object has STR_TOKEN_SIZE bytes and is ours until enqueued.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), obj[0], n);
        *obj[0].add(n) = 0;
    }
    // SAFETY: a multi-producer ring.
    if unsafe { ring.enqueue_bulk(&[obj[0] as usize]) }.count == 0 {
        println!("Failed to send message - message discarded");
        // SAFETY: the object is from `pool` and was not enqueued.
        unsafe { pool.put_bulk(&obj) };
    }
}

fn main() {
    let (eal, _args) = rpdk_examples::init_eal_or_exit();
    let primary = rpdk_eal::process_type() == Some(ProcType::Primary);
    let (send_ring, recv_ring, pool) = if primary {
        let flags = RingFlags::empty();
        let send = Ring::<usize>::create(PRI_2_SEC, 64, None, flags);
        let recv = Ring::<usize>::create(SEC_2_PRI, 64, None, flags);
        let pool = Mempool::builder(MSG_POOL, 1024, STR_TOKEN_SIZE)
            .cache_size(32)
            .create();
        (send.ok(), recv.ok(), pool.ok())
    } else {
        (
            Ring::<usize>::lookup(SEC_2_PRI).ok(),
            Ring::<usize>::lookup(PRI_2_SEC).ok(),
            Mempool::lookup(MSG_POOL),
        )
    };
    let send_ring = send_ring.unwrap_or_else(|| fail("Problem getting sending ring"));
    let recv_ring = recv_ring.unwrap_or_else(|| fail("Problem getting receiving ring"));
    let pool = pool.unwrap_or_else(|| fail("Problem getting message pool"));
    log::info!(target: "user1", "Finished Process Init.");
    println!("APP: Finished Process Init.");

    for worker in eal.workers() {
        let (r, p) = (recv_ring.clone(), pool.clone());
        if let Err(e) = eal.remote_launch(worker, move || lcore_recv(r, p)) {
            fail(&format!("cannot launch on lcore {worker}: {e}"));
        }
    }

    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        print!("\nsimple_mp > ");
        let _ = std::io::stdout().flush();
        let Some(Ok(line)) = lines.next() else {
            break;
        };
        let line = line.trim();
        match line
            .split_once(' ')
            .map_or((line, ""), |(c, r)| (c, r.trim()))
        {
            ("send", text) if !text.is_empty() => send(text, &send_ring, &pool),
            ("help", _) => print!(
                "Simple demo example of multi-process in RTE\n\n\
                 This is a readline-like interface that can be used to\n\
                 send commands to the simple app. Commands supported are:\n\n\
                 - send [string]\n- help\n- quit\n\n"
            ),
            ("quit", _) => break,
            ("", _) => {}
            _ => println!("Bad arguments"),
        }
    }
    QUIT.store(true, Ordering::Release);
    eal.mp_wait_lcore();
}
