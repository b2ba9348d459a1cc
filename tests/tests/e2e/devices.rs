//! Inventory cameras end to end, through the HTTP app (no socket) against a simulated ONVIF
//! camera: discover → add → profiles → main/sub URIs (over ONVIF) → frames through the hub;
//! PTZ preset round trip; snapshots (the camera's snapshot URI and a decoded key frame) are
//! real JPEGs; a wrong password is the typed authentication error.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use watchpost_command::Database;
use watchpost_config::{Config, Secret};
use watchpost_fixtures::sim::{CameraSpec, Credentials, Simulator, test_camera};
use watchpost_media::frame::{CodecParams, MediaKind};
use watchpost_media::hub::{Backoff, Hub, HubConfig, ReaderEvent};
use watchpost_tests::temp_dir;
use watchpost_web::{AppState, app};

const PASSWORD: &str = "sim-camera-pw";

async fn state(name: &str) -> AppState {
    state_with(name, |_| {}).await
}

async fn state_with(name: &str, tune: impl FnOnce(&mut Config)) -> AppState {
    let mut config = Config::default();
    tune(&mut config);
    config.storage.data_dir = temp_dir(name);
    config.devices.credential_key =
        Some(Secret::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="));
    config.validate().unwrap();
    let db = Database::connect(&config.storage.effective_database_url())
        .await
        .unwrap();
    let hub_config = HubConfig {
        start_timeout: Duration::from_secs(20),
        backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(1), 0.1),
        ..HubConfig::from_config(&config.media)
    };
    let hub = Hub::spawn(hub_config, Vec::new()).unwrap();
    let devices = watchpost_web::start_devices(&config, &db, &hub)
        .await
        .unwrap();
    let state = AppState::new(config, db, hub).with_devices(devices);
    let access = watchpost_web::auth::Access::open(state.db.clone(), &state.config)
        .await
        .unwrap();
    *TOKEN.lock().unwrap() = Some(crate::whep::admin_token_of(&access).await);
    state.with_access(access)
}

/// The session token of the administrator `state_with` adds (one state per test
/// process under nextest); `call` sends it.
static TOKEN: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Vec<u8>, String) {
    let token = TOKEN.lock().unwrap().clone().unwrap();
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let origin = response
        .headers()
        .get("x-snapshot-origin")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec(), origin)
}

async fn call_json(
    state: &AppState,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, bytes, _) = call(state, method, uri, body).await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Width and height from a JPEG's start-of-frame marker; `None` if it is no JPEG.
fn jpeg_size(data: &[u8]) -> Option<(u32, u32)> {
    if !data.starts_with(&[0xFF, 0xD8]) || !data.ends_with(&[0xFF, 0xD9]) {
        return None;
    }
    let mut i = 2;
    while i + 9 < data.len() {
        if data[i] != 0xFF {
            return None;
        }
        let marker = data[i + 1];
        let len = usize::from(u16::from_be_bytes([data[i + 2], data[i + 3]]));
        if matches!(marker, 0xC0..=0xC3) {
            let height = u16::from_be_bytes([data[i + 5], data[i + 6]]);
            let width = u16::from_be_bytes([data[i + 7], data[i + 8]]);
            return Some((u32::from(width), u32::from(height)));
        }
        i += 2 + len;
    }
    None
}

