//! Tunnel decap and encap on real traffic: rpdk-testpmd (`set fwd io`) on a net_af_packet port
//! of a veth pair in a namespace, rules written as testpmd users write them (`set raw_decap`,
//! `set raw_encap`, `set vxlan`, `flow create ... vxlan_decap / raw_encap index N /
//! vxlan_encap`), frames sent from the peer end and read back there: VXLAN comes out
//! decapsulated with its inner bytes intact, an encap's output is correct VXLAN for our parser
//! and for tcpdump (`-vv` of a pcap of what came back: no bad checksum), a RAW_DECAP/RAW_ENCAP
//! pair turns VXLAN into GRE, and packets too short for a decap are dropped and counted.

use std::process::Command;
use std::time::{Duration, Instant};

use etherparse::PacketBuilder;
use rpdk_mbuf::net::{Ethernet, Ipv4, Udp};
use rpdk_testsupport::netns::NetNs;
use rpdk_testsupport::prompt::Prompted;
use rpdk_testsupport::raw::RawSocket;
use rpdk_testsupport::testpmd::af_packet_in_netns;

/// rpdk-testpmd in the namespace on a net_af_packet port of `iface`, driven at its prompt.
fn session(ns: &NetNs, iface: &str, app: &[&str]) -> Prompted {
    af_packet_in_netns(env!("CARGO_BIN_EXE_rpdk-testpmd"), ns, iface, app)
}

/// Ethernet / IPv4 / UDP to 192.168.7.7 port `dport`, with a payload naming `n`.
fn inner(dport: u16, n: u8) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 8])
        .ipv4([172, 16, 0, 1], [192, 168, 7, 7], 64)
        .udp(1111, dport)
        .write(&mut v, &[n; 40])
        .unwrap();
    v
}

/// `inner` in VXLAN `vni` over UDP/IPv4 (checksums by etherparse).
fn vxlan(vni: u32, inner: &[u8]) -> Vec<u8> {
    let mut vx = vec![0x08, 0, 0, 0];
    vx.extend_from_slice(&(vni << 8).to_be_bytes());
    vx.extend_from_slice(inner);
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(5000, 4789)
        .write(&mut v, &vx)
        .unwrap();
    v
}

/// A pcap file (microsecond, Ethernet) of `frames`.
fn pcap(path: &std::path::Path, frames: &[Vec<u8>]) {
    let mut b = Vec::new();
    for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        if w == 0x0004_0002 {
            b.extend_from_slice(&2u16.to_le_bytes());
            b.extend_from_slice(&4u16.to_le_bytes());
        } else {
            b.extend_from_slice(&w.to_le_bytes());
        }
    }
    for f in frames {
        for w in [0u32, 0, f.len() as u32, f.len() as u32] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(f);
    }
    std::fs::write(path, b).unwrap();
}

/// What the peer receives until `n` frames pass `keep` or 5 s go by.
fn collect(peer: &RawSocket, n: usize, keep: impl Fn(&[u8]) -> bool) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while got.len() < n {
        match peer.recv(deadline) {
            Some(f) if keep(&f) => got.push(f),
            Some(_) => {}
            None => break,
        }
    }
    got
}

fn is_vxlan(f: &[u8]) -> bool {
    f.len() > 50 && f[12..14] == [0x08, 0x00] && f[23] == 17 && f[36..38] == [0x12, 0xb5]
}

