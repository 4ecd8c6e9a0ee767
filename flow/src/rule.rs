//! A flow rule and its typed builder.

use crate::action::{Action, Attr};
use crate::item::{Item, ItemType, field_max, set_field};
use rpdk_mbuf::net::MacAddr;
use std::marker::PhantomData;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A rule: attributes, a pattern (END implicit) and actions (END implicit), as the three
/// arguments of `rte_flow_create`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct FlowRule {
    /// Group, priority, direction.
    pub attr: Attr,
    /// The items, lowest layer first.
    pub pattern: Vec<Item>,
    /// The actions, run in order.
    pub actions: Vec<Action>,
}

impl FlowRule {
    /// An ingress rule in group 0 at priority 0 with an empty pattern (matches every packet) and
    /// no actions.
    pub fn ingress() -> FlowRule {
        FlowRule {
            attr: Attr {
                ingress: true,
                ..Attr::default()
            },
            ..FlowRule::default()
        }
    }

    /// An egress rule.
    pub fn egress() -> FlowRule {
        FlowRule {
            attr: Attr {
                egress: true,
                ..Attr::default()
            },
            ..FlowRule::default()
        }
    }

    /// A transfer rule.
    pub fn transfer() -> FlowRule {
        FlowRule {
            attr: Attr {
                transfer: true,
                ..Attr::default()
            },
            ..FlowRule::default()
        }
    }

    /// Sets the group.
    pub fn group(mut self, group: u32) -> FlowRule {
        self.attr.group = group;
        self
    }

    /// Sets the priority (0 is the highest).
    pub fn priority(mut self, priority: u32) -> FlowRule {
        self.attr.priority = priority;
        self
    }

    /// Appends an item.
    pub fn item(mut self, item: impl Into<Item>) -> FlowRule {
        self.pattern.push(item.into());
        self
    }

    /// Appends an action.
    pub fn action(mut self, action: Action) -> FlowRule {
        self.actions.push(action);
        self
    }
}

/// A value a field takes: integers, addresses, flags.
pub trait FieldValue: Copy {
    /// The value as an unsigned integer, the field's bits at the bottom.
    fn to_bits(self) -> u128;
}

macro_rules! uint_value {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn to_bits(self) -> u128 {
                self as u128
            }
        }
    )*};
}
uint_value!(u8, u16, u32, u64);

impl FieldValue for i32 {
    fn to_bits(self) -> u128 {
        self as u32 as u128
    }
}

impl FieldValue for bool {
    fn to_bits(self) -> u128 {
        self as u128
    }
}

impl FieldValue for MacAddr {
    fn to_bits(self) -> u128 {
        self.0.iter().fold(0, |v, &b| (v << 8) | b as u128)
    }
}

impl FieldValue for Ipv4Addr {
    fn to_bits(self) -> u128 {
        u32::from(self) as u128
    }
}

impl FieldValue for Ipv6Addr {
    fn to_bits(self) -> u128 {
        u128::from(self)
    }
}

/// A field of item type `I` holding values of type `T` (`ipv4::DST`, `udp::SRC`, ...).
pub struct FieldRef<I, T> {
    name: &'static str,
    _p: PhantomData<(I, T)>,
}

impl<I, T> Clone for FieldRef<I, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<I, T> Copy for FieldRef<I, T> {}

impl<I, T> FieldRef<I, T> {
    const fn new(name: &'static str) -> Self {
        FieldRef {
            name,
            _p: PhantomData,
        }
    }
}

/// An item type known at compile time, for the typed builder.
pub trait TypedItem {
    /// Its type.
    const TYPE: ItemType;
}

/// An item under construction whose fields are checked at compile time: `Pattern::<ipv4::Ipv4>`
/// takes `ipv4::` fields only.
#[derive(Clone, Debug)]
pub struct ItemBuilder<I> {
    item: Item,
    _p: PhantomData<I>,
}

#[derive(Clone, Copy)]
enum Part {
    Spec,
    Last,
    Mask,
}

impl<I: TypedItem> ItemBuilder<I> {
    /// An item of type `I` matching any such layer.
    pub fn new() -> Self {
        ItemBuilder {
            item: Item::new(I::TYPE),
            _p: PhantomData,
        }
    }

