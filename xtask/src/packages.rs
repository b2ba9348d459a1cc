//! Debian packages the demo and the tests need, installed when missing.

use std::process::Command;

use crate::{Result, run};

/// Building and running the camera simulator: GStreamer with its RTSP server and the
/// H.264/H.265/AAC/G.711 encoders, and a font for the burnt-in clock and camera name;
/// Node.js and npm to build the operator console (`web/console/`, embedded in the binary).
pub const DEMO: &[&str] = &[
    "pkg-config",
    "libgstreamer1.0-dev",
    "libgstreamer-plugins-base1.0-dev",
    "libgstrtspserver-1.0-dev",
    "gstreamer1.0-tools",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
    "gstreamer1.0-plugins-ugly",
    "gstreamer1.0-libav",
    "gstreamer1.0-rtsp",
    "fonts-dejavu-core",
    "nodejs",
    "npm",
];

/// What the tests need beyond the demo's packages: FFmpeg's ffprobe/ffmpeg as RTSP
/// clients, a PostgreSQL server for machines that do not run one, and the WHEP players —
/// headless Chromium (driven by npm's playwright-core), aiortc, which `cargo xtask test`
/// installs from PyPI into a virtualenv (see players.rs), and GStreamer's webrtcbin
/// (`watchpost-whep-gst`, fixtures' `whep-player` feature): gst-plugins-bad's headers to
/// build it, libnice's GStreamer plugin as its ICE agent.
pub const TEST_ONLY: &[&str] = &[
    "ffmpeg",
    "libgstreamer-plugins-bad1.0-dev",
    "gstreamer1.0-nice",
    "postgresql",
    "iproute2",
    "chromium",
    "fonts-liberation",
    "python3-venv",
    // Janus 1.1.2: the benchmark's reference peer (xtask/src/bench_janus.rs), smoke-tested
    // by fixtures/tests/janus.rs so the comparison never rots unnoticed.
    "janus",
];

/// Everything the demo and the tests need.
pub fn all() -> Vec<&'static str> {
    DEMO.iter().chain(TEST_ONLY).copied().collect()
}

/// Packages whose program may come from another package: NodeSource's `nodejs` bundles
/// npm and conflicts with Debian's `npm`, so a working `npm` command is enough.
const PROVIDED_BY_COMMAND: &[(&str, &str)] = &[("npm", "npm")];

fn installed(package: &str) -> bool {
    let by_command = PROVIDED_BY_COMMAND.iter().any(|&(p, command)| {
        p == package
            && Command::new(command)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
    });
    by_command || dpkg_installed(package)
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev}", package])
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"ii"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs the missing packages with apt-get as root; otherwise prints the exact command.
pub fn ensure(packages: &[&str]) -> Result {
    if Command::new("dpkg-query")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "xtask: not a Debian system; make sure these are installed: {}",
            packages.join(" ")
        );
        return Ok(());
    }
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        return Err(format!(
            "missing system packages; install them with:\n  sudo apt-get update && sudo apt-get install -y {}",
            missing.join(" ")
        ));
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    run(Command::new("apt-get").args(["-q", "-o", "DPkg::Lock::Timeout=600", "update"]))?;
    run(Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600"])
        .args(&missing))
}
