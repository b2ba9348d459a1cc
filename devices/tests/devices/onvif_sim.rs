//! The devices layer against real ONVIF peers: the project's camera simulator, and ipycam
//! (a third-party ONVIF camera emulator from PyPI).
//!
//! - Against the simulator (127.0.0.1 only): unicast WS-Discovery finds the cameras;
//!   device information, profiles, stream URIs (= the simulator's RTSP URLs), a PTZ preset
//!   round trip, a JPEG snapshot over HTTP Digest, and the typed authentication errors.
//! - Multicast discovery runs in a private network namespace (`unshare -n`, loopback up
//!   with multicast and a 224.0.0.0/4 route): the test re-executes its own binary there
//!   with `WATCHPOST_NETNS_INNER` set, so the multicast never reaches a real interface and
//!   port 3702 is the namespace's own.
//! - ipycam runs in such a namespace as well (it listens on all interfaces and multicasts a
//!   Hello at start): discovery finds it, device information and stream URIs are read, and
//!   a wrong password is the typed auth error. It needs the test players' virtualenv
//!   (`cargo xtask install`, found through `WATCHPOST_TEST_PYTHON`).
//!
//! Both namespace tests fail, saying why, where `unshare -n` is not permitted or ipycam is
//! not installed: `cargo xtask test` runs as root (or with the rights to make a network
//! namespace) and installs ipycam.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use watchpost_devices::discovery::{
    DiscoverRequest, MulticastOptions, discover, discover_with_report,
};
use watchpost_devices::onvif::client::{
    ClientErrorKind, Credentials, HttpTransport, OnvifClient, SNAPSHOT_OPERATION,
};
use watchpost_devices::onvif::media::{MediaVersion, VideoCodec};
use watchpost_devices::onvif::ptz::{self, PtzVector};
use watchpost_devices::onvif::{OnvifError, ns};
use watchpost_fixtures::sim::{
    self, Credentials as SimCredentials, DiscoveryOptions, Profile, SimOptions, Simulator,
    test_camera,
};

const PASSWORD: &str = "onvif-Pa55&<word>";
/// Marks the inner run of a namespace test (its value names the test).
const INNER: &str = "WATCHPOST_NETNS_INNER";

fn client(url: &str, name: &str, password: Option<&str>) -> OnvifClient<HttpTransport> {
    OnvifClient::new(
        HttpTransport::new(Duration::from_secs(10)),
        name,
        url,
        password.map(|p| Credentials {
            username: "admin".into(),
            password: p.into(),
        }),
    )
}

/// Width and height from a baseline or progressive JPEG's SOF marker, after checking the
/// SOI and EOI markers.
fn jpeg_size(jpeg: &[u8]) -> (u16, u16) {
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "no SOI marker");
    assert!(jpeg.ends_with(&[0xFF, 0xD9]), "no EOI marker");
    let mut i = 2;
    while i + 9 < jpeg.len() {
        assert_eq!(jpeg[i], 0xFF, "not a marker at {i}");
        let marker = jpeg[i + 1];
        let length = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if matches!(marker, 0xC0..=0xC3) {
            let height = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]);
            let width = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]);
            return (width, height);
        }
        i += 2 + length;
    }
    panic!("no SOF marker");
}

