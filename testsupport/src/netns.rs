//! Network namespaces for tests that move real packets: each test makes its own namespace,
//! creates interfaces inside it, enters it on the test's thread (threads started afterwards,
//! such as EAL lcores, inherit it), and everything goes when the value drops.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};

/// A network namespace named `rpdkt<pid><tag>`, deleted on drop (with its interfaces).
pub struct NetNs {
    name: String,
}

/// Keeps the calling thread inside a namespace; puts it back where it was on drop.
pub struct Entered {
    orig: File,
}

fn run(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd.output().map_err(|e| format!("running {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out)
}

impl NetNs {
    /// Creates the namespace (root only) with its loopback up.
    pub fn new(tag: &str) -> Result<NetNs, String> {
        let name = crate::unique_prefix(tag);
        // A namespace left by a crashed earlier run of this pid is removed first.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = NetNs { name };
        ns.sh("ip link set lo up")?;
        Ok(ns)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs a shell command inside the namespace; fails with its stderr.
    pub fn sh(&self, script: &str) -> Result<String, String> {
        let out = run(Command::new("ip").args(["netns", "exec", &self.name, "sh", "-c", script]))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Starts a shell command inside the namespace in the background.
    pub fn spawn(&self, script: &str) -> Result<std::process::Child, String> {
        Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", script])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting '{script}' in {}: {e}", self.name))
    }

    /// Creates a veth pair `a` <-> `b` inside the namespace, both up, with IPv6 off (so the
    /// kernel sends nothing of its own on them).
    pub fn add_veth(&self, a: &str, b: &str) -> Result<(), String> {
        self.sh(&format!(
            "ip link add {a} type veth peer name {b} && \
             sysctl -qw net.ipv6.conf.{a}.disable_ipv6=1 net.ipv6.conf.{b}.disable_ipv6=1 && \
             ip link set {a} up && ip link set {b} up"
        ))
        .map(|_| ())
    }

    /// Moves the calling thread into the namespace until the returned value drops.
    pub fn enter(&self) -> Result<Entered, String> {
        let orig = File::open("/proc/thread-self/ns/net")
            .map_err(|e| format!("opening our namespace: {e}"))?;
        let target = File::open(format!("/run/netns/{}", self.name))
            .map_err(|e| format!("opening namespace {}: {e}", self.name))?;
        // SAFETY: setns on a namespace file we opened; it only changes this thread's namespace.
        if unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!(
                "setns into {}: {}",
                self.name,
                std::io::Error::last_os_error()
            ));
        }
        Ok(Entered { orig })
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        // SAFETY: setns back into the namespace file we opened before leaving it.
        unsafe { libc::setns(self.orig.as_raw_fd(), libc::CLONE_NEWNET) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_hold_veths_and_go_away() {
        if !crate::require_root("namespaces_hold_veths_and_go_away") {
            return;
        }
        let ns = NetNs::new("nstest").unwrap();
        ns.add_veth("va0", "vb0").unwrap();
        assert!(ns.sh("ip -o link show va0").unwrap().contains("va0@vb0"));
        let name = ns.name().to_string();
        let index = || {
            let name = std::ffi::CString::new("va0").unwrap();
            // SAFETY: a valid C string; the lookup uses this thread's namespace.
            unsafe { libc::if_nametoindex(name.as_ptr()) }
        };
        {
            let _inside = ns.enter().unwrap();
            assert_ne!(index(), 0, "the link is visible inside");
        }
        assert_eq!(index(), 0, "back in our namespace");
        drop(ns);
        let list = String::from_utf8(
            Command::new("ip")
                .args(["netns", "list"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        assert!(!list.contains(&name), "namespace deleted");
    }
}
