//! `cargo xtask bench [--quick] [--only W1,W3,IDLE,SOAK,CONSOLE]`: bounded benchmarks on loopback,
//! written to `<target>/bench/results.json` (everything, with parameters and machine
//! facts) and `<target>/bench/results.md` (a short table beside the targets); a
//! partial run (`--only W3,IDLE`) to `results-w3-idle.json`/`.md`, leaving the full run's.
//!
//! # Set-up
//!
//! - Release builds of `watchpost` and `watchpost-whep-load` (the non-decoding WHEP load
//!   client, `fixtures/src/load/`).
//! - The source costs no encoder CPU during a measurement: two 10 s clips, 1280×720 at
//!   25 fps, H.264 Main, a key frame every 2 s, no B-frames, CBR at 600 kbit/s and
//!   2 Mbit/s, are encoded once with GStreamer (`x264enc`, `nal-hrd=cbr`) into
//!   `<target>/bench/` and served by `watchpost-whep-load --mode serve-clip`: packetized
//!   once into RTP, replayed over RTSP in a loop with continuous sequence numbers and
//!   timestamps, RTP interleaved over TCP to Watchpost and over UDP (loopback) to Janus,
//!   whose RTSP client knows nothing else; each RTSP connection replays the clip from its
//!   first picture.
//! - CPUs: the server runs under `taskset -c 1`, the load client and the source under
//!   `taskset -c 0`. Every benchmark starts a fresh server (its own data directory, log
//!   at warn level, logs in `<target>/bench/logs/`), on free loopback ports.
//! - Authentication: before each Watchpost server starts, `watchpost user add bench-admin
//!   --admin --password-stdin --config <its config>` adds an administrator to its fresh
//!   database with a random password; once `/healthz` answers, the bench logs in
//!   (`POST /api/v1/auth/login`) and sends the session token as `Authorization: Bearer` on
//!   its own API requests and hands it to the load client as `WATCHPOST_TOKEN` (the
//!   environment, not the command line). The password and the token are never printed.
//! - Server figures come from `/proc/<pid>/stat` (utime and stime, fields 14 and 15, in
//!   clock ticks of `getconf CLK_TCK`, 100 if that fails; reported apart — user, system —
//!   and added up), `/proc/<pid>/status` (VmRSS, Threads) and
//!   `/proc/<pid>/fd` (descriptors; sockets are the `socket:[…]` links). The load client
//!   marks its measured window on stderr (`phase=steady` … `phase=end`); the server is
//!   sampled at those two moments.
//!
//! # Benchmarks
//!
//! - **W1 fan-out**: one camera path, N WHEP readers (N ∈ {1, 10, 50, 100, 200, 500};
//!   `--quick`: {1, 10, 50}), both bitrates: server CPU µs per reader-second (user,
//!   system, total), RSS and RSS per reader (growth over the idle server, path included),
//!   delivery latency p50/p99 (exact samples, one per reader-second) and drift,
//!   packets/frames lost, readers playing/failed. Each run is repeated against Janus
//!   (below) and the table prints Watchpost/Janus ratios.
//! - **W2 RTSP readers**: not yet — needs the RTSP re-serve; the results say so.
//! - **W3 time to first frame**: warm (a reader keeps the path playing) and cold (the path
//!   is idle before each trial; linger 1 s), p50/p95 over 50 trials (`--quick`: 20).
//!   **Idle cameras**: a server with 1000 configured, unwatched cameras (pointing at unused
//!   127.0.0.1 ports) against one with none: RSS, sockets, descriptors, threads and live
//!   tokio tasks (`/healthz` `runtime.tasks`), per camera.
//! - **CONSOLE time to first frame of a warm tile** (`bench_console.rs`,
//!   `tests/browser/console_ttff.mjs`): headless Chromium (CPU 0) in the operator console
//!   (`/console`, built before the release build), layout 4, on a server with four
//!   inventory cameras on the clip source (`POST /api/v1/cameras`; linger 1 s). Tile 0
//!   plays a camera; per trial the keyboard puts another one on it (its number, Enter) and
//!   the page measures Enter keydown → the first frame of the new stream presented by the
//!   tile's `<video>` (`requestVideoFrameCallback`). Warm: the camera's path is running
//!   (another tile plays it; the hub's GOP cache); cold: it is idle on the server before the
//!   trial (the RTSP pull and the wait for a key frame: every 2 s in the clip, but the clip
//!   source starts each connection at an IDR, so none here). Both in each mode of the
//!   console's latency switch (smooth: jitter buffer target 500 ms; low: 0). p50/p95/min/max and every
//!   sample, 20 trials each (`--quick`: 8), with each switch's phases (WHEP OPTIONS and
//!   POST, connected, stream attached) and the new receiver's stats (PLI, FIR, NACK,
//!   frames). A measurement: no thresholds.
//! - **Soak**: 10 000 connect/disconnect cycles (`--quick`: 500), 10 at a time, after 50
//!   warm-up cycles; server RSS and descriptors before and after (linger 60 s, so the path
//!   is running at both samples).
//!
//! # Janus side by side
//!
//! After each W1 run, the same source and N against Janus 1.1.2 (Debian's `janus`):
//! `bench_janus.rs` starts it on loopback with one `rtsp` mountpoint of the streaming
//! plugin on the clip source (video only; the clip has no audio) and its HTTP API, the load
//! client runs the same fan-out (`--server janus`: Janus offers, every reader answers, a
//! keepalive every 25 s, the session destroyed at the end; `fixtures/src/load/janus.rs`),
//! and Janus's `/proc` is sampled exactly like Watchpost's (`w1_run` serves both). Without
//! `/usr/bin/janus` the runs are skipped and `results.json` says so.
//!
//! Options, chosen for Janus's best showing on one core: pinned to CPU 1 like Watchpost
//! (`taskset`); `event_loops = 1`: one static GLib loop for every viewer's media — the
//! default, 0, gives each handle a thread and a loop of its own, which on one core only adds
//! wake-ups and context switches (measured with `--quick`, 50 viewers: 7369 against 2450 µs
//! per viewer-second at 600 kbit/s, 12249 against 5373 at 2 Mbit/s); mountpoint
//! `threads = 0`: the mountpoint's RTP thread relays to every viewer itself (one helper
//! thread measured no better: 2949 and 5350 µs); `debug_level = 3`, warnings and errors
//! (the default, 4, logs every join; at 3 the log holds the start-up lines only);
//! `videobufferkf` off (Janus's default: a new viewer starts at the next key frame, at most
//! 2 s on; outside the measured window either way); the default `session_timeout` of 60 s.
//!
//! Two differences to keep in mind: Janus's mountpoint pulls the camera from its start, so
//! its idle sample (the base of RSS per reader) already holds the stream, where Watchpost's
//! on-demand path is not running yet; and **latency is not comparable**. The load client
//! measures a frame's latency through the server's RTCP sender reports, which Watchpost
//! (str0m) anchors at the frame's *ingest* wallclock. Janus 1.1.2's reports
//! (`janus_ice_outgoing_rtcp_handle` in `src/ice.c`) carry `rtp = last_rtp_ts + (now −
//! last_ntp_ts) · rate`, where `last_ntp_ts` is the wallclock at which Janus had just *sent*
//! the newest frame's first packet to that one viewer: the same arithmetic would give
//! Janus's last hop (its socket → the reader) only, without its ingest-to-send delay —
//! the very fan-out cost under test. So the Janus rows print `n/c` for latency and drift
//! (the client's raw figures stay in `results.json`, flagged `"latency_comparable":
//! false`), and the ratio row has no latency ratio.
//!
//! No figure is judged here: the targets are printed beside the measurements.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::bench_janus::{JANUS_BINARY, JanusOptions, JanusServer};

// CONSOLE: a child module, so it shares the server, source and HTTP helpers below.
#[path = "bench_console.rs"]
mod console_ttff;
use crate::json::Json;
use crate::{Result, cargo, root, run, target_dir};