fn close(a: PtzVector, b: PtzVector) -> bool {
    let pt = match (a.pan_tilt, b.pan_tilt) {
        (Some((p1, t1)), Some((p2, t2))) => (p1 - p2).abs() < 1e-3 && (t1 - t2).abs() < 1e-3,
        _ => false,
    };
    let z = match (a.zoom, b.zoom) {
        (Some(z1), Some(z2)) => (z1 - z2).abs() < 1e-3,
        _ => false,
    };
    pt && z
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_cameras_are_discovered_read_and_controlled() {
    let mut guarded = test_camera("onvif-guarded");
    guarded.auth = Some(SimCredentials::new("admin", PASSWORD));
    let sim = Simulator::start(vec![test_camera("onvif-open"), guarded]).expect("simulator");
    let open_url = sim.onvif_url("onvif-open").unwrap();
    let guarded_url = sim.onvif_url("onvif-guarded").unwrap();

    // Discovery, unicast to the responder's ephemeral port.
    let request = DiscoverRequest {
        multicast: None,
        unicast: vec![sim.discovery_addr()],
        timeout: Duration::from_millis(800),
    };
    let report = discover_with_report(&request).await.unwrap();
    assert_eq!(report.devices.len(), 2, "{report:?}");
    for device in &report.devices {
        let name = device.name.as_deref().unwrap();
        assert_eq!(device.xaddrs, [sim.onvif_url(name).unwrap()]);
        assert_eq!(
            Some(device.endpoint_reference.clone()),
            sim.endpoint_reference(name)
        );
        assert_eq!(device.model.as_deref(), Some(sim::MODEL));
        assert_eq!(device.location.as_deref(), Some(name));
        assert_eq!(device.from, sim.discovery_addr());
        assert!(
            device
                .scopes
                .iter()
                .any(|s| s == "onvif://www.onvif.org/type/ptz")
        );
    }

    // The open camera: identity, services, profiles, stream URIs.
    let open = client(&open_url, "onvif-open", None);
    let now = SystemTime::now();
    let offset = open.sync_clock(now).await.unwrap();
    assert!(offset.seconds.abs() <= 2, "{offset:?}");
    let info = open.device_information(now).await.unwrap();
    assert_eq!(
        (info.manufacturer.as_str(), info.model.as_str()),
        (sim::MANUFACTURER, sim::MODEL)
    );
    let services = open.services(now).await.unwrap();
    let media_url = services.media.clone().unwrap();
    let ptz_url = services.ptz.clone().unwrap();
    assert_eq!(open.capabilities(now).await.unwrap().ptz, services.ptz);
    let profiles = open
        .profiles(now, &media_url, MediaVersion::Media1)
        .await
        .unwrap();
    let tokens: Vec<&str> = profiles.iter().map(|p| p.token.as_str()).collect();
    assert_eq!(tokens, ["main", "sub"]);
    let spec = test_camera("x");
    for (profile, which) in profiles.iter().zip(Profile::ALL) {
        let video = profile.video.as_ref().unwrap();
        let stream = spec.stream(which);
        assert_eq!(video.codec, VideoCodec::H264);
        assert_eq!((video.width, video.height), (stream.width, stream.height));
        let uri = open
            .stream_uri(now, &media_url, MediaVersion::Media1, &profile.token)
            .await
            .unwrap();
        assert_eq!(Some(uri), sim.url("onvif-open", which));
    }

    // PTZ: preset, move away, back to the preset.
    let main = "main";
    let home = PtzVector {
        pan_tilt: Some((0.5, -0.25)),
        zoom: Some(0.3),
    };
    open.call(
        now,
        &ptz_url,
        ptz::absolute_move(main, home, None).unwrap(),
        |t| ptz::parse_ack("AbsoluteMove", t),
    )
    .await
    .unwrap();
    let token = open
        .call(
            now,
            &ptz_url,
            ptz::set_preset(main, Some("Pump island"), None),
            ptz::parse_set_preset,
        )
        .await
        .unwrap();
    let away = PtzVector {
        pan_tilt: Some((-1.0, 1.0)),
        zoom: Some(0.5),
    };
    open.call(
        now,
        &ptz_url,
        ptz::continuous_move(main, away, Some(Duration::from_secs(5))).unwrap(),
        |t| ptz::parse_ack("ContinuousMove", t),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let status = open
        .call(now, &ptz_url, ptz::get_status(main), ptz::parse_status)
        .await
        .unwrap();
    assert!(status.moving, "{status:?}");
    open.call(now, &ptz_url, ptz::stop(main, true, true), |t| {
        ptz::parse_ack("Stop", t)
    })
    .await
    .unwrap();
    let status = open
        .call(now, &ptz_url, ptz::get_status(main), ptz::parse_status)
        .await
        .unwrap();
    assert!(!status.moving, "{status:?}");
    let moved = status.position.unwrap();
    assert!(!close(moved, home), "did not move: {moved:?}");
    let (pan, _) = moved.pan_tilt.unwrap();
    assert!(pan < 0.5, "{moved:?}");
    let reported = sim.ptz_position("onvif-open").unwrap();
    assert!(
        (reported.pan - pan).abs() < 1e-3,
        "{reported:?} vs {moved:?}"
    );
    open.call(
        now,
        &ptz_url,
        ptz::goto_preset(main, &token, None).unwrap(),
        |t| ptz::parse_ack("GotoPreset", t),
    )
    .await
    .unwrap();
    let status = open
        .call(now, &ptz_url, ptz::get_status(main), ptz::parse_status)
        .await
        .unwrap();
    assert!(close(status.position.unwrap(), home), "{status:?}");
    let presets = open
        .call(now, &ptz_url, ptz::get_presets(main), ptz::parse_presets)
        .await
        .unwrap();
    assert_eq!(presets.len(), 1);
    assert_eq!(
        (presets[0].token.as_str(), presets[0].name.as_str()),
        (token.as_str(), "Pump island")
    );
    // A preset that does not exist is the camera's fault, typed.
    let err = open
        .call(
            now,
            &ptz_url,
            ptz::goto_preset(main, "no-such-preset", None).unwrap(),
            |t| ptz::parse_ack("GotoPreset", t),
        )
        .await
        .unwrap_err();
    match &err.kind {
        ClientErrorKind::Onvif(OnvifError::Fault { subcodes, .. }) => {
            assert!(subcodes.iter().any(|c| c.is(ns::ERROR, "NoToken")), "{err}");
        }
        other => panic!("{other:?}"),
    }

    // A snapshot of the open camera: a JPEG of the main profile's size.
    let snapshot = open
        .snapshot(now, &media_url, MediaVersion::Media1, "main")
        .await
        .unwrap();
    assert_eq!(snapshot.content_type.as_deref(), Some("image/jpeg"));
    let main_spec = spec.stream(Profile::Main);
    assert_eq!(
        jpeg_size(&snapshot.bytes),
        (main_spec.width as u16, main_spec.height as u16)
    );

    // The guarded camera: WS-Security for SOAP, HTTP Digest for the snapshot.
    let guarded = client(&guarded_url, "onvif-guarded", Some(PASSWORD));
    guarded.sync_clock(now).await.unwrap();
    guarded.device_information(now).await.unwrap();
    let services = guarded.services(now).await.unwrap();
    let media_url = services.media.unwrap();
    let snapshot = guarded
        .snapshot(now, &media_url, MediaVersion::Media1, "sub")
        .await
        .unwrap();
    let sub_spec = spec.stream(Profile::Sub);
    assert_eq!(
        jpeg_size(&snapshot.bytes),
        (sub_spec.width as u16, sub_spec.height as u16)
    );
    assert!(!snapshot.uri.contains(PASSWORD));

    // Without credentials, or with a wrong password: typed authentication errors.
    let anonymous = client(&guarded_url, "onvif-guarded", None);
    let err = anonymous.device_information(now).await.unwrap_err();
    assert!(err.is_auth_failure(), "{err}");
    let err = anonymous.fetch_snapshot(&snapshot.uri).await.unwrap_err();
    assert!(matches!(err.kind, ClientErrorKind::Unauthorized), "{err}");
    assert_eq!(err.operation, SNAPSHOT_OPERATION);
    let wrong = client(&guarded_url, "onvif-guarded", Some("not-the-password"));
    let err = wrong.device_information(now).await.unwrap_err();
    assert!(err.is_auth_failure(), "{err}");
    assert!(
        matches!(&err.kind, ClientErrorKind::Onvif(e) if e.is_auth_failure()),
        "{err:?}"
    );
    assert_eq!(
        (err.camera.as_str(), err.operation),
        ("onvif-guarded", "GetDeviceInformation")
    );
    assert!(!err.to_string().contains("not-the-password"));
    let err = wrong.fetch_snapshot(&snapshot.uri).await.unwrap_err();
    assert!(err.is_auth_failure(), "{err}");

    // An outage takes the ONVIF side down too; it comes back on the same port.
    sim.stop_camera("onvif-open").unwrap();
    assert!(TcpStream::connect(open_url_addr(&open_url)).is_err());
    let found = discover(&request).await.unwrap();
    let names: Vec<_> = found.iter().filter_map(|d| d.name.as_deref()).collect();
    assert_eq!(names, ["onvif-guarded"]);
    sim.start_camera("onvif-open").unwrap();
    open.device_information(now).await.unwrap();
}

/// `127.0.0.1:PORT` of an `http://127.0.0.1:PORT/...` URL.
fn open_url_addr(url: &str) -> SocketAddr {
    let rest = url.strip_prefix("http://").unwrap();
    rest[..rest.find('/').unwrap()].parse().unwrap()
}

// ---------------------------------------------------------------------------------------
// Network-namespace tests
// ---------------------------------------------------------------------------------------

/// Why a private network namespace cannot be had here, or `None` if it can.
fn namespace_unavailable() -> Option<String> {
    let probe = Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up"])
        .stdin(Stdio::null())
        .output();
    match probe {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "`unshare -n` is not permitted here ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run `unshare` ({e})")),
    }
}

