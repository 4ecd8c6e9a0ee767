//! Reading a capture file back with `tcpdump -r`, the check that what rpdk writes is a file
//! other tools read.

use std::path::Path;
use std::process::Command;

/// What `tcpdump -nn -r` makes of `file`: the packets it lists (one line each; hex dumps of
/// unknown EtherTypes follow on indented lines, not counted) and its stderr. Panics when
/// tcpdump fails on the file; `None` (a skip, see [`crate::skip`]) without tcpdump.
pub fn list(file: impl AsRef<Path>) -> Option<(usize, String)> {
    let file = file.as_ref();
    let out = match Command::new("tcpdump")
        .arg("-nn")
        .arg("-r")
        .arg(file)
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::skip(
                "the tcpdump check",
                "tcpdump is not installed (.ci/run installs it)",
            );
            return None;
        }
        Err(e) => panic!("running tcpdump: {e}"),
    };
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "tcpdump -r {}: {err}", file.display());
    let listed = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with(char::is_whitespace))
        .count();
    Some((listed, err))
}

#[cfg(test)]
mod tests {
    use crate::tempdir::TempDir;

    /// A classic little-endian pcap file of `frames` (Ethernet, microseconds).
    fn pcap(frames: &[&[u8]]) -> Vec<u8> {
        let mut f = Vec::new();
        for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
            f.extend(v.to_le_bytes());
        }
        for (i, d) in frames.iter().enumerate() {
            for v in [1_700_000_000, i as u32, d.len() as u32, d.len() as u32] {
                f.extend(v.to_le_bytes());
            }
            f.extend(*d);
        }
        f
    }

    #[test]
    fn counts_the_packets_of_a_file() {
        let dir = TempDir::new("tcpdump");
        // An experimental EtherType: tcpdump may dump its bytes on indented lines, not counted.
        let frame: Vec<u8> = [[0xff; 6], [2, 0, 0, 0, 0, 1]]
            .concat()
            .into_iter()
            .chain([0x88, 0xb5])
            .chain(0..46)
            .collect();
        let path = dir.path().join("three.pcap");
        std::fs::write(&path, pcap(&[&frame, &frame, &frame])).unwrap();
        let Some((n, _)) = super::list(&path) else {
            return;
        };
        assert_eq!(n, 3);
        std::fs::write(&path, b"not a capture").unwrap();
        assert!(
            std::panic::catch_unwind(|| super::list(&path)).is_err(),
            "tcpdump read a file that is not one"
        );
    }
}
