//! Colours, and the input colour a meter starts from (DPDK's `enum rte_color`,
//! `enum rte_mtr_color_in_protocol` and the DSCP and VLAN tables of `struct rte_mtr_params`).

use crate::packet::{Layer, Layers};

/// A packet's colour (`enum rte_color`, same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum Color {
    /// Within the committed rate.
    #[default]
    Green = 0,
    /// Above the committed rate, within the excess or peak one.
    Yellow = 1,
    /// Above every rate.
    Red = 2,
}

impl Color {
    /// The three colours, in DPDK's order (the index of `n_pkts[]` and policy actions).
    pub const ALL: [Color; 3] = [Color::Green, Color::Yellow, Color::Red];

    /// testpmd's name of the colour (`green`, `yellow`, `red`).
    pub fn name(self) -> &'static str {
        match self {
            Color::Green => "green",
            Color::Yellow => "yellow",
            Color::Red => "red",
        }
    }

    /// The colour of a testpmd name (`G`/`Y`/`R` as in its tables, or the whole word).
    pub fn parse(s: &str) -> Option<Color> {
        match s.to_ascii_lowercase().as_str() {
            "g" | "green" => Some(Color::Green),
            "y" | "yellow" => Some(Color::Yellow),
            "r" | "red" => Some(Color::Red),
            _ => None,
        }
    }

    pub(crate) fn from_u8(v: u8) -> Color {
        match v {
            0 => Color::Green,
            1 => Color::Yellow,
            _ => Color::Red,
        }
    }
}

/// Where a colour-aware meter reads a packet's input colour (`RTE_MTR_COLOR_IN_PROTO_*`, same
/// bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum ColorInProto {
    /// The outermost VLAN tag's PCP and DEI, through the VLAN table.
    OuterVlan = 1 << 0,
    /// The first VLAN tag inside a tunnel, through the VLAN table.
    InnerVlan = 1 << 1,
    /// The outer IPv4/IPv6 header's DSCP, through the DSCP table.
    OuterIp = 1 << 2,
    /// The inner IPv4/IPv6 header's DSCP, through the DSCP table.
    InnerIp = 1 << 3,
}

impl ColorInProto {
    /// The four protocols, lowest bit first.
    pub const ALL: [ColorInProto; 4] = [
        ColorInProto::OuterVlan,
        ColorInProto::InnerVlan,
        ColorInProto::OuterIp,
        ColorInProto::InnerIp,
    ];

    /// The protocol's bit.
    pub fn bit(self) -> u64 {
        self as u64
    }

    pub(crate) fn index(self) -> usize {
        self.bit().trailing_zeros() as usize
    }
}

/// What a packet offers a colour-aware meter: its VLAN TCIs and DSCPs, outside and inside a
/// tunnel, and the colour an earlier meter of the same rule gave it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ColorInputs {
    /// The outermost VLAN tag's TCI.
    pub outer_vlan: Option<u16>,
    /// The first VLAN tag's TCI inside a tunnel.
    pub inner_vlan: Option<u16>,
    /// The outer IP header's DSCP (0-63).
    pub outer_dscp: Option<u8>,
    /// The inner IP header's DSCP (0-63).
    pub inner_dscp: Option<u8>,
    /// The colour of the previous meter in the rule.
    pub prev: Option<Color>,
}

impl ColorInputs {
    /// Reads the tags and DSCPs of a parsed packet.
    ///
    /// ```
    /// use rpdk_flow::Layers;
    /// use rpdk_flow::meter::ColorInputs;
    ///
    /// // Ethernet, a VLAN tag with PCP 1, DEI 1 and VID 100 (TCI 0x3064), IPv4 with DSCP 46.
    /// let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x30, 0x64, 0x08, 0x00];
    /// frame.extend([0x45, 46 << 2, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    /// let inputs = ColorInputs::from_layers(&Layers::parse(&frame));
    /// assert_eq!(inputs.outer_vlan, Some(0x3064));
    /// assert_eq!(inputs.outer_dscp, Some(46));
    /// assert_eq!(inputs.inner_vlan, None);
    /// ```
    pub fn from_layers(layers: &Layers<'_>) -> ColorInputs {
        let mut c = ColorInputs::default();
        for i in 0..layers.len() {
            let inner = i >= layers.outer_end;
            let h = layers.header(i);
            match layers.kind(i) {
                Layer::Vlan => {
                    let slot = if inner {
                        &mut c.inner_vlan
                    } else {
                        &mut c.outer_vlan
                    };
                    slot.get_or_insert(u16::from_be_bytes([h[0], h[1]]));
                }
                Layer::Ipv4 => {
                    let slot = if inner {
                        &mut c.inner_dscp
                    } else {
                        &mut c.outer_dscp
                    };
                    slot.get_or_insert(h[1] >> 2);
                }
                Layer::Ipv6 => {
                    let slot = if inner {
                        &mut c.inner_dscp
                    } else {
                        &mut c.outer_dscp
                    };
                    let tc = (h[0] & 0x0f) << 4 | h[1] >> 4;
                    slot.get_or_insert(tc >> 2);
                }
                _ => {}
            }
        }
        c
    }

    pub(crate) fn vlan(&self, inner: bool) -> Option<u16> {
        if inner {
            self.inner_vlan
        } else {
            self.outer_vlan
        }
    }

    pub(crate) fn dscp(&self, inner: bool) -> Option<u8> {
        if inner {
            self.inner_dscp
        } else {
            self.outer_dscp
        }
    }
}
