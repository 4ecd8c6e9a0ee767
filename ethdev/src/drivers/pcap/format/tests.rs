use super::*;

use proptest::prelude::*;

/// A classic pcap file: `nanos`, big-endian or not, with `(ts_ns, orig_len, data)` records.
fn pcap(nanos: bool, be: bool, recs: &[(u64, u32, &[u8])]) -> Vec<u8> {
    let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut f = Vec::new();
    f.extend(w32(if nanos { MAGIC_NS } else { MAGIC_US }));
    f.extend(w16(2));
    f.extend(w16(4));
    f.extend(w32(0));
    f.extend(w32(0));
    f.extend(w32(65535));
    f.extend(w32(1));
    for &(ts, orig, data) in recs {
        let (sec, ns) = ((ts / 1_000_000_000) as u32, (ts % 1_000_000_000) as u32);
        f.extend(w32(sec));
        f.extend(w32(if nanos { ns } else { ns / 1000 }));
        f.extend(w32(data.len() as u32));
        f.extend(w32(orig));
        f.extend(data);
    }
    f
}

/// pcapng blocks in one byte order.
struct Ng {
    be: bool,
    out: Vec<u8>,
}

impl Ng {
    fn new(be: bool) -> Ng {
        Ng {
            be,
            out: Vec::new(),
        }
    }
    fn w32(&self, v: u32) -> [u8; 4] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn w16(&self, v: u16) -> [u8; 2] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, btype: u32, body: &[u8]) -> &mut Ng {
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = 12 + body.len() as u32;
        let (t, l) = (self.w32(btype), self.w32(len));
        self.out.extend(t);
        self.out.extend(l);
        self.out.extend(body);
        self.out.extend(l);
        self
    }
    fn shb(&mut self) -> &mut Ng {
        let mut b = Vec::new();
        b.extend(self.w32(NG_BOM));
        b.extend(self.w16(1));
        b.extend(self.w16(0));
        b.extend((-1i64).to_le_bytes());
        self.block(NG_SHB, &b)
    }
    fn idb(&mut self, linktype: u16, snaplen: u32, tsresol: Option<u8>) -> &mut Ng {
        let mut b = Vec::new();
        b.extend(self.w16(linktype));
        b.extend(self.w16(0));
        b.extend(self.w32(snaplen));
        // An if_name option first, to be skipped.
        b.extend(self.w16(2));
        b.extend(self.w16(3));
        b.extend(b"eth\0");
        if let Some(r) = tsresol {
            b.extend(self.w16(9));
            b.extend(self.w16(1));
            b.extend([r, 0, 0, 0]);
        }
        b.extend(self.w16(0));
        b.extend(self.w16(0));
        self.block(NG_IDB, &b)
    }
    fn epb(&mut self, iface: u32, ts: u64, orig: u32, data: &[u8]) -> &mut Ng {
        let mut b = Vec::new();
        b.extend(self.w32(iface));
        b.extend(self.w32((ts >> 32) as u32));
        b.extend(self.w32(ts as u32));
        b.extend(self.w32(data.len() as u32));
        b.extend(self.w32(orig));
        b.extend(data);
        self.block(NG_EPB, &b)
    }
    fn spb(&mut self, orig: u32, data: &[u8]) -> &mut Ng {
        let mut b = Vec::new();
        b.extend(self.w32(orig));
        b.extend(data);
        self.block(NG_SPB, &b)
    }
}

fn all(file: &[u8]) -> Result<Vec<(u64, u32, Vec<u8>)>, FormatError> {
    let mut r = Reader::new(file, "t.pcap")?;
    let mut out = Vec::new();
    while let Some(p) = r.next_packet()? {
        out.push((p.ts_ns, p.orig_len, p.data.to_vec()));
    }
    Ok(out)
}

fn err(file: &[u8]) -> String {
    all(file).unwrap_err().to_string()
}

/// Reads at most `n` bytes per call, to exercise refills across records.
struct Dribble<'a>(&'a [u8], usize);

impl Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.1.min(buf.len()).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

const A: &[u8] = &[0xaa; 60];
const B: &[u8] = &[0xbb; 1514];

