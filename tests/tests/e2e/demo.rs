//! The real `watchpost` and `watchpost-sim` binaries, as an operator runs them.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use watchpost_fixtures::process::wait_with_deadline;
use watchpost_fixtures::sim::DEMO_PASSWORD;
use watchpost_tests::{binary, ffprobe_codecs, http, http_get, login, temp_dir};

/// Kills the child if the test fails half-way.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `watchpost demo` starts the simulator, serves the four sites' cameras through the API
/// without their passwords, and on SIGTERM stops cleanly and takes the simulator with it.
#[test]
fn demo_serves_four_site_cameras_and_stops_cleanly() {
    let dir = temp_dir("demo");
    let sim = binary("watchpost-sim");
    let child = Command::new(binary("watchpost"))
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("demo-data"))
        .env("WATCHPOST_SIM", &sim)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let stdout = BufReader::new(guard.0.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    // The demo prints every URL it serves; collect them until the blank line that ends them.
    let mut printed = Vec::new();
    let mut seen_header = false;
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("demo printed no URLs; so far: {printed:#?}"));
        if line.contains("Watchpost demo is running") {
            seen_header = true;
        } else if seen_header && line.is_empty() {
            break;
        }
        printed.push(line);
    }
    // Then the accounts: one per kind of user, random passwords, until the next blank line.
    let mut accounts = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the demo prints its accounts");
        if line.trim().is_empty() && !accounts.is_empty() {
            break;
        }
        // "  username  role  jurisdiction (one or two words)  password", after a header row.
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with("  ") && words.len() >= 4 && words[0] != "username" {
            accounts.push((
                words[0].to_owned(),
                words[1].to_owned(),
                words[words.len() - 1].to_owned(),
            ));
        }
    }
    let password_of = |user: &str| -> String {
        accounts
            .iter()
            .find(|a| a.0 == user)
            .unwrap_or_else(|| panic!("no account {user} in {accounts:?}"))
            .2
            .clone()
    };
    for user in [
        "city-commander",
        "chaoyang-operator",
        "lugouqiao-viewer",
        "tailings-viewer",
    ] {
        assert!(password_of(user).len() >= 16, "{user}");
    }
    let file = dir.join("demo-data").join("demo-accounts.txt");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains(&password_of("city-commander")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{file:?} is private");
    }
    let url_of = |label: &str| -> String {
        printed
            .iter()
            .find_map(|l| {
                l.trim_start()
                    .strip_prefix(label)
                    .map(|rest| rest.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no {label} line in {printed:#?}"))
    };
    let web = url_of("web UI");
    let addr: SocketAddr = web
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    assert!(url_of("health").ends_with("/healthz"));

    let (status, body) = http_get(addr, "/healthz").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        dir.join("demo-data").join("watchpost.db").is_file(),
        "embedded SQLite file"
    );

    // Without a session the API refuses; with the city commander's it answers.
    let (status, _) = http_get(addr, "/api/v1/cameras").unwrap();
    assert_eq!(status, 401);
    let city = login(addr, "city-commander", &password_of("city-commander"));
    let (status, body) = http(addr, "GET", "/api/v1/cameras", Some(&city), None).unwrap();
    assert_eq!(status, 200);
    let cameras: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut ids: Vec<&str> = cameras["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "fireworks-outlet",
            "gas-station",
            "oil-depot",
            "tailings-pond"
        ]
    );
    assert!(
        cameras["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["onvif_url"].as_str().is_some()),
        "demo cameras are ONVIF cameras: {body}"
    );
    // The sample ledger is loaded, with the enterprise a demo camera watches.
    let (status, body) = http(
        addr,
        "GET",
        "/api/v1/enterprises/E-110106-0001",
        Some(&city),
        None,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    // Each demo account sees its own part of the city: the Chaoyang operator the gas
    // station, the Lugouqiao street office the oil depot, the tailings pond's officer its
    // pond.
    for (user, expected) in [
        ("chaoyang-operator", "gas-station"),
        ("lugouqiao-viewer", "oil-depot"),
        ("tailings-viewer", "tailings-pond"),
    ] {
        let token = login(addr, user, &password_of(user));
        let (status, list) = http(addr, "GET", "/api/v1/cameras", Some(&token), None).unwrap();
        assert_eq!(status, 200, "{list}");
        let list: serde_json::Value = serde_json::from_str(&list).unwrap();
        let seen: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(seen, [expected], "{user}");
    }
    let depot = cameras["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "oil-depot")
        .unwrap();
    assert_eq!(depot["enterprise_id"], "E-110106-0001");
    assert!(
        !body.contains(DEMO_PASSWORD),
        "camera password leaked: {body}"
    );
    let printed_text = printed.join("\n");
    assert!(
        !printed_text.contains(DEMO_PASSWORD),
        "camera password printed: {printed_text}"
    );

    // The printed camera URLs are real RTSP endpoints; the protected one needs the password.
    let camera_line = |name: &str| -> String {
        printed
            .iter()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split_whitespace().find(|w| w.starts_with("rtsp://")))
            .unwrap_or_else(|| panic!("no URL for {name} in {printed:#?}"))
            .to_owned()
    };
    let tailings = camera_line("tailings-pond");
    let codecs = ffprobe_codecs(&tailings).unwrap();
    assert_eq!(
        codecs,
        [("video".to_owned(), "h264".to_owned())],
        "{tailings}"
    );
    let fireworks = camera_line("fireworks-outlet");
    assert!(
        ffprobe_codecs(&fireworks).is_err(),
        "no credentials must be refused"
    );
    let with_password = fireworks.replacen("rtsp://", &format!("rtsp://admin:{DEMO_PASSWORD}@"), 1);
    let codecs = ffprobe_codecs(&with_password).unwrap();
    assert!(codecs.iter().any(|(t, _)| t == "video"), "{codecs:?}");

    // SIGTERM: exit 0, the HTTP port and the simulated cameras are gone.
    let pid = guard.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_with_deadline(&mut guard.0, Duration::from_secs(30))
        .expect("the demo exits within 30 s of SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
    let camera_addr: SocketAddr = tailings
        .trim_start_matches("rtsp://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&camera_addr, Duration::from_secs(1)).is_ok() {
        assert!(Instant::now() < deadline, "the simulator outlived the demo");
        std::thread::sleep(Duration::from_millis(100));
    }
}
