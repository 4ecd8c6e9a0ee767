//! The runtime directory: `/var/run/rpdk/<file-prefix>/` (or under `$XDG_RUNTIME_DIR` when not
//! root), holding the `config` file that the primary process locks, so that two primaries with
//! the same prefix cannot run at once.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The base of runtime directories for this user.
pub fn base_dir() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/run/rpdk");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => Path::new(&d).join("rpdk"),
        _ => std::env::temp_dir().join("rpdk"),
    }
}

/// A created and locked runtime directory, removed on drop.
#[derive(Debug)]
pub struct RuntimeDir {
    dir: PathBuf,
    config: PathBuf,
    file: Option<File>,
    created_dir: bool,
}

/// The outcome of trying to become the primary of a prefix.
pub enum Claim {
    /// We hold the lock.
    Primary(RuntimeDir),
    /// Another process holds it.
    Taken(PathBuf),
}

impl RuntimeDir {
    /// Creates `<base>/<prefix>/config` and locks it exclusively.
    pub fn claim(prefix: &str) -> Result<Claim> {
        let dir = base_dir().join(prefix);
        let config = dir.join("config");
        let mut created_dir = false;
        // The last secondary of an earlier primary removes the directory when it finds it
        // empty, which it may do between our mkdir and our open: then make it again.
        let mut attempts = 0;
        let file = loop {
            created_dir |= !dir.exists();
            make_dir(&dir).map_err(|e| {
                Error::io(format!("creating runtime directory {}", dir.display()), e)
            })?;
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&config)
            {
                Ok(f) => break f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 10 => {
                    attempts += 1
                }
                Err(e) => return Err(Error::io(format!("opening {}", config.display()), e)),
            }
        };
        // SAFETY: flock on the file we just opened.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Ok(Claim::Taken(config));
            }
            return Err(Error::io(format!("locking {}", config.display()), e));
        }
        Ok(Claim::Primary(RuntimeDir {
            dir,
            config,
            file: Some(file),
            created_dir,
        }))
    }

    /// The runtime directory of the primary of `prefix`, for a secondary: fails, saying why,
    /// when no primary holds its lock.
    pub fn of_primary(prefix: &str) -> Result<PathBuf> {
        let dir = base_dir().join(prefix);
        let config = dir.join("config");
        let gone = |reason: String| Error::NoPrimary {
            prefix: prefix.to_string(),
            reason,
        };
        let file = File::open(&config).map_err(|e| {
            gone(format!(
                "no {} ({e}): start the primary first",
                config.display()
            ))
        })?;
        // SAFETY: flock on the file we just opened.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0 {
            let pid = std::fs::read_to_string(&config)
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("pid=").map(str::to_string))
                })
                .map(|p| format!(" (pid {p})"))
                .unwrap_or_default();
            return Err(gone(format!(
                "{} is not locked: its primary{pid} exited or was killed",
                config.display()
            )));
        }
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes a description of this instance into the config file, for people and for tools.
    pub fn describe(&mut self, text: &str) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.set_len(0)
            .and_then(|_| file.write_all(text.as_bytes()))
            .map_err(|e| Error::io(format!("writing {}", self.config.display()), e))
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.config);
        // Unlocks.
        self.file.take();
        if self.created_dir || fs::read_dir(&self.dir).is_ok_and(|mut d| d.next().is_none()) {
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

/// Creates `dir` and its parents (mode 0700), as `DirBuilder`'s recursive create, but also when
/// another process removes it meanwhile: std makes the directory, gets `EEXIST` because it is
/// there, then finds it gone (another process's cleanup of an empty runtime or telemetry
/// directory, between the two) and reports `AlreadyExists`. Then it tries again, a few times.
pub(crate) fn make_dir(dir: &Path) -> std::io::Result<()> {
    let mut attempts = 0;
    loop {
        match fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
        {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 8 => {
                attempts += 1;
            }
            other => return other,
        }
    }
}

/// Whether process `pid` runs: it exists (a process of another user counts) and is not a zombie
/// (a killed process whose parent has not reaped it yet holds nothing any more).
pub(crate) fn pid_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
        return false;
    }
    // The state follows the command name in parentheses, which may itself hold spaces.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next()),
            Some('Z' | 'X')
        ),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::make_dir;

    #[test]
    fn make_dir_creates_parents_accepts_a_directory_and_refuses_a_file() {
        let base = std::env::temp_dir().join(format!("rpdk-make-dir-{}", std::process::id()));
        let dir = base.join("a/b");
        make_dir(&dir).unwrap();
        assert!(dir.is_dir());
        make_dir(&dir).unwrap();
        let file = base.join("file");
        std::fs::write(&file, b"x").unwrap();
        let e = make_dir(&file).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