/// What to run, from the command line.
#[derive(Debug, Clone)]
struct Plan {
    quick: bool,
    build: bool,
    only: Option<Vec<String>>,
}

impl Plan {
    fn wants(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|list| list.iter().any(|n| n.eq_ignore_ascii_case(name)))
    }

    fn readers(&self) -> &'static [usize] {
        if self.quick {
            &[1, 10, 50]
        } else {
            &[1, 10, 50, 100, 200, 500]
        }
    }

    fn w1_duration_s(&self) -> u64 {
        if self.quick { 8 } else { 30 }
    }

    fn ttff_trials(&self) -> usize {
        if self.quick { 20 } else { 50 }
    }

    fn soak_cycles(&self) -> usize {
        if self.quick { 500 } else { 10_000 }
    }
}

/// Delay between starting two readers of a fan-out run.
const RAMP_MS: u64 = 20;
/// Soak cycles at once.
const SOAK_CONCURRENCY: usize = 10;
/// Idle cameras configured for the idle-cost benchmark.
const IDLE_CAMERAS: usize = 1000;
/// The source's frame rate and clip length.
const FPS: u32 = 25;
const CLIP_SECONDS: u32 = 10;

/// One bitrate variant of the source.
#[derive(Debug, Clone, Copy)]
struct Variant {
    /// Short name (`600k`).
    name: &'static str,
    /// Target bitrate, kbit/s.
    kbps: u32,
}

const VARIANTS: [Variant; 2] = [
    Variant {
        name: "600k",
        kbps: 600,
    },
    Variant {
        name: "2M",
        kbps: 2000,
    },
];

pub fn bench(args: &[String]) -> Result {
    let mut plan = Plan {
        quick: false,
        build: true,
        only: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => plan.quick = true,
            "--no-build" => plan.build = false,
            "--only" => {
                let list = it
                    .next()
                    .ok_or("--only needs a list, e.g. W1,W3,IDLE,SOAK,CONSOLE")?;
                plan.only = Some(list.split(',').map(|s| s.trim().to_owned()).collect());
            }
            other => return Err(format!("unknown bench option {other}")),
        }
    }
    for tool in ["taskset", "gst-launch-1.0"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Err(format!(
                "{tool} is missing (util-linux; gstreamer1.0-tools: `cargo xtask install`)"
            ));
        }
    }
    if thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return Err("the benchmarks pin server and client to CPUs 0 and 1: need 2 CPUs".into());
    }
    let dir = target_dir().join("bench");
    fs::create_dir_all(dir.join("logs"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if plan.build {
        // The console is embedded into the binary (web/build.rs): built first.
        crate::console::build()?;
        run(cargo().args([
            "build",
            "--release",
            "--package",
            "watchpost-web",
            "--package",
            "watchpost-fixtures",
            "--bin",
            "watchpost",
            "--bin",
            "watchpost-whep-load",
        ]))?;
    }
    let bins = Bins {
        server: target_dir().join("release/watchpost"),
        load: target_dir().join("release/watchpost-whep-load"),
    };
    for b in [&bins.server, &bins.load] {
        if !b.is_file() {
            return Err(format!(
                "{} is missing (run without --no-build)",
                b.display()
            ));
        }
    }
    let clk_tck = clock_ticks();
    let mut clips = HashMap::new();
    for v in VARIANTS {
        clips.insert(v.name, ensure_clip(&dir, v)?);
    }

    let ctx = Ctx {
        dir: dir.clone(),
        bins,
        clk_tck,
    };
    let mut results: Vec<(String, Json)> = Vec::new();
    results.push(("machine".into(), machine(clk_tck)));
    results.push((
        "setup".into(),
        Json::obj([
            ("quick", Json::Bool(plan.quick)),
            ("server_cpu", Json::str("taskset -c 1")),
            ("client_and_source_cpu", Json::str("taskset -c 0")),
            (
                "source",
                Json::str(format!(
                    "pre-encoded H.264 clips, 1280x720 {FPS} fps, GOP 50, no B-frames, CBR; \
                     served looped over RTSP by watchpost-whep-load --mode serve-clip \
                     (Watchpost pulls RTP interleaved over TCP, Janus RTP over UDP)"
                )),
            ),
            ("clk_tck", Json::num(clk_tck as f64)),
        ]),
    ));

    if plan.wants("W1") {
        let janus = janus_available();
        let mut runs = Vec::new();
        for v in VARIANTS {
            let source = Source::start(&ctx, &clips[v.name], v)?;
            for &n in plan.readers() {
                eprintln!("xtask: bench W1 {} N={n}", v.name);
                let r = w1_run(
                    &ctx,
                    &source,
                    n,
                    plan.w1_duration_s(),
                    ServerKind::Watchpost,
                )?;
                runs.push(r);
                // The same source and N against Janus: the clip source serves it RTP over
                // UDP (Janus's RTSP client knows nothing else), Watchpost over TCP.
                if janus.is_ok() {
                    eprintln!("xtask: bench W1 {} N={n}, Janus", v.name);
                    let kind = ServerKind::Janus;
                    match w1_run(&ctx, &source, n, plan.w1_duration_s(), kind) {
                        Ok(r) => runs.push(r),
                        Err(e) => {
                            eprintln!("xtask: Janus run failed: {e}");
                            runs.push(Json::obj([
                                ("server", Json::str(kind.name())),
                                ("bitrate", Json::str(v.name)),
                                ("source", source.info.clone()),
                                ("readers", Json::num(n as f64)),
                                ("error", Json::str(e)),
                            ]));
                        }
                    }
                }
            }
            source.stop();
        }
        let janus = match &janus {
            Ok(version) => janus_json(version),
            Err(skipped) => Json::str(skipped.as_str()),
        };
        results.push((
            "w1_fanout".into(),
            Json::obj([
                (
                    "parameters",
                    Json::obj([
                        (
                            "readers",
                            Json::Arr(
                                plan.readers()
                                    .iter()
                                    .map(|&n| Json::num(n as f64))
                                    .collect(),
                            ),
                        ),
                        ("duration_s", Json::num(plan.w1_duration_s() as f64)),
                        ("ramp_ms", Json::num(RAMP_MS as f64)),
                        ("path", Json::str("bench/main")),
                    ]),
                ),
                ("runs", Json::Arr(runs)),
                ("janus", janus),
            ]),
        ));
    }
    results.push((
        "w2_rtsp_readers".into(),
        Json::obj([("status", Json::str("not yet: needs the RTSP re-serve"))]),
    ));
    if plan.wants("W3") {
        let v = VARIANTS[0];
        let source = Source::start(&ctx, &clips[v.name], v)?;
        let w3 = w3_ttff(&ctx, &source, plan.ttff_trials())?;
        source.stop();
        results.push(("w3_time_to_first_frame".into(), w3));
    }
    if plan.wants("IDLE") || plan.wants("W3") {
        results.push(("w3_idle_cameras".into(), idle_cameras(&ctx)?));
    }
    if plan.wants("CONSOLE") {
        let v = VARIANTS[0];
        let source = Source::start(&ctx, &clips[v.name], v)?;
        let console = console_ttff::console_ttff(&ctx, &source, console_ttff::trials(plan.quick));
        source.stop();
        results.push(("console_ttff".into(), console?));
    }
    if plan.wants("SOAK") {
        let v = VARIANTS[0];
        let source = Source::start(&ctx, &clips[v.name], v)?;
        let soak = soak(&ctx, &source, plan.soak_cycles())?;
        source.stop();
        results.push(("soak".into(), soak));
    }

    let results = Json::Obj(results);
    // A partial run (`--only`) does not overwrite the full run's files.
    let stem = match &plan.only {
        Some(list) => format!("results-{}", list.join("-").to_ascii_lowercase()),
        None => "results".to_owned(),
    };
    let json_path = dir.join(format!("{stem}.json"));
    fs::write(&json_path, results.to_pretty())
        .map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;
    let md = write_markdown(&results, &plan);
    let md_path = dir.join(format!("{stem}.md"));
    fs::write(&md_path, &md).map_err(|e| format!("cannot write {}: {e}", md_path.display()))?;
    println!("{md}");
    eprintln!(
        "xtask: wrote {} and {}",
        json_path.display(),
        md_path.display()
    );
    Ok(())
}

#[derive(Debug)]
struct Bins {
    server: PathBuf,
    load: PathBuf,
}

#[derive(Debug)]
struct Ctx {
    dir: PathBuf,
    bins: Bins,
    clk_tck: u64,
}

// ---------------------------------------------------------------------------------------
// Machine facts, /proc

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|&t: &u64| t > 0)
        .unwrap_or(100)
}

