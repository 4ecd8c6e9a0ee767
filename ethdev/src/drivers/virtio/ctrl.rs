//! The virtio-net control virtqueue (virtio spec v1.2 §5.1.6.5): one command at a time, a
//! chain of three descriptors (class and command, the command's data, the device's ack),
//! waited for by polling the used ring.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::virtqueue::{DESC_F_NEXT, DESC_F_WRITE, Notifier, QueueShared};

/// Command classes and commands (§5.1.6.5.1, .2, .5).
pub const CLASS_RX: u8 = 0;
pub const RX_PROMISC: u8 = 0;
pub const RX_ALLMULTI: u8 = 1;
pub const CLASS_MAC: u8 = 1;
pub const MAC_ADDR_SET: u8 = 1;
pub const CLASS_MQ: u8 = 4;
pub const MQ_VQ_PAIRS_SET: u8 = 0;
/// The device's answer (§5.1.6.5).
const OK: u8 = 0;

/// Where the command's parts lie in the ring's extra area.
const HDR_AT: usize = 0;
const DATA_AT: usize = 64;
const ACK_AT: usize = 192;
/// The longest command data.
pub const MAX_DATA: usize = 128;
/// The extra area the control ring needs.
pub const EXTRA: usize = 256;

const TIMEOUT: Duration = Duration::from_secs(2);

pub struct CtrlQueue {
    pub q: Arc<QueueShared>,
    pub notifier: Notifier,
    pub avail_idx: u16,
    pub last_used: u16,
    pub commands: u64,
}

impl CtrlQueue {
    /// After a device (re)start: from index 0.
    pub fn restart(&mut self) {
        self.avail_idx = 0;
        self.last_used = 0;
    }

    /// Sends one command and waits for the device's ack.
    pub fn command(&mut self, class: u8, cmd: u8, data: &[u8]) -> Result<(), String> {
        assert!(data.len() <= MAX_DATA);
        let ring = &self.q.ring;
        let mem = ring.mem();
        let x = ring.extra();
        mem.write_bytes(x + HDR_AT, &[class, cmd]);
        mem.write_bytes(x + DATA_AT, data);
        mem.write_bytes(x + ACK_AT, &[0xff]);
        ring.write_desc(0, ring.extra_iova(HDR_AT), 2, DESC_F_NEXT, 1);
        ring.write_desc(
            1,
            ring.extra_iova(DATA_AT),
            data.len() as u32,
            DESC_F_NEXT,
            2,
        );
        ring.write_desc(2, ring.extra_iova(ACK_AT), 1, DESC_F_WRITE, 0);
        ring.set_avail(self.avail_idx, 0);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        ring.publish(self.avail_idx);
        self.notifier.notify(&self.q);
        self.commands += 1;
        let deadline = Instant::now() + TIMEOUT;
        while ring.used_idx() == self.last_used {
            if Instant::now() > deadline {
                return Err(format!(
                    "the device did not answer control command {class}.{cmd} within {TIMEOUT:?}"
                ));
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        self.last_used = self.last_used.wrapping_add(1);
        let mut ack = [0u8];
        mem.read_bytes(x + ACK_AT, &mut ack);
        if ack[0] != OK {
            return Err(format!(
                "the device refused control command {class}.{cmd} (ack {})",
                ack[0]
            ));
        }
        Ok(())
    }
}
