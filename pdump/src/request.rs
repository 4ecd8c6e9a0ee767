//! The capture request between processes (DPDK's `struct pdump_request` and
//! `pdump_response` of the `mp_pdump` action), as bytes: names instead of pointers, so the
//! primary finds the secondary's ring and pool in shared memory by name.
//!
//! Request: `version u16, op u16, flags u32, queue u16, snaplen u32, target`, then the ring's
//! and the pool's names; a target is `0, port u16` or `1, name`; a name is `len u8, bytes`.
//! Reply: `version u16, op u16, status i32`, then on success the port's description (id, name,
//! kernel interface name, MAC, link speed in Mbit/s) and, for a disable, the port's own drops
//! per direction; on failure the error's text.

use crate::capture::{CaptureFlags, CaptureRequest, Target};
use crate::{Error, Result};

/// The IPC action's name (DPDK's `mp_pdump`).
pub const MP_ACTION: &str = "mp_pdump";

/// The wire format's version.
pub const VERSION: u16 = 1;

/// What a request asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Turn capture on.
    Enable(CaptureRequest),
    /// Turn capture off: port, queue, directions.
    Disable(Target, u16, CaptureFlags),
}

/// A port as the primary describes it in a reply, for the capture file's interface blocks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortDesc {
    /// Port id.
    pub id: u16,
    /// The port's (device's) name.
    pub name: String,
    /// Its kernel interface's name, if it has one.
    pub if_name: Option<String>,
    /// MAC address.
    pub mac: [u8; 6],
    /// Link speed in Mbit/s when up, else 0.
    pub speed_mbps: u32,
    /// Packets the port itself dropped on receive (`imissed + rx_nombuf`), at a disable.
    pub rx_drops: u64,
    /// Packets the port failed to send (`oerrors`), at a disable.
    pub tx_drops: u64,
}

const OP_DISABLE: u16 = 1;
const OP_ENABLE: u16 = 2;

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(Error::Request("truncated capture message".into()));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn name(&mut self) -> Result<String> {
        let n = self.u8()? as usize;
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| Error::Request("a name in a capture message is not UTF-8".into()))
    }
}

fn put_name(out: &mut Vec<u8>, s: &str) -> Result<()> {
    if s.len() > 255 {
        return Err(Error::Request(format!(
            "name '{s}' is longer than 255 bytes"
        )));
    }
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn put_target(out: &mut Vec<u8>, t: &Target) -> Result<()> {
    match t {
        Target::Port(p) => {
            out.push(0);
            out.extend_from_slice(&p.to_le_bytes());
        }
        Target::Device(d) => {
            out.push(1);
            put_name(out, d)?;
        }
    }
    Ok(())
}

fn target(r: &mut Reader<'_>) -> Result<Target> {
    match r.u8()? {
        0 => Ok(Target::Port(r.u16()?)),
        1 => Ok(Target::Device(r.name()?)),
        t => Err(Error::Request(format!("unknown capture target kind {t}"))),
    }
}

impl Op {
    /// The request's bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = VERSION.to_le_bytes().to_vec();
        match self {
            Op::Enable(r) => {
                out.extend_from_slice(&OP_ENABLE.to_le_bytes());
                out.extend_from_slice(&r.flags.0.to_le_bytes());
                out.extend_from_slice(&r.queue.to_le_bytes());
                out.extend_from_slice(&r.snaplen.to_le_bytes());
                put_target(&mut out, &r.target)?;
                put_name(&mut out, &r.ring)?;
                put_name(&mut out, &r.pool)?;
            }
            Op::Disable(t, q, f) => {
                out.extend_from_slice(&OP_DISABLE.to_le_bytes());
                out.extend_from_slice(&f.0.to_le_bytes());
                out.extend_from_slice(&q.to_le_bytes());
                out.extend_from_slice(&0u32.to_le_bytes());
                put_target(&mut out, t)?;
            }
        }
        Ok(out)
    }

    /// Reads a request.
    pub fn decode(b: &[u8]) -> Result<Op> {
        let mut r = Reader(b);
        let ver = r.u16()?;
        if ver != VERSION {
            return Err(Error::Request(format!(
                "capture request version {ver}, this process speaks {VERSION}"
            )));
        }
        let op = r.u16()?;
        let flags = CaptureFlags(r.u32()?);
        let queue = r.u16()?;
        let snaplen = r.u32()?;
        let target = target(&mut r)?;
        match op {
            OP_ENABLE => Ok(Op::Enable(CaptureRequest {
                target,
                queue,
                flags,
                snaplen,
                ring: r.name()?,
                pool: r.name()?,
            })),
            OP_DISABLE => Ok(Op::Disable(target, queue, flags)),
            o => Err(Error::Request(format!("unknown capture operation {o}"))),
        }
    }
}

