//! Who may do what: every operation of the API (enumerated from the OpenAPI document the
//! router is built from) and every web page, for users of four jurisdictions × four roles,
//! on items inside and outside their jurisdiction. Allowed requests pass the access checks
//! (their answer is neither 401 nor 403; reads answer 200), the others get 401 or 403, and
//! lists never hold another jurisdiction's items. Then: logins are rate limited and
//! released, logout ends the session, and the audit log cannot be changed through the API.

use std::collections::{BTreeSet, HashMap};

use axum::http::StatusCode;
use serde_json::{Value, json};
use watchpost_command::access::{Action, Jurisdiction, Role, Scope};
use watchpost_web::AppState;
use watchpost_web::auth::{PUBLIC_PAGES, Rule, rule};
use watchpost_web::openapi::document;

use super::send;

/// District, street and enterprise of the items the users' jurisdictions cover ("A"), and
/// of those outside every jurisdiction but the city's ("B"); from the sample ledger.
const A_DISTRICT: &str = "Chaoyang";
const A_STREET: &str = "Jiuxianqiao";
const A_ENTERPRISE: &str = "E-110105-0001";
const A_CENTRE: &str = "bj-chaoyang-jiuxianqiao";
const A_UNIT: &str = "u-jiuxianqiao-volunteers";
const B_DISTRICT: &str = "Fengtai";
const B_STREET: &str = "Lugouqiao";
const B_ENTERPRISE: &str = "E-110106-0001";
const B_CENTRE: &str = "bj-fengtai-lugouqiao";
const B_UNIT: &str = "u-fengtai-team-1";
const PASSWORD: &str = "matrix-password-0123";
const JSON: &str = "application/json";

fn jurisdictions() -> [(&'static str, Jurisdiction); 4] {
    [
        (
            "district",
            Jurisdiction::District {
                district: A_DISTRICT.into(),
            },
        ),
        (
            "street",
            Jurisdiction::Street {
                district: A_DISTRICT.into(),
                street: A_STREET.into(),
            },
        ),
        (
            "enterprise",
            Jurisdiction::Enterprise {
                enterprise_id: A_ENTERPRISE.into(),
            },
        ),
        // Last: the city's commanders and administrators delete what the others could not.
        ("city", Jurisdiction::City),
    ]
}

/// One user of the matrix, logged in.
struct User {
    name: String,
    role: Role,
    jurisdiction: Jurisdiction,
    token: String,
}

/// Where the item a request targets belongs (owned).
#[derive(Debug, Clone, Default)]
struct Place {
    district: Option<&'static str>,
    street: Option<&'static str>,
    enterprise: Option<&'static str>,
}

impl Place {
    fn scope(&self) -> Scope<'_> {
        Scope::new(self.district, self.street, self.enterprise)
    }
}

fn place_a() -> Place {
    Place {
        district: Some(A_DISTRICT),
        street: Some(A_STREET),
        enterprise: Some(A_ENTERPRISE),
    }
}

fn place_b() -> Place {
    Place {
        district: Some(B_DISTRICT),
        street: Some(B_STREET),
        enterprise: Some(B_ENTERPRISE),
    }
}

/// A centre's or unit's place: no enterprise.
fn centre_place(p: Place) -> Place {
    Place {
        enterprise: None,
        ..p
    }
}

/// What a matrix request targets, beyond the role the operation needs.
enum Target {
    /// Nothing in particular (a list, the caller itself): the role decides.
    None,
    /// An item of this place.
    Item(Place),
    /// A user of this jurisdiction (administrators manage users within theirs).
    UserWithin(Jurisdiction),
    /// Only the city's users (the audit log, organisation imports).
    CityOnly,
    /// Not checked here (see the note where it is used).
    Skip,
}

/// The items the matrix acts on, by side (A, B).
struct Items {
    camera: [String; 2],
    incident: [String; 2],
    report: [String; 2],
    task: [String; 2],
    user: [String; 2],
    scene: [String; 2],
    tour: [String; 2],
}