    fn put(mut self, part: Part, name: &str, value: u128) -> Self {
        let ty = I::TYPE;
        let fl = ty.field(name).expect("typed fields exist in the table");
        let len = ty.spec_len();
        let slot = match part {
            Part::Spec => &mut self.item.spec,
            Part::Last => &mut self.item.last,
            Part::Mask => &mut self.item.mask,
        };
        let block = slot.get_or_insert_with(|| vec![0; len]);
        set_field(block, fl, value & field_max(fl));
        self
    }

    /// `field is value`: matches the field exactly (spec, and the whole field in the mask).
    pub fn is<T: FieldValue>(self, field: FieldRef<I, T>, value: T) -> Self {
        self.put(Part::Spec, field.name, value.to_bits())
            .put(Part::Mask, field.name, u128::MAX)
    }

    /// `field spec value`: sets the spec only (the mask stays the default unless set).
    pub fn spec<T: FieldValue>(self, field: FieldRef<I, T>, value: T) -> Self {
        self.put(Part::Spec, field.name, value.to_bits())
    }

    /// `field last value`: the top of a range starting at the spec.
    pub fn last<T: FieldValue>(self, field: FieldRef<I, T>, value: T) -> Self {
        self.put(Part::Last, field.name, value.to_bits())
    }

    /// `field mask value`.
    pub fn mask<T: FieldValue>(self, field: FieldRef<I, T>, value: T) -> Self {
        self.put(Part::Mask, field.name, value.to_bits())
    }

    /// `field spec value field prefix len`: the top `len` bits of the field.
    pub fn prefix<T: FieldValue>(self, field: FieldRef<I, T>, value: T, len: u32) -> Self {
        let fl = I::TYPE
            .field(field.name)
            .expect("typed fields exist in the table");
        let width = 128 - field_max(fl).leading_zeros();
        let len = len.min(width);
        let mask = if len == 0 {
            0
        } else {
            (field_max(fl) >> (width - len)) << (width - len)
        };
        self.put(Part::Spec, field.name, value.to_bits())
            .put(Part::Mask, field.name, mask)
    }

    /// `field spec lo field last hi`: a range (whole field in the mask).
    pub fn range<T: FieldValue>(self, field: FieldRef<I, T>, lo: T, hi: T) -> Self {
        self.is(field, lo).last(field, hi)
    }

    /// The item.
    pub fn build(self) -> Item {
        self.item
    }
}

impl<I: TypedItem> Default for ItemBuilder<I> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I> From<ItemBuilder<I>> for Item {
    fn from(b: ItemBuilder<I>) -> Item {
        b.item
    }
}

