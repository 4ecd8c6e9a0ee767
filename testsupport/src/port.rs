//! [`PortFixture`]: the EAL, a pktmbuf pool and every `--vdev` port configured and started, as
//! the driver tests need them, with the teardown in `Drop`: every port stopped and closed, then
//! the pool checked for leaks (every mbuf back, audit clean) and freed, then the EAL cleaned up.
//!
//! ```no_run
//! use rpdk_mbuf::MbufBurst;
//! use rpdk_testsupport::port::{PortFixture, PortSetup};
//!
//! let f = PortFixture::new("null-test", &["net_null0"], &PortSetup::default()).unwrap();
//! let mut rxq = f.port(0).rx_queue(0).unwrap();
//! let mut burst = MbufBurst::<32>::new();
//! assert_eq!(rxq.rx_burst(&mut burst), 32);
//! // Queue handles and mbufs go before the fixture: it checks that they all came back.
//! drop((burst, rxq));
//! ```

use std::time::{Duration, Instant};

use rpdk_eal::Eal;
use rpdk_ethdev::{EthConf, Port, RxConf, RxQueue, TxConf, TxQueue};
use rpdk_mbuf::{MBUF_DEFAULT_BUF_SIZE, MbufBurst, PktmbufPool};

/// How each port of a [`PortFixture`] is set up.
#[derive(Clone, Debug)]
pub struct PortSetup {
    /// RX queues per port.
    pub rxq: u16,
    /// TX queues per port.
    pub txq: u16,
    /// Descriptors per queue (0: the driver's default).
    pub nb_desc: u16,
    /// The port configuration.
    pub conf: EthConf,
    /// RX queue configuration.
    pub rx_conf: RxConf,
    /// Mbufs in the pool.
    pub pool_size: u32,
    /// The pool's per-lcore cache.
    pub cache: u32,
    /// Buffer size of the pool's mbufs, headroom included.
    pub data_room: u16,
    /// Whether the ports are started (false: configured and set up only).
    pub start: bool,
}

impl Default for PortSetup {
    /// One queue pair of the driver's default size, a pool of 4096 mbufs without a cache, the
    /// default buffer size, started.
    fn default() -> PortSetup {
        PortSetup {
            rxq: 1,
            txq: 1,
            nb_desc: 0,
            conf: EthConf::default(),
            rx_conf: RxConf::default(),
            pool_size: 4096,
            cache: 0,
            data_room: MBUF_DEFAULT_BUF_SIZE,
            start: true,
        }
    }
}

impl PortSetup {
    /// `n` RX and `n` TX queues, the rest as [`PortSetup::default`].
    pub fn queues(n: u16) -> PortSetup {
        PortSetup {
            rxq: n,
            txq: n,
            ..PortSetup::default()
        }
    }
}

/// The EAL with its ports set up and a pool; everything is checked and released on drop.
pub struct PortFixture {
    ports: Vec<Port>,
    pool: Option<PktmbufPool>,
    // Dropped last, after `Drop::drop` closed the ports and freed the pool.
    eal: Option<Eal>,
}

impl PortFixture {
    /// Initialises the EAL for program `name` with `vdevs` (one lcore, no hugepages: see
    /// [`crate::eal_args`]), makes a pool `<name>_pool` and sets up every port as `setup` says.
    pub fn new(name: &str, vdevs: &[&str], setup: &PortSetup) -> Result<PortFixture, String> {
        Self::with_eal_args(crate::eal_args(name, vdevs), setup)
    }

    /// As [`new`](Self::new), with the whole EAL argument vector (the program name first).
    pub fn with_eal_args(args: Vec<String>, setup: &PortSetup) -> Result<PortFixture, String> {
        let name = args.first().cloned().unwrap_or_default();
        let (eal, _) = rpdk_eal::init(args).map_err(|e| format!("EAL init: {e}"))?;
        let mut f = PortFixture {
            ports: Vec::new(),
            pool: None,
            eal: Some(eal),
        };
        let pool = PktmbufPool::create(
            &format!("{name}_pool"),
            setup.pool_size,
            setup.cache,
            0,
            setup.data_room,
            None,
        )
        .map_err(|e| format!("pool: {e}"))?;
        f.pool = Some(pool.clone());
        for id in rpdk_ethdev::ports() {
            let port = Port::get(id).map_err(|e| e.to_string())?;
            f.ports.push(port.clone());
            Self::set_up(&port, &pool, setup).map_err(|e| format!("port {id}: {e}"))?;
        }
        Ok(f)
    }

