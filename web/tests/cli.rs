//! The `watchpost` binary as an operator runs it: `serve`, `check-config`, `--version`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_watchpost");
/// The administrator `start_server_with` adds with `watchpost user add --admin`.
const ADMIN: &str = "test-admin";
const ADMIN_PASSWORD: &str = "Admin-pw-in-no-log-8812";

/// The session token `http` sends (each test runs in its own process under nextest).
static TOKEN: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("watchpost-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http(addr, "GET", path, None)
}

/// One HTTP/1.1 exchange; `json` is sent as an `application/json` body.
fn http(addr: SocketAddr, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = json.unwrap_or("");
    let auth = TOKEN
        .lock()
        .unwrap()
        .as_ref()
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Starts `watchpost serve` on an ephemeral port with JSON logs; returns the child, the
/// bound address, and a channel carrying the rest of its log lines.
fn start_server(dir: &std::path::Path) -> (Child, SocketAddr, mpsc::Receiver<String>) {
    start_server_with(dir, "")
}

/// [`start_server`] with more configuration appended (whole TOML sections).
fn start_server_with(
    dir: &std::path::Path,
    extra: &str,
) -> (Child, SocketAddr, mpsc::Receiver<String>) {
    let config = dir.join("watchpost.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nhttp_listen = \"127.0.0.1:0\"\n[webrtc]\nudp_listen = \"127.0.0.1:0\"\n[storage]\ndata_dir = {:?}\n{extra}",
            dir.join("data").display().to_string()
        ),
    )
    .unwrap();
    add_admin(&config);
    let mut child = Command::new(BIN)
        .args(["--log-format", "json", "serve", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server logs 'listening'");
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if v["message"] == "listening" {
            break v["http"].as_str().unwrap().parse().unwrap();
        }
    };
    login(addr);
    (child, addr, rx)
}

/// `watchpost user add test-admin --admin --password-stdin --config CONFIG`.
fn add_admin(config: &std::path::Path) {
    let mut child = Command::new(BIN)
        .args([
            "user",
            "add",
            ADMIN,
            "--admin",
            "--password-stdin",
            "--config",
        ])
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{ADMIN_PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "user add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("added test-admin (admin"), "{stdout}");
    assert!(!stdout.contains(ADMIN_PASSWORD), "{stdout}");
}

/// Logs the administrator in; `http` sends its token from now on.
fn login(addr: SocketAddr) {
    *TOKEN.lock().unwrap() = None;
    let body = format!(r#"{{"username":"{ADMIN}","password":"{ADMIN_PASSWORD}"}}"#);
    let (status, answer) = http(addr, "POST", "/api/v1/auth/login", Some(&body));
    assert_eq!(status, 200, "{answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    *TOKEN.lock().unwrap() = Some(v["token"].as_str().unwrap().to_owned());
}

#[test]
fn serve_answers_healthz_and_exits_0_on_sigterm() {
    let dir = temp_dir("serve");
    let (mut child, addr, logs) = start_server(&dir);
    let (status, body) = http_get(addr, "/healthz");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    assert!(
        dir.join("data").join("watchpost.db").exists(),
        "embedded SQLite file created"
    );

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_with_timeout(&mut child, Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}");
    let rest: Vec<String> = logs.try_iter().collect();
    assert!(
        rest.iter().any(|l| l.contains("SIGTERM received")),
        "{rest:?}"
    );
    assert!(rest.iter().any(|l| l.contains("\"stopped\"")), "{rest:?}");
    // The port is released.
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
}

#[test]
fn serve_exits_0_on_sigint_too() {
    let dir = temp_dir("sigint");
    let (mut child, addr, _logs) = start_server(&dir);
    assert_eq!(http_get(addr, "/healthz").0, 200);
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(wait_with_timeout(&mut child, Duration::from_secs(30)).success());
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_refuses_a_bad_configuration() {
    let dir = temp_dir("bad-serve");
    let config = dir.join("bad.toml");
    std::fs::write(&config, "[media.on_demand]\nlinger = \"ten\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("media.on_demand.linger: expected a duration like \"10s\", got \"ten\""),
        "{stderr}"
    );
}

#[test]
fn check_config_accepts_the_example_and_rejects_bad_files() {
    let example =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/watchpost.example.toml");
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (1 camera)"));

    let dir = temp_dir("check");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[server]\nhttp_listn = \"127.0.0.1:1\"\n").unwrap();
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml: server.http_listn: unknown field `http_listn`"),
        "{stderr}"
    );

    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&example)
        .env("WATCHPOST__MEDIA__ON_DEMAND__LINGER", "ten")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "environment variable WATCHPOST__MEDIA__ON_DEMAND__LINGER: media.on_demand.linger"
        ),
        "{stderr}"
    );
}

