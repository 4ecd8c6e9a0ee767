//! Packet-modifying actions: what a rule changes in a packet's bytes.
//!
//! The engine runs a rule's actions in order; an [`Edit`] step stops the step loop, the edit
//! is applied to the packet ([`Frame::apply`]), the packet's layers are parsed again, and the
//! loop goes on with the rule's next step. So the actions after an edit, and the rules of the
//! groups a JUMP leads to, see the packet as the edit left it (a decapsulated packet's inner
//! headers, a rewritten address), as a NIC's pipeline does.
//!
//! An edit that the packet cannot take (too short for what it removes, no headroom for what it
//! adds, headers past the first segment) drops the packet, counted in
//! [`crate::FlowTable::edit_drops`]. An edit that needs nothing of the packet's bytes
//! (SET_META, SET_TAG) is not an `Edit`: the engine runs it in place.

use crate::packet::Meta;
use crate::rewrite::Rewrite;
use rpdk_mbuf::net::get_ptype;
use rpdk_mbuf::{Mbuf, OlFlags, PacketType};

/// A packet-modifying action, as the engine runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Edit {
    /// OF_POP_VLAN: removes the outermost VLAN tag (802.1Q or 802.1ad): the one the driver
    /// stripped when there is one (it was outermost on the wire), else the data's outermost.
    PopVlan,
    /// RAW_DECAP, RAW_ENCAP, VXLAN_DECAP/ENCAP, NVGRE_DECAP/ENCAP (`crate::tunnel`): they set
    /// the packet type (when one was set) and the header lengths themselves.
    Tunnel(Box<crate::tunnel::Tunnel>),
    /// A header rewrite or VLAN action other than OF_POP_VLAN (`crate::rewrite`).
    Rewrite(Rewrite),
}

/// Why an edit could not be applied: the packet is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EditFailed;

/// What the engine runs a packet's steps on: its bytes, and a way to change them.
pub(crate) trait Frame {
    /// The packet's bytes (an mbuf's first segment).
    fn bytes(&self) -> &[u8];

    /// The packet's length in bytes (all segments), for COUNT and meters.
    fn len(&self) -> u64;

    /// Applies `e`; on success the caller parses the packet again.
    fn apply(&mut self, e: &Edit, meta: &mut Meta) -> Result<(), EditFailed>;
}

impl Frame for Mbuf {
    #[inline]
    fn bytes(&self) -> &[u8] {
        self.data()
    }

    #[inline]
    fn len(&self) -> u64 {
        self.pkt_len() as u64
    }

    fn apply(&mut self, e: &Edit, meta: &mut Meta) -> Result<(), EditFailed> {
        match e {
            Edit::PopVlan => pop_vlan(self)?,
            Edit::Tunnel(t) => return t.apply(self).map_err(|_| EditFailed),
            Edit::Rewrite(r) => r.apply(self, meta).map_err(|_| EditFailed)?,
        }
        // The packet type the driver or the stage gave describes the old headers.
        if self.packet_type() != PacketType::UNKNOWN {
            let (pt, _) = get_ptype(self.data(), PacketType::ALL_MASK);
            self.set_packet_type(pt);
        }
        Ok(())
    }
}

/// A frame that cannot be changed ([`crate::FlowTable::classify_frame`]): edits are skipped,
/// the steps after them see the frame as it is.
pub(crate) struct ReadOnly<'a>(pub &'a [u8]);

impl Frame for ReadOnly<'_> {
    #[inline]
    fn bytes(&self) -> &[u8] {
        self.0
    }

    #[inline]
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn apply(&mut self, _: &Edit, _: &mut Meta) -> Result<(), EditFailed> {
        Ok(())
    }
}

/// The TPIDs of the VLAN tags OF_POP_VLAN removes.
const TPIDS: [u16; 3] = [0x8100, 0x88a8, 0x9100];

/// OF_POP_VLAN removes exactly one tag, the outermost one on the wire. A tag the driver
/// stripped (`RTE_MBUF_F_RX_VLAN_STRIPPED`, `vlan_tci`; `RTE_MBUF_F_RX_QINQ_STRIPPED`,
/// `vlan_tci_outer`) came off the front of the frame, so it was outside any tag still in the
/// data:
///
/// - QINQ_STRIPPED: the outer tag (`vlan_tci_outer`) goes; RX_QINQ, QINQ_STRIPPED and
///   `vlan_tci_outer` are cleared, the inner tag stays as the flags describe it (stripped into
///   `vlan_tci`, or in the data).
/// - VLAN_STRIPPED (without QINQ_STRIPPED): the stripped tag goes; RX_VLAN, VLAN_STRIPPED and
///   `vlan_tci` are cleared, the data is not touched (a tag in it stays).
/// - Otherwise the data's outermost tag goes, and the flags that described it: with RX_QINQ
///   (both tags in the data), RX_QINQ and `vlan_tci_outer`, while RX_VLAN and `vlan_tci` go on
///   describing the tag that is now outermost; with RX_VLAN only, RX_VLAN and `vlan_tci`.
///
/// A packet without a tag goes on unchanged.
fn pop_vlan(m: &mut Mbuf) -> Result<(), EditFailed> {
    let f = m.ol_flags();
    if f.contains(OlFlags::RX_QINQ_STRIPPED) {
        m.set_ol_flags(f & !(OlFlags::RX_QINQ | OlFlags::RX_QINQ_STRIPPED));
        m.set_vlan_tci_outer(0);
        return Ok(());
    }
    if f.contains(OlFlags::RX_VLAN_STRIPPED) {
        m.set_ol_flags(f & !(OlFlags::RX_VLAN | OlFlags::RX_VLAN_STRIPPED | OlFlags::RX_QINQ));
        m.set_vlan_tci(0);
        return Ok(());
    }
    let d = m.data();
    if d.len() < 18 || !TPIDS.contains(&u16::from_be_bytes([d[12], d[13]])) {
        return Ok(());
    }
    let d = m.data_mut().map_err(|_| EditFailed)?;
    // The MAC addresses move over the tag: 12 bytes, then the tag's 4 go from the front.
    d.copy_within(0..12, 4);
    m.adj(4).map_err(|_| EditFailed)?;
    if f.contains(OlFlags::RX_QINQ) {
        m.set_ol_flags(f & !OlFlags::RX_QINQ);
        m.set_vlan_tci_outer(0);
    } else if f.contains(OlFlags::RX_VLAN) {
        m.set_ol_flags(f & !OlFlags::RX_VLAN);
        m.set_vlan_tci(0);
    }
    Ok(())
}