fn command_text(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn machine(clk_tck: u64) -> Json {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default();
    let mem_kib = fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
    });
    let commit = command_text("git", &["rev-parse", "HEAD"]).unwrap_or_default();
    let dirty = command_text("git", &["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    Json::obj([
        (
            "nproc",
            Json::num(thread::available_parallelism().map_or(0, |n| n.get()) as f64),
        ),
        ("cpu_model", Json::str(cpu)),
        ("mem_total_kib", Json::num(mem_kib)),
        (
            "kernel",
            Json::str(
                fs::read_to_string("/proc/sys/kernel/osrelease")
                    .unwrap_or_default()
                    .trim(),
            ),
        ),
        (
            "date_utc",
            Json::str(command_text("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]).unwrap_or_default()),
        ),
        ("git_commit", Json::str(commit)),
        ("git_dirty", Json::Bool(dirty)),
        (
            "rustc",
            Json::str(command_text("rustc", &["-V"]).unwrap_or_default()),
        ),
        ("clk_tck", Json::num(clk_tck as f64)),
    ])
}

/// One look at a process through `/proc`.
#[derive(Debug, Clone, Copy)]
struct ProcSample {
    at: Instant,
    /// CPU time in user mode (`utime`, field 14 of `/proc/<pid>/stat`), clock ticks.
    user_ticks: u64,
    /// CPU time in the kernel (`stime`, field 15), clock ticks: for a media server mostly
    /// the socket system calls.
    sys_ticks: u64,
    rss_kib: u64,
    threads: u64,
    fds: u64,
    sockets: u64,
}

fn proc_sample(pid: u32) -> Result<ProcSample> {
    let at = Instant::now();
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("/proc/{pid}/stat: no command name"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| -> Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("/proc/{pid}/stat: field {n}"))
    };
    let (user_ticks, sys_ticks) = (field(14)?, field(15)?);
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let status_kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (mut fds, mut sockets) = (0, 0);
    let entries =
        fs::read_dir(format!("/proc/{pid}/fd")).map_err(|e| format!("/proc/{pid}/fd: {e}"))?;
    for entry in entries.flatten() {
        fds += 1;
        if fs::read_link(entry.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:")) {
            sockets += 1;
        }
    }
    Ok(ProcSample {
        at,
        user_ticks,
        sys_ticks,
        rss_kib: status_kib("VmRSS:"),
        threads: status_kib("Threads:"),
        fds,
        sockets,
    })
}

fn sample_json(s: &ProcSample) -> Json {
    Json::obj([
        ("rss_kib", Json::num(s.rss_kib as f64)),
        ("threads", Json::num(s.threads as f64)),
        ("fds", Json::num(s.fds as f64)),
        ("sockets", Json::num(s.sockets as f64)),
    ])
}

// ---------------------------------------------------------------------------------------
// Processes

/// A free loopback port (bound and released at once: a small race, fine on a bench box).
fn free_tcp_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free TCP port: {e}"))
}

fn free_udp_port() -> Result<u16> {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free UDP port: {e}"))
}

fn pinned(cpu: u32, program: &Path) -> Command {
    let mut cmd = Command::new("taskset");
    // taskset execs the program: the child's pid is the program's.
    cmd.arg("-c").arg(cpu.to_string()).arg(program);
    cmd
}

/// SIGTERM, then SIGKILL after `grace`.
fn terminate(child: &mut Child, grace: Duration) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let start = Instant::now();
    while start.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A minimal HTTP/1.1 GET without credentials (`/healthz`); status and body.
fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    http_request(addr, "GET", path, None, None)
}

/// A minimal HTTP/1.1 request (`Connection: close`): `token` as `Authorization: Bearer`,
/// `json` as an `application/json` body; status and body, `None` when the exchange failed.
fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    json: Option<&str>,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = json.unwrap_or_default();
    if json.is_some() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// The administrator every benchmark server gets ([`add_admin`]).
const BENCH_ADMIN: &str = "bench-admin";

/// A random password for [`BENCH_ADMIN`]: 32 hex digits from `/dev/urandom`.
fn random_password() -> Result<String> {
    let mut bytes = [0u8; 16];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `watchpost user add bench-admin --admin --password-stdin --config CONFIG`: the
/// server's first administrator, in the database `config` names.
fn add_admin(server: &Path, config: &Path, password: &str) -> Result {
    let mut child = Command::new(server)
        .args(["user", "add", BENCH_ADMIN, "--admin", "--password-stdin"])
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {} user add: {e}", server.display()))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    // One line; a failed write shows in the command's own error below.
    let _ = writeln!(stdin, "{password}");
    drop(stdin);
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{} user add: {e}", server.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`watchpost user add {BENCH_ADMIN} --admin --config {}` failed ({}): {}{}",
            config.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// `POST /api/v1/auth/login` as [`BENCH_ADMIN`]: the session token.
fn login(http: SocketAddr, password: &str) -> Result<String> {
    let body = Json::obj([
        ("username", Json::str(BENCH_ADMIN)),
        ("password", Json::str(password)),
    ])
    .to_text();
    let (status, answer) = http_request(http, "POST", "/api/v1/auth/login", None, Some(&body))
        .ok_or_else(|| format!("POST http://{http}/api/v1/auth/login: no answer"))?;
    if status != 200 {
        // The server's error body names neither the password nor a token.
        return Err(format!(
            "POST http://{http}/api/v1/auth/login as {BENCH_ADMIN}: HTTP {status}: {}",
            answer.trim()
        ));
    }
    Json::parse(&answer)
        .ok()
        .and_then(|j| j.get("token").as_str().map(str::to_owned))
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            format!("POST http://{http}/api/v1/auth/login: 200 without a usable \"token\"")
        })
}

/// The looped clip, served by `watchpost-whep-load --mode serve-clip` on CPU 0.
struct Source {
    child: Child,
    url: String,
    info: Json,
    variant: Variant,
}

impl Source {
    fn start(ctx: &Ctx, clip: &Path, variant: Variant) -> Result<Source> {
        let log = log_file(ctx, &format!("source-{}", variant.name))?;
        let mut child = pinned(0, &ctx.bins.load)
            .args(["--mode", "serve-clip", "--fps", &FPS.to_string(), "--clip"])
            .arg(clip)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start the clip source: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("clip source: {e}"))?;
        let info = Json::parse(line.trim()).map_err(|e| {
            format!(
                "clip source said {line:?} ({e}); see {}",
                ctx.dir.join("logs").display()
            )
        })?;
        let url = info
            .get("url")
            .as_str()
            .ok_or_else(|| format!("clip source said {line:?}"))?
            .to_owned();
        Ok(Source {
            child,
            url,
            info,
            variant,
        })
    }

    fn stop(mut self) {
        terminate(&mut self.child, Duration::from_secs(5));
    }
}

fn log_file(ctx: &Ctx, name: &str) -> Result<fs::File> {
    let path = ctx.dir.join("logs").join(format!("{name}.log"));
    fs::File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// The server under test on CPU 1, with its own configuration and data directory, and
/// the session token of its administrator.
struct Server {
    child: Child,
    http: SocketAddr,
    /// [`BENCH_ADMIN`]'s session token: never printed.
    token: String,
    /// [`BENCH_ADMIN`]'s password (for a login form): never printed.
    password: String,
}

/// How a benchmark's server is configured.
struct ServerConfig<'a> {
    name: &'a str,
    /// The camera `bench` (main stream = `bench/main`) and its RTSP URL, if any.
    camera: Option<&'a str>,
    /// Further cameras that nobody watches.
    idle_cameras: usize,
    linger: &'a str,
}

