//! The HTTP app without a socket: `app(state).oneshot(request)`.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use watchpost_command::Database;
use watchpost_command::storage::testing::TestDb;
use watchpost_config::{CameraConfig, Config, RtspTransport, Secret, SecretUrl};
use watchpost_media::hub::{Hub, HubConfig};
use watchpost_web::{AppState, app};

/// The city administrator every test state has; the request helpers send its session.
const ADMIN: &str = "duty-officer-li";
const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Session tokens of the test states, by data directory (one state per directory).
fn tokens() -> &'static std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, String>> {
    static TOKENS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, String>>,
    > = std::sync::OnceLock::new();
    TOKENS.get_or_init(Default::default)
}

/// The session token the helpers send for `state`.
fn token_of(state: &AppState) -> Option<String> {
    tokens()
        .lock()
        .unwrap()
        .get(&state.config.storage.data_dir)
        .cloned()
}

/// `Bearer <token>` of `state`'s administrator.
fn bearer(state: &AppState) -> String {
    format!("Bearer {}", token_of(state).unwrap())
}

/// Adds the access service and the city administrator [`ADMIN`], logged in.
async fn with_admin(state: AppState) -> AppState {
    use watchpost_command::access::{AuditContext, Jurisdiction, NewUser, Password, Role};
    let access = watchpost_web::auth::Access::open(state.db.clone(), &state.config)
        .await
        .unwrap();
    access
        .create_user(
            NewUser {
                username: ADMIN.into(),
                display_name: "Li, duty officer".into(),
                role: Role::Admin,
                jurisdiction: Jurisdiction::City,
                disabled: false,
                password: Password::new(ADMIN_PASSWORD),
            },
            &AuditContext::anonymous(None),
        )
        .await
        .unwrap();
    let logged_in = access
        .login(ADMIN, Password::new(ADMIN_PASSWORD), None)
        .await
        .unwrap();
    tokens().lock().unwrap().insert(
        state.config.storage.data_dir.clone(),
        logged_in.token.into_exposed(),
    );
    state.with_access(access)
}

#[path = "api/access.rs"]
mod access;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/settings.rs"]
mod settings;
#[path = "api/tls.rs"]
mod tls;
#[path = "api/walls.rs"]
mod walls;