/// Runs a request in this process (the primary's action): enables or disables, and describes
/// the port. Errors come back as their text.
pub fn handle(param: &[u8]) -> Vec<u8> {
    let (op, result) = match Op::decode(param) {
        Ok(op) => {
            let code = match op {
                Op::Enable(_) => OP_ENABLE,
                Op::Disable(..) => OP_DISABLE,
            };
            (code, run(&op))
        }
        Err(e) => (0, Err(e)),
    };
    let mut out = VERSION.to_le_bytes().to_vec();
    out.extend_from_slice(&op.to_le_bytes());
    match result {
        Ok(d) => {
            out.extend_from_slice(&0i32.to_le_bytes());
            out.extend_from_slice(&d.id.to_le_bytes());
            let _ = put_name(&mut out, &d.name);
            let _ = put_name(&mut out, d.if_name.as_deref().unwrap_or(""));
            out.extend_from_slice(&d.mac);
            out.extend_from_slice(&d.speed_mbps.to_le_bytes());
            out.extend_from_slice(&d.rx_drops.to_le_bytes());
            out.extend_from_slice(&d.tx_drops.to_le_bytes());
        }
        Err(e) => {
            out.extend_from_slice(&(-libc::EINVAL).to_le_bytes());
            let text = e.to_string();
            let text = &text.as_bytes()[..text.len().min(200)];
            out.extend_from_slice(text);
        }
    }
    out
}

fn run(op: &Op) -> Result<PortDesc> {
    let port = match op {
        Op::Enable(r) => {
            crate::capture::enable(r)?;
            r.target.port()?
        }
        Op::Disable(t, q, f) => {
            crate::capture::disable(t, *q, *f)?;
            t.port()?
        }
    };
    let info = port.info();
    let link = port.link();
    let st = port.stats();
    Ok(PortDesc {
        id: port.id(),
        name: port.name().to_string(),
        if_name: info.if_index.and_then(crate::sink::kernel_if_name),
        mac: port.mac_addr().0,
        speed_mbps: if link.up { link.speed } else { 0 },
        rx_drops: st.imissed + st.rx_nombuf,
        tx_drops: st.oerrors,
    })
}

/// Whether this process is a secondary (its captures go through the primary).
fn is_secondary() -> bool {
    rpdk_eal::process_type() == Some(rpdk_eal::options::ProcType::Secondary)
}

/// How long a secondary waits for the primary's answer (DPDK's `MP_TIMEOUT_S`, 5 s).
pub const MP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Carries out `op` where the ports are (DPDK's `pdump_prepare_client_request`): in the
/// primary, at once; in a secondary, by asking the primary over IPC ([`MP_ACTION`]) and
/// waiting for its answer. Returns the port's description.
pub fn send(op: &Op) -> Result<PortDesc> {
    if !is_secondary() {
        return run(op);
    }
    use rpdk_eal::mp::{self, Message};
    let msg = Message::new(MP_ACTION, &op.encode()?);
    let reply = mp::request_sync(&msg, MP_TIMEOUT)
        .map_err(|e| Error::Request(format!("asking the primary to capture: {e}")))?;
    match reply.msgs.first() {
        Some(m) => decode_reply(&m.param),
        None => Err(Error::Request(
            "the primary does not accept captures (it did not call rpdk_pdump::init)".into(),
        )),
    }
}

/// Registers the primary's [`MP_ACTION`] (once; later calls do nothing).
pub(crate) fn register() -> Result<()> {
    use rpdk_eal::mp::{self, Message};
    static DONE: std::sync::Once = std::sync::Once::new();
    let mut res = Ok(());
    DONE.call_once(|| {
        res = mp::action_register(MP_ACTION, |msg, peer| {
            mp::reply(&Message::new(MP_ACTION, &handle(&msg.param)), peer)
        })
        .map_err(|e| Error::Request(format!("registering {MP_ACTION}: {e}")));
    });
    res
}

/// Reads a reply: the port's description, or the primary's error.
pub fn decode_reply(b: &[u8]) -> Result<PortDesc> {
    let mut r = Reader(b);
    let _ver = r.u16()?;
    let _op = r.u16()?;
    let status = r.u32()? as i32;
    if status != 0 {
        return Err(Error::Request(format!(
            "the primary refused: {}",
            String::from_utf8_lossy(r.0)
        )));
    }
    let id = r.u16()?;
    let name = r.name()?;
    let if_name = Some(r.name()?).filter(|s| !s.is_empty());
    let mac = r.take(6)?.try_into().expect("6 bytes");
    Ok(PortDesc {
        id,
        name,
        if_name,
        mac,
        speed_mbps: r.u32()?,
        rx_drops: r.u64()?,
        tx_drops: r.u64()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let ops = [
            Op::Enable(CaptureRequest {
                target: Target::Device("net_af_packet0".into()),
                queue: crate::ALL_QUEUES,
                flags: CaptureFlags::RXTX,
                ring: "rx_ring_0".into(),
                pool: "pdump_pool_0".into(),
                snaplen: 128,
            }),
            Op::Disable(Target::Port(3), 1, CaptureFlags::TX),
        ];
        for op in ops {
            let b = op.encode().unwrap();
            assert!(b.len() <= 256, "fits an IPC message");
            assert_eq!(Op::decode(&b).unwrap(), op);
            assert!(Op::decode(&b[..b.len() - 1]).is_err());
        }
        let mut bad = Op::Disable(Target::Port(0), 0, CaptureFlags::RX)
            .encode()
            .unwrap();
        bad[0] = 9;
        assert!(
            Op::decode(&bad)
                .unwrap_err()
                .to_string()
                .contains("version 9")
        );
    }

    #[test]
    fn an_error_comes_back_as_text() {
        let r = handle(&[1, 0, 7]);
        let e = decode_reply(&r).unwrap_err().to_string();
        assert!(e.contains("the primary refused: truncated"), "{e}");
    }
}
