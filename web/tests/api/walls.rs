//! Video walls through the API: walls and monitors, pushing cameras, scenes and incidents,
//! restore, the wall event stream with replay, kiosk tokens and their limits, their renewal
//! and revocation, jurisdiction, the audit log and the tour driver (with an injected time,
//! no waiting).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use watchpost_command::access::Jurisdiction;
use watchpost_command::storage::testing::TestDb;
use watchpost_command::walls::WallStore;
use watchpost_web::{AppState, app};

use super::{bearer, get, read_events, send};

const JSON: &str = "application/json";
const PASSWORD: &str = "walls-password-0123";

/// Devices, incidents, the organisation and the walls over the test database, with the
/// city administrator.
async fn walls_state(f: &TestDb) -> (AppState, WallStore) {
    let state = super::command_state(f, true).await;
    let walls = WallStore::open(f.db.clone()).await.unwrap();
    (state.with_walls(walls.clone()), walls)
}

// On both backends: SQLite and the PostgreSQL of `WATCHPOST_TEST_POSTGRES_URL`.
watchpost_command::on_both_backends!(
    "web-walls",
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)],
    walls_show_cameras_scenes_and_incidents_to_users_and_kiosks,
    kiosk_links_renew_themselves_until_revoked,
);

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

async fn post(state: &AppState, uri: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, answer) = send(state, "POST", uri, JSON, &body.to_string(), &[]).await;
    let value = serde_json::from_str(&answer).unwrap_or(Value::String(answer));
    (status, value)
}

/// `method uri` with `Authorization: Bearer token`.
async fn as_token(
    state: &AppState,
    token: &str,
    method: &str,
    uri: &str,
    body: Value,
) -> (StatusCode, String) {
    let auth = format!("Bearer {token}");
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, _, answer) =
        send(state, method, uri, JSON, &body, &[("authorization", &auth)]).await;
    (status, answer)
}

/// The event stream of `wall` as `authorization`, from `last_event_id` when given.
async fn event_stream(
    state: &AppState,
    wall: &str,
    authorization: &str,
    last_event_id: Option<&str>,
) -> Body {
    let mut request = Request::get(format!("/api/v1/walls/{wall}/events"))
        .header(header::AUTHORIZATION, authorization);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    response.into_body()
}

/// The part of a monitor's state that says what it shows.
fn shown(monitor: &Value) -> Value {
    json!({"layout": monitor["state"]["layout"], "tiles": monitor["state"]["tiles"],
           "source": monitor["state"]["source"]})
}

