//! Helpers for Watchpost's end-to-end tests (the tests themselves are in `tests/tests/`).
//!
//! End-to-end tests run the real binaries: `watchpost` and `watchpost-sim`. `cargo nextest
//! run --workspace` (what `cargo xtask test` runs) builds them; [`binary`] says how to
//! build them when a test is run on its own.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

/// Path of a workspace binary in the same target directory as the running test.
///
/// Panics with the command to build it when it is missing.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests run from target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --workspace --bins` (cargo xtask test does)",
        path.display()
    );
    path
}

/// A fresh, empty directory under the system temp dir, unique to this process and `name`.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("watchpost-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A minimal HTTP/1.1 GET (`Connection: close`); returns the status code and body.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    http(addr, "GET", path, None, None)
}

/// A minimal HTTP/1.1 request with an optional bearer token and JSON body; returns the
/// status and the body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    json: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = json.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Logs `username` in over HTTP; its session token. Panics unless the login succeeds.
pub fn login(addr: SocketAddr, username: &str, password: &str) -> String {
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    let (status, answer) = http(addr, "POST", "/api/v1/auth/login", None, Some(&body)).unwrap();
    assert_eq!(status, 200, "login {username}: {answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    v["token"].as_str().unwrap().to_owned()
}

/// What `ffprobe` (FFmpeg's RTSP client) reports about the streams of `url`, over RTSP/TCP.
///
/// Returns `(codec_type, codec_name)` pairs, e.g. `("video", "h264")`, or ffprobe's error.
pub fn ffprobe_codecs(url: &str) -> Result<Vec<(String, String)>, String> {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-timeout",
            "15000000",
        ])
        .args([
            "-show_entries",
            "stream=codec_type,codec_name",
            "-of",
            "json",
            url,
        ])
        .output()
        .map_err(|e| format!("cannot run ffprobe (install ffmpeg): {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok(v["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["codec_type"].as_str().unwrap_or_default().to_owned(),
                s["codec_name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}