async fn state(name: &str) -> AppState {
    let dir = std::env::temp_dir().join(format!("watchpost-web-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = Config::default();
    config.storage.data_dir = dir;
    config.cameras = vec![CameraConfig {
        name: "oil-depot".into(),
        title: "Oil depot".into(),
        main_url: SecretUrl::new("rtsp://admin:url-s3cret@127.0.0.1:1554/main"),
        sub_url: None,
        username: None,
        password: None,
        transport: RtspTransport::Tcp,
        always_on: false,
        policies: Vec::new(),
    }];
    config.cameras.push(CameraConfig {
        name: "gas-station".into(),
        main_url: SecretUrl::new("rtsp://127.0.0.1:1555/main"),
        username: Some("viewer".into()),
        password: Some(Secret::new("field-s3cret")),
        ..config.cameras[0].clone()
    });
    config.validate().unwrap();
    let db = Database::connect(&config.storage.effective_database_url())
        .await
        .unwrap();
    let paths = watchpost_media::cameras::camera_paths(&config.cameras).unwrap();
    let hub = Hub::spawn(HubConfig::from_config(&config.media), paths).unwrap();
    with_admin(AppState::new(config, db, hub)).await
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::get(uri);
    if let Some(token) = token_of(state) {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn healthz_reports_version_and_database() {
    let state = state("health").await;
    let (status, _, body) = get(&state, "/healthz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], watchpost_web::VERSION);
    assert_eq!(v["database"], "sqlite");
    assert!(
        v["runtime"]["workers"].as_u64().is_some_and(|w| w >= 1),
        "{body}"
    );
    assert!(v["runtime"]["tasks"].is_u64(), "{body}");
}

#[tokio::test]
async fn healthz_is_503_with_retry_after_when_the_database_is_gone() {
    let state = state("db-gone").await;
    state.db.close().await;
    let (status, headers, body) = get(&state, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "5");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "unavailable");
    assert!(!body.contains("sqlite"), "internals leaked: {body}");
}

#[tokio::test]
async fn configured_cameras_are_listed_without_passwords() {
    let state = state("cameras").await;
    let (status, _, body) = get(&state, "/api/v1/config/cameras").await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["name"], "oil-depot");
    assert_eq!(v[0]["main_url"], "rtsp://admin:***@127.0.0.1:1554/main");
    assert_eq!(v[1]["name"], "gas-station");
    assert!(!body.contains("s3cret"), "{body}");
}

#[tokio::test]
async fn unknown_routes_are_json_404() {
    let state = state("404").await;
    let (status, _, body) = get(&state, "/api/v1/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "not_found");
}

#[tokio::test]
async fn index_page_is_served() {
    let state = state("index").await;
    let (status, headers, body) = get(&state, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(body.contains("<title>Watchpost</title>"));
    // The page's script is a module of its own (no inline script: the CSP forbids them);
    // the live tiles use the shared WHEP client module.
    assert!(body.contains(r#"<script type="module" src="/ui/index.js"></script>"#));
    let (status, _, js) = get(&state, "/ui/index.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(js.contains("import { whepPlay } from '/ui/whep.js'"));
    let (status, headers, js) = get(&state, "/ui/whep.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.contains("export async function whepPlay"));
}

#[tokio::test]
async fn paths_are_listed_with_their_state_and_without_passwords() {
    let state = state("paths").await;
    let (status, _, body) = get(&state, "/api/v1/paths").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gas-station/main", "oil-depot/main"]);
    assert_eq!(v[0]["state"], "idle");
    assert_eq!(v[0]["readers"], 0);
    assert!(!body.contains("s3cret"), "{body}");

    let (status, _, body) = get(&state, "/api/v1/paths/oil-depot/main").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["name"], "oil-depot/main");
    assert!(
        v["source"]
            .as_str()
            .unwrap()
            .contains("rtsp://admin:***@127.0.0.1:1554/main"),
        "{body}"
    );

    let (status, _, body) = get(&state, "/api/v1/paths/oil-depot/sub").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "not_found");
    state.hub.shutdown().await;
}

/// A state with the devices service over a fresh SQLite file, its credential key from the
/// configuration.
async fn state_with_devices(name: &str) -> AppState {
    let state = state(name).await;
    let mut config = (*state.config).clone();
    config.devices.credential_key =
        Some(Secret::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="));
    let devices = watchpost_web::start_devices(&config, &state.db, &state.hub)
        .await
        .unwrap();
    state.with_devices(devices)
}

async fn send(
    state: &AppState,
    method: &str,
    uri: &str,
    content_type: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(token) = token_of(state)
        && !extra
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
    {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    for (k, v) in extra {
        request = request.header(*k, *v);
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

const CAMERA_PASSWORD: &str = "Pw-never-shown-7731";

#[tokio::test]
async fn cameras_crud_through_the_api_keeps_credentials_write_only() {
    let state = state_with_devices("cameras-crud").await;
    let json = "application/json";
    let camera = serde_json::json!({
        "id": "fengtai-oil-01",
        "name": "Fengtai oil depot north gate",
        "category": "oil_depot",
        "enterprise_id": "E-110106-0042",
        "division": {"district": "Fengtai", "street": "Lugouqiao"},
        "position": {"lon": 116.2135, "lat": 39.8492},
        "main_url": "rtsp://127.0.0.1:9/main",
        "sub_url": "rtsp://127.0.0.1:9/sub",
        "credentials": {"username": "admin", "password": CAMERA_PASSWORD},
        "tags": ["north-gate"],
    })
    .to_string();
    let (status, headers, body) = send(&state, "POST", "/api/v1/cameras", json, &camera, &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers[header::LOCATION], "/api/v1/cameras/fengtai-oil-01");
    assert_eq!(headers[header::ETAG], "\"1\"");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["credentials_set"], true);
    assert_eq!(
        v["paths"],
        serde_json::json!(["cam/fengtai-oil-01/main", "cam/fengtai-oil-01/sub"])
    );
    // Checked at once, not at the monitor's next round (30 s away): nothing listens on
    // 127.0.0.1:9, so the camera is offline within moments of being added.
    let state_of = |v: &Value| v["health"]["state"].as_str().unwrap_or_default().to_owned();
    assert!(
        ["unknown", "offline"].contains(&state_of(&v).as_str()),
        "{body}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, _, body) = get(&state, "/api/v1/cameras/fengtai-oil-01").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let now: Value = serde_json::from_str(&body).unwrap();
        if state_of(&now) == "offline" {
            assert!(now["health"]["last_error"].as_str().is_some(), "{body}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never checked: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The hub has the camera's paths, with the password nowhere in them.
    let (status, _, body) = get(&state, "/api/v1/paths/cam/fengtai-oil-01/main").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("rtsp://admin:***@127.0.0.1:9/main"), "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["camera"]["id"], "fengtai-oil-01", "{body}");
    assert_eq!(v["camera"]["health"]["state"], "offline", "{body}");

    // A second create of the same id conflicts; a bad body names every bad field.
    let (status, _, _) = send(&state, "POST", "/api/v1/cameras", json, &camera, &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let bad = serde_json::json!({
        "name": "x", "category": "bakery", "division": {"district": "Fengtai"},
        "position": {"lon": 200.0, "lat": 39.0},
        "main_url": format!("rtsp://admin:{CAMERA_PASSWORD}@192.0.2.1/main"),
    })
    .to_string();
    let (status, _, body) = send(&state, "POST", "/api/v1/cameras", json, &bad, &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for field in ["category", "position.lon", "main_url"] {
        assert!(fields.contains(&field), "{field} not named: {body}");
    }
    assert!(!body.contains(CAMERA_PASSWORD), "{body}");
    let (status, _, body) = send(&state, "POST", "/api/v1/cameras", json, "{\"name\": ", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, _) = send(
        &state,
        "POST",
        "/api/v1/cameras",
        "text/plain",
        &camera,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Update with a stale revision → 412; with the right one → 200, revision 2, and the
    // credentials (absent from the body) kept.
    let mut update: Value = serde_json::from_str(&camera).unwrap();
    update["name"] = "Fengtai oil depot, north gate".into();
    update.as_object_mut().unwrap().remove("credentials");
    let update = update.to_string();
    let uri = "/api/v1/cameras/fengtai-oil-01";
    let (status, _, _) = send(&state, "PUT", uri, json, &update, &[("if-match", "\"7\"")]).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, headers, body) =
        send(&state, "PUT", uri, json, &update, &[("if-match", "\"1\"")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::ETAG], "\"2\"");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["credentials_set"], true);

    // Lists filter; nothing anywhere shows the password.
    let (status, _, list) = get(
        &state,
        "/api/v1/cameras?district=Fengtai&category=oil_depot",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let v: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(v["total"], 1);
    assert_eq!(v["items"][0]["name"], "Fengtai oil depot, north gate");
    let (_, _, none) = get(&state, "/api/v1/cameras?district=Chaoyang").await;
    assert_eq!(serde_json::from_str::<Value>(&none).unwrap()["total"], 0);
    let (status, _, _) = get(&state, "/api/v1/cameras?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, _, one) = get(&state, uri).await;
    let (_, _, paths) = get(&state, "/api/v1/paths").await;
    for text in [&list, &one, &paths] {
        assert!(!text.contains(CAMERA_PASSWORD), "{text}");
        assert!(!text.contains("\"admin\""), "user name shown: {text}");
    }

    // PTZ needs ONVIF; this camera has plain RTSP URLs.
    let (status, _, body) = send(
        &state,
        "POST",
        &format!("{uri}/ptz"),
        json,
        r#"{"action":"stop"}"#,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _, body) = send(
        &state,
        "POST",
        &format!("{uri}/ptz"),
        json,
        r#"{"action":"spin"}"#,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Delete: the record and the paths go.
    let (status, _, _) = send(&state, "DELETE", uri, json, "", &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = get(&state, uri).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&state, "/api/v1/paths/cam/fengtai-oil-01/main").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    state.hub.shutdown().await;
}

#[tokio::test]
async fn csv_import_lands_good_rows_and_names_line_and_field_of_bad_ones() {
    let state = state_with_devices("cameras-import").await;
    let csv = format!(
        "id,name,category,district,street,lon,lat,main_url,username,password,tags\r\n\
         gas-01,Gas station 1,gas_station,Chaoyang,Jiuxianqiao,116.49,39.97,rtsp://127.0.0.1:9/a,admin,{CAMERA_PASSWORD},night;pumps\r\n\
         bad-cat,Bakery,bakery,Chaoyang,,116.4,39.9,rtsp://127.0.0.1:9/b,,,\r\n\
         \"pond-01\",\"Tailings pond, dam crest\",tailings_pond,Mentougou,,116.1,39.94,rtsp://127.0.0.1:9/c,,,\r\n\
         bad-lon,Depot,oil_depot,Fengtai,,999,39.8,rtsp://127.0.0.1:9/d,admin,{CAMERA_PASSWORD},\r\n\
         gas-01,Duplicate,gas_station,Chaoyang,,116.49,39.97,rtsp://127.0.0.1:9/e,,,\r\n"
    );
    let (status, _, body) = send(
        &state,
        "POST",
        "/api/v1/cameras/import",
        "text/csv",
        &csv,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.contains(CAMERA_PASSWORD), "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        report["created"],
        serde_json::json!(["gas-01", "pond-01"]),
        "{body}"
    );
    let errors = report["errors"].as_array().unwrap();
    let by_line = |line: u64| -> Vec<String> {
        errors
            .iter()
            .filter(|e| e["line"] == line)
            .map(|e| e["field"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(by_line(3), ["category"], "{body}");
    assert_eq!(by_line(5), ["lon"], "{body}");
    assert_eq!(by_line(6).len(), 1, "duplicate id reported: {body}");
    assert_eq!(errors.len(), 3, "{body}");

    let (_, _, list) = get(&state, "/api/v1/cameras?tag=pumps").await;
    let v: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(v["total"], 1);
    assert_eq!(v["items"][0]["credentials_set"], true);
    let (status, _, body) = get(&state, "/api/v1/paths/cam/pond-01/main").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "imported cameras are in the hub: {body}"
    );

    let (status, _, _) = send(
        &state,
        "POST",
        "/api/v1/cameras/import",
        "text/plain",
        &csv,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    state.hub.shutdown().await;
}

#[tokio::test]
async fn camera_numbers_are_shown_assigned_kept_and_never_shared() {
    let state = state_with_devices("cameras-numbers").await;
    let json = "application/json";
    let camera = |id: &str, number: Option<u32>| {
        let mut v = serde_json::json!({
            "id": id,
            "name": format!("Camera {id}"),
            "category": "gas_station",
            "division": {"district": "Chaoyang"},
            "main_url": "rtsp://127.0.0.1:9/main",
            "enabled": false,
        });
        if let Some(n) = number {
            v["number"] = n.into();
        }
        v.to_string()
    };
    // Assigned when absent, as given otherwise; in every answer.
    let (status, _, body) = send(
        &state,
        "POST",
        "/api/v1/cameras",
        json,
        &camera("a", None),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["number"], 1);
    let (status, _, body) = send(
        &state,
        "POST",
        "/api/v1/cameras",
        json,
        &camera("b", Some(42)),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["number"], 42);
    let (_, _, list) = get(&state, "/api/v1/cameras").await;
    let v: Value = serde_json::from_str(&list).unwrap();
    let numbers: Vec<&Value> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["number"])
        .collect();
    assert_eq!(numbers, [&Value::from(1), &Value::from(42)], "{list}");

    // Another camera's number: 409 naming the field, on create and on replace.
    let (status, _, body) = send(
        &state,
        "POST",
        "/api/v1/cameras",
        json,
        &camera("c", Some(42)),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "conflict", "{body}");
    assert_eq!(v["fields"][0]["field"], "number", "{body}");
    assert!(
        v["message"].as_str().unwrap().contains("camera b"),
        "{body}"
    );
    let (status, _, _) = get(&state, "/api/v1/cameras/c").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = send(
        &state,
        "PUT",
        "/api/v1/cameras/a",
        json,
        &camera("a", Some(42)),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["fields"][0]["field"],
        "number"
    );
    // Out of range: 422 on the field.
    let (status, _, body) = send(
        &state,
        "POST",
        "/api/v1/cameras",
        json,
        &camera("c", Some(100_000)),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["fields"][0]["field"],
        "number"
    );

    // Replace without a number keeps it; with a free one moves it.
    let (status, _, body) = send(
        &state,
        "PUT",
        "/api/v1/cameras/b",
        json,
        &camera("b", None),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["number"], 42);
    let (status, _, body) = send(
        &state,
        "PUT",
        "/api/v1/cameras/a",
        json,
        &camera("a", Some(7)),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, body) = get(&state, "/api/v1/cameras/a").await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["number"], 7);

    // CSV import: with a number column, and a taken number named on its line.
    let csv = "id,number,name,category,district,main_url,enabled\n\
               d,9,Nine,gas_station,Chaoyang,rtsp://127.0.0.1:9/d,false\n\
               e,42,Taken,gas_station,Chaoyang,rtsp://127.0.0.1:9/e,false\n\
               f,,Assigned,gas_station,Chaoyang,rtsp://127.0.0.1:9/f,false\n";
    let (status, _, body) = send(
        &state,
        "POST",
        "/api/v1/cameras/import",
        "text/csv",
        csv,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["created"], serde_json::json!(["d", "f"]), "{body}");
    assert_eq!(report["errors"][0]["line"], 3, "{body}");
    assert_eq!(report["errors"][0]["field"], "number", "{body}");
    let (_, _, body) = get(&state, "/api/v1/cameras/f").await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["number"], 43);
    state.hub.shutdown().await;
}

/// The command API's state over a test database (an SQLite file or a fresh PostgreSQL
/// schema): incidents with their event feed, the organisation, and with `devices` the
/// camera inventory.
async fn command_state(f: &TestDb, devices: bool) -> AppState {
    let mut config = Config::default();
    config.storage.data_dir =
        std::env::temp_dir().join(format!("watchpost-web-{}-{:p}", std::process::id(), f));
    config.devices.credential_key =
        Some(Secret::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="));
    let hub = Hub::spawn(HubConfig::from_config(&config.media), Vec::new()).unwrap();
    let db = f.db.clone();
    let store = watchpost_command::incidents::IncidentStore::open(db.clone())
        .await
        .unwrap();
    let events = watchpost_web::events::EventFeed::start(store.clone())
        .await
        .unwrap();
    let org = watchpost_command::org::Organisation::open(db.clone())
        .await
        .unwrap();
    let mut state = AppState::new(config.clone(), db, hub.clone())
        .with_incidents(store, events)
        .with_org(org);
    if devices {
        let devices = watchpost_web::start_devices(&config, &state.db, &hub)
            .await
            .unwrap();
        state = state.with_devices(devices);
    }
    with_admin(state).await
}

// The command API on both backends: SQLite and the PostgreSQL that `cargo xtask test`
// provides (`WATCHPOST_TEST_POSTGRES_URL`).
watchpost_command::on_both_backends!(
    "web-api",
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)],
    an_incident_goes_from_intake_to_closure_through_the_api,
    an_incident_lists_its_enterprise_cameras_and_the_nearby_ones,
    events_replay_what_a_client_missed_then_stream_live,
    the_organisation_and_the_ledger_through_the_api,
);

async fn an_incident_goes_from_intake_to_closure_through_the_api(f: &TestDb) {
    let state = command_state(f, false).await;
    let json = "application/json";
    // The timeline names the logged-in user.
    let op: [(&str, &str); 0] = [];

    // Three deaths make a "larger" accident: reports are owed up to the province.
    let new = serde_json::json!({
        "title": "Explosion at the Fengtai oil depot",
        "incident_type": "explosion",
        "location": {"district": "Fengtai", "street": "Lugouqiao",
                     "position": {"lon": 116.2135, "lat": 39.8492}},
        "enterprise_id": "E-110106-0001",
        "figures": {"deaths": 3, "serious_injuries": 4},
        "warning_level": "orange",
    })
    .to_string();
    let (status, headers, body) = send(&state, "POST", "/api/v1/incidents", json, &new, &op).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let location = headers[header::LOCATION].to_str().unwrap().to_owned();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["grading"]["grade"], "larger", "{body}");
    assert_eq!(v["grading"]["criterion"], "deaths", "{body}");
    let clocks: Vec<&str> = v["report_clocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["to"].as_str().unwrap())
        .collect();
    assert_eq!(clocks, ["county", "prefecture", "province"], "{body}");
    assert!(v["report_clocks"][0]["remaining_ms"].as_i64().unwrap() > 0);
    assert_eq!(
        location,
        format!("/api/v1/incidents/{}", v["id"].as_str().unwrap())
    );

    // Bad input names the field; nothing is written.
    let bad = new.replace("\"deaths\":3", "\"deaths\":-1");
    let (status, _, body) = send(&state, "POST", "/api/v1/incidents", json, &bad, &op).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("figures.deaths"), "{body}");
    let bad = new.replace("explosion", "meteor");
    let (status, _, body) = send(&state, "POST", "/api/v1/incidents", json, &bad, &op).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("incident_type"), "{body}");
    let (_, _, list) = get(&state, "/api/v1/incidents").await;
    assert_eq!(serde_json::from_str::<Value>(&list).unwrap()["total"], 1);

    // Activate, dispatch a team, and try to close while it is out: refused.
    let cmd = |c: Value| c.to_string();
    let commands = format!("{location}/commands");
    let (status, _, body) = send(
        &state,
        "POST",
        &commands,
        json,
        &cmd(serde_json::json!({"command": "activate"})),
        &op,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = send(
        &state,
        "POST",
        &format!("{location}/tasks"),
        json,
        r#"{"unit_id": "fengtai-fire-1", "instructions": "cool tank 3"}"#,
        &op,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let task = serde_json::from_str::<Value>(&body).unwrap()["task"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let close = cmd(serde_json::json!({"command": "close", "summary": "fire out"}));
    let (status, _, body) = send(&state, "POST", &commands, json, &close, &op).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "open_tasks"
    );

    // An illegal task transition is refused; the legal chain works.
    let transition = format!("/api/v1/tasks/{task}/transition");
    let (status, _, body) = send(
        &state,
        "POST",
        &transition,
        json,
        r#"{"to": "on_scene"}"#,
        &op,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    for to in ["acknowledged", "en_route", "on_scene", "released"] {
        let (status, _, body) = send(
            &state,
            "POST",
            &transition,
            json,
            &format!(r#"{{"to": "{to}"}}"#),
            &op,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{to}: {body}");
    }

    // The statutory reports, then closure; a closed incident refuses everything.
    for to in ["county", "prefecture", "province"] {
        let c = cmd(serde_json::json!({"command": "record_report", "to": to}));
        let (status, _, body) = send(&state, "POST", &commands, json, &c, &op).await;
        assert_eq!(status, StatusCode::OK, "{to}: {body}");
    }
    let (status, _, body) = send(&state, "POST", &commands, json, &close, &op).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let note = cmd(serde_json::json!({"command": "add_note", "text": "late note"}));
    let (status, _, body) = send(&state, "POST", &commands, json, &note, &op).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "closed"
    );

    // The timeline has every change, by the operator who made it.
    let (status, _, body) = get(&state, &format!("{location}/timeline?limit=1000")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entries = serde_json::from_str::<Value>(&body).unwrap()["entries"].clone();
    let kinds: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "opened",
        "state_changed",
        "task_dispatched",
        "task_transitioned",
        "report_recorded",
        "closed",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["operator"] == "duty-officer-li")
    );
    assert!(
        !kinds.contains(&"note_added"),
        "the refused note was not written"
    );

    let (status, _, _) = get(&state, "/api/v1/incidents/inc-999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    state.hub.shutdown().await;
}

async fn an_incident_lists_its_enterprise_cameras_and_the_nearby_ones(f: &TestDb) {
    let state = command_state(f, true).await;
    let json = "application/json";
    let camera = |id: &str, enterprise: Option<&str>, lon: f64, lat: f64| {
        serde_json::json!({
            "id": id, "name": id, "category": "oil_depot", "enterprise_id": enterprise,
            "division": {"district": "Fengtai"}, "position": {"lon": lon, "lat": lat},
            "main_url": "rtsp://127.0.0.1:9/main",
        })
        .to_string()
    };
    // The depot's own camera, a neighbour's ~300 m east, one ~5 km away, one unplaced.
    for body in [
        camera("depot-gate", Some("E-110106-0001"), 116.2135, 39.8492),
        camera("neighbour", Some("E-110106-0002"), 116.2170, 39.8492),
        camera("far", None, 116.2700, 39.8700),
    ] {
        let (status, _, body) = send(&state, "POST", "/api/v1/cameras", json, &body, &[]).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let unplaced = r#"{"id":"unplaced","name":"unplaced","category":"other","division":{"district":"Fengtai"},"main_url":"rtsp://127.0.0.1:9/x"}"#;
    let (status, _, body) = send(&state, "POST", "/api/v1/cameras", json, unplaced, &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let new = serde_json::json!({
        "title": "Leak at the depot", "incident_type": "leakage",
        "location": {"position": {"lon": 116.2136, "lat": 39.8493}},
        "enterprise_id": "E-110106-0001",
    })
    .to_string();
    let (status, headers, body) = send(&state, "POST", "/api/v1/incidents", json, &new, &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let location = headers[header::LOCATION].to_str().unwrap();

    let (status, _, body) = get(&state, &format!("{location}/cameras?radius_m=1000")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let ids = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("enterprise"), ["depot-gate"], "{body}");
    assert_eq!(ids("nearby"), ["neighbour"], "{body}");
    let d = v["nearby"][0]["distance_m"].as_f64().unwrap();
    assert!((250.0..350.0).contains(&d), "{d}");
    let (_, _, body) = get(&state, &format!("{location}/cameras?radius_m=10000")).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["nearby"].as_array().unwrap().len(),
        2,
        "far one within 10 km: {body}"
    );
    state.hub.shutdown().await;
}

/// Reads server-sent events from `body` until `want` events arrived (at most 10 s);
/// returns `(id, event, data)` of each.
async fn read_events(body: &mut Body, want: usize) -> Vec<(String, String, Value)> {
    let mut text = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while events.len() < want {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .unwrap_or_else(|_| panic!("only {} events: {text}", events.len()))
            .expect("stream open")
            .unwrap();
        let Ok(data) = frame.into_data() else {
            continue;
        };
        text.push_str(std::str::from_utf8(&data).unwrap());
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_owned())
            };
            if let (Some(id), Some(event), Some(data)) =
                (field("id:"), field("event:"), field("data:"))
            {
                events.push((id, event, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    events
}

async fn events_replay_what_a_client_missed_then_stream_live(f: &TestDb) {
    let state = command_state(f, false).await;
    let json = "application/json";
    let new = r#"{"title": "Smoke at a fireworks outlet", "incident_type": "fire",
                  "location": {"district": "Tongzhou", "address": "Yongshun"}}"#;
    let (status, headers, body) = send(&state, "POST", "/api/v1/incidents", json, new, &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let location = headers[header::LOCATION].to_str().unwrap().to_owned();
    let incident_id = location.rsplit('/').next().unwrap().to_owned();

    // A client that saw nothing yet (Last-Event-ID: 0) gets the opening from the database…
    let response = app(state.clone())
        .oneshot(
            Request::get(format!("/api/v1/events?incident_id={incident_id}"))
                .header(header::AUTHORIZATION, bearer(&state))
                .header("last-event-id", "0")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut stream = response.into_body();
    let replayed = read_events(&mut stream, 1).await;
    assert_eq!(replayed[0].1, "opened", "{replayed:?}");
    assert_eq!(replayed[0].2["incident_id"], incident_id.as_str());

    // …then what happens next, live, in order, with increasing ids.
    let commands = format!("{location}/commands");
    for command in [
        r#"{"command": "activate"}"#,
        r#"{"command": "add_note", "text": "crew on site"}"#,
    ] {
        let (status, _, body) = send(&state, "POST", &commands, json, command, &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let live = read_events(&mut stream, 2).await;
    assert_eq!(
        live.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
        ["state_changed", "note_added"]
    );
    let ids: Vec<i64> = replayed
        .iter()
        .chain(&live)
        .map(|e| e.0.parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // A reconnect after the first two events gets exactly the third.
    let response = app(state.clone())
        .oneshot(
            Request::get("/api/v1/events")
                .header(header::AUTHORIZATION, bearer(&state))
                .header("last-event-id", ids[1].to_string())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let mut stream = response.into_body();
    let again = read_events(&mut stream, 1).await;
    assert_eq!(again[0].0, ids[2].to_string());

    // A client without an id starts at the end and gets only what comes next, from the
    // server's live feed.
    let response = app(state.clone())
        .oneshot(
            Request::get("/api/v1/events")
                .header(header::AUTHORIZATION, bearer(&state))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let mut stream = response.into_body();
    let reader = tokio::spawn(async move { read_events(&mut stream, 1).await });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let (status, _, body) = send(
        &state,
        "POST",
        &commands,
        json,
        r#"{"command": "monitor"}"#,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let live = reader.await.unwrap();
    assert_eq!(live[0].1, "state_changed");
    assert_eq!(live[0].2["content"]["to"], "monitoring", "{live:?}");

    let (status, _, _) = get(&state, "/api/v1/events?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    state.hub.shutdown().await;
}

async fn the_organisation_and_the_ledger_through_the_api(f: &TestDb) {
    let state = command_state(f, false).await;
    let json = "application/json";
    let ledger = |name: &str| {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../fixtures/ledger/{name}")),
        )
        .unwrap()
    };
    // The sample ledger imports cleanly: centres, then units, then enterprises.
    for (kind, file) in [
        ("centres", "centres.json"),
        ("units", "units.json"),
        ("enterprises", "enterprises.json"),
    ] {
        let (status, _, body) = send(
            &state,
            "POST",
            &format!("/api/v1/{kind}/import"),
            json,
            &ledger(file),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{kind}: {body}");
        let report: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(report["errors"], serde_json::json!([]), "{kind}: {body}");
        assert!(!report["created"].as_array().unwrap().is_empty(), "{kind}");
    }

    // Filters; the demo depot is in the ledger with its hazard sources.
    let (status, _, body) = get(
        &state,
        "/api/v1/enterprises?district=Fengtai&category=oil_depot",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["ledger_id"] == "E-110106-0001"),
        "{body}"
    );
    let (status, headers, body) = get(&state, "/api/v1/enterprises/E-110106-0001").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tag = headers[header::ETAG].to_str().unwrap().to_owned();
    let mut depot: Value = serde_json::from_str(&body).unwrap();
    assert!(!depot["hazard_sources"].as_array().unwrap().is_empty());

    // A replacement with the right revision works; a stale one is 412.
    for key in ["revision", "created_ms", "updated_ms"] {
        depot.as_object_mut().unwrap().remove(key);
    }
    depot["name"] = "Fengtai Oil Depot (renamed)".into();
    let uri = "/api/v1/enterprises/E-110106-0001";
    let (status, _, body) = send(
        &state,
        "PUT",
        uri,
        json,
        &depot.to_string(),
        &[("if-match", &tag)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = send(
        &state,
        "PUT",
        uri,
        json,
        &depot.to_string(),
        &[("if-match", &tag)],
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);

    // A bad credit code and a bad position are named; nothing is written.
    let mut bad = depot.clone();
    bad["ledger_id"] = "E-110106-9999".into();
    bad["credit_code"] = "91110106WP0000000X".into();
    bad["position"] = serde_json::json!({"lon": 500.0, "lat": 39.8});
    let (status, _, body) = send(
        &state,
        "POST",
        "/api/v1/enterprises",
        json,
        &bad.to_string(),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.contains("credit_code") && body.contains("position.lon"),
        "{body}"
    );
    let (status, _, _) = get(&state, "/api/v1/enterprises/E-110106-9999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Units: availability changes; a centre with units cannot be deleted.
    let (status, _, body) = get(
        &state,
        "/api/v1/units?kind=rescue_team&availability=available&limit=5",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let units: Value = serde_json::from_str(&body).unwrap();
    let unit = units["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, _, body) = send(
        &state,
        "PUT",
        &format!("/api/v1/units/{unit}/availability"),
        json,
        r#"{"availability": "dispatched"}"#,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["availability"],
        "dispatched"
    );
    let (status, _, body) = send(&state, "DELETE", "/api/v1/centres/bj", json, "", &[]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "in_use"
    );
    let (_, _, body) = get(&state, "/api/v1/centres?level=district").await;
    let districts = serde_json::from_str::<Value>(&body).unwrap()["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(districts, 16, "{body}");
    state.hub.shutdown().await;
}
