use super::*;
use crate::item::Item;
use etherparse::{PacketBuilder, SlicedPacket};
use rpdk_mbuf::PktmbufPool;
use rpdk_mbuf::net::{Ethernet, Ipv4, Ipv6, Udp};
use std::sync::OnceLock;

/// One EAL and pool for the module's tests (4 KiB pages, no shared files: nothing to clean
/// up; the EAL lives as long as the test process, as a static would).
fn pool() -> &'static PktmbufPool {
    static POOL: OnceLock<PktmbufPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let (eal, _) = rpdk_eal::init([
            "flow-tunnel-unit",
            "--no-huge",
            "--no-shconf",
            "--file-prefix",
            "rpdkt-tunnel-unit",
            "-l",
            "0",
        ])
        .expect("EAL");
        std::mem::forget(eal);
        PktmbufPool::create("tunnel_unit", 255, 0, 0, 2048 + 128, None).expect("pool")
    })
}

fn mbuf(frame: &[u8]) -> Mbuf {
    let mut m = pool().alloc().expect("mbuf");
    assert_eq!(m.fill_from(frame), frame.len());
    // As a port's stage gives it: the edits keep it up to date.
    m.set_packet_type(m.parse_packet_type(PacketType::ALL_MASK).0);
    m
}

/// Ethernet / IPv4 / TCP with a payload: an inner frame.
fn inner() -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 8])
        .ipv4([172, 16, 0, 1], [172, 16, 0, 9], 64)
        .tcp(1234, 80, 7, 1024)
        .write(&mut v, b"inner payload")
        .unwrap();
    v
}

/// `inner()` in VXLAN over UDP/IPv4 (etherparse computes the outer checksums).
fn vxlan4(vni: u32) -> Vec<u8> {
    let mut vx = vec![0x08, 0, 0, 0];
    vx.extend_from_slice(&(vni << 8).to_be_bytes());
    vx.extend_from_slice(&inner());
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(5000, 4789)
        .write(&mut v, &vx)
        .unwrap();
    v
}

fn eth_item(dst: [u8; 6], src: [u8; 6]) -> Item {
    let mut b = vec![0u8; 14];
    b[..6].copy_from_slice(&dst);
    b[6..12].copy_from_slice(&src);
    Item {
        ty: ItemType::Eth,
        spec: Some(b),
        last: None,
        mask: None,
    }
}

fn spec(ty: ItemType, b: Vec<u8>) -> Item {
    Item {
        ty,
        spec: Some(b),
        last: None,
        mask: None,
    }
}

fn ipv4_item(src: [u8; 4], dst: [u8; 4]) -> Item {
    let mut b = vec![0u8; 20];
    b[12..16].copy_from_slice(&src);
    b[16..20].copy_from_slice(&dst);
    spec(ItemType::Ipv4, b)
}

/// The VXLAN definition `set vxlan` gives: fields a NIC fills left at 0.
fn vxlan_definition(vni: u32, v6: bool) -> Vec<Item> {
    let mut items = vec![eth_item([2, 0, 0, 0, 0, 0x22], [2, 0, 0, 0, 0, 0x11])];
    if v6 {
        let mut b = vec![0u8; 40];
        b[8..24].copy_from_slice(
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        b[24..40].copy_from_slice(
            &"2001:db8::2"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        items.push(spec(ItemType::Ipv6, b));
    } else {
        items.push(ipv4_item([127, 0, 0, 1], [128, 0, 0, 1]));
    }
    items.push(spec(ItemType::Udp, vec![0, 4, 0x12, 0xb5, 0, 0, 0, 0]));
    let mut vx = vec![0u8; 8];
    vx[4..7].copy_from_slice(&vni.to_be_bytes()[1..]);
    items.push(spec(ItemType::Vxlan, vx));
    items
}

fn encap_of(items: &[Item], tunnel: ItemType) -> Encap {
    let data = build::definition(items, tunnel).unwrap();
    build::encap(&data, &[], Payload::Ether).unwrap()
}

#[test]
fn vxlan_decap_leaves_the_inner_frame_with_its_type() {
    let mut m = mbuf(&vxlan4(42));
    Decap::vxlan().apply(&mut m).unwrap();
    assert_eq!(m.data(), &inner()[..]);
    let pt = m.packet_type();
    assert_eq!(pt.l2(), PacketType::L2_ETHER);
    assert!(pt.is_ipv4() && !pt.is_tunnel());
    assert_eq!(pt.l4(), PacketType::L4_TCP);
    assert_eq!((m.l2_len(), m.l3_len(), m.l4_len()), (14, 20, 20));
}

#[test]
fn vxlan_decap_takes_the_packets_own_lengths() {
    // A VLAN tag and IPv4 options: the packet's, not a template's, lengths.
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 7, 0];
    vx.extend_from_slice(&inner());
    let mut f = Vec::new();
    PacketBuilder::ethernet2([2; 6], [4; 6])
        .single_vlan(5.try_into().unwrap())
        .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 9)
        .udp(1, 4789)
        .write(&mut f, &vx)
        .unwrap();
    // Grow the IPv4 header by one option word (a NOP-padded one), fixing its length fields.
    let ip = 18;
    f.splice(ip + 20..ip + 20, [1u8, 1, 1, 0]);
    f[ip] = 0x46;
    let tl = u16::from_be_bytes([f[ip + 2], f[ip + 3]]) + 4;
    f[ip + 2..ip + 4].copy_from_slice(&tl.to_be_bytes());
    let mut m = mbuf(&f);
    Decap::vxlan().apply(&mut m).unwrap();
    assert_eq!(m.data(), &inner()[..]);
}