#[test]
fn version_and_help() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("watchpost {}", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["serve", "demo", "check-config", "--log-format"] {
        assert!(help.contains(word), "{help}");
    }
}

/// A camera's password, given once to the API, appears in no answer and in no log line of
/// a server at debug level that tries the camera (ONVIF, RTSP, snapshot, health checks)
/// and fails; the stored credentials are encrypted.
#[test]
fn a_camera_password_never_reaches_answers_or_logs() {
    const PASSWORD: &str = "Pw-in-no-log-5521";
    let dir = temp_dir("secrets");
    let (mut child, addr, logs) = start_server_with(
        &dir,
        "[log]\nlevel = \"debug\"\n[devices]\nhealth_interval = \"1s\"\n[media.on_demand]\nstart_timeout = \"2s\"\n",
    );
    // Nothing listens on port 9 (discard) on the test machines: every attempt fails.
    let onvif = format!(
        r#"{{"id":"door","name":"Door","category":"other","division":{{"district":"Xicheng"}},
            "onvif_url":"http://127.0.0.1:9/onvif/device_service",
            "credentials":{{"username":"operator","password":"{PASSWORD}"}}}}"#
    );
    let rtsp = format!(
        r#"{{"id":"yard","name":"Yard","category":"other","division":{{"district":"Xicheng"}},
            "main_url":"rtsp://127.0.0.1:9/main",
            "credentials":{{"username":"operator","password":"{PASSWORD}"}}}}"#
    );
    let mut answers = Vec::new();
    for body in [&onvif, &rtsp] {
        let (status, answer) = http(addr, "POST", "/api/v1/cameras", Some(body));
        assert_eq!(status, 201, "{answer}");
        answers.push(answer);
    }
    for path in [
        "/api/v1/cameras",
        "/api/v1/cameras/door",
        "/api/v1/cameras/door/snapshot",
        "/api/v1/cameras/yard/snapshot",
        "/api/v1/paths",
        "/api/v1/paths/cam/yard/main",
    ] {
        answers.push(http_get(addr, path).1);
    }
    answers.push(
        http(
            addr,
            "POST",
            "/api/v1/cameras/door/ptz",
            Some(r#"{"action":"status"}"#),
        )
        .1,
    );
    // Let the health monitor fail a round or two.
    std::thread::sleep(Duration::from_secs(3));
    let (_, list) = http_get(addr, "/api/v1/cameras");
    assert!(list.contains("\"offline\""), "health checks ran: {list}");
    answers.push(list);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    wait_with_timeout(&mut child, Duration::from_secs(30));
    let log: Vec<String> = logs.try_iter().collect();
    assert!(log.len() > 5, "debug logs were written: {log:?}");
    let token = TOKEN.lock().unwrap().clone().unwrap();
    for text in answers.iter().chain(&log) {
        assert!(!text.contains(PASSWORD), "password leaked: {text}");
        assert!(
            !text.contains(ADMIN_PASSWORD),
            "login password leaked: {text}"
        );
        assert!(!text.contains(&token), "session token leaked: {text}");
    }
    let db = std::fs::read(dir.join("data").join("watchpost.db")).unwrap();
    let wal = std::fs::read(dir.join("data").join("watchpost.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "password stored in clear"
        );
    }
}