impl Server {
    fn start(ctx: &Ctx, cfg: &ServerConfig<'_>) -> Result<Server> {
        let http_port = free_tcp_port()?;
        let udp_port = free_udp_port()?;
        let run_dir = ctx.dir.join("runs").join(cfg.name);
        let _ = fs::remove_dir_all(&run_dir);
        fs::create_dir_all(&run_dir)
            .map_err(|e| format!("cannot create {}: {e}", run_dir.display()))?;
        let mut toml = format!(
            "# Written by `cargo xtask bench` ({}).\n\
             [server]\nhttp_listen = \"127.0.0.1:{http_port}\"\nshutdown_grace = \"2s\"\n\
             [storage]\ndata_dir = \"{}\"\n\
             [media.on_demand]\nlinger = \"{}\"\nstart_timeout = \"20s\"\n\
             [webrtc]\nudp_listen = \"127.0.0.1:{udp_port}\"\n\
             [log]\nlevel = \"warn\"\n",
            cfg.name,
            run_dir.join("data").display(),
            cfg.linger
        );
        if let Some(url) = cfg.camera {
            toml.push_str(&format!(
                "\n[[cameras]]\nname = \"bench\"\ntitle = \"bench clip\"\nmain_url = \"{url}\"\ntransport = \"tcp\"\n"
            ));
        }
        for i in 0..cfg.idle_cameras {
            // Unused loopback ports: an idle camera is never connected to.
            toml.push_str(&format!(
                "\n[[cameras]]\nname = \"idle-{i:04}\"\ntitle = \"idle {i}\"\n\
                 main_url = \"rtsp://127.0.0.1:{}/main\"\n",
                1 + i % 1000
            ));
        }
        let config = run_dir.join("watchpost.toml");
        fs::write(&config, toml).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let password = random_password()?;
        add_admin(&ctx.bins.server, &config, &password)?;
        let log = log_file(ctx, &format!("server-{}", cfg.name))?;
        let log2 = log
            .try_clone()
            .map_err(|e| format!("cannot share the log file: {e}"))?;
        let mut child = pinned(1, &ctx.bins.server)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot start the server: {e}"))?;
        let http: SocketAddr = ([127, 0, 0, 1], http_port).into();
        let start = Instant::now();
        loop {
            if let Some((200, _)) = http_get(http, "/healthz") {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "the server exited ({status}); see {}",
                    ctx.dir
                        .join("logs")
                        .join(format!("server-{}.log", cfg.name))
                        .display()
                ));
            }
            if start.elapsed() > Duration::from_secs(30) {
                terminate(&mut child, Duration::from_secs(5));
                return Err("the server did not answer /healthz within 30 s".into());
            }
            thread::sleep(Duration::from_millis(50));
        }
        match login(http, &password) {
            Ok(token) => Ok(Server {
                child,
                http,
                token,
                password,
            }),
            Err(e) => {
                terminate(&mut child, Duration::from_secs(5));
                Err(e)
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn url(&self) -> String {
        format!("http://{}", self.http)
    }

    fn path_state(&self) -> Option<String> {
        let (status, body) = http_request(
            self.http,
            "GET",
            "/api/v1/paths/bench/main",
            Some(&self.token),
            None,
        )?;
        (status == 200)
            .then(|| {
                Json::parse(&body)
                    .ok()?
                    .get("state")
                    .as_str()
                    .map(str::to_owned)
            })
            .flatten()
    }

    fn stop(mut self) {
        terminate(&mut self.child, Duration::from_secs(10));
    }
}

/// A server under test as the load client and the `/proc` sampling see it: Watchpost
/// ([`Server`]) or Janus ([`JanusServer`]).
trait UnderTest {
    /// Its process id (for `/proc/<pid>`).
    fn pid(&self) -> u32;
    /// The load client's arguments that point it at this server.
    fn client_args(&self) -> Vec<String>;
    /// The bearer token the load client sends (`WATCHPOST_TOKEN`), if the server wants one.
    fn token(&self) -> Option<&str>;
    /// Stops it.
    fn stop_boxed(self: Box<Self>);
}

impl UnderTest for Server {
    fn pid(&self) -> u32 {
        Server::pid(self)
    }

    fn client_args(&self) -> Vec<String> {
        vec![
            "--url".into(),
            self.url(),
            "--path".into(),
            "bench/main".into(),
        ]
    }

    fn token(&self) -> Option<&str> {
        Some(&self.token)
    }

    fn stop_boxed(self: Box<Self>) {
        self.stop();
    }
}

impl UnderTest for JanusServer {
    fn pid(&self) -> u32 {
        JanusServer::pid(self)
    }

    fn client_args(&self) -> Vec<String> {
        vec![
            "--server".into(),
            "janus".into(),
            "--url".into(),
            self.http_base(),
            "--janus-mountpoint".into(),
            self.mountpoint_id().to_string(),
        ]
    }

    fn token(&self) -> Option<&str> {
        None
    }

    fn stop_boxed(mut self: Box<Self>) {
        if let Err(e) = JanusServer::stop(&mut self) {
            eprintln!("xtask: Janus: {e}");
        }
    }
}

/// What a load-client run printed, and the server samples at its phase marks.
struct LoadRun {
    output: Json,
    steady: Option<ProcSample>,
    end: Option<ProcSample>,
}

/// Runs the load client on CPU 0 against `server` with `args`, sampling the server at
/// `phase=steady` and `phase=end`; fails if it does not finish within `deadline`.
fn load_client(
    ctx: &Ctx,
    server: &dyn UnderTest,
    args: &[String],
    deadline: Duration,
) -> Result<LoadRun> {
    let mut command = pinned(0, &ctx.bins.load);
    // The token goes through the environment: a command line shows in `ps`.
    match server.token() {
        Some(token) => command.env("WATCHPOST_TOKEN", token),
        None => command.env_remove("WATCHPOST_TOKEN"),
    };
    let mut child = command
        .args(server.client_args())
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the load client: {e}"))?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel::<String>();
    let err_thread = thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
            let phase = line.contains("phase=");
            if phase {
                let _ = tx.send(line.clone());
            }
            eprintln!("  {line}");
        }
    });
    let out_thread = thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stdout).read_to_string(&mut text);
        text
    });
    let pid = server.pid();
    let (mut steady, mut end) = (None, None);
    let start = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.contains("phase=steady") => steady = proc_sample(pid).ok(),
            Ok(line) if line.contains("phase=end") => end = proc_sample(pid).ok(),
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if start.elapsed() > deadline {
            terminate(&mut child, Duration::from_secs(5));
            return Err(format!(
                "the load client ({}) took longer than {deadline:?}",
                args.join(" ")
            ));
        }
    }
    let status = child.wait().map_err(|e| format!("load client: {e}"))?;
    let _ = err_thread.join();
    let text = out_thread.join().unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "the load client failed ({status}): {}",
            args.join(" ")
        ));
    }
    let line = text.lines().last().unwrap_or_default();
    let output = Json::parse(line).map_err(|e| format!("load client output {line:?}: {e}"))?;
    Ok(LoadRun {
        output,
        steady,
        end,
    })
}

// ---------------------------------------------------------------------------------------
// The clips