#[test]
fn testpmd_decaps_and_encaps_real_traffic() {
    if !rpdk_testsupport::require_root("testpmd_decaps_and_encaps_real_traffic") {
        return;
    }
    let ns = NetNs::new("tptun").unwrap();
    ns.add_veth("tna", "tnb").unwrap();
    let peer = {
        let _in = ns.enter().unwrap();
        RawSocket::open("tnb")
    };
    let mut s = session(&ns, "tna", &["-i", "--nb-cores=1"]);
    s.wait_for("testpmd> ", 1, Duration::from_secs(10));
    for line in [
        "set raw_decap 0 eth / ipv4 / udp / vxlan / end_set",
        "set raw_encap 1 eth src is 02:00:00:00:00:aa dst is 02:00:00:00:00:bb / ipv4 src is 9.9.9.1 dst is 9.9.9.2 / gre protocol is 0x6558 / end_set",
        "set vxlan ip-version ipv4 vni 4 udp-src 4 udp-dst 4789 ip-src 127.0.0.1 ip-dst 128.0.0.1 eth-src 11:11:11:11:11:11 eth-dst 22:22:22:22:22:22",
    ] {
        assert_eq!(s.cmd(line), (String::new(), String::new()), "{line}");
    }
    // testpmd's dump of a buffer: 14 + 20 + 4 bytes, EtherType and IPv4 protocol filled in.
    let (o, e) = s.cmd("show raw_encap 1");
    assert_eq!(e, "");
    assert!(o.starts_with("\nindex: 1 at [0x"), "{o}");
    assert!(o.contains("], len=38\n"), "{o}");
    assert!(
        o.contains("00000020: 09 02 00 00 65 58                               | ....eX\n"),
        "{o}"
    );
    let (_, e) = s.cmd("show raw_decap 9");
    assert_eq!(e, "index should be 0-7\n");
    for (id, r) in [
        "flow create 0 ingress pattern eth / ipv4 / udp / vxlan vni is 42 / end actions vxlan_decap / count / queue index 0 / end",
        "flow create 0 ingress pattern eth / ipv4 dst is 192.168.7.7 / udp dst is 7777 / end actions vxlan_encap / queue index 0 / end",
        "flow create 0 ingress pattern eth / ipv4 / udp / vxlan vni is 43 / end actions raw_decap index 0 / raw_encap index 1 / queue index 0 / end",
    ]
    .iter()
    .enumerate()
    {
        let (o, e) = s.cmd(r);
        assert_eq!(o, format!("Flow rule #{id} created\n"), "{r}: {e}");
    }
    let (o, _) = s.cmd("flow list 0");
    assert!(
        o.contains("ETH IPV4 UDP VXLAN => VXLAN_DECAP COUNT QUEUE"),
        "{o}"
    );
    assert!(o.contains("=> RAW_DECAP RAW_ENCAP QUEUE"), "{o}");
    assert!(
        s.cmd("set fwd io")
            .0
            .contains("Set io packet forwarding mode")
    );
    s.cmd("start");

    // VXLAN 42 comes back decapsulated: the inner bytes, identical.
    let sent: Vec<Vec<u8>> = (0..5).map(|n| inner(2222, n)).collect();
    for f in &sent {
        peer.send(&vxlan(42, f));
    }
    let got = collect(&peer, 5, |f| {
        f[12..14] == [0x08, 0x00] && f[30..34] == [192, 168, 7, 7]
    });
    assert_eq!(got, sent, "decapsulated frames");

    // Frames to 192.168.7.7:7777 come back in VXLAN 4.
    let sent: Vec<Vec<u8>> = (0..5).map(|n| inner(7777, n)).collect();
    for f in &sent {
        peer.send(f);
    }
    let got = collect(&peer, 5, is_vxlan);
    assert_eq!(got.len(), 5, "encapsulated frames");
    for (g, f) in got.iter().zip(&sent) {
        assert_eq!(
            &g[..12],
            &[
                0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11
            ]
        );
        let ip = Ipv4::new_checked(&g[14..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.total_len() as usize, g.len() - 14);
        assert_eq!(
            (ip.src().octets(), ip.dst().octets()),
            ([127, 0, 0, 1], [128, 0, 0, 1])
        );
        let u = Udp::new_checked(ip.payload()).unwrap();
        assert_eq!(
            (u.src_port(), u.dst_port(), u.len() as usize),
            (4, 4789, g.len() - 34)
        );
        assert!(u.checksum() == 0 || u.verify_checksum_ipv4(ip.src(), ip.dst()));
        assert_eq!(&u.payload()[..8], &[0x08, 0, 0, 0, 0, 0, 4, 0]);
        assert_eq!(&u.payload()[8..], &f[..]);
        Ethernet::new_checked(&u.payload()[8..]).unwrap();
    }
    // tcpdump reads them as VXLAN, every checksum right.
    let dir = std::env::temp_dir().join(format!("rpdkt-tunnel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("encap.pcap");
    pcap(&file, &got);
    let td = Command::new("tcpdump").arg("-nvvr").arg(&file).output();
    std::fs::remove_dir_all(&dir).unwrap();
    match td {
        Ok(td) if td.status.success() => {
            let text = String::from_utf8_lossy(&td.stdout);
            assert_eq!(text.matches("VXLAN").count(), 5, "{text}");
            assert_eq!(text.matches("vni 4").count(), 5, "{text}");
            assert!(!text.contains("bad"), "{text}");
            assert_eq!(text.matches("192.168.7.7.7777").count(), 5, "{text}");
        }
        other => eprintln!("tcpdump not run: {other:?}"),
    }

    // VXLAN 43 comes back as GRE (Ethernet over GRE) around the same inner frame.
    let f = inner(3333, 9);
    peer.send(&vxlan(43, &f));
    let got = collect(&peer, 1, |g| g.len() > 38 && g[23] == 47);
    assert_eq!(got.len(), 1, "a GRE frame");
    let g = &got[0];
    assert_eq!(&g[..12], &[2, 0, 0, 0, 0, 0xbb, 2, 0, 0, 0, 0, 0xaa]);
    let ip = Ipv4::new_checked(&g[14..]).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!(ip.total_len() as usize, g.len() - 14);
    assert_eq!(&g[34..38], &[0, 0, 0x65, 0x58]);
    assert_eq!(&g[38..], &f[..]);

    // A VXLAN 42 frame with nothing after its VXLAN header matches the rule but would leave
    // no frame: dropped (counted in the table's edit drops), not counted by the rule's COUNT
    // after the decap; the port goes on.
    peer.send(&vxlan(42, &[]));
    let f = inner(2222, 7);
    peer.send(&vxlan(42, &f));
    let got = collect(&peer, 1, |g| {
        g[12..14] == [0x08, 0x00] && g[30..34] == [192, 168, 7, 7]
    });
    assert_eq!(got, [f]);
    let (o, _) = s.cmd("flow query 0 0 count");
    assert!(o.contains(" hits: 6\n"), "{o}");
    s.cmd("stop");
}