#[test]
fn classic_files_in_every_flavour() {
    let recs: &[(u64, u32, &[u8])] = &[(1_500_000_000_123_456_000, 60, A), (7, 2000, B)];
    for nanos in [false, true] {
        for be in [false, true] {
            let f = pcap(nanos, be, recs);
            let mut r = Reader::new(&f[..], "t.pcap").unwrap();
            assert_eq!(
                r.kind(),
                FileKind::Pcap {
                    nanos,
                    big_endian: be
                }
            );
            let p = r.next_packet().unwrap().unwrap();
            assert_eq!((p.ts_ns, p.orig_len, p.data), recs[0]);
            let p = r.next_packet().unwrap().unwrap();
            // Microsecond files lose the nanoseconds.
            assert_eq!(p.ts_ns, if nanos { 7 } else { 0 });
            assert_eq!(
                (p.orig_len, p.data),
                (2000, B),
                "caplen below the wire length"
            );
            assert!(r.next_packet().unwrap().is_none());
            assert!(r.next_packet().unwrap().is_none(), "the end stays the end");
        }
    }
    assert_eq!(all(&pcap(false, false, &[])).unwrap(), []);
}

#[test]
fn written_files_read_back() {
    for nanos in [false, true] {
        let mut f = Vec::new();
        write_file_header(&mut f, nanos, 65535);
        assert_eq!(f.len(), FILE_HEADER_LEN);
        for (i, d) in [A, B, &[][..]].iter().enumerate() {
            write_record_header(
                &mut f,
                nanos,
                1_000_000_000 * i as u64 + 999_999_999,
                d.len() as u32,
                9000,
            );
            f.extend_from_slice(d);
        }
        let got = all(&f).unwrap();
        let frac = if nanos { 999_999_999 } else { 999_999_000 };
        assert_eq!(
            got,
            [
                (frac, 9000, A.to_vec()),
                (1_000_000_000 + frac, 9000, B.to_vec()),
                (2_000_000_000 + frac, 9000, vec![])
            ]
        );
        // The same bytes a hand-built file of that flavour has.
        assert_eq!(&f[..FILE_HEADER_LEN], &pcap(nanos, false, &[])[..]);
    }
}

#[test]
fn small_reads_and_big_records_refill_the_buffer() {
    let big = vec![0x5a; 200_000];
    let recs: Vec<(u64, u32, &[u8])> = (0..20)
        .map(|i| (i, 60, if i % 7 == 3 { &big[..] } else { A }))
        .collect();
    let f = pcap(true, true, &recs);
    for step in [1, 3, 7, 4096, CHUNK + 1] {
        let mut r = Reader::new(Dribble(&f, step), "t.pcap").unwrap();
        let mut n = 0;
        while let Some(p) = r.next_packet().unwrap() {
            assert_eq!((p.ts_ns, p.data), (recs[n].0, recs[n].2));
            n += 1;
        }
        assert_eq!(n, 20, "step {step}");
        assert_eq!(r.offset(), f.len() as u64);
    }
}

#[test]
fn peek_keeps_the_packet_until_consumed() {
    let f = pcap(false, false, &[(0, 60, A), (0, 1514, B)]);
    let mut r = Reader::new(&f[..], "t.pcap").unwrap();
    assert_eq!(r.peek().unwrap().unwrap().data, A);
    assert_eq!(r.peek().unwrap().unwrap().data, A);
    r.consume();
    assert_eq!(r.peek().unwrap().unwrap().data, B);
    r.consume();
    assert!(r.peek().unwrap().is_none());
    r.consume();
    assert!(r.next_packet().unwrap().is_none());
}

#[test]
fn pcapng_sections_interfaces_and_blocks() {
    for be in [false, true] {
        let mut ng = Ng::new(be);
        ng.shb()
            .idb(1, 0, None)
            .epb(0, 1_600_000_000_000_001, 60, A)
            .block(0x0000_0bad, b"custom block") // skipped
            .spb(1514, B)
            .idb(1, 100, Some(9)) // interface 1: nanoseconds, snaplen 100
            .epb(1, 5, 1514, &B[..100])
            .spb(70, &[1; 70]);
        // A second section in the other byte order, with its own interfaces.
        let mut second = Ng::new(!be);
        second
            .shb()
            .idb(1, 0, Some(0x80 | 10)) // 2^-10 s
            .epb(0, 1024, 60, A);
        let mut f = ng.out.clone();
        f.extend(&second.out);
        let got = all(&f).unwrap();
        assert_eq!(
            got,
            [
                (1_600_000_000_000_001_000, 60, A.to_vec()),
                (0, 1514, B.to_vec()),
                (5, 1514, B[..100].to_vec()),
                (0, 70, vec![1; 70]), // SPB against interface 0's snaplen 0: whole
                (1_000_000_000, 60, A.to_vec()),
            ]
        );
        let r = Reader::new(&f[..], "t.pcapng").unwrap();
        assert_eq!(r.kind(), FileKind::Pcapng);
        // Every packet is found through small reads too.
        let mut r = Reader::new(Dribble(&f, 5), "t.pcapng").unwrap();
        let mut n = 0;
        while r.next_packet().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 5);
    }
}

