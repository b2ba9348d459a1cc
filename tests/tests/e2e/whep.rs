//! WHEP playback end to end: the simulated H.264 + PCMA camera → hub → WebRTC (str0m) →
//! two independent WebRTC stacks: aiortc (aioice, OpenSSL DTLS, libsrtp, FFmpeg's H.264
//! decoder) and headless Chromium. Loopback only; every port ephemeral.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use watchpost_config::{CameraConfig, Config, RtspTransport, SecretUrl};
use watchpost_fixtures::sim::{Profile, Simulator, test_camera};
use watchpost_web::Server;

/// The server under test, running in this process on ephemeral ports.
struct Running {
    http: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _sim: Simulator,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), &mut self.task)
            .await
            .expect("server stops within 30 s")
            .expect("server task")
            .expect("server run");
    }
}

async fn start(name: &str) -> Running {
    let sim = Simulator::start(vec![test_camera("cam")]).unwrap();
    let mut config = Config::default();
    config.server.http_listen = "127.0.0.1:0".parse().unwrap();
    config.server.shutdown_grace = Duration::from_secs(2);
    config.webrtc.udp_listen = "127.0.0.1:0".parse().unwrap();
    config.storage.data_dir = watchpost_tests::temp_dir(name);
    config.media.on_demand.start_timeout = Duration::from_secs(20);
    config.cameras = vec![CameraConfig {
        name: "cam".into(),
        title: "cam".into(),
        main_url: SecretUrl::new(sim.url("cam", Profile::Main).unwrap()),
        sub_url: None,
        username: None,
        password: None,
        transport: RtspTransport::Tcp,
        always_on: false,
        policies: Vec::new(),
    }];
    let server = Server::bind(config).await.expect("server binds");
    let http = server.local_addr();
    let udp = server.webrtc_addr().expect("WebRTC runs");
    assert!(udp.ip().is_loopback() && udp.port() != 0, "{udp}");
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stop_rx.await;
    }));
    Running {
        http,
        stop: Some(stop),
        task,
        _sim: sim,
    }
}

/// A minimal HTTP/1.1 request; returns status, headers (lower-case names) and body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(40)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

async fn session_count(addr: SocketAddr) -> usize {
    let (status, _, body) =
        tokio::task::spawn_blocking(move || http(addr, "GET", "/api/v1/webrtc/sessions", "", ""))
            .await
            .unwrap();
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v.as_array().unwrap().len()
}

async fn wait_no_sessions(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = session_count(addr).await;
        if n == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{n} sessions left after DELETE");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn repo_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(sub)
}

fn require(tool: &str, check: &mut Command, how: &str) {
    let ok = check.output().is_ok_and(|o| o.status.success());
    assert!(ok, "{tool} is missing: {how}");
}

const DEBIAN: &str = "`cargo xtask test` installs the test peers (Debian packages in \
                      xtask/src/packages.rs)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whep_errors_are_typed() {
    let server = start("whep-errors").await;
    let addr = server.http;
    let results = tokio::task::spawn_blocking(move || {
        (
            http(
                addr,
                "POST",
                "/whep/nope/main",
                "application/sdp",
                "v=0\r\n",
            ),
            http(addr, "POST", "/whep/cam/main", "text/plain", "v=0\r\n"),
            http(addr, "POST", "/whep/cam/main", "application/sdp", "not sdp"),
            http(
                addr,
                "PATCH",
                "/whep/sessions/abc",
                "application/trickle-ice-sdpfrag",
                "",
            ),
            http(addr, "DELETE", "/whep/sessions/abc", "", ""),
            http(addr, "OPTIONS", "/whep/cam/main", "", ""),
        )
    })
    .await
    .unwrap();
    let (unknown, not_sdp, malformed, patch, delete, options) = results;
    assert_eq!(unknown.0, 404, "{}", unknown.2);
    assert_eq!(not_sdp.0, 415, "{}", not_sdp.2);
    assert_eq!(malformed.0, 400, "{}", malformed.2);
    assert!(malformed.2.contains("malformed SDP"), "{}", malformed.2);
    assert_eq!(patch.0, 405, "{}", patch.2);
    assert_eq!(delete.0, 404, "{}", delete.2);
    assert_eq!(options.0, 204);
    assert!(
        options
            .1
            .iter()
            .any(|(k, v)| k == "access-control-allow-origin" && v == "*"),
        "{:?}",
        options.1
    );
    assert_eq!(session_count(addr).await, 0);
    server.stop().await;
}