/// Shell lines that give the namespace a loopback interface with multicast.
const LOOPBACK_SETUP: &str =
    "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo";

/// Runs `test` of this binary again inside a new network namespace, after `prelude`
/// (shell commands run in the namespace first; `$TEST_BIN` names this binary), with
/// `INNER=test` set; panics with its output if it fails.
fn run_in_namespace(test: &str, prelude: &str, envs: &[(&str, &str)]) {
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "set -e\n{LOOPBACK_SETUP}\n{prelude}\nexec \"$TEST_BIN\" --exact {test} --nocapture --test-threads 1"
    );
    let mut command = Command::new("unshare");
    command
        .args(["-n", "sh", "-c", &script])
        .env("TEST_BIN", &exe)
        .env(INNER, test)
        .stdin(Stdio::null());
    for (k, v) in envs {
        command.env(k, v);
    }
    let out = command.output().expect("run unshare");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "inner run of {test} failed ({}):\n{text}",
        out.status
    );
    assert!(
        text.contains("1 passed"),
        "inner run of {test} ran no test:\n{text}"
    );
}

fn inner_run(test: &str) -> bool {
    std::env::var(INNER).is_ok_and(|v| v == test)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multicast_discovery_finds_the_simulator_in_a_private_namespace() {
    const TEST: &str = "onvif_sim::multicast_discovery_finds_the_simulator_in_a_private_namespace";
    if !inner_run(TEST) {
        if let Some(why) = namespace_unavailable() {
            panic!("{TEST} needs a private network namespace: {why}");
        }
        tokio::task::spawn_blocking(|| run_in_namespace(TEST, "", &[]))
            .await
            .unwrap();
        return;
    }
    // Inside the namespace: the simulator on the well-known port and group.
    let options = SimOptions {
        discovery: DiscoveryOptions {
            port: 3702,
            multicast: Some(MulticastOptions::default().group),
        },
    };
    let sim = Simulator::start_with(vec![test_camera("mc-a"), test_camera("mc-b")], options)
        .expect("simulator");
    assert!(sim.multicast_discovery(), "did not join the group on lo");
    let report = discover_with_report(&DiscoverRequest {
        multicast: Some(MulticastOptions::default()),
        unicast: Vec::new(),
        timeout: Duration::from_millis(1500),
    })
    .await
    .unwrap();
    let mut names: Vec<_> = report
        .devices
        .iter()
        .filter_map(|d| d.name.clone())
        .collect();
    names.sort();
    assert_eq!(names, ["mc-a", "mc-b"], "{report:?}");
    for device in &report.devices {
        assert_eq!(device.from, SocketAddr::from(([127, 0, 0, 1], 3702)));
        assert_eq!(
            device.xaddrs,
            [sim.onvif_url(device.name.as_deref().unwrap()).unwrap()]
        );
    }
    // The repeated probe was answered again: merged, not a third device.
    assert!(report.stats.duplicates >= 1, "{:?}", report.stats);
}

/// The test players' Python with ipycam importable, or why not.
fn ipycam_python() -> Result<PathBuf, String> {
    // `cargo xtask test` sets the variable; a plain `cargo test` finds the virtualenv that
    // `cargo xtask install` made in <target>/py-players.
    let python = std::env::var_os("WATCHPOST_TEST_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()?
                .ancestors()
                .nth(3)
                .map(|t| t.join("py-players/bin/python"))
                .filter(|p| p.is_file())
        })
        .ok_or(
            "WATCHPOST_TEST_PYTHON is not set and <target>/py-players has no Python \
             (`cargo xtask install` makes the test players' virtualenv with ipycam; \
             `cargo xtask test` sets it)",
        )?;
    let check = Command::new(&python)
        .args(["-c", "import ipycam"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !check.status.success() {
        return Err(format!(
            "ipycam is not installed in {} (`cargo xtask install`): {}",
            python.display(),
            String::from_utf8_lossy(&check.stderr).trim()
        ));
    }
    Ok(python)
}

const IPYCAM_NAME: &str = "ipycam-test";
const IPYCAM_PASSWORD: &str = "ipycam-Pa55";
const IPYCAM_URL: &str = "http://127.0.0.1:8080/onvif/device_service";

/// Kills ipycam (by the pid its shell wrote) when dropped.
struct KillOnDrop(PathBuf);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipycam_is_discovered_read_and_refuses_a_wrong_password() {
    const TEST: &str = "onvif_sim::ipycam_is_discovered_read_and_refuses_a_wrong_password";
    if !inner_run(TEST) {
        let python = match ipycam_python() {
            Ok(python) => python,
            Err(why) => panic!("{TEST} needs ipycam: {why}"),
        };
        if let Some(why) = namespace_unavailable() {
            panic!("{TEST} needs a private network namespace: {why}");
        }
        let dir = std::env::temp_dir().join(format!(
            "watchpost-ipycam-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // Authentication on; a small picture; ports as ipycam's defaults (the namespace
        // is ours alone).
        let config = format!(
            r#"{{"name": "{IPYCAM_NAME}", "username": "admin", "password": "{IPYCAM_PASSWORD}",
                "main_width": 640, "main_height": 360, "main_fps": 5,
                "sub_width": 320, "sub_height": 180}}"#
        );
        std::fs::write(dir.join("camera_config.json"), config).unwrap();
        let pid_file = dir.join("ipycam.pid");
        let _kill = KillOnDrop(pid_file.clone());
        // ipycam in the background (its pid written for the kill), then this test inside.
        let prelude = "cd \"$IPYCAM_DIR\"\n\"$IPYCAM_PYTHON\" -m ipycam --config camera_config.json \
             --source video --log-level WARNING > ipycam.log 2>&1 &\necho $! > ipycam.pid";
        let (dir_text, python_text) = (
            dir.to_string_lossy().into_owned(),
            python.to_string_lossy().into_owned(),
        );
        let result = tokio::task::spawn_blocking(move || {
            std::panic::catch_unwind(|| {
                run_in_namespace(
                    TEST,
                    prelude,
                    &[("IPYCAM_DIR", &dir_text), ("IPYCAM_PYTHON", &python_text)],
                )
            })
        })
        .await
        .unwrap();
        drop(_kill);
        let log = std::fs::read_to_string(dir.join("ipycam.log")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(panic) = result {
            eprintln!("ipycam's log:\n{log}");
            std::panic::resume_unwind(panic);
        }
        return;
    }
    inner_ipycam(Path::new(&std::env::var("IPYCAM_DIR").unwrap())).await;
}

async fn inner_ipycam(dir: &Path) {
    let _kill = KillOnDrop(dir.join("ipycam.pid"));
    // Wait for its web server (Python starts, imports OpenCV).
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", 8080)).is_err() {
        assert!(
            Instant::now() < deadline,
            "ipycam did not listen on 8080 within 60 s; log:\n{}",
            std::fs::read_to_string(dir.join("ipycam.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Discovery: by multicast (ipycam joined the group on lo) and unicast to its port.
    for request in [
        DiscoverRequest {
            multicast: Some(MulticastOptions::default()),
            unicast: Vec::new(),
            timeout: Duration::from_millis(1500),
        },
        DiscoverRequest {
            multicast: None,
            unicast: vec![SocketAddr::from(([127, 0, 0, 1], 3702))],
            timeout: Duration::from_millis(1500),
        },
    ] {
        let report = discover_with_report(&request).await.unwrap();
        let found = report
            .devices
            .iter()
            .find(|d| d.xaddrs.iter().any(|x| x == IPYCAM_URL));
        let found = found.unwrap_or_else(|| panic!("ipycam not found by {request:?}: {report:?}"));
        assert_eq!(found.name.as_deref(), Some(IPYCAM_NAME), "{found:?}");
        assert!(
            found.endpoint_reference.starts_with("urn:uuid:"),
            "{found:?}"
        );
    }

    // Device information and stream URIs with the right password.
    let now = SystemTime::now();
    let camera = client(IPYCAM_URL, "ipycam", Some(IPYCAM_PASSWORD));
    camera.sync_clock(now).await.unwrap();
    let info = camera.device_information(now).await.unwrap();
    assert_eq!(
        (info.manufacturer.as_str(), info.model.as_str()),
        ("PythonCam", "VirtualCam-1")
    );
    let services = camera.services(now).await.unwrap();
    let media_url = services.media.expect("a media service");
    let profiles = camera
        .profiles(now, &media_url, MediaVersion::Media1)
        .await
        .unwrap();
    assert_eq!(profiles.len(), 2, "{profiles:?}");
    let main = profiles[0].video.as_ref().unwrap();
    assert_eq!((main.width, main.height), (640, 360));
    let mut uris = Vec::new();
    for profile in &profiles {
        uris.push(
            camera
                .stream_uri(now, &media_url, MediaVersion::Media1, &profile.token)
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        uris,
        [
            "rtsp://127.0.0.1:8554/video_main",
            "rtsp://127.0.0.1:8554/video_sub"
        ]
    );

    // A wrong password: the typed authentication error (ipycam answers HTTP 401).
    let wrong = client(IPYCAM_URL, "ipycam", Some("not-the-password"));
    let err = wrong.device_information(now).await.unwrap_err();
    assert!(err.is_auth_failure(), "{err:?}");
    assert!(matches!(err.kind, ClientErrorKind::Unauthorized), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("not-the-password"));
}