/// Every offset between records a reader gave, and the packets from each one on.
fn offsets_and_rests(f: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
    let mut r = Reader::new(f, "t").unwrap();
    let mut at = vec![r.offset()];
    let mut datas = Vec::new();
    while let Some(p) = r.next_packet().unwrap() {
        datas.push(p.data.to_vec());
        at.push(r.offset());
    }
    at.iter()
        .enumerate()
        .map(|(i, &o)| (o, datas[i..].to_vec()))
        .collect()
}

#[test]
fn skip_to_goes_on_from_a_records_offset() {
    let classic = pcap(true, true, &[(1, 60, A), (2, 1514, B), (3, 60, A)]);
    let mut ng = Ng::new(false);
    ng.shb()
        .idb(1, 0, None)
        .epb(0, 1, 60, A)
        .idb(1, 100, Some(9))
        .epb(1, 5, 1514, &B[..100])
        .block(0x0000_0bad, b"custom block");
    let mut second = Ng::new(true);
    second.shb().idb(1, 0, None).spb(1514, B);
    let mut ng = ng.out.clone();
    ng.extend(&second.out);
    for f in [&classic, &ng] {
        for (offset, rest) in offsets_and_rests(f) {
            // Through a cursor (which seeks) and small reads (a refill across records).
            let mut r = Reader::new(io::Cursor::new(&f[..]), "t").unwrap();
            r.skip_to(offset).unwrap();
            assert_eq!(r.offset(), offset);
            let mut got = Vec::new();
            while let Some(p) = r.next_packet().unwrap() {
                got.push(p.data.to_vec());
            }
            assert_eq!(got, rest, "from offset {offset}");
        }
    }
    // Inside a pcapng block, or behind the reader: refused, naming the offset.
    let mut r = Reader::new(io::Cursor::new(&ng[..]), "t").unwrap();
    let e = r.skip_to(r.offset() + 4).unwrap_err().to_string();
    assert!(e.contains("is not between two blocks"), "{e}");
    let mut r = Reader::new(io::Cursor::new(&classic[..]), "t").unwrap();
    r.skip_to(100).unwrap();
    let e = r.skip_to(30).unwrap_err().to_string();
    assert!(e.contains("cannot go back to offset 30"), "{e}");
}

#[test]
fn simple_packets_follow_the_snaplen() {
    let mut ng = Ng::new(false);
    ng.shb().idb(1, 64, None).spb(1514, &B[..100]);
    assert_eq!(all(&ng.out).unwrap(), [(0, 1514, B[..64].to_vec())]);
}

#[test]
fn timestamp_resolutions() {
    assert_eq!(Resol::Pow10(6).to_ns(1), 1000);
    assert_eq!(Resol::Pow10(9).to_ns(1), 1);
    assert_eq!(Resol::Pow10(12).to_ns(5000), 5);
    assert_eq!(Resol::Pow10(0).to_ns(3), 3_000_000_000);
    assert_eq!(Resol::Pow10(127).to_ns(u64::MAX), 0);
    assert_eq!(Resol::Pow10(0).to_ns(u64::MAX), u64::MAX);
    assert_eq!(Resol::Pow2(1).to_ns(1), 500_000_000);
    assert_eq!(Resol::Pow2(127).to_ns(u64::MAX), 0);
}