async fn walls_show_cameras_scenes_and_incidents_to_users_and_kiosks(f: &TestDb) {
    let (state, walls) = walls_state(f).await;

    // Cameras: two of the Chaoyang enterprise's site (its gate, its yard ~300 m east) and
    // one in Fengtai. Disabled: nothing to connect to.
    for (id, enterprise, district, street, lon) in [
        (
            "gate-a",
            Some("E-110105-0001"),
            "Chaoyang",
            "Jiuxianqiao",
            116.4900,
        ),
        ("yard-a", None, "Chaoyang", "Jiuxianqiao", 116.4935),
        ("cam-b", None, "Fengtai", "Lugouqiao", 116.2135),
    ] {
        // The gate has a sub stream; the others do not.
        let sub = (id == "gate-a").then_some("rtsp://127.0.0.1:9/sub");
        let body = json!({"id": id, "name": id, "category": "gas_station", "enabled": false,
            "enterprise_id": enterprise, "division": {"district": district, "street": street},
            "position": {"lon": lon, "lat": 39.9700}, "main_url": "rtsp://127.0.0.1:9/main",
            "sub_url": sub});
        let (status, answer) = post(&state, "/api/v1/cameras", body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }

    // Two walls: one in Chaoyang with two monitors, one in Fengtai.
    let wall_a = json!({"id": "hall-a", "name": "Chaoyang hall",
        "scope": {"district": "Chaoyang"}, "monitors": [{"id": "1"}, {"id": "2"}]});
    let (status, wall) = post(&state, "/api/v1/walls", wall_a).await;
    assert_eq!(status, StatusCode::CREATED, "{wall}");
    assert_eq!(wall["monitors"].as_array().unwrap().len(), 2, "{wall}");
    let wall_b = json!({"id": "hall-b", "name": "Fengtai hall",
        "scope": {"district": "Fengtai"}, "monitors": [{"id": "1"}]});
    let (status, wall) = post(&state, "/api/v1/walls", wall_b).await;
    assert_eq!(status, StatusCode::CREATED, "{wall}");

    // A live follower of wall A, from now on.
    let mut live = event_stream(&state, "hall-a", &bearer(&state), None).await;

    // Show a camera: the monitor shows it, from its main stream (the only tile).
    let commands = "/api/v1/walls/hall-a/monitors/1/commands";
    let (status, monitor) = post(
        &state,
        commands,
        json!({"command": "show_camera", "tile": 0, "camera_id": "gate-a"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{monitor}");
    let (status, headers, body) = get(&state, "/api/v1/walls/hall-a/monitors/1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view = parse(&body);
    assert_eq!(view["streams"][0]["path"], "cam/gate-a/main", "{body}");
    assert_eq!(
        headers[header::ETAG].to_str().unwrap(),
        format!("\"{}\"", view["revision"])
    );

    // The follower got the change, with the monitor's new state.
    let events = read_events(&mut live, 1).await;
    assert_eq!(events[0].1, "show_camera", "{events:?}");
    assert_eq!(events[0].2["monitor_id"], "1");
    assert_eq!(events[0].2["state"]["tiles"][0]["camera_id"], "gate-a");
    let show_id = events[0].0.clone();
    // A reconnect from before the wall existed replays its monitors' creation, then the
    // change, in order.
    let mut replay = event_stream(&state, "hall-a", &bearer(&state), Some("0")).await;
    let replayed = read_events(&mut replay, 3).await;
    assert_eq!(
        replayed.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
        ["monitor_added", "monitor_added", "show_camera"],
        "{replayed:?}"
    );
    assert_eq!(replayed[2].0, show_id);

    // An incident at the enterprise: show_incident shows its cameras (the enterprise's
    // first, then the nearby one), and restore returns exactly to the view before.
    let before = shown(&monitor);
    let incident = json!({"title": "Leak at the station", "incident_type": "leakage",
        "enterprise_id": "E-110105-0001",
        "location": {"district": "Chaoyang", "street": "Jiuxianqiao",
                     "position": {"lon": 116.4901, "lat": 39.9700}}});
    let (status, incident) = post(&state, "/api/v1/incidents", incident).await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    let incident_id = incident["id"].as_str().unwrap().to_owned();
    let (status, pushed) = post(
        &state,
        commands,
        json!({"command": "show_incident", "incident_id": incident_id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    let cameras: Vec<&str> = pushed["state"]["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["camera_id"].as_str())
        .collect();
    assert_eq!(cameras, ["gate-a", "yard-a"], "{pushed}");
    // Small tiles play the sub stream, except the yard's: it has none, so its main one.
    let (status, _, body) = get(&state, "/api/v1/walls/hall-a/monitors/1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view = parse(&body);
    let paths: Vec<&str> = view["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["path"].as_str())
        .collect();
    assert_eq!(paths, ["cam/gate-a/sub", "cam/yard-a/main"], "{body}");
    assert_eq!(pushed["state"]["source"]["kind"], "incident");
    assert_eq!(
        pushed["state"]["source"]["incident_id"],
        incident_id.as_str()
    );
    let (status, restored) = post(&state, commands, json!({"command": "restore"})).await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(shown(&restored), before);
    let (status, again) = post(&state, commands, json!({"command": "restore"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"], "nothing_to_restore", "{again}");
    // A stale revision is refused.
    let (status, _, body) = send(
        &state,
        "POST",
        commands,
        JSON,
        r#"{"command": "clear_tile", "tile": 0}"#,
        &[("if-match", "\"1\"")],
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");

    // A kiosk token for monitor 1 reads it and gets stream tokens for what it shows, and
    // nothing else.
    let (status, kiosk) = post(
        &state,
        "/api/v1/walls/hall-a/monitors/1/kiosk-token",
        json!({"ttl_s": 3600}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{kiosk}");
    assert_eq!(kiosk["path"], "wall/hall-a/1");
    assert_eq!(kiosk["page"], "/wall/hall-a/1");
    let kiosk = kiosk["token"].as_str().unwrap().to_owned();
    let (status, body) = as_token(
        &state,
        &kiosk,
        "GET",
        "/api/v1/walls/hall-a/monitors/1",
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(parse(&body)["streams"][0]["path"], "cam/gate-a/main");
    let tokens = "/api/v1/walls/hall-a/monitors/1/stream-tokens";
    let (status, body) = as_token(
        &state,
        &kiosk,
        "POST",
        tokens,
        json!({"path": "cam/gate-a/main"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let tile = parse(&body);
    assert_eq!(tile["path"], "cam/gate-a/main");
    // The tile token is no kiosk token.
    let tile_token = tile["token"].as_str().unwrap();
    let (status, body) = as_token(
        &state,
        tile_token,
        "GET",
        "/api/v1/walls/hall-a/monitors/1",
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    for path in ["cam/gate-a/sub", "cam/cam-b/main", "wall/hall-a/1"] {
        let (status, body) = as_token(&state, &kiosk, "POST", tokens, json!({"path": path})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    // Any other route, and another monitor, refuse it.
    for (method, uri, body) in [
        ("GET", "/api/v1/cameras", Value::Null),
        ("GET", "/api/v1/walls", Value::Null),
        ("GET", "/api/v1/walls/hall-a", Value::Null),
        ("GET", "/api/v1/walls/hall-a/monitors/2", Value::Null),
        ("GET", "/api/v1/walls/hall-b/monitors/1", Value::Null),
        ("GET", "/api/v1/walls/hall-b/events", Value::Null),
        (
            "POST",
            commands,
            json!({"command": "clear_tile", "tile": 0}),
        ),
        (
            "POST",
            "/api/v1/walls/hall-a/monitors/1/kiosk-token",
            json!({}),
        ),
        (
            "POST",
            "/api/v1/walls/hall-a/monitors/2/stream-tokens",
            json!({"path": "cam/gate-a/main"}),
        ),
        (
            "POST",
            "/api/v1/stream-tokens",
            json!({"path": "cam/gate-a/main"}),
        ),
    ] {
        let (status, answer) = as_token(&state, &kiosk, method, uri, body).await;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
            "kiosk token on {method} {uri}: {status} {answer}"
        );
    }
    // Its event stream carries its own monitor only.
    let mut kiosk_events =
        event_stream(&state, "hall-a", &format!("Bearer {kiosk}"), Some("0")).await;
    let (status, _) = post(
        &state,
        "/api/v1/walls/hall-a/monitors/2/commands",
        json!({"command": "show_camera", "tile": 0, "camera_id": "yard-a"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(
        &state,
        commands,
        json!({"command": "set_layout", "layout": 4}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let seen = read_events(&mut kiosk_events, 5).await;
    assert!(seen.iter().all(|e| e.2["monitor_id"] == "1"), "{seen:?}");
    assert_eq!(seen[4].1, "set_layout", "{seen:?}");

    // A Chaoyang operator sees and pushes to the Chaoyang wall, not to the Fengtai one.
    let operator = json!({"username": "chaoyang-op", "display_name": "Op", "role": "operator",
        "jurisdiction": Jurisdiction::District { district: "Chaoyang".into() },
        "password": PASSWORD});
    let (status, answer) = post(&state, "/api/v1/users", operator).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, login) = post(
        &state,
        "/api/v1/auth/login",
        json!({"username": "chaoyang-op", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let op = login["token"].as_str().unwrap().to_owned();
    let (status, body) = as_token(&state, &op, "GET", "/api/v1/walls", Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids: Vec<String> = parse(&body)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["hall-a"]);
    let push = json!({"command": "show_camera", "tile": 0, "camera_id": "gate-a"});
    let (status, body) = as_token(
        &state,
        &op,
        "POST",
        "/api/v1/walls/hall-b/monitors/1/commands",
        push.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = as_token(&state, &op, "GET", "/api/v1/walls/hall-b", Value::Null).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = as_token(
        &state,
        &op,
        "POST",
        "/api/v1/walls/hall-b/monitors/1/kiosk-token",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = as_token(
        &state,
        &op,
        "POST",
        "/api/v1/walls/hall-a/monitors/2/commands",
        push,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Nor a Fengtai camera on its own wall.
    let (status, body) = as_token(
        &state,
        &op,
        "POST",
        "/api/v1/walls/hall-a/monitors/2/commands",
        json!({"command": "show_camera", "tile": 0, "camera_id": "cam-b"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // A whole grid in one step (the console's grid): its own cameras, yes; one Fengtai
    // camera among them, no — and the monitor keeps what it showed.
    let grid = |third: &str| {
        json!({"command": "show_grid", "layout": 4, "tiles": [
            {"kind": "camera", "camera_id": "gate-a"}, {"kind": "empty"},
            {"kind": "camera", "camera_id": third, "profile": "main"}]})
    };
    let (status, body) = as_token(
        &state,
        &op,
        "POST",
        "/api/v1/walls/hall-a/monitors/2/commands",
        grid("yard-a"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let shown_grid = parse(&body);
    assert_eq!(
        shown_grid["state"]["layout"]["tiles"]
            .as_array()
            .map(Vec::len),
        Some(4),
        "{body}"
    );
    let cameras: Vec<&str> = shown_grid["state"]["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["camera_id"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(cameras, ["gate-a", "-", "yard-a", "-"], "{body}");
    let (status, body) = as_token(
        &state,
        &op,
        "POST",
        "/api/v1/walls/hall-a/monitors/2/commands",
        grid("cam-b"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, body) = get(&state, "/api/v1/walls/hall-a/monitors/2").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        parse(&body)["state"]["tiles"],
        shown_grid["state"]["tiles"],
        "{body}"
    );

    // Nor through a scene or a tour: a Fengtai camera in a Chaoyang scene is refused when
    // the operator saves it, and when a scene made by the city holds one, applying it or
    // starting a tour of it is refused too (the monitor's kiosk would otherwise get a stream
    // token for the Fengtai camera).
    let mixed = json!({"name": "Mixed", "scope": {"district": "Chaoyang"}, "layout": 4,
        "tiles": [{"kind": "camera", "camera_id": "gate-a"},
                  {"kind": "camera", "camera_id": "cam-b"}]});
    let (status, body) = as_token(&state, &op, "POST", "/api/v1/scenes", mixed.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, scene) = post(&state, "/api/v1/scenes", mixed).await;
    assert_eq!(status, StatusCode::CREATED, "{scene}");
    let mixed_id = scene["id"].as_str().unwrap().to_owned();
    let (status, body) = as_token(
        &state,
        &op,
        "POST",
        "/api/v1/walls/hall-a/monitors/2/commands",
        json!({"command": "apply_scene", "scene_id": mixed_id}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let tour = json!({"name": "Mixed tour", "scope": {"district": "Chaoyang"},
        "steps": [{"scene_id": mixed_id, "dwell_ms": 5000}]});
    let (status, tour) = post(&state, "/api/v1/tours", tour).await;
    assert_eq!(status, StatusCode::CREATED, "{tour}");
    let (status, body) = as_token(
        &state,
        &op,
        "POST",
        "/api/v1/walls/hall-a/monitors/2/commands",
        json!({"command": "start_tour", "tour_id": tour["id"]}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // The monitor still shows the operator's grid.
    let (status, _, body) = get(&state, "/api/v1/walls/hall-a/monitors/2").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        parse(&body)["state"]["tiles"],
        shown_grid["state"]["tiles"],
        "{body}"
    );

    // The pushes are in the audit log.
    let (status, _, body) = get(&state, "/api/v1/audit?action=wall_pushed").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let audit = parse(&body);
    let entries = audit["items"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["target"] == "hall-a/1" && e["detail"]["command"] == "show_incident"),
        "{body}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["target"] == "hall-a/2" && e["actor"]["username"] == "chaoyang-op"),
        "{body}"
    );
    // And so are the walls' own changes.
    let (status, _, body) = get(&state, "/api/v1/audit?action=wall_changed").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let audit = parse(&body);
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["target"] == "wall/hall-a" && e["detail"]["change"] == "created"),
        "{body}"
    );

    // A tour of two scenes, 3 s each: the driver moves it on when the clock says so.
    let mut scenes = Vec::new();
    for camera in ["gate-a", "yard-a"] {
        let scene = json!({"name": format!("{camera} only"), "scope": {"district": "Chaoyang"},
            "layout": 1, "tiles": [{"kind": "camera", "camera_id": camera}]});
        let (status, scene) = post(&state, "/api/v1/scenes", scene).await;
        assert_eq!(status, StatusCode::CREATED, "{scene}");
        scenes.push(scene["id"].as_str().unwrap().to_owned());
    }
    let tour = json!({"name": "Station round", "scope": {"district": "Chaoyang"},
        "steps": [{"scene_id": scenes[0], "dwell_ms": 3000},
                  {"scene_id": scenes[1], "dwell_ms": 3000}], "loop": true});
    let (status, tour) = post(&state, "/api/v1/tours", tour).await;
    assert_eq!(status, StatusCode::CREATED, "{tour}");
    let tour_id = tour["id"].as_str().unwrap().to_owned();
    let (status, started) = post(
        &state,
        "/api/v1/walls/hall-a/monitors/2/commands",
        json!({"command": "start_tour", "tour_id": tour_id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let origin = started["state"]["source"]["started_at"].as_i64().unwrap();
    assert_eq!(started["state"]["source"]["step"], 0);
    // The monitor page learns where the tour is and what comes next.
    let (_, _, body) = get(&state, "/api/v1/walls/hall-a/monitors/2").await;
    let view = parse(&body);
    assert_eq!(view["tour"]["next_scene_id"], scenes[1].as_str(), "{body}");
    assert_eq!(view["next_streams"][0]["path"], "cam/yard-a/main", "{body}");
    // A kiosk of monitor 2 may fetch the next scene's stream ahead of the switch.
    let (_, kiosk2) = post(
        &state,
        "/api/v1/walls/hall-a/monitors/2/kiosk-token",
        json!({}),
    )
    .await;
    let kiosk2 = kiosk2["token"].as_str().unwrap().to_owned();
    let (status, body) = as_token(
        &state,
        &kiosk2,
        "POST",
        "/api/v1/walls/hall-a/monitors/2/stream-tokens",
        json!({"path": "cam/yard-a/main"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    assert_eq!(
        watchpost_web::walls::tour_tick(&walls, origin + 2_900).await,
        0
    );
    assert_eq!(
        watchpost_web::walls::tour_tick(&walls, origin + 3_100).await,
        1
    );
    let (_, _, body) = get(&state, "/api/v1/walls/hall-a/monitors/2").await;
    let view = parse(&body);
    assert_eq!(view["state"]["source"]["step"], 1, "{body}");
    assert_eq!(view["state"]["tiles"][0]["camera_id"], "yard-a", "{body}");
    assert_eq!(view["updated_by"], "tour", "{body}");
    // Again at the same time: nothing to do; after the loop, back to the first scene.
    assert_eq!(
        watchpost_web::walls::tour_tick(&walls, origin + 3_200).await,
        0
    );
    assert_eq!(
        watchpost_web::walls::tour_tick(&walls, origin + 6_100).await,
        1
    );
    let (_, _, body) = get(&state, "/api/v1/walls/hall-a/monitors/2").await;
    assert_eq!(parse(&body)["state"]["source"]["step"], 0, "{body}");
    // A scene in a tour, and a running tour, cannot be deleted.
    let (status, _, body) = send(
        &state,
        "DELETE",
        &format!("/api/v1/scenes/{}", scenes[0]),
        JSON,
        "",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _, body) = send(
        &state,
        "DELETE",
        &format!("/api/v1/tours/{tour_id}"),
        JSON,
        "",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // The kiosk page is served to anybody, with its script.
    let response = app(state.clone())
        .oneshot(Request::get("/wall/hall-a/1").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app(state.clone())
        .oneshot(Request::get("/ui/wall.js").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    state.hub.shutdown().await;
}

async fn kiosk_links_renew_themselves_until_revoked(f: &TestDb) {
    let (state, _) = walls_state(f).await;
    let wall = json!({"id": "hall-k", "name": "Kiosk hall", "scope": {"district": "Chaoyang"},
        "monitors": [{"id": "1"}, {"id": "2"}]});
    let (status, answer) = post(&state, "/api/v1/walls", wall).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let monitor = "/api/v1/walls/hall-k/monitors/1";
    let issue = |m: &'static str| {
        let state = state.clone();
        async move {
            let uri = format!("/api/v1/walls/hall-k/monitors/{m}/kiosk-token");
            let (status, answer) = post(&state, &uri, json!({"ttl_s": 3600})).await;
            assert_eq!(status, StatusCode::CREATED, "{answer}");
            answer["token"].as_str().unwrap().to_owned()
        }
    };
    let (first, other) = (issue("1").await, issue("2").await);

    // The page renews its token: the same monitor and page, the same one-hour lifetime
    // from now; the new token works.
    let renewal = format!("{monitor}/kiosk-token/renewal");
    let (status, body) = as_token(&state, &first, "POST", &renewal, Value::Null).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let renewed = parse(&body);
    assert_eq!(renewed["path"], "wall/hall-k/1");
    assert_eq!(renewed["page"], "/wall/hall-k/1");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let left_ms = renewed["expires_at"].as_i64().unwrap() - now_ms;
    assert!(
        (3_595_000..=3_600_000).contains(&left_ms),
        "{left_ms} ms left"
    );
    let renewed = renewed["token"].as_str().unwrap().to_owned();
    let (status, body) = as_token(&state, &renewed, "GET", monitor, Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A renewal is the page's own: a user issues a new link instead (400), another
    // monitor's token is refused (403), and so is a tile's stream token.
    let (status, _, body) = send(&state, "POST", &renewal, JSON, "", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = as_token(&state, &other, "POST", &renewal, Value::Null).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // A page following the wall's events with the first token.
    let mut events = event_stream(&state, "hall-k", &format!("Bearer {first}"), Some("0")).await;

    // Revoking monitor 1's links: every token of it, renewed or not, is refused (401)
    // everywhere; the open event stream ends; monitor 2's link still works; a link issued
    // afterwards works.
    let revoke = format!("{monitor}/kiosk-tokens");
    let (status, _, body) = send(&state, "DELETE", &revoke, JSON, "", &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for token in [&first, &renewed] {
        for (method, uri, body) in [
            ("GET", monitor.to_owned(), Value::Null),
            ("POST", renewal.clone(), Value::Null),
            (
                "POST",
                format!("{monitor}/stream-tokens"),
                json!({"path": "cam/none/main"}),
            ),
            ("GET", "/api/v1/walls/hall-k/events".to_owned(), Value::Null),
        ] {
            let (status, answer) = as_token(&state, token, method, &uri, body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}: {answer}");
            assert!(answer.contains("revoked"), "{answer}");
        }
    }
    let ended = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Some(frame) = events.frame().await {
            frame.unwrap();
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the revoked page's event stream is still open"
    );
    let (status, body) = as_token(
        &state,
        &other,
        "GET",
        "/api/v1/walls/hall-k/monitors/2",
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = issue("1").await;
    let (status, body) = as_token(&state, &fresh, "POST", &renewal, Value::Null).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, body) = send(
        &state,
        "DELETE",
        "/api/v1/walls/hall-k/monitors/9/kiosk-tokens",
        JSON,
        "",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // The audit log has the renewals (by the link's issuer) and the revocation.
    let (status, _, body) = get(&state, "/api/v1/audit?action=stream_token_issued").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let audit = parse(&body);
    let renewals = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == "wall/hall-k/1" && e["detail"]["kind"] == "kiosk_renewal")
        .count();
    assert_eq!(renewals, 2, "{body}");
    let (status, _, body) = get(&state, "/api/v1/audit?action=wall_changed").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        parse(&body)["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["target"] == "wall/hall-k"
                && e["detail"]["change"] == "kiosk_tokens_revoked"
                && e["detail"]["monitor"] == "1"),
        "{body}"
    );
}