/// The request exercising `op` on side `side` (0: A, 1: B): method, URI, body, target.
fn request(op: &str, side: usize, items: &Items, user: &User) -> (String, String, String, Target) {
    let a = side == 0;
    let place = if a { place_a() } else { place_b() };
    let (district, street, enterprise) = (
        place.district.unwrap(),
        place.street.unwrap(),
        place.enterprise.unwrap(),
    );
    let camera = &items.camera[side];
    let incident = &items.incident[side];
    let item = |m: &str, uri: String, body: &str| {
        (
            m.to_owned(),
            uri,
            body.to_owned(),
            Target::Item(place.clone()),
        )
    };
    let any = |m: &str, uri: &str, body: &str| {
        (m.to_owned(), uri.to_owned(), body.to_owned(), Target::None)
    };
    let centre = if a { A_CENTRE } else { B_CENTRE };
    let unit = if a { A_UNIT } else { B_UNIT };
    let in_centre = |m: &str, uri: String, body: &str| {
        (
            m.to_owned(),
            uri,
            body.to_owned(),
            Target::Item(centre_place(place.clone())),
        )
    };
    // Junk bodies: the access checks come first, so an allowed caller gets 400 and nothing
    // changes; a refused one gets 403.
    let junk = "{";
    // Walls: `wall-<side>` with monitor `1` showing camera `cam-<side>` (main stream).
    let wall = format!("/api/v1/walls/wall-{side}");
    let monitor = format!("{wall}/monitors/1");
    let wall_scope = json!({"district": district, "street": street, "enterprise_id": enterprise});
    match op {
        "healthz" => any("GET", "/healthz", ""),
        "login" => any(
            "POST",
            "/api/v1/auth/login",
            &json!({"username": user.name, "password": PASSWORD}).to_string(),
        ),
        "me" => any("GET", "/api/v1/auth/me", ""),
        // One's own console settings: no other user's can be named (web/tests/api/settings.rs).
        "get_console_settings" => any("GET", "/api/v1/auth/me/console", ""),
        "put_console_settings" => any("PUT", "/api/v1/auth/me/console", junk),
        // Logging out is tested at the end (it would end the session the matrix uses).
        "logout" => (String::new(), String::new(), String::new(), Target::Skip),
        "openapi" => any("GET", "/api/v1/openapi.json", ""),
        "list_config_cameras" => any("GET", "/api/v1/config/cameras", ""),
        "list_cameras" => any("GET", "/api/v1/cameras", ""),
        "create_camera" => item(
            "POST",
            "/api/v1/cameras".into(),
            &json!({"name": "new", "category": "gas_station", "enterprise_id": enterprise,
                    "division": {"district": district, "street": street},
                    "main_url": "rtsp://127.0.0.1:9/new"})
            .to_string(),
        ),
        "import_cameras" => any("POST", "/api/v1/cameras/import", "[]"),
        "get_camera" => item("GET", format!("/api/v1/cameras/{camera}"), ""),
        "replace_camera" => item("PUT", format!("/api/v1/cameras/{camera}"), junk),
        "delete_camera" => item("DELETE", format!("/api/v1/cameras/{camera}"), ""),
        "camera_ptz" => item("POST", format!("/api/v1/cameras/{camera}/ptz"), junk),
        // The camera does not answer (port 9): allowed callers get 502, 504 or 501.
        "camera_snapshot" => item("GET", format!("/api/v1/cameras/{camera}/snapshot"), ""),
        "discover_devices" => any(
            "POST",
            "/api/v1/devices/discover",
            r#"{"multicast": false, "timeout_ms": 100}"#,
        ),
        "list_paths" => any("GET", "/api/v1/paths", ""),
        "get_path" => item("GET", format!("/api/v1/paths/cam/{camera}/main"), ""),
        "list_webrtc_sessions" => any("GET", "/api/v1/webrtc/sessions", ""),
        // No WebRTC layer here: an allowed offer gets 415 (no SDP) or 503; the WHEP tests
        // in tests/ play with session and stream tokens for real.
        "whep_offer" => item("POST", format!("/whep/cam/{camera}/main"), ""),
        "whep_options" => any("OPTIONS", &format!("/whep/cam/{camera}/main"), ""),
        "whep_session_options" => any("OPTIONS", "/whep/sessions/s1", ""),
        // Unknown sessions answer 404 to anybody whose role may view; tests/ has the rest.
        "whep_patch_session" => any("PATCH", "/whep/sessions/s1", ""),
        "whep_delete_session" => any("DELETE", "/whep/sessions/s1", ""),
        "issue_stream_token" => item(
            "POST",
            "/api/v1/stream-tokens".into(),
            &json!({"path": format!("cam/{camera}/main"), "ttl_s": 60}).to_string(),
        ),
        "list_incidents" => any("GET", "/api/v1/incidents", ""),
        "open_incident" => item(
            "POST",
            "/api/v1/incidents".into(),
            &json!({"title": "Leak", "incident_type": "leakage", "enterprise_id": enterprise,
                    "location": {"address": "x", "district": district, "street": street}})
            .to_string(),
        ),
        "get_incident" => item("GET", format!("/api/v1/incidents/{incident}"), ""),
        "apply_incident_command" => item(
            "POST",
            format!("/api/v1/incidents/{incident}/commands"),
            junk,
        ),
        "incident_timeline" => item("GET", format!("/api/v1/incidents/{incident}/timeline"), ""),
        "add_incident_evidence" => item(
            "POST",
            format!("/api/v1/incidents/{incident}/evidence"),
            junk,
        ),
        "list_incident_tasks" => item("GET", format!("/api/v1/incidents/{incident}/tasks"), ""),
        "dispatch_unit" => item("POST", format!("/api/v1/incidents/{incident}/tasks"), junk),
        "incident_cameras" => item("GET", format!("/api/v1/incidents/{incident}/cameras"), ""),
        "transition_task" => item(
            "POST",
            format!("/api/v1/tasks/{}/transition", items.task[side]),
            junk,
        ),
        "events" => any("GET", "/api/v1/events?after=0&incident_id=none", ""),
        "list_reports" => any("GET", "/api/v1/reports", ""),
        "record_report" => item(
            "POST",
            "/api/v1/reports".into(),
            &json!({"channel": "phone", "summary": "smoke", "enterprise_id": enterprise,
                    "location": {"address": "x", "district": district, "street": street}})
            .to_string(),
        ),
        "link_report" => item(
            "POST",
            format!("/api/v1/reports/{}/link", items.report[side]),
            junk,
        ),
        "list_centres" => any("GET", "/api/v1/centres", ""),
        "create_centre" => in_centre(
            "POST",
            "/api/v1/centres".into(),
            // The place has a centre already: an allowed caller gets 409.
            &json!({"id": format!("new-{side}"), "name": "New", "level": "street",
                    "district": district, "street": street,
                    "parent_id": format!("bj-{}", district.to_lowercase())})
            .to_string(),
        ),
        "get_centre" => in_centre("GET", format!("/api/v1/centres/{centre}"), ""),
        "replace_centre" => in_centre("PUT", format!("/api/v1/centres/{centre}"), junk),
        "delete_centre" => in_centre("DELETE", format!("/api/v1/centres/{centre}"), ""),
        "import_centres" | "import_units" | "import_enterprises" => (
            "POST".into(),
            format!("/api/v1/{}/import", op.trim_start_matches("import_")),
            "[]".into(),
            Target::CityOnly,
        ),
        "list_units" => any("GET", "/api/v1/units", ""),
        "create_unit" => in_centre(
            "POST",
            "/api/v1/units".into(),
            &json!({"name": "New team", "kind": "rescue_team", "centre_id": centre}).to_string(),
        ),
        "get_unit" => in_centre("GET", format!("/api/v1/units/{unit}"), ""),
        "replace_unit" => in_centre("PUT", format!("/api/v1/units/{unit}"), junk),
        "delete_unit" => in_centre("DELETE", format!("/api/v1/units/{unit}"), ""),
        "set_unit_availability" => {
            in_centre("PUT", format!("/api/v1/units/{unit}/availability"), junk)
        }
        "list_enterprises" => any("GET", "/api/v1/enterprises", ""),
        "create_enterprise" => item(
            "POST",
            "/api/v1/enterprises".into(),
            &json!({"ledger_id": enterprise, "name": "Dup", "credit_code": "91110101WP00103762",
                    "category": "gas_station", "address": "x",
                    "division": {"district": district, "street": street}})
            .to_string(),
        ),
        "get_enterprise" => item("GET", format!("/api/v1/enterprises/{enterprise}"), ""),
        "replace_enterprise" => item("PUT", format!("/api/v1/enterprises/{enterprise}"), junk),
        "delete_enterprise" => item("DELETE", format!("/api/v1/enterprises/{enterprise}"), ""),
        "list_users" => any("GET", "/api/v1/users", ""),
        "create_user" => (
            "POST".into(),
            "/api/v1/users".into(),
            json!({"username": format!("new-{side}-{}", user.name), "display_name": "New",
                   "role": "viewer", "jurisdiction": user_jurisdiction(side),
                   "password": PASSWORD})
            .to_string(),
            Target::UserWithin(user_jurisdiction(side)),
        ),
        "get_user" => (
            "GET".into(),
            format!("/api/v1/users/{}", items.user[side]),
            String::new(),
            Target::UserWithin(user_jurisdiction(side)),
        ),
        "update_user" => (
            "PUT".into(),
            format!("/api/v1/users/{}", items.user[side]),
            junk.into(),
            Target::UserWithin(user_jurisdiction(side)),
        ),
        "set_user_password" => (
            "PUT".into(),
            format!("/api/v1/users/{}/password", items.user[side]),
            junk.into(),
            Target::UserWithin(user_jurisdiction(side)),
        ),
        "list_audit" => (
            "GET".into(),
            "/api/v1/audit".into(),
            String::new(),
            Target::CityOnly,
        ),
        "list_stream_views" => (
            "GET".into(),
            "/api/v1/audit/stream-views".into(),
            String::new(),
            Target::CityOnly,
        ),
        "list_walls" => any("GET", "/api/v1/walls", ""),
        // The id exists: an allowed caller gets 409.
        "create_wall" => item(
            "POST",
            "/api/v1/walls".into(),
            &json!({"id": format!("wall-{side}"), "name": "Dup", "scope": wall_scope,
                    "monitors": [{"id": "1"}]})
            .to_string(),
        ),
        "get_wall" => item("GET", wall.clone(), ""),
        "update_wall" => item("PUT", wall.clone(), junk),
        "delete_wall" => item("DELETE", wall.clone(), ""),
        "get_monitor" => item("GET", monitor.clone(), ""),
        "monitor_command" => item("POST", format!("{monitor}/commands"), junk),
        "wall_events" => item("GET", format!("{wall}/events?after=0"), ""),
        "issue_kiosk_token" => item("POST", format!("{monitor}/kiosk-token"), r#"{"ttl_s": 60}"#),
        // A user who may issue links gets 400 (renewal is a monitor page's own).
        "renew_kiosk_token" => item("POST", format!("{monitor}/kiosk-token/renewal"), ""),
        "revoke_kiosk_tokens" => item("DELETE", format!("{monitor}/kiosk-tokens"), ""),
        // The monitor shows this path: allowed callers get a token.
        "monitor_stream_token" => item(
            "POST",
            format!("{monitor}/stream-tokens"),
            &json!({"path": format!("cam/{camera}/main")}).to_string(),
        ),
        "list_scenes" => any("GET", "/api/v1/scenes", ""),
        "create_scene" => item(
            "POST",
            "/api/v1/scenes".into(),
            &json!({"name": "New", "scope": wall_scope, "layout": 1,
                    "tiles": [{"kind": "camera", "camera_id": camera}]})
            .to_string(),
        ),
        "get_scene" => item("GET", format!("/api/v1/scenes/{}", items.scene[side]), ""),
        "update_scene" => item("PUT", format!("/api/v1/scenes/{}", items.scene[side]), junk),
        "delete_scene" => item(
            "DELETE",
            format!("/api/v1/scenes/{}", items.scene[side]),
            "",
        ),
        "list_tours" => any("GET", "/api/v1/tours", ""),
        "create_tour" => item(
            "POST",
            "/api/v1/tours".into(),
            &json!({"name": "New", "scope": wall_scope,
                    "steps": [{"scene_id": items.scene[side], "dwell_ms": 3000}]})
            .to_string(),
        ),
        "get_tour" => item("GET", format!("/api/v1/tours/{}", items.tour[side]), ""),
        "update_tour" => item("PUT", format!("/api/v1/tours/{}", items.tour[side]), junk),
        "delete_tour" => item("DELETE", format!("/api/v1/tours/{}", items.tour[side]), ""),
        other => panic!(
            "operation {other} has no entry in the access matrix (web/tests/api/access.rs): \
             say who may call it"
        ),
    }
}

/// The jurisdiction of the street users the user operations target.
fn user_jurisdiction(side: usize) -> Jurisdiction {
    if side == 0 {
        Jurisdiction::Street {
            district: A_DISTRICT.into(),
            street: A_STREET.into(),
        }
    } else {
        Jurisdiction::Street {
            district: B_DISTRICT.into(),
            street: B_STREET.into(),
        }
    }
}

/// Every `(method, path, operation id)` of the document.
fn operations() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (path, item) in document()["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                out.push((method.clone(), path.clone(), id.to_owned()));
            }
        }
    }
    out
}