#[test]
fn bad_files_name_the_file_and_offset() {
    let good = pcap(false, false, &[(0, 60, A), (0, 60, A)]);
    let rec2 = (FILE_HEADER_LEN + RECORD_HEADER_LEN + 60) as u64;
    let cases: Vec<(Vec<u8>, String)> = vec![
        (
            vec![],
            "t.pcap, offset 0: truncated file header: needs 4 bytes, 0 left".into(),
        ),
        (
            b"GIF89a..".to_vec(),
            "t.pcap, offset 0: not a pcap or pcapng file (magic [47, 49, 46, 38])".into(),
        ),
        (
            good[..20].to_vec(),
            "t.pcap, offset 0: truncated pcap file header: needs 24 bytes, 20 left".into(),
        ),
        (
            {
                let mut f = good.clone();
                f[4] = 3;
                f
            },
            "t.pcap, offset 0: unsupported pcap version 3.4 (2.x expected)".into(),
        ),
        (
            {
                let mut f = good.clone();
                f[20] = 113; // Linux cooked capture
                f
            },
            "t.pcap, offset 0: link type 113 is not Ethernet (1)".into(),
        ),
        (
            good[..good.len() - 10].to_vec(),
            format!("t.pcap, offset {rec2}: truncated record data: needs 60 bytes, 50 left"),
        ),
        (
            good[..rec2 as usize + 7].to_vec(),
            format!("t.pcap, offset {rec2}: truncated record header: needs 16 bytes, 7 left"),
        ),
        (
            {
                let mut f = good.clone();
                f[rec2 as usize + 8..rec2 as usize + 12].copy_from_slice(&300_000u32.to_le_bytes());
                f
            },
            format!("t.pcap, offset {rec2}: record of 300000 captured bytes (at most 262144)"),
        ),
    ];
    for (f, want) in cases {
        assert_eq!(err(&f), want);
    }
    // Packets before the fault still come out.
    let mut r = Reader::new(&good[..good.len() - 1], "t.pcap").unwrap();
    assert!(r.next_packet().unwrap().is_some());
    assert!(r.next_packet().is_err());
}

#[test]
fn bad_pcapng_blocks() {
    let ng = |f: &dyn Fn(&mut Ng)| {
        let mut n = Ng::new(false);
        n.shb().idb(1, 0, None);
        f(&mut n);
        n.out
    };
    let start = ng(&|_| {}).len();
    let cases: Vec<(Vec<u8>, String)> = vec![
        (
            ng(&|n| {
                n.epb(3, 0, 60, A);
            }),
            format!("offset {start}: packet of interface 3, but the section describes 1"),
        ),
        (
            {
                let mut f = ng(&|n| {
                    n.epb(0, 0, 60, A);
                });
                let at = start + 20;
                f[at..at + 4].copy_from_slice(&100u32.to_le_bytes()); // caplen > block
                f
            },
            format!("offset {start}: packet of 100 captured bytes overruns its 92-byte block"),
        ),
        (
            {
                let mut f = ng(&|n| {
                    n.epb(0, 0, 60, A);
                });
                let at = f.len() - 4;
                f[at] ^= 4;
                f
            },
            format!("offset {start}: block length 92 does not match its trailing length 88"),
        ),
        (
            {
                let mut f = ng(&|n| {
                    n.epb(0, 0, 60, A);
                });
                f[start + 4] = 90;
                f
            },
            format!(
                "offset {start}: block of type 0x6 with length 90 (a multiple of 4, 12 to 16777216)"
            ),
        ),
        (
            ng(&|n| {
                n.epb(0, 0, 60, A);
            })[..start + 50]
                .to_vec(),
            format!("offset {start}: truncated block: needs 92 bytes, 50 left"),
        ),
        (
            ng(&|n| {
                n.idb(228, 0, None);
            }),
            format!("offset {start}: interface 1 has link type 228, not Ethernet (1)"),
        ),
        (
            ng(&|n| {
                n.block(NG_IDB, &[1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 40, 0]);
            }),
            format!("offset {start}: option 9 of 40 bytes overruns its interface description"),
        ),
        (
            ng(&|n| {
                n.block(NG_EPB, &[0; 8]);
            }),
            format!("offset {start}: block of type 0x6 too short for its fields (8 < 20 bytes)"),
        ),
        (
            {
                let mut n = Ng::new(false);
                n.shb();
                n.out[8] = 0x11; // byte-order magic
                n.out
            },
            "offset 0: section header with byte-order magic [11, 3c, 2b, 1a]".into(),
        ),
        (
            {
                let mut n = Ng::new(false);
                n.shb();
                n.out[12] = 2; // version
                n.out
            },
            "offset 0: unsupported pcapng version 2.0 (1.x expected)".into(),
        ),
        (
            {
                let mut n = Ng::new(false);
                n.spb(60, A);
                let mut f = Ng::new(false);
                f.shb();
                f.out.extend(n.out);
                f.out
            },
            "offset 28: packet of interface 0, but the section describes 0".into(),
        ),
    ];
    for (f, want) in cases {
        let e = err(&f);
        assert!(
            e.starts_with("t.pcap, ") && e.ends_with(&want),
            "{e}\n wanted {want}"
        );
    }
}