macro_rules! typed_items {
    ($( $(#[$doc:meta])* $module:ident :: $marker:ident = $ty:expr, { $( $konst:ident : $vt:ty = $name:literal ),* } )*) => {$(
        $(#[$doc])*
        pub mod $module {
            use super::*;
            /// The item type marker.
            #[derive(Clone, Copy, Debug)]
            pub struct $marker;
            impl TypedItem for $marker {
                const TYPE: ItemType = $ty;
            }
            $(
                #[doc = concat!("testpmd's `", $name, "`.")]
                pub const $konst: FieldRef<$marker, $vt> = FieldRef::new($name);
            )*
            /// A new item of this type.
            pub fn item() -> ItemBuilder<$marker> {
                ItemBuilder::new()
            }
        }
    )*};
}

typed_items! {
    /// Ethernet fields.
    eth::Eth = ItemType::Eth, { DST: MacAddr = "dst", SRC: MacAddr = "src", TYPE: u16 = "type" }
    /// VLAN fields.
    vlan::Vlan = ItemType::Vlan, {
        TCI: u16 = "tci", PCP: u8 = "pcp", DEI: u8 = "dei", VID: u16 = "vid",
        INNER_TYPE: u16 = "inner_type"
    }
    /// IPv4 fields.
    ipv4::Ipv4 = ItemType::Ipv4, {
        VERSION_IHL: u8 = "version_ihl", TOS: u8 = "tos", PACKET_ID: u16 = "packet_id",
        FRAGMENT_OFFSET: u16 = "fragment_offset", TTL: u8 = "ttl", PROTO: u8 = "proto",
        SRC: Ipv4Addr = "src", DST: Ipv4Addr = "dst"
    }
    /// IPv6 fields.
    ipv6::Ipv6 = ItemType::Ipv6, {
        TC: u8 = "tc", FLOW: u32 = "flow", PROTO: u8 = "proto", HOP: u8 = "hop",
        SRC: Ipv6Addr = "src", DST: Ipv6Addr = "dst"
    }
    /// ICMP fields.
    icmp::Icmp = ItemType::Icmp, { TYPE: u8 = "type", CODE: u8 = "code", IDENT: u16 = "ident", SEQ: u16 = "seq" }
    /// ICMPv6 fields.
    icmp6::Icmp6 = ItemType::Icmp6, { TYPE: u8 = "type", CODE: u8 = "code" }
    /// UDP fields.
    udp::Udp = ItemType::Udp, { SRC: u16 = "src", DST: u16 = "dst" }
    /// TCP fields.
    tcp::Tcp = ItemType::Tcp, { SRC: u16 = "src", DST: u16 = "dst", FLAGS: u8 = "flags" }
    /// SCTP fields.
    sctp::Sctp = ItemType::Sctp, { SRC: u16 = "src", DST: u16 = "dst", TAG: u32 = "tag", CKSUM: u32 = "cksum" }
    /// VXLAN fields.
    vxlan::Vxlan = ItemType::Vxlan, { VNI: u32 = "vni", LAST_RSVD: u8 = "last_rsvd" }
    /// NVGRE fields.
    nvgre::Nvgre = ItemType::Nvgre, { TNI: u32 = "tni" }
    /// MPLS fields.
    mpls::Mpls = ItemType::Mpls, { LABEL: u32 = "label", TC: u8 = "tc", S: u8 = "s" }
    /// GRE fields.
    gre::Gre = ItemType::Gre, {
        C_RSVD0_VER: u16 = "c_rsvd0_ver", C_BIT: bool = "c_bit", S_BIT: bool = "s_bit",
        K_BIT: bool = "k_bit", PROTOCOL: u16 = "protocol"
    }
    /// GENEVE fields.
    geneve::Geneve = ItemType::Geneve, { VNI: u32 = "vni", PROTOCOL: u16 = "protocol", OPTLEN: u8 = "optlen" }
    /// MARK item fields.
    mark::Mark = ItemType::Mark, { ID: u32 = "id" }
    /// META item fields.
    meta::Meta = ItemType::Meta, { DATA: u32 = "data" }
    /// TAG item fields.
    tag::Tag = ItemType::Tag, { DATA: u32 = "data", INDEX: u8 = "index" }
    /// PORT_ID item fields.
    port_id::PortId = ItemType::PortId, { ID: u32 = "id" }
    /// REPRESENTED_PORT item fields.
    represented_port::RepresentedPort = ItemType::RepresentedPort, { ETHDEV_PORT_ID: u16 = "ethdev_port_id" }
    /// ANY item fields.
    any::Any = ItemType::Any, { NUM: u32 = "num" }
}

/// A RAW item: `pattern` at `offset` from the start of the packet, or from the end of the
/// previous item's header when `relative`; with `search`, anywhere in the `limit` bytes after
/// that point (0: to the end).
pub fn raw(relative: bool, search: bool, offset: i32, limit: u16, pattern: &[u8]) -> Item {
    let mut spec = vec![relative as u8, search as u8];
    spec.extend_from_slice(&offset.to_be_bytes());
    spec.extend_from_slice(&limit.to_be_bytes());
    spec.extend_from_slice(pattern);
    Item {
        ty: ItemType::Raw,
        spec: Some(spec),
        last: None,
        mask: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_builder_writes_header_bytes() {
        let it: Item = ipv4::item()
            .is(ipv4::DST, Ipv4Addr::new(192, 168, 1, 1))
            .prefix(ipv4::SRC, Ipv4Addr::new(10, 0, 0, 0), 8)
            .into();
        let spec = it.spec.unwrap();
        assert_eq!(&spec[12..20], &[10, 0, 0, 0, 192, 168, 1, 1]);
        let mask = it.mask.unwrap();
        assert_eq!(&mask[12..20], &[0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        let v: Item = vlan::item().is(vlan::VID, 100).into();
        assert_eq!(v.spec.unwrap(), vec![0, 100, 0, 0]);
        assert_eq!(v.mask.unwrap(), vec![0x0f, 0xff, 0, 0]);
        let u: Item = udp::item().range(udp::DST, 1000, 2000).into();
        assert_eq!(&u.last.unwrap()[2..4], &2000u16.to_be_bytes());
    }
}