fn ensure_clip(dir: &Path, v: Variant) -> Result<PathBuf> {
    let frames = FPS * CLIP_SECONDS;
    let path = dir.join(format!(
        "clip-1280x720-{FPS}fps-{}kbps-{CLIP_SECONDS}s.h264",
        v.kbps
    ));
    if path.is_file() {
        return Ok(path);
    }
    eprintln!("xtask: encoding {} once", path.display());
    let partial = path.with_extension("h264.partial");
    let launch = format!(
        "videotestsrc num-buffers={frames} pattern=zone-plate kx2=20 ky2=20 kt=1 \
         ! video/x-raw,format=I420,width=1280,height=720,framerate={FPS}/1 \
         ! timeoverlay font-desc=\"Sans 36\" ! videoconvert ! video/x-raw,format=I420 \
         ! x264enc bitrate={} speed-preset=veryfast tune=zerolatency key-int-max={} bframes=0 \
           threads=1 vbv-buf-capacity=1000 option-string=nal-hrd=cbr \
         ! video/x-h264,profile=main ! h264parse config-interval=-1 \
         ! video/x-h264,stream-format=byte-stream,alignment=au \
         ! filesink location={}",
        v.kbps,
        2 * FPS,
        partial.display()
    );
    run(Command::new("sh").args(["-c", &format!("gst-launch-1.0 -q {launch}")]))?;
    fs::rename(&partial, &path).map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------
// W1

/// Which server a W1 run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    Watchpost,
    Janus,
}

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            ServerKind::Watchpost => "watchpost",
            ServerKind::Janus => "janus",
        }
    }
}

/// Janus's `event_loops`: one static GLib loop serves every viewer (see the module
/// documentation for why).
const JANUS_EVENT_LOOPS: u32 = 1;
/// Janus's `debug_level`: warnings and errors only (4, Janus's default, logs every join).
const JANUS_DEBUG_LEVEL: u8 = 3;

/// How the benchmark runs Janus for one W1 run on `source`.
fn janus_options(ctx: &Ctx, source: &Source, name: &str) -> JanusOptions {
    let mut opts = JanusOptions::new(source.url.clone(), ctx.dir.join("janus").join(name));
    // The clip has no audio track.
    opts.audio = false;
    opts.cpu = Some(1);
    opts.debug_level = JANUS_DEBUG_LEVEL;
    opts.event_loops = JANUS_EVENT_LOOPS;
    opts.relay_threads = 0;
    opts.buffer_keyframe = false;
    opts
}

/// The Janus options the W1 runs use, for `results.json`.
fn janus_json(version: &str) -> Json {
    Json::obj([
        ("binary", Json::str(JANUS_BINARY)),
        ("version", Json::str(version)),
        ("cpu", Json::str("taskset -c 1")),
        ("event_loops", Json::num(f64::from(JANUS_EVENT_LOOPS))),
        ("relay_threads", Json::num(0.0)),
        ("debug_level", Json::num(f64::from(JANUS_DEBUG_LEVEL))),
        ("session_timeout_s", Json::num(60.0)),
        ("videobufferkf", Json::Bool(false)),
        (
            "mountpoint",
            Json::str("streaming plugin, type rtsp, video only, RTP over UDP from the clip source"),
        ),
        (
            "signalling",
            Json::str(
                "HTTP API: create, attach, watch (Janus offers), start with the answer, keepalive every 25 s, destroy",
            ),
        ),
        ("latency", Json::str(JANUS_LATENCY_NOTE)),
    ])
}

/// Why the load client's latency is not comparable for Janus (see the module doc).
const JANUS_LATENCY_NOTE: &str = "not comparable: Janus 1.1.2's RTCP sender reports map RTP \
     time to the wallclock at which Janus sent the newest frame's first packet to that viewer \
     (src/ice.c), not to when the frame arrived from the camera, so the load client would \
     measure only the last hop and miss Janus's ingest-to-send delay";