#[test]
fn decap_refuses_short_and_other_packets() {
    let f = vxlan4(1);
    for cut in [0, 10, 14, 30, 40, 49, 50, 63] {
        let mut m = mbuf(&f[..cut]);
        assert_eq!(
            Decap::vxlan().apply(&mut m),
            Err(TunnelFail::TooShort),
            "{cut}"
        );
        assert_eq!(m.data(), &f[..cut], "left as it was");
    }
    // NVGRE_DECAP of a VXLAN packet: UDP is not GRE.
    let mut m = mbuf(&f);
    assert_eq!(Decap::nvgre().apply(&mut m), Err(TunnelFail::OtherHeaders));
    // A RAW_DECAP of eth / ipv6 / udp / vxlan on an IPv4 packet.
    let mut data = vec![0u8; 14 + 40 + 8 + 8];
    data[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    data[14] = 0x60;
    data[20] = UDP;
    let d = Decap::raw(&data).unwrap();
    assert_eq!(d.apply(&mut m), Err(TunnelFail::OtherHeaders));
}

#[test]
fn raw_decap_of_testpmds_buffer_is_the_vxlan_decap() {
    // `set raw_decap eth / ipv4 / udp / vxlan / end_set`: the default masks as specs.
    let items: Vec<Item> = [
        ItemType::Eth,
        ItemType::Ipv4,
        ItemType::Udp,
        ItemType::Vxlan,
    ]
    .into_iter()
    .map(Item::new)
    .collect();
    let data = build::raw_buffer(&items).unwrap();
    assert_eq!(data.len(), 50);
    let d = Decap::raw(&data).unwrap();
    assert_eq!(d.leaves, Payload::Ether);
    let mut m = mbuf(&vxlan4(3));
    d.apply(&mut m).unwrap();
    assert_eq!(m.data(), &inner()[..]);
}

/// Checks an encapsulated frame: VXLAN with `vni` around `inner()`, every length and checksum
/// right.
fn check_vxlan(frame: &[u8], vni: u32) {
    let eth = Ethernet::new_checked(frame).unwrap();
    let (udp_bytes, ok) = match eth.ether_type() {
        0x0800 => {
            let ip = Ipv4::new_checked(eth.payload()).unwrap();
            assert!(ip.verify_checksum(), "IPv4 checksum");
            assert_eq!(ip.total_len() as usize, frame.len() - 14);
            assert_eq!(ip.ttl(), 64);
            assert_eq!(ip.protocol(), UDP);
            let u = Udp::new_checked(ip.payload()).unwrap();
            let ok = u.checksum() == 0 || u.verify_checksum_ipv4(ip.src(), ip.dst());
            (ip.payload().to_vec(), ok)
        }
        0x86dd => {
            let ip = Ipv6::new_checked(eth.payload()).unwrap();
            assert_eq!(ip.payload_len() as usize, frame.len() - 54);
            assert_eq!(ip.hop_limit(), 255);
            let u = Udp::new_checked(ip.payload()).unwrap();
            assert_ne!(u.checksum(), 0, "over IPv6 the UDP checksum is computed");
            let ok = u.verify_checksum_ipv6(ip.src(), ip.dst());
            (ip.payload().to_vec(), ok)
        }
        t => panic!("EtherType {t:#x}"),
    };
    assert!(ok, "UDP checksum");
    let u = Udp::new_checked(&udp_bytes[..]).unwrap();
    assert_eq!(u.len() as usize, udp_bytes.len());
    let vx = u.payload();
    assert_eq!(vx[0], 0x08, "VXLAN flags");
    assert_eq!(u32::from_be_bytes([0, vx[4], vx[5], vx[6]]), vni);
    assert_eq!(&vx[8..], &inner()[..]);
    // etherparse reads it too.
    SlicedPacket::from_ethernet(frame).unwrap();
}

#[test]
fn vxlan_encap_fills_what_a_nic_fills() {
    for v6 in [false, true] {
        let e = encap_of(&vxlan_definition(0x123456, v6), ItemType::Vxlan);
        let mut m = mbuf(&inner());
        e.apply(&mut m).unwrap();
        check_vxlan(m.data(), 0x123456);
        let pt = m.packet_type();
        assert_eq!(pt.tunnel(), PacketType::TUNNEL_VXLAN, "v6 {v6}");
        assert_eq!(pt.inner_l4(), PacketType::INNER_L4_TCP);
        let l3 = if v6 { 40 } else { 20 };
        assert_eq!((m.outer_l2_len(), m.outer_l3_len()), (14, l3));
        assert_eq!((m.l2_len(), m.l3_len()), (8 + 8 + 14, 20));
        // Decap gives the frame back.
        Decap::vxlan().apply(&mut m).unwrap();
        assert_eq!(m.data(), &inner()[..]);
    }
    // `set vxlan ... udp-dst 4`: another port, the flags still filled.
    let mut d = vxlan_definition(7, false);
    d[2].spec = Some(vec![0, 4, 0, 4, 0, 0, 0, 0]);
    let e = encap_of(&d, ItemType::Vxlan);
    assert_eq!(e.hdr[42], 0x08);
}

#[test]
fn encap_over_a_chain_sums_every_segment() {
    let e = encap_of(&vxlan_definition(9, true), ItemType::Vxlan);
    let f = inner();
    // Odd split: the second segment starts at an odd offset of the UDP payload.
    let mut m = mbuf(&f[..33]);
    let tail = mbuf(&f[33..]);
    m.chain(tail).map_err(|(e, _)| e).unwrap();
    e.apply(&mut m).unwrap();
    let mut whole = vec![0u8; m.pkt_len() as usize];
    let got = m.read(0, &mut whole).unwrap().to_vec();
    check_vxlan(&got, 9);
}

#[test]
fn encap_without_headroom_fails() {
    let e = encap_of(&vxlan_definition(1, false), ItemType::Vxlan);
    let mut m = pool().alloc().unwrap();
    m.set_headroom(10).unwrap();
    m.fill_from(&inner());
    assert_eq!(e.apply(&mut m), Err(TunnelFail::NoHeadroom));
    assert_eq!(m.data(), &inner()[..]);
}

#[test]
fn nvgre_encap_and_decap() {
    let mut tni = vec![0x20, 0, 0x65, 0x58, 0, 0, 0, 0];
    tni[4..7].copy_from_slice(&[0, 0x12, 0x34]);
    let items = vec![
        eth_item([2; 6], [4; 6]),
        spec(ItemType::Vlan, vec![0, 7, 0, 0]),
        ipv4_item([1, 1, 1, 1], [2, 2, 2, 2]),
        spec(ItemType::Nvgre, tni),
    ];
    let e = encap_of(&items, ItemType::Nvgre);
    let mut m = mbuf(&inner());
    e.apply(&mut m).unwrap();
    let f = m.data().to_vec();
    assert_eq!(&f[12..14], &[0x81, 0x00]);
    assert_eq!(&f[16..18], &[0x08, 0x00], "the tag's EtherType filled");
    let ip = Ipv4::new_checked(&f[18..]).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!(ip.protocol(), GRE);
    assert_eq!(&f[38..42], &[0x20, 0, 0x65, 0x58]);
    assert_eq!(m.packet_type().tunnel(), PacketType::TUNNEL_NVGRE);
    Decap::nvgre().apply(&mut m).unwrap();
    assert_eq!(m.data(), &inner()[..]);
}

#[test]
fn raw_decap_and_encap_turn_vxlan_into_gre() {
    let decap = build::raw_buffer(
        &[
            ItemType::Eth,
            ItemType::Ipv4,
            ItemType::Udp,
            ItemType::Vxlan,
        ]
        .map(Item::new),
    )
    .unwrap();
    // `set raw_encap 1 eth src is .. dst is .. / ipv4 src is .. dst is .. / gre / end_set`:
    // GRE's default mask makes the protocol 0xffff; give it as testpmd users do.
    let mut gre = Item::new(ItemType::Gre);
    gre.spec = Some(vec![0, 0, 0x65, 0x58]);
    let encap = build::raw_buffer(&[
        eth_item([2; 6], [4; 6]),
        ipv4_item([9, 9, 9, 1], [9, 9, 9, 2]),
        gre,
    ])
    .unwrap();
    let acts = [
        Action::RawDecap(crate::RawDecap {
            data: decap,
            index: 0,
        }),
        Action::RawEncap(crate::RawEncap {
            data: encap,
            preserve: vec![],
            index: 1,
        }),
    ];
    let plan = plan(&acts, Some(&[])).unwrap();
    let mut m = mbuf(&vxlan4(5));
    for (_, t) in &plan {
        t.apply(&mut m).unwrap();
    }
    let f = m.data().to_vec();
    let ip = Ipv4::new_checked(&f[14..]).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!(ip.total_len() as usize, f.len() - 14);
    assert_eq!(&f[34..38], &[0, 0, 0x65, 0x58]);
    assert_eq!(&f[38..], &inner()[..]);
    assert_eq!(m.packet_type().tunnel(), PacketType::TUNNEL_NVGRE);
}

#[test]
fn l3_decap_needs_an_l2_encap() {
    // eth / ipv4 / gre carrying IPv4: the decap leaves an IP packet.
    let mut gre = Item::new(ItemType::Gre);
    gre.spec = Some(vec![0, 0, 0x08, 0x00]);
    let d = build::raw_buffer(&[Item::new(ItemType::Eth), Item::new(ItemType::Ipv4), gre]).unwrap();
    let decap = Action::RawDecap(crate::RawDecap { data: d, index: 0 });
    let (i, msg) = plan(std::slice::from_ref(&decap), Some(&[])).unwrap_err();
    assert_eq!(i, 0);
    assert!(msg.contains("must follow"), "{msg}");
    let l2 = Action::RawEncap(crate::RawEncap {
        data: build::raw_buffer(&[eth_item([2; 6], [4; 6])]).unwrap(),
        preserve: vec![],
        index: 1,
    });
    let p = plan(&[decap, l2], Some(&[])).unwrap();
    // An IPv4-in-GRE packet becomes the inner IPv4 packet with a new Ethernet header.
    let mut inner_ip = Vec::new();
    PacketBuilder::ipv4([7, 7, 7, 7], [8, 8, 8, 8], 3)
        .udp(1, 2)
        .write(&mut inner_ip, b"x")
        .unwrap();
    let mut g = vec![0, 0, 0x08, 0x00];
    g.extend_from_slice(&inner_ip);
    let mut f = Vec::new();
    PacketBuilder::ethernet2([1; 6], [3; 6])
        .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 5)
        .write(&mut f, GRE.into(), &g)
        .unwrap();
    let mut m = mbuf(&f);
    for (_, t) in &p {
        t.apply(&mut m).unwrap();
    }
    assert_eq!(
        &m.data()[12..14],
        &[0x08, 0x00],
        "EtherType from the IP version"
    );
    assert_eq!(&m.data()[14..], &inner_ip[..]);
}