    fn set_up(port: &Port, pool: &PktmbufPool, s: &PortSetup) -> rpdk_ethdev::Result<()> {
        port.configure(s.rxq, s.txq, &s.conf)?;
        for q in 0..s.rxq {
            port.rx_queue_setup(q, s.nb_desc, None, &s.rx_conf, pool)?;
        }
        for q in 0..s.txq {
            port.tx_queue_setup(q, s.nb_desc, None, &TxConf::default())?;
        }
        if s.start {
            port.start()?;
        }
        Ok(())
    }

    /// The EAL.
    pub fn eal(&self) -> &Eal {
        self.eal.as_ref().expect("held until drop")
    }

    /// The pool every RX queue takes its mbufs from.
    pub fn pool(&self) -> &PktmbufPool {
        self.pool.as_ref().expect("held until drop")
    }

    /// The `i`-th port (in port id order).
    pub fn port(&self, i: usize) -> &Port {
        &self.ports[i]
    }

    /// Every port, in port id order.
    pub fn ports(&self) -> &[Port] {
        &self.ports
    }
}

impl Drop for PortFixture {
    /// Stops and closes every port still open, checks that every mbuf came back to the pool
    /// and that the pool audits clean (a failure of the test otherwise, unless it is already
    /// failing), frees the pool, and cleans up the EAL.
    fn drop(&mut self) {
        let mut problems = Vec::new();
        for p in &self.ports {
            if Port::get(p.id()).is_err() {
                continue; // closed by the test
            }
            if let Err(e) = p.stop().and_then(|()| p.close()) {
                problems.push(format!("closing port {}: {e}", p.id()));
            }
        }
        if let Some(pool) = self.pool.take() {
            if pool.in_use_count() != 0 {
                problems.push(format!(
                    "{} mbufs of the pool were not given back",
                    pool.in_use_count()
                ));
            }
            if let Err(e) = pool.audit() {
                problems.push(format!("pool audit: {e}"));
            }
            pool.free();
        }
        drop(self.eal.take());
        if !problems.is_empty() && !std::thread::panicking() {
            panic!("port fixture teardown: {}", problems.join("; "));
        }
    }
}

/// Sends `frames` on `txq` in bursts of up to 32 mbufs of `pool`, retrying what the queue did
/// not take, for at most `wait` (a test failure past it).
pub fn send_frames(txq: &mut TxQueue, pool: &PktmbufPool, frames: &[Vec<u8>], wait: Duration) {
    let deadline = Instant::now() + wait;
    let mut burst = MbufBurst::<32>::new();
    let mut next = 0;
    while next < frames.len() || !burst.is_empty() {
        assert!(Instant::now() < deadline, "sending timed out at {next}");
        while next < frames.len() && !burst.is_full() {
            let mut m = pool.alloc().expect("the test's pool has room");
            assert_eq!(
                m.fill_from(&frames[next]),
                frames[next].len(),
                "frame too long"
            );
            burst.push(m).expect("the burst has room");
            next += 1;
        }
        if txq.tx_burst(&mut burst) == 0 {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

/// Receives on `queues` until `n` frames came or `wait` passed, then watches `quiet` longer
/// for extra ones (which a test must see to fail on them). Each frame comes with the index of
/// its queue in `queues`.
pub fn receive_frames(
    queues: &mut [RxQueue],
    n: usize,
    wait: Duration,
    quiet: Duration,
) -> Vec<(usize, Vec<u8>)> {
    let mut got = Vec::new();
    let mut burst = MbufBurst::<32>::new();
    let deadline = Instant::now() + wait;
    let mut quiet_until = None;
    loop {
        let now = Instant::now();
        if got.len() >= n && quiet_until.is_none() {
            quiet_until = Some(now + quiet);
        }
        if now > deadline || quiet_until.is_some_and(|q| now > q) {
            return got;
        }
        let mut idle = true;
        for (q, rxq) in queues.iter_mut().enumerate() {
            if rxq.rx_burst(&mut burst) > 0 {
                idle = false;
                got.extend(burst.iter().map(|m| (q, m.data().to_vec())));
                burst.clear();
            }
        }
        if idle {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}
