//! The HTTP app without a socket: `app(state).oneshot(request)`.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use watchpost_command::Database;
use watchpost_config::{CameraConfig, Config, RtspTransport, Secret, SecretUrl};
use watchpost_media::hub::{Hub, HubConfig};
use watchpost_web::{AppState, app};

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
    AppState::new(config, db, hub)
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = app(state.clone())
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
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
async fn cameras_are_listed_without_passwords() {
    let state = state("cameras").await;
    let (status, _, body) = get(&state, "/api/v1/cameras").await;
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
    // The live tiles use the shared WHEP client module.
    assert!(body.contains("import { whepPlay } from '/ui/whep.js'"));
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