#[test]
fn testpmd_buffers_are_filled_as_update_fields_does() {
    let b = build::raw_buffer(&[
        eth_item([2; 6], [4; 6]),
        Item::new(ItemType::Vlan),
        ipv4_item([1, 2, 3, 4], [5, 6, 7, 8]),
        Item::new(ItemType::Udp),
        Item::new(ItemType::Vxlan),
    ])
    .unwrap();
    assert_eq!(b.len(), 14 + 4 + 20 + 8 + 8);
    assert_eq!(&b[12..14], &[0x81, 0x00]);
    // The tag's inner type is left (update_fields does not fill it); encap does.
    assert_eq!(&b[14..18], &[0x0f, 0xff, 0, 0]);
    assert_eq!((b[18], b[27]), (0x45, UDP));
    assert_eq!(&b[38..42], &[0xff; 4], "UDP: the default mask as spec");
    assert_eq!(b[46], 0x08);
    let e = build::encap(&b, &[], Payload::Ether).unwrap();
    assert_eq!(&e.hdr[16..18], &[0x08, 0x00]);
    assert_eq!(e.hdr[18 + 8], 64, "TTL");
    assert_eq!(
        build::raw_buffer(&[Item::new(ItemType::Eth), Item::new(ItemType::Icmp)]),
        Err(ItemType::Icmp)
    );
}