fn camera(id: &str, onvif_url: &str, password: &str) -> Value {
    json!({
        "id": id,
        "name": "Fengtai oil depot, north gate",
        "category": "oil_depot",
        "division": {"district": "Fengtai", "street": "Lugouqiao"},
        "position": {"lon": 116.2135, "lat": 39.8492},
        "onvif_url": onvif_url,
        "credentials": {"username": "admin", "password": password},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onvif_camera_is_discovered_added_streamed_steered_and_snapshotted() {
    let spec = CameraSpec {
        auth: Some(Credentials::new("admin", PASSWORD)),
        ..test_camera("north-gate")
    };
    let sim = Simulator::start(vec![spec]).unwrap();
    let onvif_url = sim.onvif_url("north-gate").unwrap();
    let state = state("devices-onvif").await;

    // Discover by unicast: the simulator answers; it is not in the inventory yet.
    let probe = json!({"multicast": false, "addresses": [sim.discovery_addr().to_string()], "timeout_ms": 1000});
    let (status, found) = call_json(
        &state,
        "POST",
        "/api/v1/devices/discover",
        Some(probe.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let device = found["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["xaddrs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == onvif_url.as_str())
        })
        .unwrap_or_else(|| panic!("simulator not discovered: {found}"))
        .clone();
    assert_eq!(device["camera_id"], Value::Null);

    // Add it with the address discovery gave; discovery now knows it.
    let xaddr = device["xaddrs"][0].as_str().unwrap();
    let (status, body) = call_json(
        &state,
        "POST",
        "/api/v1/cameras",
        Some(camera("north-gate", xaddr, PASSWORD)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, found) = call_json(&state, "POST", "/api/v1/devices/discover", Some(probe)).await;
    assert!(
        found["devices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["camera_id"] == "north-gate"),
        "{found}"
    );

    // Both profiles play through the hub with the simulator's sizes; their URIs came from
    // GetStreamUri (the inventory has none).
    for (path, size) in [
        ("cam/north-gate/main", (320, 240)),
        ("cam/north-gate/sub", (160, 120)),
    ] {
        let mut reader = state.hub.add_reader_ready(path).await.unwrap();
        let mut frames = 0;
        while frames < 5 {
            match tokio::time::timeout(Duration::from_secs(20), reader.next())
                .await
                .unwrap()
                .unwrap()
            {
                ReaderEvent::Tracks(tracks) => {
                    let video = tracks.iter().find(|t| t.kind == MediaKind::Video).unwrap();
                    let Some(CodecParams::H264 { width, height, .. }) = video.params.as_deref()
                    else {
                        panic!("{path}: not H.264: {video:?}");
                    };
                    assert_eq!((*width, *height), size, "{path}");
                }
                ReaderEvent::Frame(_) => frames += 1,
                _ => {}
            }
        }
        let (_, stats) = call_json(&state, "GET", &format!("/api/v1/paths/{path}"), None).await;
        assert_eq!(stats["state"], "ready", "{stats}");
        let source = stats["source"].as_str().unwrap();
        assert!(source.contains("from ONVIF"), "{source}");
        assert!(!source.contains(PASSWORD), "{source}");
    }

    // PTZ: store a preset, move away, go back, read the position.
    let ptz = "/api/v1/cameras/north-gate/ptz";
    let (status, body) = call_json(
        &state,
        "POST",
        ptz,
        Some(json!({"action": "absolute_move", "pan": 0.5, "tilt": -0.25, "zoom": 0.3})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call_json(
        &state,
        "POST",
        ptz,
        Some(json!({"action": "set_preset", "name": "gate"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["preset"].as_str().unwrap().to_owned();
    let (_, body) = call_json(&state, "POST", ptz, Some(json!({"action": "presets"}))).await;
    assert!(
        body["presets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["token"] == token.as_str() && p["name"] == "gate"),
        "{body}"
    );
    call_json(
        &state,
        "POST",
        ptz,
        Some(json!({"action": "absolute_move", "pan": -0.9, "tilt": 0.9})),
    )
    .await;
    let (status, body) = call_json(
        &state,
        "POST",
        ptz,
        Some(json!({"action": "goto_preset", "preset": token})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut position = Value::Null;
    for _ in 0..50 {
        let (_, status) = call_json(&state, "POST", ptz, Some(json!({"action": "status"}))).await;
        position = status["position"].clone();
        if status["moving"] == false && (position["pan"].as_f64().unwrap_or(9.0) - 0.5).abs() < 0.01
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        (position["pan"].as_f64().unwrap() - 0.5).abs() < 0.01,
        "{position}"
    );
    assert!(
        (position["tilt"].as_f64().unwrap() + 0.25).abs() < 0.01,
        "{position}"
    );
    assert!(
        (position["zoom"].as_f64().unwrap() - 0.3).abs() < 0.01,
        "{position}"
    );

    // Snapshots: from the camera's snapshot URI (HTTP digest), main and sub.
    for (query, size) in [("", (320, 240)), ("?profile=sub", (160, 120))] {
        let (status, jpeg, origin) = call(
            &state,
            "GET",
            &format!("/api/v1/cameras/north-gate/snapshot{query}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&jpeg));
        assert_eq!(origin, "onvif");
        assert_eq!(jpeg_size(&jpeg), Some(size), "snapshot{query}");
    }
    // And decoded from the stream's key frame (what cameras without a snapshot URI get).
    let still =
        watchpost_media::stills::snapshot(&state.hub, "cam/north-gate/sub", Duration::from_secs(8))
            .await
            .unwrap();
    assert_eq!(jpeg_size(&still.jpeg), Some((160, 120)));

    // A wrong password: the typed authentication error, naming camera and operation.
    let onvif_url = sim.onvif_url("north-gate").unwrap();
    let (status, body) = call_json(
        &state,
        "POST",
        "/api/v1/cameras",
        Some(camera("wrong-pw", &onvif_url, "not-the-password")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = call_json(
        &state,
        "POST",
        "/api/v1/cameras/wrong-pw/ptz",
        Some(json!({"action": "status"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"], "camera_auth_failed", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("wrong-pw"),
        "{body}"
    );
    assert!(!body.to_string().contains("not-the-password"), "{body}");
    state.hub.shutdown().await;
}

/// Polls camera `id` until `pick` (applied to its JSON) holds, at most 30 s.
async fn wait_for_camera(
    state: &AppState,
    id: &str,
    what: &str,
    pick: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, camera) =
            call_json(state, "GET", &format!("/api/v1/cameras/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{camera}");
        if pick(&camera) {
            return camera;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {camera}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_health_follows_an_outage_in_the_api_and_the_path_statistics() {
    let sim = Simulator::start(vec![test_camera("pond")]).unwrap();
    let state = state_with("devices-health", |c| {
        c.devices.health_interval = Duration::from_secs(1);
    })
    .await;
    let body = json!({
        "id": "pond", "name": "Tailings pond dam", "category": "tailings_pond",
        "division": {"district": "Mentougou"},
        "onvif_url": sim.onvif_url("pond").unwrap(),
    });
    let (status, body) = call_json(&state, "POST", "/api/v1/cameras", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let online = wait_for_camera(&state, "pond", "never online", |c| {
        c["health"]["state"] == "online"
    })
    .await;
    let online_since = online["health"]["since_ms"].as_i64().unwrap();

    sim.stop_camera("pond").unwrap();
    let offline = wait_for_camera(&state, "pond", "never offline", |c| {
        c["health"]["state"] == "offline"
    })
    .await;
    let health = &offline["health"];
    assert!(
        health["since_ms"].as_i64().unwrap() >= online_since,
        "{health}"
    );
    let error = health["last_error"].as_str().unwrap();
    assert!(
        error.contains("pond") && error.contains("GetSystemDateAndTime"),
        "{error}"
    );
    let (_, path) = call_json(&state, "GET", "/api/v1/paths/cam/pond/main", None).await;
    assert_eq!(path["camera"]["health"]["state"], "offline", "{path}");

    sim.start_camera("pond").unwrap();
    let back = wait_for_camera(&state, "pond", "never back online", |c| {
        c["health"]["state"] == "online"
    })
    .await;
    assert_eq!(
        back["health"]["last_error"], health["last_error"],
        "the last error stays visible"
    );
    state.hub.shutdown().await;
}
