//! The datagram format of the IPC channel: a 20-byte header, the name and the parameter bytes
//! (the descriptors travel beside, as `SCM_RIGHTS`). Only rpdk processes of one version talk on
//! it, so it is rpdk's own, not DPDK's `struct mp_msg_internal`.

/// `RMP1`, little-endian.
const MAGIC: u32 = 0x3150_4d52;
const HEADER: usize = 20;

/// What a datagram is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A message that wants no answer (`rte_mp_sendmsg`).
    Msg = 0,
    /// A request that wants one reply from each peer.
    Req = 1,
    /// A reply to a request.
    Rep = 2,
    /// "No action of this name here": the requester stops waiting for this peer (DPDK's
    /// `MP_IGN`).
    Ign = 3,
    /// Wakes the receiving thread of this process (for a timeout or to stop it).
    Wake = 4,
}

/// A decoded datagram, before its descriptors are attached.
#[derive(Debug)]
pub struct Frame {
    pub kind: Kind,
    /// The request this answers, or the id a request carries.
    pub id: u64,
    pub name: String,
    pub param: Vec<u8>,
    /// How many descriptors the sender attached.
    pub num_fds: usize,
}

/// Largest datagram.
pub const MAX_FRAME: usize = HEADER + super::MAX_NAME_LEN + super::MAX_PARAM_LEN;

/// Encodes a datagram.
pub fn encode(kind: Kind, id: u64, name: &str, param: &[u8], num_fds: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + name.len() + param.len());
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.push(kind as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(&(param.len() as u16).to_le_bytes());
    out.extend_from_slice(&(num_fds as u16).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(param);
    out
}

/// Decodes a datagram, or says what is wrong with it.
pub fn decode(buf: &[u8]) -> Result<Frame, String> {
    if buf.len() < HEADER {
        return Err(format!("{} bytes, shorter than a header", buf.len()));
    }
    let u16_at = |i: usize| u16::from_le_bytes([buf[i], buf[i + 1]]);
    if u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes")) != MAGIC {
        return Err("not an rpdk IPC datagram (bad magic)".into());
    }
    let kind = match buf[4] {
        0 => Kind::Msg,
        1 => Kind::Req,
        2 => Kind::Rep,
        3 => Kind::Ign,
        4 => Kind::Wake,
        k => return Err(format!("unknown datagram type {k}")),
    };
    let name_len = buf[5] as usize;
    let param_len = u16_at(6) as usize;
    let num_fds = u16_at(8) as usize;
    let id = u64::from_le_bytes(buf[12..20].try_into().expect("8 bytes"));
    if name_len > super::MAX_NAME_LEN || param_len > super::MAX_PARAM_LEN {
        return Err(format!(
            "name of {name_len} or parameter of {param_len} bytes is too long"
        ));
    }
    if buf.len() != HEADER + name_len + param_len {
        return Err(format!(
            "{} bytes, but the header says {}",
            buf.len(),
            HEADER + name_len + param_len
        ));
    }
    let name = std::str::from_utf8(&buf[HEADER..HEADER + name_len])
        .map_err(|_| "the name is not UTF-8".to_string())?
        .to_string();
    Ok(Frame {
        kind,
        id,
        name,
        param: buf[HEADER + name_len..].to_vec(),
        num_fds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let b = encode(Kind::Req, 7, "mp_pdump", &[1, 2, 3], 2);
        let f = decode(&b).unwrap();
        assert_eq!((f.kind, f.id, f.name.as_str()), (Kind::Req, 7, "mp_pdump"));
        assert_eq!((f.param, f.num_fds), (vec![1, 2, 3], 2));
        assert!(decode(&b[..10]).unwrap_err().contains("shorter"));
        assert!(
            decode(&b[..b.len() - 1])
                .unwrap_err()
                .contains("header says")
        );
        let mut bad = b.clone();
        bad[0] ^= 1;
        assert!(decode(&bad).unwrap_err().contains("magic"));
        bad = b;
        bad[4] = 9;
        assert!(decode(&bad).unwrap_err().contains("type 9"));
    }
}