#[test]
fn preserved_bits_are_kept() {
    let b = build::raw_buffer(&[
        eth_item([2; 6], [4; 6]),
        ipv4_item([1, 2, 3, 4], [5, 6, 7, 8]),
        Item::new(ItemType::Udp),
        Item::new(ItemType::Vxlan),
    ])
    .unwrap();
    let mut keep = vec![0u8; b.len()];
    keep[14 + 8] = 0xff; // TTL stays 0
    let e = build::encap(&b, &keep, Payload::Ether).unwrap();
    assert_eq!(e.hdr[22], 0);
    let mut m = mbuf(&inner());
    e.apply(&mut m).unwrap();
    assert!(
        Ipv4::new_checked(&m.data()[14..])
            .unwrap()
            .verify_checksum()
    );
    assert!(build::encap(&b, &keep[1..], Payload::Ether).is_err());
}

#[test]
fn bad_templates_are_refused() {
    assert!(build::encap(&[], &[], Payload::Ether).is_err());
    assert!(build::encap(&[0; 10], &[], Payload::Ether).is_err());
    // EtherType 0 before bytes that are no IP header.
    assert!(build::encap(&[0; 30], &[], Payload::Ether).is_err());
    // GRE with a checksum.
    let mut gre = Item::new(ItemType::Gre);
    gre.spec = Some(vec![0x80, 0, 0x65, 0x58]);
    let b = build::raw_buffer(&[Item::new(ItemType::Eth), Item::new(ItemType::Ipv4), gre]).unwrap();
    assert!(build::encap(&b, &[], Payload::Ether).is_err());
    assert!(build::definition(&[Item::new(ItemType::Eth)], ItemType::Vxlan).is_err());
    assert!(Decap::raw(&[1, 2, 3]).is_err());
}