/// The virtualenv python with aiortc that `cargo xtask test` installs: `$WATCHPOST_TEST_PYTHON`,
/// else `<target>/py-players/bin/python` next to this test binary (`<target>/debug/deps/`).
fn test_python() -> PathBuf {
    const HOW: &str = "`cargo xtask test` (or `cargo xtask install`) installs aiortc into \
                       <target>/py-players and sets WATCHPOST_TEST_PYTHON";
    let python = match std::env::var_os("WATCHPOST_TEST_PYTHON") {
        Some(python) => PathBuf::from(python),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| {
                exe.ancestors()
                    .nth(3)
                    .map(|t| t.join("py-players/bin/python"))
            })
            .filter(|p| p.is_file())
            .unwrap_or_else(|| panic!("no Python with aiortc for the WHEP tests: {HOW}")),
    };
    require(
        &format!("aiortc in {}", python.display()),
        Command::new(&python).args(["-c", "import aiortc, av"]),
        HOW,
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiortc_plays_the_h264_pcma_camera_over_whep() {
    let python = test_python();
    let server = start("whep-aiortc").await;
    let url = format!("http://{}/whep/cam/main", server.http);
    let started = Instant::now();
    // The player's own hard timeout is 60 s; this one catches a player that hangs anyway.
    let out = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::process::Command::new(&python)
            .arg(repo_dir("players/whep_aiortc.py"))
            .args([
                &url,
                "--min-video",
                "30",
                "--seconds",
                "3",
                "--timeout",
                "60",
            ])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the aiortc player exits within 90 s")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "aiortc did not play:\n{stdout}\n{stderr}"
    );
    eprintln!("aiortc: {} in {:?}", stdout.trim(), started.elapsed());
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("a RESULT line");
    let result: serde_json::Value = serde_json::from_str(line).unwrap();
    assert!(result["video_frames"].as_u64().unwrap() > 25, "{result}");
    let spec = test_camera("cam").main;
    assert_eq!(result["width"], spec.width, "{result}");
    assert_eq!(result["height"], spec.height, "{result}");
    assert!(result["audio_frames"].as_u64().unwrap() > 0, "{result}");
    let codecs = result["answer_codecs"].to_string();
    assert!(
        codecs.contains("H264/90000") && codecs.contains("PCMA/8000"),
        "{result}"
    );
    assert_eq!(result["delete_status"], 204, "{result}");
    wait_no_sessions(server.http).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_plays_the_h264_pcma_camera_over_whep() {
    require(
        "chromium",
        Command::new("/usr/bin/chromium").arg("--version"),
        DEBIAN,
    );
    require("node", Command::new("node").arg("--version"), DEBIAN);
    let dir = repo_dir("browser");
    if !dir.join("node_modules/playwright-core").is_dir() {
        let npm = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("npm runs (`cargo xtask test` installs it)");
        assert!(
            npm.status.success(),
            "npm ci in {} failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&npm.stderr)
        );
    }
    let server = start("whep-chromium").await;
    let url = format!("http://{}/play/cam/main", server.http);
    let started = Instant::now();
    let out = tokio::process::Command::new("node")
        .arg(dir.join("whep_play.mjs"))
        .args([&url, "60000"])
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Chromium did not play:\n{stdout}\n{stderr}"
    );
    eprintln!("chromium: {} in {:?}", stdout.trim(), started.elapsed());
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("a RESULT line");
    let result: serde_json::Value = serde_json::from_str(line).unwrap();
    assert!(result["framesDecoded"].as_u64().unwrap() > 25, "{result}");
    assert!(result["audioSamples"].as_u64().unwrap() > 0, "{result}");
    wait_no_sessions(server.http).await;
    server.stop().await;
}