fn valid_pcap() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec((any::<u64>(), 0usize..300), 0..8),
    )
        .prop_map(|(nanos, be, recs)| {
            let data: Vec<Vec<u8>> = recs.iter().map(|&(ts, n)| vec![ts as u8; n]).collect();
            let recs: Vec<(u64, u32, &[u8])> = recs
                .iter()
                .zip(&data)
                .map(|(&(ts, n), d)| (ts % 4_000_000_000_000_000_000, n as u32, &d[..]))
                .collect();
            pcap(nanos, be, &recs)
        })
}

fn valid_pcapng() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        prop::collection::vec((0u8..3, any::<u64>(), 0usize..300), 0..8),
    )
        .prop_map(|(be, blocks)| {
            let mut n = Ng::new(be);
            n.shb().idb(1, 0, Some(9));
            for (kind, ts, len) in blocks {
                let d = vec![ts as u8; len];
                match kind {
                    0 => n.epb(0, ts, len as u32, &d),
                    1 => n.spb(len as u32, &d),
                    _ => n.idb(1, len as u32, Some(ts as u8)),
                };
            }
            n.out
        })
}

/// Reads every packet; never panics, and every error points inside the file.
fn read_any(f: &[u8]) -> Result<usize, String> {
    let mut r = match Reader::new(f, "p.pcap") {
        Ok(r) => r,
        Err(e) => {
            assert!(e.offset <= f.len() as u64, "{e}");
            return Err(e.to_string());
        }
    };
    let mut n = 0;
    loop {
        match r.next_packet() {
            Ok(Some(p)) => {
                assert!(p.data.len() <= f.len());
                n += 1;
            }
            Ok(None) => return Ok(n),
            Err(e) => {
                assert!(e.offset < f.len() as u64, "{e}");
                assert!(e.to_string().starts_with("p.pcap, offset "));
                return Err(e.to_string());
            }
        }
        assert!(n <= f.len() / 12, "more packets than the file can hold");
    }
}

proptest! {
    #[test]
    fn corrupted_pcap_files_never_panic(
        f in valid_pcap(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut f = f;
        for (i, v) in flips {
            let at = i.index(f.len());
            f[at] = v;
        }
        if truncate {
            let len = cut.index(f.len() + 1);
            f.truncate(len);
        }
        let _ = read_any(&f);
    }

    #[test]
    fn corrupted_pcapng_files_never_panic(
        f in valid_pcapng(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut f = f;
        for (i, v) in flips {
            let at = i.index(f.len());
            f[at] = v;
        }
        if truncate {
            let len = cut.index(f.len() + 1);
            f.truncate(len);
        }
        let _ = read_any(&f);
    }

    #[test]
    fn corrupted_headers_never_panic(
        header in prop::collection::vec(any::<u8>(), 0..64),
        tail in valid_pcap(),
    ) {
        // Random leading bytes, with the real magics now and then.
        for magic in [None, Some(MAGIC_US), Some(MAGIC_NS.swap_bytes()), Some(NG_SHB)] {
            let mut f = header.clone();
            if let (Some(m), true) = (magic, f.len() >= 4) {
                f[..4].copy_from_slice(&m.to_le_bytes());
            }
            f.extend(&tail[FILE_HEADER_LEN.min(tail.len())..]);
            let _ = read_any(&f);
        }
    }

    #[test]
    fn valid_files_read_whole(f in valid_pcap(), g in valid_pcapng()) {
        prop_assert!(read_any(&f).is_ok());
        prop_assert!(read_any(&g).is_ok());
        // Cutting a valid file inside its last record is an error, never a silent short read.
        if f.len() > FILE_HEADER_LEN {
            prop_assert!(read_any(&f).unwrap() > 0);
            prop_assert!(read_any(&f[..f.len() - 1]).is_err());
        }
    }
}