#[test]
fn inner_hash_covers_l2_to_l4_and_nothing_else() {
    let udp4 = |src: [u8; 4], sport: u16, payload: &[u8]| {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, [10, 0, 0, 2], 64)
            .udp(sport, 53)
            .write(&mut v, payload)
            .unwrap();
        v
    };
    let base = udp4([10, 0, 0, 1], 1000, b"abc");
    let h = inner_hash(&base);
    // The payload, the TTL and the checksums are not in it.
    assert_eq!(inner_hash(&udp4([10, 0, 0, 1], 1000, b"xyz")), h);
    let mut ttl = base.clone();
    ttl[22] = 9;
    assert_eq!(inner_hash(&ttl), h);
    // A MAC, a VLAN tag, an address, a port each change it.
    let mut mac = base.clone();
    mac[5] = 7;
    assert_ne!(inner_hash(&mac), h);
    let mut tagged = base.clone();
    tagged.splice(12..12, [0x81, 0, 0, 5]);
    let mut tagged6 = tagged.clone();
    tagged6[15] = 6;
    assert_ne!(inner_hash(&tagged), h);
    assert_ne!(inner_hash(&tagged), inner_hash(&tagged6));
    assert_ne!(inner_hash(&udp4([10, 0, 0, 3], 1000, b"abc")), h);
    assert_ne!(inner_hash(&udp4([10, 0, 0, 1], 1001, b"abc")), h);
    // A later fragment has no ports: two of them differing in those bytes hash alike.
    let mut frag = base.clone();
    frag[20] = 0x00;
    frag[21] = 0x10;
    let mut frag2 = frag.clone();
    frag2[34] ^= 0xff;
    assert_eq!(inner_hash(&frag), inner_hash(&frag2));
    // IPv6: addresses and ports.
    let udp6 = |sport: u16| {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0xfe; 16],
                64,
            )
            .udp(sport, 53)
            .write(&mut v, b"abc")
            .unwrap();
        v
    };
    assert_ne!(inner_hash(&udp6(1)), inner_hash(&udp6(2)));
    // Anything short hashes without reading past its end.
    for n in 0..base.len() {
        let _ = inner_hash(&base[..n]);
        let _ = inner_hash(&udp6(1)[..n.min(udp6(1).len())]);
    }
    // The port always lands in 49152-65535.
    for sport in 0..2000u16 {
        let m = mbuf(&udp4([10, 0, 0, 1], sport, b""));
        assert!(entropy_port(&m) >= ENTROPY_PORT_MIN);
    }
}
