//! A directory of a test's own for the files it writes and reads back (capture files, a
//! child's inputs), removed with everything in it when the value drops.

use std::path::{Path, PathBuf};

/// `<temp dir>/rpdkt<pid><tag>`, made empty on creation and removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Makes the directory (removing what an earlier run of this pid left there).
    pub fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(crate::unique_prefix(tag));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("creating {}: {e}", d.display()));
        TempDir(d)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The path of `name` in it, as a string (for devargs such as `rx_pcap=`).
    pub fn file(&self, name: &str) -> String {
        self.0
            .join(name)
            .to_str()
            .expect("a UTF-8 path")
            .to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::TempDir;

    #[test]
    fn starts_empty_and_goes_with_its_files() {
        let d = TempDir::new("tempdir");
        std::fs::write(d.path().join("stale"), b"x").unwrap();
        drop(d);
        let d = TempDir::new("tempdir");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
        std::fs::write(d.file("a"), b"abc").unwrap();
        assert_eq!(std::fs::read(d.path().join("a")).unwrap(), b"abc");
        let path = d.path().to_path_buf();
        drop(d);
        assert!(!path.exists(), "{} is left", path.display());
    }
}