/// Janus's version (`1102 (1.1.2)`), or why the Janus runs are skipped (the `"janus"`
/// entry of `results.json` then).
fn janus_available() -> std::result::Result<String, String> {
    if !Path::new(JANUS_BINARY).is_file() {
        return Err(format!(
            "skipped: {JANUS_BINARY} missing (cargo xtask install)"
        ));
    }
    // `janus --version` prints its version, then exits with status 1 ("Unknown option").
    let version = Command::new(JANUS_BINARY)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let version = version
        .lines()
        .find_map(|l| l.strip_prefix("Janus version:"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    Ok(version)
}

/// One fan-out run: starts `kind` on `source`, samples its idle process, runs the load
/// client (N readers, `duration_s` measured) against it while sampling its `/proc` at
/// `phase=steady` and `phase=end`, stops it.
fn w1_run(
    ctx: &Ctx,
    source: &Source,
    readers: usize,
    duration_s: u64,
    kind: ServerKind,
) -> Result<Json> {
    let name = match kind {
        ServerKind::Watchpost => format!("w1-{}-{readers}", source.variant.name),
        ServerKind::Janus => format!("w1-janus-{}-{readers}", source.variant.name),
    };
    let server: Box<dyn UnderTest> = match kind {
        ServerKind::Watchpost => Box::new(Server::start(
            ctx,
            &ServerConfig {
                name: &name,
                camera: Some(&source.url),
                idle_cameras: 0,
                linger: "10s",
            },
        )?),
        ServerKind::Janus => Box::new(JanusServer::start(&janus_options(ctx, source, &name))?),
    };
    thread::sleep(Duration::from_secs(1));
    let idle = match proc_sample(server.pid()) {
        Ok(idle) => idle,
        Err(e) => {
            server.stop_boxed();
            return Err(e);
        }
    };
    let args: Vec<String> = [
        "--mode".into(),
        "fanout".into(),
        "--readers".into(),
        readers.to_string(),
        "--duration-s".into(),
        duration_s.to_string(),
        "--ramp-ms".into(),
        RAMP_MS.to_string(),
        "--connect-timeout-s".into(),
        "30".into(),
    ]
    .into();
    let deadline =
        Duration::from_secs(duration_s + 120) + Duration::from_millis(RAMP_MS * readers as u64);
    let result = load_client(ctx, &*server, &args, deadline);
    server.stop_boxed();
    let run = result?;
    let playing = run
        .output
        .at(&["result", "playing"])
        .as_f64()
        .unwrap_or(0.0);
    let mut out = Json::obj([
        ("server", Json::str(kind.name())),
        ("bitrate", Json::str(source.variant.name)),
        ("source", source.info.clone()),
        ("readers", Json::num(readers as f64)),
        ("server_process", window_json(ctx, &idle, &run, playing)),
        (
            "latency_comparable",
            Json::Bool(kind == ServerKind::Watchpost),
        ),
        ("client", run.output),
    ]);
    if kind == ServerKind::Janus {
        out.set("latency_note", Json::str(JANUS_LATENCY_NOTE));
    }
    Ok(out)
}

/// The server's figures over a run's measured window: CPU (user, system, total; per
/// reader-second), RSS and RSS per reader over the idle server.
fn window_json(ctx: &Ctx, idle: &ProcSample, run: &LoadRun, playing: f64) -> Json {
    let mut json = Json::obj([("idle", sample_json(idle))]);
    let (Some(a), Some(b)) = (run.steady, run.end) else {
        return json;
    };
    let wall = (b.at - a.at).as_secs_f64();
    let us = |ticks: u64| ticks as f64 * 1e6 / ctx.clk_tck as f64;
    let user_us = us(b.user_ticks.saturating_sub(a.user_ticks));
    let sys_us = us(b.sys_ticks.saturating_sub(a.sys_ticks));
    let cpu_us = user_us + sys_us;
    let per_reader_s =
        |v: f64| Json::num((playing > 0.0 && wall > 0.0).then(|| v / (playing * wall)));
    json.set("window_s", Json::num(wall));
    json.set("cpu_us", Json::num(cpu_us));
    json.set("cpu_user_us", Json::num(user_us));
    json.set("cpu_sys_us", Json::num(sys_us));
    json.set("cpu_percent", Json::num(cpu_us / 1e6 / wall * 100.0));
    json.set("cpu_us_per_reader_s", per_reader_s(cpu_us));
    json.set("cpu_user_us_per_reader_s", per_reader_s(user_us));
    json.set("cpu_sys_us_per_reader_s", per_reader_s(sys_us));
    json.set("steady", sample_json(&a));
    json.set("end", sample_json(&b));
    json.set(
        "rss_per_reader_kib",
        Json::num((playing > 0.0).then(|| (b.rss_kib as f64 - idle.rss_kib as f64) / playing)),
    );
    json
}

// ---------------------------------------------------------------------------------------
// W3

fn w3_ttff(ctx: &Ctx, source: &Source, trials: usize) -> Result<Json> {
    let server = Server::start(
        ctx,
        &ServerConfig {
            name: "w3-ttff",
            camera: Some(&source.url),
            idle_cameras: 0,
            linger: "1s",
        },
    )?;
    let mut out = Vec::new();
    for cold in [false, true] {
        eprintln!(
            "xtask: bench W3 time to first frame, {} ({trials} trials)",
            if cold { "cold" } else { "warm" }
        );
        let mut args: Vec<String> = vec![
            "--mode".into(),
            "ttff".into(),
            "--trials".into(),
            trials.to_string(),
            "--idle-timeout-s".into(),
            "30".into(),
        ];
        if cold {
            args.push("--cold".into());
        }
        let run = load_client(
            ctx,
            &server,
            &args,
            Duration::from_secs(60 + 40 * trials as u64),
        );
        match run {
            Ok(run) => out.push((if cold { "cold" } else { "warm" }, run.output)),
            Err(e) => {
                server.stop();
                return Err(e);
            }
        }
    }
    let state = server.path_state();
    server.stop();
    let mut json = Json::obj(out);
    json.set(
        "parameters",
        Json::obj([
            ("trials", Json::num(trials as f64)),
            ("linger", Json::str("1s")),
            ("source", source.info.clone()),
            (
                "definition",
                Json::str("WHEP POST sent -> first video frame holding an IDR slice at the client"),
            ),
        ]),
    );
    json.set("path_state_after", Json::str(state.unwrap_or_default()));
    Ok(json)
}

/// The server's process after 3 s of settling, and its live tokio tasks (`/healthz`
/// `runtime.tasks`; `None` if it does not say).
fn settled_sample(server: &Server) -> Result<(ProcSample, Option<u64>)> {
    thread::sleep(Duration::from_secs(3));
    let sample = proc_sample(server.pid())?;
    let tasks = http_get(server.http, "/healthz")
        .and_then(|(_, body)| Json::parse(&body).ok())
        .and_then(|j| j.get("runtime").get("tasks").as_f64())
        .map(|t| t as u64);
    Ok((sample, tasks))
}

/// [`sample_json`] with the server's live tokio tasks.
fn with_tasks(sample: &ProcSample, tasks: Option<u64>) -> Json {
    let mut j = sample_json(sample);
    j.set("tasks", Json::num(tasks.map(|t| t as f64)));
    j
}

fn idle_cameras(ctx: &Ctx) -> Result<Json> {
    eprintln!("xtask: bench idle cost of {IDLE_CAMERAS} configured cameras");
    let none = Server::start(
        ctx,
        &ServerConfig {
            name: "idle-0",
            camera: None,
            idle_cameras: 0,
            linger: "10s",
        },
    )?;
    let base = settled_sample(&none);
    none.stop();
    let base = base?;
    let many = Server::start(
        ctx,
        &ServerConfig {
            name: "idle-1000",
            camera: None,
            idle_cameras: IDLE_CAMERAS,
            linger: "10s",
        },
    )?;
    let loaded = settled_sample(&many);
    many.stop();
    let loaded = loaded?;
    let ((base, base_tasks), (loaded, loaded_tasks)) = (base, loaded);
    let per = |a: u64, b: u64| Json::num((b as f64 - a as f64) / IDLE_CAMERAS as f64);
    Ok(Json::obj([
        (
            "parameters",
            Json::obj([
                ("cameras", Json::num(IDLE_CAMERAS as f64)),
                (
                    "camera_urls",
                    Json::str("rtsp://127.0.0.1:{1..1000}/main, never connected (nobody watches)"),
                ),
                ("settle_s", Json::num(3.0)),
            ]),
        ),
        ("zero_cameras", with_tasks(&base, base_tasks)),
        ("with_cameras", with_tasks(&loaded, loaded_tasks)),
        (
            "per_camera",
            Json::obj([
                ("rss_kib", per(base.rss_kib, loaded.rss_kib)),
                ("sockets", per(base.sockets, loaded.sockets)),
                ("fds", per(base.fds, loaded.fds)),
                ("threads", per(base.threads, loaded.threads)),
                (
                    "tasks",
                    match (base_tasks, loaded_tasks) {
                        (Some(a), Some(b)) => per(a, b),
                        _ => Json::Null,
                    },
                ),
            ]),
        ),
    ]))
}

// ---------------------------------------------------------------------------------------
// Soak

fn soak(ctx: &Ctx, source: &Source, cycles: usize) -> Result<Json> {
    eprintln!("xtask: bench soak, {cycles} cycles");
    let server = Server::start(
        ctx,
        &ServerConfig {
            name: "soak",
            camera: Some(&source.url),
            idle_cameras: 0,
            linger: "60s",
        },
    )?;
    let soak_args = |n: usize| -> Vec<String> {
        vec![
            "--mode".into(),
            "soak".into(),
            "--cycles".into(),
            n.to_string(),
            "--concurrency".into(),
            SOAK_CONCURRENCY.to_string(),
        ]
    };
    let result = (|| -> Result<Json> {
        load_client(ctx, &server, &soak_args(50), Duration::from_secs(300))?;
        let (before, tasks_before) = settled_sample(&server)?;
        let state_before = server.path_state().unwrap_or_default();
        let run = load_client(
            ctx,
            &server,
            &soak_args(cycles),
            Duration::from_secs(600 + cycles as u64 / 2),
        )?;
        let (after, tasks_after) = settled_sample(&server)?;
        let state_after = server.path_state().unwrap_or_default();
        let rss_change =
            (after.rss_kib as f64 - before.rss_kib as f64) / before.rss_kib.max(1) as f64 * 100.0;
        Ok(Json::obj([
            (
                "parameters",
                Json::obj([
                    ("cycles", Json::num(cycles as f64)),
                    ("concurrency", Json::num(SOAK_CONCURRENCY as f64)),
                    ("warm_up_cycles", Json::num(50.0)),
                    ("linger", Json::str("60s")),
                    (
                        "cycle",
                        Json::str("WHEP POST -> ICE+DTLS -> first media frame -> DELETE"),
                    ),
                ]),
            ),
            ("before", with_tasks(&before, tasks_before)),
            ("after", with_tasks(&after, tasks_after)),
            ("path_state_before", Json::str(state_before)),
            ("path_state_after", Json::str(state_after)),
            ("rss_change_percent", Json::num(rss_change)),
            (
                "fds_change",
                Json::num(after.fds as f64 - before.fds as f64),
            ),
            (
                "sockets_change",
                Json::num(after.sockets as f64 - before.sockets as f64),
            ),
            ("client", run.output),
        ]))
    })();
    server.stop();
    result
}

// ---------------------------------------------------------------------------------------
// The table

fn fmt(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(x) => format!("{x:.decimals$}"),
        None => "—".into(),
    }
}

fn write_markdown(results: &Json, plan: &Plan) -> String {
    let m = results.get("machine");
    let mut md = String::new();
    md.push_str("# Watchpost benchmarks\n\n");
    md.push_str(&format!(
        "`cargo xtask bench{}` on {} × {}, {} MiB, Linux {}, {} (commit {}{}). Server on CPU 1, \
         load client and source on CPU 0, loopback only. Full data: `results.json`.\n\n",
        if plan.quick { " --quick" } else { "" },
        fmt(m.get("nproc").as_f64(), 0),
        m.get("cpu_model").as_str().unwrap_or("?"),
        fmt(m.get("mem_total_kib").as_f64().map(|k| k / 1024.0), 0),
        m.get("kernel").as_str().unwrap_or("?"),
        m.get("date_utc").as_str().unwrap_or("?"),
        m.get("git_commit")
            .as_str()
            .unwrap_or("?")
            .get(..10)
            .unwrap_or("?"),
        if m.get("git_dirty") == &Json::Bool(true) {
            ", dirty"
        } else {
            ""
        },
    ));
    let w1 = results.get("w1_fanout");
    if let Json::Arr(runs) = w1.get("runs") {
        md.push_str(&w1_markdown(w1, runs));
    }
    md.push_str("## W2 RTSP readers\n\nNot yet: needs the RTSP re-serve.\n\n");
    let w3 = results.get("w3_time_to_first_frame");
    if w3 != &Json::Null {
        md.push_str(&format!(
            "## W3 time to first frame ({} trials each; WHEP POST → first IDR at the client)\n\n\
             | start | ok | p50 ms | p95 ms | max ms | target |\n|---|---:|---:|---:|---:|---|\n",
            fmt(w3.at(&["parameters", "trials"]).as_f64(), 0)
        ));
        for (key, target) in [("warm", "p95 ≤ 150 ms"), ("cold", "—")] {
            let r = w3.at(&[key, "result"]);
            md.push_str(&format!(
                "| {key} | {}/{} | {} | {} | {} | {target} |\n",
                fmt(r.get("ok").as_f64(), 0),
                fmt(r.get("trials").as_f64(), 0),
                fmt(r.at(&["ttff_ms", "p50"]).as_f64(), 1),
                fmt(r.at(&["ttff_ms", "p95"]).as_f64(), 1),
                fmt(r.at(&["ttff_ms", "max"]).as_f64(), 1),
            ));
        }
        md.push('\n');
    }
    let idle = results.get("w3_idle_cameras");
    if idle != &Json::Null {
        md.push_str(&format!(
            "## Idle cost of {} configured, unwatched cameras\n\n\
             | | RSS MiB | sockets | descriptors | threads | tokio tasks |\n\
             |---|---:|---:|---:|---:|---:|\n",
            fmt(idle.at(&["parameters", "cameras"]).as_f64(), 0)
        ));
        for (label, key) in [
            ("0 cameras", "zero_cameras"),
            ("1000 cameras", "with_cameras"),
        ] {
            md.push_str(&sample_row(label, idle.get(key)));
        }
        let p = idle.get("per_camera");
        md.push_str(&format!(
            "| per camera | {} KiB | {} | {} | {} | {} |\n\nTarget: ≤ 20 KB and no socket per \
             idle camera. Tasks: tokio's live tasks as `/healthz` reports them \
             (`runtime.tasks`).\n\n",
            fmt(p.get("rss_kib").as_f64(), 1),
            fmt(p.get("sockets").as_f64(), 3),
            fmt(p.get("fds").as_f64(), 3),
            fmt(p.get("threads").as_f64(), 3),
            fmt(p.get("tasks").as_f64(), 3),
        ));
    }
    md.push_str(&console_ttff::markdown(results.get("console_ttff")));
    let soak = results.get("soak");
    if soak != &Json::Null {
        let c = soak.at(&["client", "result"]);
        md.push_str(&format!(
            "## Soak ({} WHEP connect/disconnect cycles, {} at a time)\n\n\
             | | RSS MiB | sockets | descriptors | threads | tokio tasks |\n\
             |---|---:|---:|---:|---:|---:|\n{}{}\n\
             Cycles ok: {}/{} in {} s (cycle p50 {} ms). RSS change {} % (target: within 5 %); \
             descriptors {:+} (target: back to baseline).\n\n",
            fmt(soak.at(&["parameters", "cycles"]).as_f64(), 0),
            fmt(soak.at(&["parameters", "concurrency"]).as_f64(), 0),
            sample_row("before", soak.get("before")),
            sample_row("after", soak.get("after")),
            fmt(c.get("ok").as_f64(), 0),
            fmt(c.get("cycles").as_f64(), 0),
            fmt(c.get("elapsed_s").as_f64(), 1),
            fmt(c.at(&["cycle_ms", "p50"]).as_f64(), 1),
            fmt(soak.get("rss_change_percent").as_f64(), 2),
            soak.get("fds_change").as_f64().unwrap_or(f64::NAN) as i64,
        ));
    }
    md
}

/// One markdown row of a process sample ([`with_tasks`]): RSS MiB, sockets, descriptors,
/// threads, tokio tasks.
fn sample_row(label: &str, s: &Json) -> String {
    format!(
        "| {label} | {} | {} | {} | {} | {} |\n",
        fmt(s.get("rss_kib").as_f64().map(|k| k / 1024.0), 1),
        fmt(s.get("sockets").as_f64(), 0),
        fmt(s.get("fds").as_f64(), 0),
        fmt(s.get("threads").as_f64(), 0),
        fmt(s.get("tasks").as_f64(), 0),
    )
}

/// The W1 table: per (bitrate, N) a Watchpost row, a Janus row and their ratio.
fn w1_markdown(w1: &Json, runs: &[Json]) -> String {
    let mut md = format!(
        "## W1 fan-out (one camera → N readers, {} s measured per run)\n\n\
         Watchpost (WHEP) and, on the same source and N, Janus 1.1.2 (streaming plugin). \
         Targets: CPU ≤ 500 µs per reader-second at 600 kbit/s and ≤ ¼ of Janus's \
         (W/J ≤ 0.25); latency p99 < 10 ms, no drift.\n\n\
         | bitrate | N | server | playing/failed | server CPU µs/reader·s (user/sys) | server CPU % | RSS MiB | RSS/reader KiB | latency p50 / p99 ms | drift ms | lost packets / frames | client CPU % |\n\
         |---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        fmt(w1.at(&["parameters", "duration_s"]).as_f64(), 0)
    );
    // (bitrate, N) in the order run.
    let mut keys: Vec<(String, Option<f64>)> = Vec::new();
    for r in runs {
        let key = (
            r.get("bitrate").as_str().unwrap_or("?").to_owned(),
            r.get("readers").as_f64(),
        );
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (bitrate, readers) in &keys {
        let of = |server: &str| {
            runs.iter().find(|r| {
                r.get("server").as_str() == Some(server)
                    && r.get("bitrate").as_str() == Some(bitrate.as_str())
                    && r.get("readers").as_f64() == *readers
            })
        };
        let label = format!(
            "{bitrate} ({} kbit/s)",
            runs.iter()
                .find(|r| r.get("bitrate").as_str() == Some(bitrate.as_str()))
                .map_or("?".into(), |r| fmt(r.at(&["source", "kbps"]).as_f64(), 0))
        );
        let (watchpost, janus) = (of("watchpost"), of("janus"));
        let mut first = true;
        for (name, run) in [("Watchpost", watchpost), ("Janus", janus)] {
            let Some(r) = run else { continue };
            let (b, n) = if first {
                (label.as_str(), fmt(*readers, 0))
            } else {
                ("", String::new())
            };
            first = false;
            md.push_str(&w1_row(b, &n, name, r));
        }
        if let (Some(w), Some(j)) = (watchpost, janus)
            && j.get("error") == &Json::Null
        {
            md.push_str(&ratio_row(w, j));
        }
    }
    md.push_str(
        "\nCPU: the server process's user + system time over the window (`/proc/<pid>/stat` \
         fields 14 and 15), per playing reader and second. Latency: ingest at the server → \
         last packet at the client, exact samples (one per reader-second from RTCP sender \
         reports; see `fixtures/src/load/reader.rs`). RSS/reader: (RSS at the end of the window \
         − idle server) / readers; Watchpost's idle server has not connected the camera yet (on \
         demand), Janus's mountpoint pulls it from the start. Client CPU near 100 % means the \
         client, not the server, limits the run. W/J: Watchpost ÷ Janus (below 1: Watchpost \
         needs less).\n\n",
    );
    match w1.get("janus") {
        Json::Null => {}
        Json::Str(skipped) => md.push_str(&format!("Janus: {skipped}.\n\n")),
        janus => md.push_str(&format!(
            "Janus {} (`{}`), pinned like the server (`{}`), with the options that gave it its \
             best showing on one core (why: `xtask/src/bench.rs`): `event_loops = {}`, \
             mountpoint `threads = {}`, `debug_level = {}`, `videobufferkf = {}`; its RTSP \
             client pulls the clip over UDP. Janus latency (`n/c`): {}.\n\n",
            janus.get("version").as_str().unwrap_or("?"),
            janus.get("binary").as_str().unwrap_or("?"),
            janus.get("cpu").as_str().unwrap_or("?"),
            fmt(janus.get("event_loops").as_f64(), 0),
            fmt(janus.get("relay_threads").as_f64(), 0),
            fmt(janus.get("debug_level").as_f64(), 0),
            janus.get("videobufferkf") == &Json::Bool(true),
            janus.get("latency").as_str().unwrap_or("?"),
        )),
    }
    md
}

/// One W1 table row: `bitrate` and `n` are empty on a group's second row.
fn w1_row(bitrate: &str, n: &str, server: &str, r: &Json) -> String {
    if let Some(error) = r.get("error").as_str() {
        let error = error.lines().next().unwrap_or_default().replace('|', "\\|");
        return format!("| {bitrate} | {n} | {server} | failed: {error} | | | | | | | | |\n");
    }
    let c = r.at(&["client", "result"]);
    let s = r.get("server_process");
    let comparable = r.get("latency_comparable") != &Json::Bool(false);
    let (latency, drift) = if comparable {
        (
            format!(
                "{} / {} (n={})",
                fmt(c.at(&["latency_ms", "p50"]).as_f64(), 2),
                fmt(c.at(&["latency_ms", "p99"]).as_f64(), 2),
                fmt(c.at(&["latency_ms", "count"]).as_f64(), 0),
            ),
            fmt(c.get("latency_drift_ms").as_f64(), 2),
        )
    } else {
        ("n/c".into(), "n/c".into())
    };
    format!(
        "| {bitrate} | {n} | {server} | {}/{} | {} ({}/{}) | {} | {} | {} | {latency} | {drift} | {} / {} | {} |\n",
        fmt(c.get("playing").as_f64(), 0),
        fmt(c.get("failed").as_f64(), 0),
        fmt(s.get("cpu_us_per_reader_s").as_f64(), 0),
        fmt(s.get("cpu_user_us_per_reader_s").as_f64(), 0),
        fmt(s.get("cpu_sys_us_per_reader_s").as_f64(), 0),
        fmt(s.get("cpu_percent").as_f64(), 1),
        fmt(s.at(&["end", "rss_kib"]).as_f64().map(|k| k / 1024.0), 1),
        fmt(s.get("rss_per_reader_kib").as_f64(), 0),
        fmt(c.at(&["totals", "packets_lost"]).as_f64(), 0),
        fmt(c.at(&["totals", "frames_lost"]).as_f64(), 0),
        fmt(c.get("client_cpu_percent").as_f64(), 0),
    )
}

/// The Watchpost/Janus ratio row of one (bitrate, N).
fn ratio_row(w: &Json, j: &Json) -> String {
    let ratio = |path: &[&str]| -> String {
        match (w.at(path).as_f64(), j.at(path).as_f64()) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => "—".into(),
        }
    };
    let comparable = [w, j]
        .iter()
        .all(|r| r.get("latency_comparable") != &Json::Bool(false));
    let latency = if comparable {
        format!(
            "{} / {}",
            ratio(&["client", "result", "latency_ms", "p50"]),
            ratio(&["client", "result", "latency_ms", "p99"])
        )
    } else {
        "n/c".into()
    };
    format!(
        "| | | **W/J** | | **{}** ({}/{}) | {} | {} | {} | {latency} | | | |\n",
        ratio(&["server_process", "cpu_us_per_reader_s"]),
        ratio(&["server_process", "cpu_user_us_per_reader_s"]),
        ratio(&["server_process", "cpu_sys_us_per_reader_s"]),
        ratio(&["server_process", "cpu_percent"]),
        ratio(&["server_process", "end", "rss_kib"]),
        ratio(&["server_process", "rss_per_reader_kib"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(server: &str, readers: f64, cpu: f64, rss_per_reader: f64, p99: f64) -> Json {
        Json::obj([
            ("server", Json::str(server)),
            ("bitrate", Json::str("600k")),
            ("source", Json::obj([("kbps", Json::num(592.0))])),
            ("readers", Json::num(readers)),
            ("latency_comparable", Json::Bool(server == "watchpost")),
            (
                "server_process",
                Json::obj([
                    ("cpu_us_per_reader_s", Json::num(cpu)),
                    ("cpu_user_us_per_reader_s", Json::num(cpu * 0.75)),
                    ("cpu_sys_us_per_reader_s", Json::num(cpu * 0.25)),
                    ("cpu_percent", Json::num(cpu * readers / 1e4)),
                    ("rss_per_reader_kib", Json::num(rss_per_reader)),
                    ("end", Json::obj([("rss_kib", Json::num(40960.0))])),
                ]),
            ),
            (
                "client",
                Json::obj([(
                    "result",
                    Json::obj([
                        ("playing", Json::num(readers)),
                        ("failed", Json::num(0.0)),
                        (
                            "latency_ms",
                            Json::obj([
                                ("p50", Json::num(1.0)),
                                ("p99", Json::num(p99)),
                                ("count", Json::num(80.0)),
                            ]),
                        ),
                    ]),
                )]),
            ),
        ])
    }

    #[test]
    fn w1_table_pairs_watchpost_with_janus_and_prints_their_ratios() {
        let runs = vec![
            run("watchpost", 10.0, 2000.0, 800.0, 5.0),
            run("janus", 10.0, 4000.0, 400.0, 0.2),
            run("watchpost", 50.0, 1500.0, 500.0, 6.0),
            Json::obj([
                ("server", Json::str("janus")),
                ("bitrate", Json::str("600k")),
                ("readers", Json::num(50.0)),
                (
                    "error",
                    Json::str("Janus not ready within 20s | no media\nlog…"),
                ),
            ]),
        ];
        let w1 = Json::obj([
            ("parameters", Json::obj([("duration_s", Json::num(8.0))])),
            ("janus", janus_json("1102 (1.1.2)")),
        ]);
        let md = w1_markdown(&w1, &runs);
        let lines: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(lines.len(), 2 + 3 + 2, "{md}");
        assert!(
            lines[2].starts_with("| 600k (592 kbit/s) | 10 | Watchpost | 10/0 | 2000 (1500/500) |"),
            "{md}"
        );
        assert!(lines[2].contains("1.00 / 5.00 (n=80)"), "{md}");
        assert!(
            lines[3].contains("| Janus | 10/0 | 4000 (3000/1000) |"),
            "{md}"
        );
        assert!(
            lines[3].contains("| n/c | n/c |"),
            "Janus latency is not comparable: {md}"
        );
        assert!(
            lines[4]
                .starts_with("| | | **W/J** | | **0.50** (0.50/0.50) | 0.50 | 1.00 | 2.00 | n/c |"),
            "{md}"
        );
        assert!(
            lines[6].contains("| Janus | failed: Janus not ready within 20s \\| no media |"),
            "{md}"
        );
        assert!(
            md.contains("`event_loops = 1`") && md.contains("not comparable"),
            "{md}"
        );

        let skipped = Json::obj([
            ("parameters", Json::obj([("duration_s", Json::num(8.0))])),
            (
                "janus",
                Json::str("skipped: /usr/bin/janus missing (cargo xtask install)"),
            ),
        ]);
        let md = w1_markdown(&skipped, &runs[..1]);
        assert!(!md.contains("W/J**"), "{md}");
        assert!(
            md.contains("Janus: skipped: /usr/bin/janus missing (cargo xtask install)."),
            "{md}"
        );
    }
}