async fn matrix_state() -> (AppState, Items) {
    let state = super::state_with_devices("access-matrix").await;
    let db = state.db.clone();
    let incidents = watchpost_command::incidents::IncidentStore::open(db.clone())
        .await
        .unwrap();
    let events = watchpost_web::events::EventFeed::start(incidents.clone())
        .await
        .unwrap();
    let org = watchpost_command::org::Organisation::open(db.clone())
        .await
        .unwrap();
    watchpost_command::org::load_sample(&org, 1, &watchpost_command::org::SampleLedger::embedded())
        .await
        .unwrap();
    let walls = watchpost_command::walls::WallStore::open(db.clone())
        .await
        .unwrap();
    let state = state
        .with_incidents(incidents, events)
        .with_org(org)
        .with_walls(walls);

    // The items of both sides, made by the administrator.
    let mut camera = Vec::new();
    let mut incident = Vec::new();
    let mut report = Vec::new();
    let mut task = Vec::new();
    let mut user = Vec::new();
    let mut scene = Vec::new();
    let mut tour = Vec::new();
    for (side, p) in [place_a(), place_b()].into_iter().enumerate() {
        let (district, street, enterprise) = (
            p.district.unwrap(),
            p.street.unwrap(),
            p.enterprise.unwrap(),
        );
        let id = format!("cam-{side}");
        // Disabled: no stream to wait for (snapshots answer 409 at once).
        let body = json!({"id": id, "name": id, "category": "gas_station", "enabled": false,
            "enterprise_id": enterprise, "division": {"district": district, "street": street},
            "main_url": "rtsp://127.0.0.1:9/main"});
        let (status, _, answer) = send(
            &state,
            "POST",
            "/api/v1/cameras",
            JSON,
            &body.to_string(),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        camera.push(id);
        let body = json!({"title": format!("Leak {side}"), "incident_type": "leakage",
            "enterprise_id": enterprise,
            "location": {"address": "x", "district": district, "street": street}});
        let (status, _, answer) = send(
            &state,
            "POST",
            "/api/v1/incidents",
            JSON,
            &body.to_string(),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let id = serde_json::from_str::<Value>(&answer).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let unit = if side == 0 { A_UNIT } else { B_UNIT };
        let (status, _, answer) = send(
            &state,
            "POST",
            &format!("/api/v1/incidents/{id}/tasks"),
            JSON,
            &json!({"unit_id": unit}).to_string(),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        task.push(
            serde_json::from_str::<Value>(&answer).unwrap()["task"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        incident.push(id);
        let body = json!({"channel": "phone", "summary": format!("smoke {side}"),
            "enterprise_id": enterprise,
            "location": {"address": "x", "district": district, "street": street}});
        let (status, _, answer) = send(
            &state,
            "POST",
            "/api/v1/reports",
            JSON,
            &body.to_string(),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        report.push(
            serde_json::from_str::<Value>(&answer).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        let body = json!({"username": format!("target-{side}"), "display_name": "Target",
            "role": "viewer", "jurisdiction": user_jurisdiction(side), "password": PASSWORD});
        let (status, _, answer) = send(
            &state,
            "POST",
            "/api/v1/users",
            JSON,
            &body.to_string(),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        user.push(
            serde_json::from_str::<Value>(&answer).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Walls, scenes and tours of both sides: `wall-<side>`, its monitor `1` showing the
    // side's camera.
    for (side, p) in [place_a(), place_b()].into_iter().enumerate() {
        let scope = json!({"district": p.district, "street": p.street,
                           "enterprise_id": p.enterprise});
        let camera = &camera[side];
        let calls = [
            (
                "/api/v1/walls".to_owned(),
                json!({"id": format!("wall-{side}"), "name": format!("Wall {side}"),
                       "scope": scope, "monitors": [{"id": "1"}]}),
            ),
            (
                format!("/api/v1/walls/wall-{side}/monitors/1/commands"),
                json!({"command": "show_camera", "tile": 0, "camera_id": camera,
                       "profile": "main"}),
            ),
            (
                "/api/v1/scenes".to_owned(),
                json!({"name": format!("Scene {side}"), "scope": scope, "layout": 1,
                       "tiles": [{"kind": "camera", "camera_id": camera}]}),
            ),
        ];
        for (uri, body) in calls {
            let (status, _, answer) =
                send(&state, "POST", &uri, JSON, &body.to_string(), &[]).await;
            assert!(status.is_success(), "{uri}: {answer}");
            if uri == "/api/v1/scenes" {
                scene.push(
                    serde_json::from_str::<Value>(&answer).unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        }
        let body = json!({"name": format!("Tour {side}"), "scope": scope,
            "steps": [{"scene_id": scene[side], "dwell_ms": 3000}]});
        let (status, _, answer) = send(
            &state,
            "POST",
            "/api/v1/tours",
            JSON,
            &body.to_string(),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        tour.push(
            serde_json::from_str::<Value>(&answer).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let items = Items {
        scene: scene.try_into().unwrap(),
        tour: tour.try_into().unwrap(),
        camera: camera.try_into().unwrap(),
        incident: incident.try_into().unwrap(),
        report: report.try_into().unwrap(),
        task: task.try_into().unwrap(),
        user: user.try_into().unwrap(),
    };
    (state, items)
}

/// Makes the matrix's users (four jurisdictions × four roles) and logs them in through
/// the API.
async fn users(state: &AppState) -> Vec<User> {
    let mut out = Vec::new();
    for (place, jurisdiction) in jurisdictions() {
        for role in Role::ALL {
            let name = format!("{place}-{}", role.as_str());
            let body = json!({"username": name, "display_name": name, "role": role,
                "jurisdiction": jurisdiction, "password": PASSWORD});
            let (status, _, answer) =
                send(state, "POST", "/api/v1/users", JSON, &body.to_string(), &[]).await;
            assert_eq!(status, StatusCode::CREATED, "{answer}");
            let login = json!({"username": name, "password": PASSWORD}).to_string();
            let (status, headers, answer) =
                send(state, "POST", "/api/v1/auth/login", JSON, &login, &[]).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            let cookie = headers["set-cookie"].to_str().unwrap();
            assert!(
                cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
                "{cookie}"
            );
            out.push(User {
                name,
                role,
                jurisdiction: jurisdiction.clone(),
                token: serde_json::from_str::<Value>(&answer).unwrap()["token"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            });
        }
    }
    out
}

/// Sends a request as `token` (`None`: no credentials) and returns the status and, unless
/// the answer is an event stream (which never ends), the body.
async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    body: &str,
    auth: Option<&str>,
    cookie: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", JSON);
    if let Some(token) = auth {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = watchpost_web::app(state.clone())
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let stream = headers
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"));
    let body = if stream {
        String::new()
    } else {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (status, headers, body)
}

/// The JSON of `GET uri` as `token`.
async fn list_as(state: &AppState, token: &str, uri: &str) -> Value {
    let (status, _, body) = call(state, "GET", uri, "", Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Whether `user` may make the request `rule` and `target` describe.
fn allowed(user: &User, rule: Rule, target: &Target) -> bool {
    let action = match rule {
        Rule::Public => return true,
        Rule::Session(action) | Rule::SessionOrStream(action) => action,
    };
    user.role.may(action)
        && match target {
            Target::None | Target::Skip => true,
            Target::Item(place) => user.jurisdiction.covers(&place.scope()),
            Target::UserWithin(j) => j.within(&user.jurisdiction),
            Target::CityOnly => user.jurisdiction == Jurisdiction::City,
        }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_for_every_kind_of_user() {
    let (state, items) = matrix_state().await;
    let users = users(&state).await;
    // The role table's promises, stated here independently of it.
    assert!(!Role::Viewer.may(Action::Ptz) && !Role::Viewer.may(Action::ChangeIncident));
    assert!(!Role::Operator.may(Action::ManageDevices) && !Role::Operator.may(Action::ManageUsers));
    assert!(
        Role::ALL
            .iter()
            .all(|r| r.may(Action::ReadAudit) == (*r == Role::Admin))
    );

    let mut ops = operations();
    // Deletions last, so that every other request finds its item; the deepest paths first
    // (a monitor's kiosk tokens before its wall).
    ops.sort_by_key(|(method, path, _)| {
        let delete = method == "delete";
        (
            delete,
            std::cmp::Reverse(if delete { path.matches('/').count() } else { 0 }),
        )
    });
    let mut checked = BTreeSet::new();
    for (method, path, op) in &ops {
        let rule = rule(op).unwrap_or_else(|| panic!("{op} ({method} {path}) has no access rule"));
        // Without credentials: only public operations answer.
        let (m, uri, body, target) = request(op, 0, &items, &users[0]);
        if matches!(target, Target::Skip) {
            continue;
        }
        assert_eq!(
            m.to_ascii_lowercase(),
            *method,
            "{op}: the matrix uses its method"
        );
        let (status, _, answer) = call(&state, &m, &uri, &body, Some("not-a-token"), None).await;
        if rule == Rule::Public {
            assert_ne!(status, StatusCode::FORBIDDEN, "{op} anonymous: {answer}");
        } else {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{op} with a forged token: {answer}"
            );
        }
        for side in [0, 1] {
            // Refused callers first: an allowed deletion would leave them a 404.
            let mut order: Vec<&User> = users.iter().collect();
            order.sort_by_key(|u| {
                let (_, _, _, t) = request(op, side, &items, u);
                allowed(u, rule, &t)
            });
            for user in order {
                let (m, uri, body, target) = request(op, side, &items, user);
                let expect = allowed(user, rule, &target);
                let (status, _, answer) =
                    call(&state, &m, &uri, &body, Some(&user.token), None).await;
                let what = format!("{op} {m} {uri} as {}: {status} {answer}", user.name);
                if expect {
                    assert!(
                        status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                        "allowed, but refused: {what}"
                    );
                    if m == "GET" && matches!(target, Target::None | Target::CityOnly) {
                        assert_eq!(status, StatusCode::OK, "{what}");
                    }
                } else {
                    assert_eq!(status, StatusCode::FORBIDDEN, "not allowed, but: {what}");
                }
            }
        }
        checked.insert(op.clone());
    }
    assert!(checked.len() >= 60, "{} operations checked", checked.len());

    // The web pages hold no data: anybody gets them.
    for page in PUBLIC_PAGES {
        let uri = page
            .replace("{*path}", "cam/cam-0/main")
            .replace("{wall}/{monitor}", "wall-0/1");
        let (status, _, _) = call(&state, "GET", &uri, "", None, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
    }

    // Lists never hold another jurisdiction's items.
    for user in &users {
        if !user.role.may(Action::View) {
            continue;
        }
        let list = |uri: &'static str| list_as(&state, &user.token, uri);
        let sees = |district: Option<&str>, street: Option<&str>, enterprise: Option<&str>| {
            user.jurisdiction
                .covers(&Scope::new(district, street, enterprise))
        };
        let cameras = list("/api/v1/cameras").await;
        let mut visible = HashMap::new();
        for c in cameras["items"].as_array().unwrap() {
            let ok = sees(
                c["division"]["district"].as_str(),
                c["division"]["street"].as_str(),
                c["enterprise_id"].as_str(),
            );
            assert!(ok, "{} sees camera {}", user.name, c["id"]);
            visible.insert(c["id"].as_str().unwrap().to_owned(), ());
        }
        for i in list("/api/v1/incidents").await["items"].as_array().unwrap() {
            let ok = sees(
                i["location"]["district"].as_str(),
                i["location"]["street"].as_str(),
                i["enterprise_id"].as_str(),
            );
            assert!(ok, "{} sees incident {}", user.name, i["id"]);
        }
        for r in list("/api/v1/reports").await["items"].as_array().unwrap() {
            let l = &r["location"];
            let ok = sees(
                l["district"].as_str(),
                l["street"].as_str(),
                r["enterprise_id"].as_str(),
            );
            assert!(ok, "{} sees report {}", user.name, r["id"]);
        }
        for c in list("/api/v1/centres").await["items"].as_array().unwrap() {
            let ok = sees(c["district"].as_str(), c["street"].as_str(), None);
            assert!(ok, "{} sees centre {}", user.name, c["id"]);
        }
        for e in list("/api/v1/enterprises").await["items"]
            .as_array()
            .unwrap()
        {
            let d = &e["division"];
            let ok = sees(
                d["district"].as_str(),
                d["street"].as_str(),
                e["ledger_id"].as_str(),
            );
            assert!(ok, "{} sees enterprise {}", user.name, e["ledger_id"]);
        }
        for p in list("/api/v1/paths").await.as_array().unwrap() {
            let name = p["name"].as_str().unwrap();
            let camera = name.strip_prefix("cam/").and_then(|r| r.split('/').next());
            let ok = match camera {
                Some(id) => visible.contains_key(id),
                None => user.jurisdiction == Jurisdiction::City,
            };
            assert!(ok, "{} sees path {name}", user.name);
        }
        for list_uri in ["/api/v1/walls", "/api/v1/scenes", "/api/v1/tours"] {
            for w in list(list_uri).await["items"].as_array().unwrap() {
                let s = &w["scope"];
                let ok = sees(
                    s["district"].as_str(),
                    s["street"].as_str(),
                    s["enterprise_id"].as_str(),
                );
                assert!(ok, "{} sees {list_uri} {}", user.name, w["id"]);
            }
        }
        if user.jurisdiction != Jurisdiction::City {
            assert_eq!(
                list("/api/v1/config/cameras").await,
                json!([]),
                "{}",
                user.name
            );
        }
        // And they do see their own (what exists of it after the deletions above).
        if user.jurisdiction == Jurisdiction::City {
            assert!(!cameras["items"].as_array().unwrap().is_empty());
        }
    }

    // Logout ends the session: the token no longer works, the cookie is cleared.
    for user in &users {
        let token = Some(user.token.as_str());
        let (status, headers, _) =
            call(&state, "POST", "/api/v1/auth/logout", "", token, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{}", user.name);
        assert!(
            headers["set-cookie"]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        let (status, _, _) = call(&state, "GET", "/api/v1/auth/me", "", token, None).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{} after logout",
            user.name
        );
    }

    // The session cookie works as the bearer header does.
    let login = json!({"username": "city-viewer", "password": PASSWORD}).to_string();
    let (status, headers, _) = send(&state, "POST", "/api/v1/auth/login", JSON, &login, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, me) = call(&state, "GET", "/api/v1/auth/me", "", None, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        serde_json::from_str::<Value>(&me).unwrap()["username"],
        "city-viewer"
    );
}

/// A state whose login limits are small: 3 failures per account, 5 per address, within 1 s.
async fn limited_state(name: &str) -> AppState {
    use watchpost_command::access::{AccessStore, LimitConfig, TokenKey};
    use watchpost_web::auth::{Access, AccessSettings};
    let state = super::state(name).await;
    let access = Access::new(
        AccessStore::open(state.db.clone()).await.unwrap(),
        TokenKey::generate().unwrap(),
        AccessSettings {
            session_ttl: std::time::Duration::from_secs(3600),
            stream_token_max_ttl: std::time::Duration::from_secs(3600),
            limits: LimitConfig {
                account_limit: 3,
                address_limit: 5,
                window: std::time::Duration::from_secs(1),
                ..LimitConfig::default()
            },
            secure_cookie: true,
        },
    )
    .unwrap();
    state.with_access(access)
}

/// `POST /api/v1/auth/login` from `from`.
async fn login_from(
    state: &AppState,
    from: &str,
    username: &str,
    password: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut request = axum::http::Request::post("/api/v1/auth/login")
        .header("content-type", JSON)
        .body(Body::from(
            json!({"username": username, "password": password}).to_string(),
        ))
        .unwrap();
    let addr: std::net::SocketAddr = format!("{from}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(addr));
    let response = watchpost_web::app(state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_per_account_and_per_address_then_released() {
    let state = limited_state("ratelimit").await;
    let access = state.access.clone().unwrap();
    let audit = watchpost_command::access::AuditContext::anonymous(None);
    for name in [
        "guard-a", "guard-b", "guard-c", "guard-d", "guard-e", "guard-f",
    ] {
        access
            .create_user(
                watchpost_command::access::NewUser {
                    username: name.into(),
                    display_name: name.into(),
                    role: Role::Viewer,
                    jurisdiction: Jurisdiction::City,
                    disabled: false,
                    password: watchpost_command::access::Password::new(PASSWORD),
                },
                &audit,
            )
            .await
            .unwrap();
    }

    // Per account: three wrong passwords, then even the right one is refused, with
    // Retry-After, while the window lasts; the cookie is marked Secure when asked to be.
    for _ in 0..2 {
        let (status, _, _) = login_from(&state, "192.0.2.1", "guard-a", "wrong-password-1").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, headers, body) =
        login_from(&state, "192.0.2.1", "guard-a", "wrong-password-1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(headers.contains_key("retry-after"));
    let (status, _, body) = login_from(&state, "192.0.2.2", "guard-a", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "locked from anywhere: {body}"
    );
    assert!(!body.contains(PASSWORD));
    // Another account from the same address is not locked by it.
    let (status, headers, _) = login_from(&state, "192.0.2.1", "guard-b", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["set-cookie"].to_str().unwrap().contains("; Secure"));

    // Per address: failures over several accounts from one address lock the address, not
    // the others.
    for name in ["guard-c", "guard-d", "guard-e", "guard-c", "guard-d"] {
        let (status, _, _) = login_from(&state, "198.51.100.7", name, "wrong-password-2").await;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
    }
    let (status, _, _) = login_from(&state, "198.51.100.7", "guard-f", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the address is locked"
    );
    let (status, _, _) = login_from(&state, "198.51.100.8", "guard-f", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "another address is not");

    // After the window, both locks are gone.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, _, body) = login_from(&state, "192.0.2.1", "guard-a", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = login_from(&state, "198.51.100.7", "guard-f", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Every refusal is in the audit log, with its reason and address, never the password.
    let page = access
        .store()
        .list_audit(&watchpost_command::access::AuditFilter {
            action: Some(watchpost_command::access::AuditAction::LoginFailed),
            limit: Some(100),
            ..Default::default()
        })
        .await
        .unwrap();
    let text = serde_json::to_string(&page).unwrap();
    assert!(page.total >= 8, "{text}");
    assert!(
        text.contains("rate_limited") && text.contains("bad_credentials"),
        "{text}"
    );
    assert!(text.contains("198.51.100.7"), "{text}");
    assert!(!text.contains("wrong-password"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_records_changes_and_cannot_be_changed_through_the_api() {
    let state = super::state_with_devices("audit-api").await;
    let body = json!({"id": "gate", "name": "Gate", "category": "oil_depot", "enabled": false,
        "division": {"district": "Fengtai"}, "main_url": "rtsp://127.0.0.1:9/main"});
    let (status, _, answer) = send(
        &state,
        "POST",
        "/api/v1/cameras",
        JSON,
        &body.to_string(),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, _, answer) = send(&state, "DELETE", "/api/v1/cameras/gate", JSON, "", &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");

    let (status, _, answer) = super::get(&state, "/api/v1/audit?limit=100").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let page: Value = serde_json::from_str(&answer).unwrap();
    let actions: Vec<(&str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap_or(""),
            )
        })
        .collect();
    for expected in [
        ("user_created", ""),
        ("login", super::ADMIN),
        ("camera_changed", "gate"),
    ] {
        assert!(
            actions
                .iter()
                .any(|(a, t)| *a == expected.0 && (expected.1.is_empty() || *t == expected.1)),
            "{expected:?} in {actions:?}"
        );
    }
    assert!(
        actions
            .iter()
            .filter(|(a, t)| *a == "camera_changed" && *t == "gate")
            .count()
            == 2,
        "created and deleted: {actions:?}"
    );
    let entry = page["items"][0]["id"].as_i64().unwrap();

    // No method changes an entry, and no route but the two readers exists under /audit.
    for (method, uri) in [
        ("PUT", format!("/api/v1/audit/{entry}")),
        ("DELETE", format!("/api/v1/audit/{entry}")),
        ("PATCH", format!("/api/v1/audit/{entry}")),
        ("DELETE", "/api/v1/audit".to_owned()),
        ("POST", "/api/v1/audit".to_owned()),
        ("PUT", "/api/v1/audit".to_owned()),
    ] {
        let (status, _, answer) = send(&state, method, &uri, JSON, "{}", &[]).await;
        assert!(
            status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::NOT_FOUND,
            "{method} {uri}: {status} {answer}"
        );
    }
    let audit_routes: Vec<(String, String)> = operations()
        .into_iter()
        .filter(|(_, path, _)| path.starts_with("/api/v1/audit"))
        .map(|(m, p, _)| (m, p))
        .collect();
    assert_eq!(
        audit_routes,
        [
            ("get".to_owned(), "/api/v1/audit".to_owned()),
            ("get".to_owned(), "/api/v1/audit/stream-views".to_owned())
        ]
    );
    let (status, _, again) = super::get(&state, "/api/v1/audit?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    let again: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["items"][0]["id"], entry, "nothing was removed");
}

/// Refused requests are audited (`access_denied`, outcome `denied`, target: method and
/// path): one the caller's role may not make, and one for an item outside the caller's
/// jurisdiction. Allowed requests write no such entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_are_audited() {
    let state = super::state_with_devices("audit-denied").await;
    let camera = json!({"id": "gate", "name": "Gate", "category": "oil_depot", "enabled": false,
        "division": {"district": B_DISTRICT}, "main_url": "rtsp://127.0.0.1:9/main"});
    let (status, _, answer) = send(
        &state,
        "POST",
        "/api/v1/cameras",
        JSON,
        &camera.to_string(),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let viewer = json!({"username": "a-viewer", "display_name": "Viewer", "role": "viewer",
        "jurisdiction": Jurisdiction::District { district: A_DISTRICT.into() },
        "password": PASSWORD});
    let (status, _, answer) = send(
        &state,
        "POST",
        "/api/v1/users",
        JSON,
        &viewer.to_string(),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let login = json!({"username": "a-viewer", "password": PASSWORD}).to_string();
    let (status, _, answer) = send(&state, "POST", "/api/v1/auth/login", JSON, &login, &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let token = serde_json::from_str::<Value>(&answer).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let camera_b = json!({"id": "other", "name": "Other", "category": "oil_depot",
        "division": {"district": A_DISTRICT}, "main_url": "rtsp://127.0.0.1:9/main"})
    .to_string();
    for (method, uri, body, expect) in [
        // The role: a viewer may not add cameras.
        (
            "POST",
            "/api/v1/cameras",
            camera_b.as_str(),
            StatusCode::FORBIDDEN,
        ),
        // The jurisdiction: a Fengtai camera for a Chaoyang viewer.
        ("GET", "/api/v1/cameras/gate", "", StatusCode::FORBIDDEN),
        // Allowed: no entry.
        ("GET", "/api/v1/cameras", "", StatusCode::OK),
    ] {
        let (status, _, answer) = call(&state, method, uri, body, Some(&token), None).await;
        assert_eq!(status, expect, "{method} {uri}: {answer}");
    }

    let (status, _, answer) = super::get(&state, "/api/v1/audit?action=access_denied").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let page: Value = serde_json::from_str(&answer).unwrap();
    let mut entries: Vec<(&str, &str, &str, &str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["target"].as_str().unwrap(),
                e["actor"]["username"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
                e["detail"]["operation"].as_str().unwrap(),
                e["detail"]["reason"].as_str().unwrap(),
            )
        })
        .collect();
    entries.sort_unstable();
    assert_eq!(
        entries,
        [
            (
                "GET /api/v1/cameras/gate",
                "a-viewer",
                "denied",
                "get_camera",
                "scope"
            ),
            (
                "POST /api/v1/cameras",
                "a-viewer",
                "denied",
                "create_camera",
                "role"
            ),
        ],
        "{answer}"
    );
}
