//! The video wall store against real databases: every test runs on an SQLite file and on
//! the PostgreSQL server that `cargo xtask test` provides, each PostgreSQL test in a
//! schema of its own (`watchpost_command::storage::testing`, `on_both_backends!`).

use watchpost_command::access::Jurisdiction;
use watchpost_command::domain::IncidentId;
use watchpost_command::storage::testing::TestDb as Fixture;
use watchpost_command::walls::{
    CameraId, Layout, LayoutSpec, MAX_FEED_LIMIT, MonitorCommand, MonitorId, MonitorInput,
    MonitorState, Profile, SceneId, SceneInput, Source, TileContent, TileInput, TourClock, TourId,
    TourInput, TourSceneInput, WallError, WallEventKind, WallId, WallInput, WallScope, WallStore,
};

const NOW: i64 = 1_764_374_400_000;
const SEC: i64 = 1_000;
const OPERATOR: &str = "duty-officer-1";

/// The test database's store.
trait Open {
    async fn walls(&self) -> WallStore;
}

impl Open for Fixture {
    async fn walls(&self) -> WallStore {
        WallStore::open(self.db.clone())
            .await
            .expect("open the wall store")
    }
}

watchpost_command::on_both_backends!(
    "walls",
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)],
    walls_and_their_monitors,
    walls_follow_jurisdictions,
    commands_change_monitors_and_record_events,
    refused_and_idle_commands_write_nothing,
    restore_survives_a_reload,
    concurrent_applies_serialise,
    feed_resumes_after_an_id,
    scenes_and_tours,
    tours_run_on_monitors,
    corrupt_rows_are_reported_not_used,
    migrations_are_idempotent,
    kiosk_epochs_rise_with_each_revocation,
);

fn wall_id(text: &str) -> WallId {
    WallId::parse(text).unwrap()
}

fn monitor_id(text: &str) -> MonitorId {
    MonitorId::parse(text).unwrap()
}

fn cam(text: &str) -> CameraId {
    CameraId::parse(text).unwrap()
}

fn wall(id: &str, district: Option<&str>, monitors: &[&str]) -> WallInput {
    WallInput {
        id: Some(id.into()),
        name: format!("{id} wall"),
        scope: WallScope {
            district: district.map(Into::into),
            ..WallScope::default()
        },
        monitors: monitors
            .iter()
            .map(|m| MonitorInput {
                id: (*m).into(),
                name: None,
            })
            .collect(),
    }
}

fn show(tile: u32, camera: &str) -> MonitorCommand {
    MonitorCommand::ShowCamera {
        tile,
        camera_id: camera.into(),
        profile: Profile::Auto,
    }
}

fn layout(n: u32) -> MonitorCommand {
    MonitorCommand::SetLayout {
        layout: LayoutSpec::Named(n),
    }
}

fn incident(cameras: &[&str]) -> MonitorCommand {
    MonitorCommand::ShowIncident {
        incident_id: IncidentId::parse("inc-7").unwrap(),
        cameras: cameras.iter().map(|c| (*c).into()).collect(),
    }
}

fn scene(name: &str, layout: u32, cameras: &[&str]) -> SceneInput {
    SceneInput {
        name: name.into(),
        scope: WallScope::default(),
        layout: LayoutSpec::Named(layout),
        tiles: cameras
            .iter()
            .map(|c| TileInput::Camera {
                camera_id: (*c).into(),
                profile: Profile::Auto,
            })
            .collect(),
    }
}

fn tour(name: &str, scenes: &[&SceneId], dwell_ms: i64) -> TourInput {
    TourInput {
        name: name.into(),
        steps: scenes
            .iter()
            .map(|s| TourSceneInput {
                scene_id: s.to_string(),
                dwell_ms,
            })
            .collect(),
        ..TourInput::default()
    }
}

fn fields(err: &WallError) -> Vec<&str> {
    err.field_errors()
        .iter()
        .map(|e| e.field.as_str())
        .collect()
}

async fn walls_and_their_monitors(f: &Fixture) {
    let store = f.walls().await;
    let hall = wall_id("main-hall");
    let created = store
        .create_wall(
            wall("main-hall", Some("Chaoyang"), &["1", "2"]),
            OPERATOR,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(created.revision, 1);
    assert_eq!(created.monitors.len(), 2);
    let first = &created.monitors[0];
    assert_eq!(
        (first.id.as_str(), first.name.as_str(), first.position),
        ("1", "Monitor 1", 0)
    );
    assert_eq!(first.state, MonitorState::initial());
    assert_eq!((first.revision, first.updated_by.as_str()), (1, OPERATOR));
    assert_eq!(store.wall(&hall).await.unwrap(), created);

    // The id is taken; bad input names every field.
    let err = store
        .create_wall(wall("main-hall", None, &["9"]), OPERATOR, NOW)
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.http_status()), ("conflict", 409));
    let err = store
        .create_wall(wall("Main Hall", None, &["1", "1"]), " ", NOW)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["id", "monitors[1].id"]);
    let err = store
        .create_wall(wall("side", None, &["1"]), " ", NOW)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["actor"]);

    // Monitor 1 shows something; the update keeps it, renames and moves it, removes
    // monitor 2 and adds monitor 3.
    store
        .apply(
            &hall,
            &monitor_id("1"),
            show(0, "gas-01"),
            OPERATOR,
            NOW,
            None,
        )
        .await
        .unwrap();
    let mut input = wall("main-hall", Some("Chaoyang"), &["3", "1"]);
    input.monitors[1].name = Some("Big screen".into());
    let err = store
        .update_wall(&hall, input.clone(), OPERATOR, NOW + SEC, Some(7))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.http_status()),
        ("precondition_failed", 412)
    );
    let updated = store
        .update_wall(&hall, input, OPERATOR, NOW + SEC, Some(1))
        .await
        .unwrap();
    assert_eq!(updated.revision, 2);
    let ids: Vec<&str> = updated.monitors.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["3", "1"]);
    let kept = &updated.monitors[1];
    assert_eq!(
        (kept.name.as_str(), kept.position, kept.revision),
        ("Big screen", 1, 2)
    );
    assert_eq!(kept.state.tiles()[0].camera_id(), Some(&cam("gas-01")));
    assert_eq!(updated.monitors[0].state, MonitorState::initial());
    let err = store.monitor(&hall, &monitor_id("2")).await.unwrap_err();
    assert_eq!((err.code(), err.http_status()), ("not_found", 404));
    assert!(err.to_string().contains("main-hall/2"), "{err}");

    let kinds: Vec<(String, WallEventKind)> = store
        .feed(None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.monitor_id.to_string(), e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("1".to_owned(), WallEventKind::MonitorAdded),
            ("2".to_owned(), WallEventKind::MonitorAdded),
            ("1".to_owned(), WallEventKind::ShowCamera),
            ("2".to_owned(), WallEventKind::MonitorRemoved),
            ("3".to_owned(), WallEventKind::MonitorAdded),
        ]
    );

    // The wall as input writes it back unchanged (but for the revision).
    let again = store
        .update_wall(
            &hall,
            WallInput::from(&updated),
            OPERATOR,
            NOW + 2 * SEC,
            None,
        )
        .await
        .unwrap();
    assert_eq!(again.monitors, updated.monitors);

    let err = store
        .delete_wall(&hall, OPERATOR, NOW + 3 * SEC, Some(1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "precondition_failed");
    store
        .delete_wall(&hall, OPERATOR, NOW + 3 * SEC, Some(3))
        .await
        .unwrap();
    assert_eq!(store.wall(&hall).await.unwrap_err().code(), "not_found");
    let removed: Vec<String> = store
        .feed(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == WallEventKind::MonitorRemoved)
        .map(|e| {
            assert!(e.state.is_none());
            e.monitor_id.to_string()
        })
        .collect();
    assert_eq!(removed, ["2", "3", "1"]);
    assert_eq!(
        store
            .delete_wall(&hall, OPERATOR, NOW, None)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    // The id is free again.
    store
        .create_wall(wall("main-hall", None, &["1"]), OPERATOR, NOW + 4 * SEC)
        .await
        .unwrap();
}

async fn walls_follow_jurisdictions(f: &Fixture) {
    let store = f.walls().await;
    store
        .create_wall(wall("city", None, &["1"]), OPERATOR, NOW)
        .await
        .unwrap();
    store
        .create_wall(wall("cy", Some("Chaoyang"), &["1", "2"]), OPERATOR, NOW)
        .await
        .unwrap();
    let mut street = wall("cy-jxq", Some("Chaoyang"), &["1"]);
    street.scope.street = Some("Jiuxianqiao".into());
    store.create_wall(street, OPERATOR, NOW).await.unwrap();
    let mut site = wall("depot", Some("Haidian"), &["1"]);
    site.scope.enterprise_id = Some("E-110108-0001".into());
    store.create_wall(site, OPERATOR, NOW).await.unwrap();

    let ids = |walls: Vec<watchpost_command::walls::Wall>| -> Vec<String> {
        walls.into_iter().map(|w| w.id.to_string()).collect()
    };
    let city = store.walls(&Jurisdiction::City).await.unwrap();
    assert_eq!(city.iter().map(|w| w.monitors.len()).sum::<usize>(), 5);
    assert_eq!(ids(city), ["city", "cy", "cy-jxq", "depot"]);
    let district = Jurisdiction::District {
        district: "Chaoyang".into(),
    };
    let chaoyang = store.walls(&district).await.unwrap();
    assert_eq!(chaoyang[0].monitors.len(), 2);
    assert_eq!(ids(chaoyang), ["cy", "cy-jxq"]);
    let jxq = Jurisdiction::Street {
        district: "Chaoyang".into(),
        street: "Jiuxianqiao".into(),
    };
    assert_eq!(ids(store.walls(&jxq).await.unwrap()), ["cy-jxq"]);
    let enterprise = Jurisdiction::Enterprise {
        enterprise_id: "E-110108-0001".into(),
    };
    assert_eq!(ids(store.walls(&enterprise).await.unwrap()), ["depot"]);
    // The list agrees with `covers`.
    for j in [Jurisdiction::City, district, jxq, enterprise] {
        for w in store.walls(&Jurisdiction::City).await.unwrap() {
            let listed = store.walls(&j).await.unwrap().iter().any(|l| l.id == w.id);
            assert_eq!(listed, w.scope.covered_by(&j), "{j:?} {}", w.id);
        }
    }
}

async fn commands_change_monitors_and_record_events(f: &Fixture) {
    let store = f.walls().await;
    let (hall, one) = (wall_id("hall"), monitor_id("1"));
    store
        .create_wall(wall("hall", None, &["1"]), OPERATOR, NOW)
        .await
        .unwrap();
    let depot = store
        .create_scene(scene("Depot", 4, &["gas-01", "oil-02"]), NOW)
        .await
        .unwrap();
    assert_eq!(depot.id.as_str(), "scene-1");

    let (m, event) = store
        .apply(&hall, &one, layout(4), OPERATOR, NOW + SEC, Some(1))
        .await
        .unwrap();
    assert_eq!((m.revision, m.state.layout().len()), (2, 4));
    let event = event.unwrap();
    assert_eq!(event.kind, WallEventKind::SetLayout);
    assert_eq!(event.revision, 2);
    assert_eq!(event.state.as_ref(), Some(&m.state));
    assert_eq!(event.command, Some(layout(4)));
    assert_eq!((event.at, event.actor.as_str()), (NOW + SEC, OPERATOR));

    let (m, _) = store
        .apply(
            &hall,
            &one,
            show(3, "pond-03"),
            "op-2",
            NOW + 2 * SEC,
            Some(2),
        )
        .await
        .unwrap();
    assert_eq!(m.updated_by, "op-2");
    assert_eq!(m.updated_at, NOW + 2 * SEC);
    assert_eq!(m.streams(|_| true)[0].path, "cam/pond-03/sub");

    let apply_scene = MonitorCommand::ApplyScene {
        scene_id: depot.id.clone(),
    };
    let (scened, _) = store
        .apply(&hall, &one, apply_scene, OPERATOR, NOW + 3 * SEC, None)
        .await
        .unwrap();
    assert_eq!(
        scened.state.source(),
        &Source::Scene {
            scene_id: depot.id.clone()
        }
    );
    assert_eq!(scened.state.tiles(), depot.tiles.as_slice());

    let (pushed, event) = store
        .apply(
            &hall,
            &one,
            incident(&["gas-01", "gas-02", "near-1", "near-2", "near-3"]),
            OPERATOR,
            NOW + 4 * SEC,
            None,
        )
        .await
        .unwrap();
    assert_eq!(pushed.state.layout(), &Layout::named(6).unwrap());
    assert_eq!(pushed.state.previous.as_ref(), Some(&scened.state.view));
    assert_eq!(event.unwrap().kind, WallEventKind::ShowIncident);
    let (restored, _) = store
        .apply(
            &hall,
            &one,
            MonitorCommand::Restore,
            OPERATOR,
            NOW + 5 * SEC,
            None,
        )
        .await
        .unwrap();
    assert_eq!(restored.state, scened.state);
    assert_eq!(restored.revision, 6);
    assert_eq!(store.monitor(&hall, &one).await.unwrap(), restored);
}

async fn refused_and_idle_commands_write_nothing(f: &Fixture) {
    let store = f.walls().await;
    let (hall, one) = (wall_id("hall"), monitor_id("1"));
    store
        .create_wall(wall("hall", None, &["1"]), OPERATOR, NOW)
        .await
        .unwrap();
    let (shown, _) = store
        .apply(&hall, &one, show(0, "gas-01"), OPERATOR, NOW, None)
        .await
        .unwrap();
    let latest = store.latest_event_id().await.unwrap();

    // The same camera again, stopping no tour: nothing changes, nothing is written.
    for idle in [show(0, "gas-01"), MonitorCommand::StopTour] {
        let (m, event) = store
            .apply(&hall, &one, idle, "op-2", NOW + SEC, Some(2))
            .await
            .unwrap();
        assert_eq!(m, shown);
        assert!(event.is_none());
    }
    let refused: Vec<(MonitorCommand, &str, Vec<&str>)> = vec![
        (show(1, "gas-02"), "invalid", vec!["tile"]),
        (show(0, "Gas 02"), "invalid", vec!["camera_id"]),
        (layout(5), "invalid", vec!["layout"]),
        (incident(&[]), "invalid", vec!["cameras"]),
        (MonitorCommand::Restore, "nothing_to_restore", vec![]),
        (
            MonitorCommand::ApplyScene {
                scene_id: SceneId::parse("scene-9").unwrap(),
            },
            "not_found",
            vec![],
        ),
        (
            MonitorCommand::StartTour {
                tour_id: TourId::parse("tour-9").unwrap(),
            },
            "not_found",
            vec![],
        ),
        (
            MonitorCommand::AdvanceTour {
                tour_id: TourId::parse("tour-9").unwrap(),
                step: 1,
            },
            "tour_not_running",
            vec![],
        ),
    ];
    for (command, code, names) in refused {
        let err = store
            .apply(&hall, &one, command.clone(), OPERATOR, NOW + SEC, None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{command:?}: {err}");
        assert_eq!(fields(&err), names, "{command:?}");
        if code != "not_found" {
            assert!(err.to_string().contains("hall/1"), "{err}");
            assert_eq!(err.http_status(), if code == "invalid" { 422 } else { 409 });
        }
    }
    let err = store
        .apply(&hall, &one, show(0, "gas-02"), OPERATOR, NOW, Some(1))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        WallError::PreconditionFailed {
            expected: 1,
            actual: 2,
            ..
        }
    ));
    let err = store
        .apply(
            &hall,
            &monitor_id("2"),
            show(0, "gas-02"),
            OPERATOR,
            NOW,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
    let err = store
        .apply(&hall, &one, show(0, "gas-02"), "", NOW, None)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["actor"]);

    assert_eq!(store.monitor(&hall, &one).await.unwrap(), shown);
    assert_eq!(store.latest_event_id().await.unwrap(), latest);
}

async fn restore_survives_a_reload(f: &Fixture) {
    let (hall, one) = (wall_id("hall"), monitor_id("1"));
    let before = {
        let store = f.walls().await;
        store
            .create_wall(wall("hall", None, &["1"]), OPERATOR, NOW)
            .await
            .unwrap();
        store
            .apply(&hall, &one, layout(9), OPERATOR, NOW, None)
            .await
            .unwrap();
        let (before, _) = store
            .apply(
                &hall,
                &one,
                MonitorCommand::ShowCamera {
                    tile: 4,
                    camera_id: "gas-01".into(),
                    profile: Profile::Main,
                },
                OPERATOR,
                NOW,
                None,
            )
            .await
            .unwrap();
        store
            .apply(
                &hall,
                &one,
                incident(&["near-1", "near-2"]),
                OPERATOR,
                NOW + SEC,
                None,
            )
            .await
            .unwrap();
        before
    };
    // A new store (a restarted server, a reloaded monitor page) sees the pushed view and
    // restores exactly what was shown before.
    let store = f.walls().await;
    let pushed = store.monitor(&hall, &one).await.unwrap();
    assert_eq!(pushed.state.layout().len(), 4);
    assert_eq!(pushed.state.previous.as_ref(), Some(&before.state.view));
    let (restored, _) = store
        .apply(
            &hall,
            &one,
            MonitorCommand::Restore,
            OPERATOR,
            NOW + 2 * SEC,
            Some(pushed.revision),
        )
        .await
        .unwrap();
    assert_eq!(restored.state, before.state);
    let reloaded = f.walls().await.monitor(&hall, &one).await.unwrap();
    assert_eq!(reloaded, restored);
    assert_eq!(
        reloaded.streams(|_| true)[0].path,
        "cam/gas-01/main",
        "the chosen profile came back too"
    );
}

async fn concurrent_applies_serialise(f: &Fixture) {
    const WRITERS: u32 = 8;
    let store = f.walls().await;
    let (hall, one) = (wall_id("hall"), monitor_id("1"));
    store
        .create_wall(wall("hall", None, &["1"]), OPERATOR, NOW)
        .await
        .unwrap();
    store
        .apply(&hall, &one, layout(16), OPERATOR, NOW, None)
        .await
        .unwrap();

    // Blind writes to different tiles: each is its own revision, none is lost.
    let mut handles = Vec::new();
    for n in 0..WRITERS {
        let store = store.clone();
        let (hall, one) = (hall.clone(), one.clone());
        handles.push(tokio::spawn(async move {
            store
                .apply(
                    &hall,
                    &one,
                    show(n, &format!("cam-{n}")),
                    &format!("op-{n}"),
                    NOW,
                    None,
                )
                .await
                .unwrap()
        }));
    }
    let mut revisions = Vec::new();
    for handle in handles {
        let (monitor, event) = handle.await.unwrap();
        assert_eq!(event.unwrap().revision, monitor.revision);
        revisions.push(monitor.revision);
    }
    revisions.sort_unstable();
    assert_eq!(revisions, (3..3 + i64::from(WRITERS)).collect::<Vec<_>>());
    let monitor = store.monitor(&hall, &one).await.unwrap();
    for n in 0..WRITERS {
        assert_eq!(
            monitor.state.tiles()[n as usize].camera_id(),
            Some(&cam(&format!("cam-{n}"))),
            "tile {n}"
        );
    }

    // Read-modify-write with the revision as precondition: every writer eventually puts
    // its camera on the first empty tile it sees, and no two share one.
    let mut handles = Vec::new();
    for n in 0..WRITERS {
        let store = store.clone();
        let (hall, one) = (hall.clone(), one.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let current = store.monitor(&hall, &one).await.unwrap();
                let tile = current
                    .state
                    .tiles()
                    .iter()
                    .position(|t| *t == TileContent::Empty)
                    .unwrap();
                let command = show(tile as u32, &format!("late-{n}"));
                match store
                    .apply(&hall, &one, command, OPERATOR, NOW, Some(current.revision))
                    .await
                {
                    Ok((monitor, _)) => return monitor.revision,
                    Err(WallError::PreconditionFailed { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    let mut revisions = Vec::new();
    for handle in handles {
        revisions.push(handle.await.unwrap());
    }
    revisions.sort_unstable();
    let first = 3 + i64::from(WRITERS);
    assert_eq!(
        revisions,
        (first..first + i64::from(WRITERS)).collect::<Vec<_>>()
    );
    let monitor = store.monitor(&hall, &one).await.unwrap();
    assert!(
        monitor
            .state
            .tiles()
            .iter()
            .all(|t| *t != TileContent::Empty)
    );
    // The events tell the same story: one per revision, in commit order.
    let events = store.wall_feed(&hall, Some(&one), None, 100).await.unwrap();
    let revisions: Vec<i64> = events.iter().map(|e| e.revision).collect();
    assert_eq!(revisions, (1..=monitor.revision).collect::<Vec<_>>());
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
}

async fn feed_resumes_after_an_id(f: &Fixture) {
    let store = f.walls().await;
    assert_eq!(store.latest_event_id().await.unwrap(), 0);
    assert!(store.feed(None, 10).await.unwrap().is_empty());
    let (a, b) = (wall_id("a"), wall_id("b"));
    store
        .create_wall(wall("a", None, &["1", "2"]), OPERATOR, NOW)
        .await
        .unwrap();
    store
        .create_wall(wall("b", None, &["1"]), OPERATOR, NOW)
        .await
        .unwrap();
    for i in 0..5 {
        let (w, m) = if i % 2 == 0 {
            (&a, monitor_id("2"))
        } else {
            (&b, monitor_id("1"))
        };
        store
            .apply(
                w,
                &m,
                show(0, &format!("cam-{i}")),
                OPERATOR,
                NOW + i64::from(i),
                None,
            )
            .await
            .unwrap();
    }
    let all = store.feed(None, 100).await.unwrap();
    assert_eq!(all.len(), 8);
    let ids: Vec<i64> = all.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=8).collect::<Vec<_>>());
    assert_eq!(store.latest_event_id().await.unwrap(), 8);

    // Resume after an id: exactly the later events, in order; pages of `limit`.
    let after = store.feed(Some(4), 100).await.unwrap();
    assert_eq!(after, all[4..]);
    let page = store.feed(Some(4), 2).await.unwrap();
    assert_eq!(page, all[4..6]);
    let next = store.feed(Some(page[1].id), 2).await.unwrap();
    assert_eq!(next, all[6..8]);
    assert!(store.feed(Some(8), 100).await.unwrap().is_empty());
    let err = store.feed(None, MAX_FEED_LIMIT + 1).await.unwrap_err();
    assert_eq!(fields(&err), ["limit"]);

    // One wall, one monitor.
    let only_b = store.wall_feed(&b, None, Some(3), 100).await.unwrap();
    assert!(only_b.iter().all(|e| e.wall_id == b));
    assert_eq!(only_b.len(), 2);
    let a2 = store
        .wall_feed(&a, Some(&monitor_id("2")), None, 100)
        .await
        .unwrap();
    let cameras: Vec<Option<CameraId>> = a2
        .iter()
        .map(|e| {
            e.state
                .as_ref()
                .and_then(|s| s.tiles()[0].camera_id().cloned())
        })
        .collect();
    assert_eq!(
        cameras,
        [
            None,
            Some(cam("cam-0")),
            Some(cam("cam-2")),
            Some(cam("cam-4"))
        ]
    );

    // A live reader starting at the newest id sees what comes next, also from a store
    // opened later (another node).
    let latest = store.latest_event_id().await.unwrap();
    let other = f.walls().await;
    other
        .apply(&a, &monitor_id("1"), layout(4), "node-2", NOW + SEC, None)
        .await
        .unwrap();
    let new = store.feed(Some(latest), 100).await.unwrap();
    assert_eq!(new.len(), 1);
    assert_eq!((new[0].id, new[0].actor.as_str()), (9, "node-2"));

    // Concurrent writers on several monitors: ids stay dense and in commit order, so a
    // reader polling after its last id misses nothing.
    let mut handles = Vec::new();
    for n in 0..6u32 {
        let store = store.clone();
        let (w, m) = if n % 2 == 0 {
            (a.clone(), monitor_id("1"))
        } else {
            (b.clone(), monitor_id("1"))
        };
        handles.push(tokio::spawn(async move {
            store
                .apply(&w, &m, show(0, &format!("c-{n}")), OPERATOR, NOW, None)
                .await
                .unwrap()
                .1
                .unwrap()
                .id
        }));
    }
    let mut ids = Vec::new();
    for handle in handles {
        ids.push(handle.await.unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, (10..16).collect::<Vec<_>>());
    let tail: Vec<i64> = store
        .feed(Some(9), 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(tail, ids);
}

async fn scenes_and_tours(f: &Fixture) {
    let store = f.walls().await;
    let mut depot_input = scene("Depot", 6, &["gas-01"]);
    depot_input.scope.district = Some("Chaoyang".into());
    let depot = store.create_scene(depot_input, NOW).await.unwrap();
    assert_eq!(depot.tiles.len(), 6);
    assert_eq!(depot.revision, 1);
    let pond = store
        .create_scene(scene("Pond", 1, &["pond-01"]), NOW)
        .await
        .unwrap();
    assert_eq!(pond.id.as_str(), "scene-2");
    assert_eq!(store.scene(&depot.id).await.unwrap(), depot);

    let err = store
        .create_scene(scene("", 1, &["a", "b"]), NOW)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["name", "tiles"]);

    // Update with the revision; the input form writes it back.
    let mut input = SceneInput::from(&depot);
    input.name = "Oil depot".into();
    let err = store
        .update_scene(&depot.id, input.clone(), NOW + SEC, Some(2))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "precondition_failed");
    let renamed = store
        .update_scene(&depot.id, input, NOW + SEC, Some(1))
        .await
        .unwrap();
    assert_eq!((renamed.revision, renamed.created_at), (2, NOW));
    assert_eq!(renamed.tiles, depot.tiles);
    assert_eq!(store.scene(&depot.id).await.unwrap(), renamed);

    let names = |scenes: Vec<watchpost_command::walls::Scene>| -> Vec<String> {
        scenes.into_iter().map(|s| s.name).collect()
    };
    assert_eq!(
        names(store.scenes(&Jurisdiction::City).await.unwrap()),
        ["Oil depot", "Pond"]
    );
    let chaoyang = Jurisdiction::District {
        district: "Chaoyang".into(),
    };
    assert_eq!(names(store.scenes(&chaoyang).await.unwrap()), ["Oil depot"]);

    // Tours check their scenes.
    let missing = SceneId::parse("scene-9").unwrap();
    let err = store
        .create_tour(tour("Round", &[&depot.id, &missing], 5_000), NOW)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["steps[1].scene_id"]);
    let err = store
        .create_tour(tour("Round", &[&depot.id], 2_000), NOW)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["steps[0].dwell_ms"]);
    let round = store
        .create_tour(tour("Round", &[&depot.id, &pond.id, &depot.id], 5_000), NOW)
        .await
        .unwrap();
    assert_eq!(round.id.as_str(), "tour-1");
    assert!(round.looping);
    assert_eq!(store.tour(&round.id).await.unwrap(), round);

    // A scene in a tour cannot be deleted.
    let err = store.delete_scene(&pond.id, None).await.unwrap_err();
    assert_eq!((err.code(), err.http_status()), ("in_use", 409));
    assert!(err.to_string().contains("tour-1"), "{err}");

    let mut input = TourInput::from(&round);
    input.steps.truncate(1);
    input.looping = false;
    input.scope.district = Some("Chaoyang".into());
    let short = store
        .update_tour(&round.id, input, NOW + SEC, Some(1))
        .await
        .unwrap();
    assert_eq!(
        (short.steps.len(), short.looping, short.revision),
        (1, false, 2)
    );
    assert_eq!(store.tour(&round.id).await.unwrap(), short);
    assert_eq!(
        store.tours(&chaoyang).await.unwrap(),
        std::slice::from_ref(&short)
    );
    assert!(
        store
            .tours(&Jurisdiction::District {
                district: "Haidian".into()
            })
            .await
            .unwrap()
            .is_empty()
    );
    store
        .create_tour(tour("Another", &[&pond.id], 3_000), NOW)
        .await
        .unwrap();
    let all = store.tours(&Jurisdiction::City).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].name, "Another");
    assert_eq!(all[0].steps.len(), 1);
    assert_eq!(all[1], short);

    // Pond is still in "Another".
    assert_eq!(
        store.delete_scene(&pond.id, None).await.unwrap_err().code(),
        "in_use"
    );
    store
        .delete_tour(&TourId::parse("tour-2").unwrap(), Some(1))
        .await
        .unwrap();
    store.delete_scene(&pond.id, Some(1)).await.unwrap();
    assert_eq!(store.scene(&pond.id).await.unwrap_err().code(), "not_found");
    store.delete_tour(&round.id, None).await.unwrap();
    store.delete_scene(&depot.id, None).await.unwrap();
    assert_eq!(store.tour(&round.id).await.unwrap_err().code(), "not_found");
    assert_eq!(
        store.delete_tour(&round.id, None).await.unwrap_err().code(),
        "not_found"
    );
    // Ids are never handed out twice.
    let third = store
        .create_scene(scene("Third", 1, &[]), NOW)
        .await
        .unwrap();
    assert_eq!(third.id.as_str(), "scene-3");
    assert_eq!(third.tiles, [TileContent::Empty]);
}

async fn tours_run_on_monitors(f: &Fixture) {
    let store = f.walls().await;
    let (hall, one, two) = (wall_id("hall"), monitor_id("1"), monitor_id("2"));
    store
        .create_wall(wall("hall", None, &["1", "2"]), OPERATOR, NOW)
        .await
        .unwrap();
    let a = store
        .create_scene(scene("A", 4, &["a-1", "a-2"]), NOW)
        .await
        .unwrap();
    let b = store
        .create_scene(scene("B", 1, &["b-1"]), NOW)
        .await
        .unwrap();
    let round = store
        .create_tour(tour("Round", &[&a.id, &b.id], 5_000), NOW)
        .await
        .unwrap();
    let start = MonitorCommand::StartTour {
        tour_id: round.id.clone(),
    };
    let (m, event) = store
        .apply(&hall, &one, start, OPERATOR, NOW + SEC, None)
        .await
        .unwrap();
    assert_eq!(event.unwrap().kind, WallEventKind::StartTour);
    assert_eq!(m.state.tour(), Some((&round.id, 0, NOW + SEC)));
    assert_eq!(m.state.tiles(), a.tiles.as_slice());
    let touring = store.touring_monitors().await.unwrap();
    assert_eq!(touring, std::slice::from_ref(&m));

    // A driver: polls the clock and advances when it says so.
    let clock = TourClock::new(&store.tour(&round.id).await.unwrap(), NOW + SEC).unwrap();
    let step = clock.poll(NOW + 7 * SEC);
    assert_eq!(step.step_index, 1);
    assert_eq!(step.prefetch_at, Some(NOW + 11 * SEC - 1_500));
    let advance = MonitorCommand::AdvanceTour {
        tour_id: round.id.clone(),
        step: step.step_index as u32,
    };
    let (m, event) = store
        .apply(
            &hall,
            &one,
            advance.clone(),
            "tour-driver",
            NOW + 7 * SEC,
            Some(m.revision),
        )
        .await
        .unwrap();
    assert_eq!(event.unwrap().kind, WallEventKind::AdvanceTour);
    assert_eq!(m.state.tiles(), b.tiles.as_slice());
    assert_eq!(m.state.tour(), Some((&round.id, 1, NOW + SEC)));
    // A second driver (another node) advancing to the same step changes nothing.
    let (same, event) = store
        .apply(
            &hall,
            &one,
            advance.clone(),
            "tour-driver",
            NOW + 7 * SEC,
            None,
        )
        .await
        .unwrap();
    assert!(event.is_none());
    assert_eq!(same, m);
    // Not on the other monitor.
    let err = store
        .apply(&hall, &two, advance.clone(), "tour-driver", NOW, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "tour_not_running");

    // A running tour cannot be deleted; its scenes neither.
    let err = store.delete_tour(&round.id, None).await.unwrap_err();
    assert_eq!(err.code(), "in_use");
    assert!(err.to_string().contains("hall/1"), "{err}");
    assert_eq!(
        store.delete_scene(&b.id, None).await.unwrap_err().code(),
        "in_use"
    );

    // An operator's push ends the tour; the driver's next advance is refused.
    let (taken, _) = store
        .apply(
            &hall,
            &one,
            show(0, "gas-01"),
            OPERATOR,
            NOW + 8 * SEC,
            None,
        )
        .await
        .unwrap();
    assert_eq!(taken.state.source(), &Source::Manual);
    assert!(store.touring_monitors().await.unwrap().is_empty());
    let err = store
        .apply(&hall, &one, advance, "tour-driver", NOW + 12 * SEC, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "tour_not_running");
    store.delete_tour(&round.id, None).await.unwrap();

    // Stop keeps the scene shown.
    let again = store
        .create_tour(tour("Again", &[&b.id], 3_000), NOW)
        .await
        .unwrap();
    let start = MonitorCommand::StartTour {
        tour_id: again.id.clone(),
    };
    store
        .apply(&hall, &two, start, OPERATOR, NOW, None)
        .await
        .unwrap();
    let (stopped, event) = store
        .apply(
            &hall,
            &two,
            MonitorCommand::StopTour,
            OPERATOR,
            NOW + SEC,
            None,
        )
        .await
        .unwrap();
    assert_eq!(event.unwrap().kind, WallEventKind::StopTour);
    assert_eq!(stopped.state.source(), &Source::Manual);
    assert_eq!(stopped.state.tiles(), b.tiles.as_slice());
    store.delete_tour(&again.id, None).await.unwrap();
}

async fn corrupt_rows_are_reported_not_used(f: &Fixture) {
    let store = f.walls().await;
    let (hall, one) = (wall_id("hall"), monitor_id("1"));
    store
        .create_wall(wall("hall", None, &["1"]), OPERATOR, NOW)
        .await
        .unwrap();
    // One content for a 4-tile layout breaks the rule.
    f.execute(
        "UPDATE wall_monitors SET state = '{\"layout\": {\"rows\": 2, \"cols\": 2, \"tiles\": \
         [{\"row\": 0, \"col\": 0}, {\"row\": 0, \"col\": 1}, {\"row\": 1, \"col\": 0}, \
         {\"row\": 1, \"col\": 1}]}, \"tiles\": [{\"kind\": \"empty\"}], \
         \"source\": {\"kind\": \"manual\"}, \"previous\": null}'",
    )
    .await;
    let err = store.monitor(&hall, &one).await.unwrap_err();
    assert_eq!((err.code(), err.http_status()), ("corrupt", 500));
    assert!(err.to_string().contains("hall/1"), "{err}");
    assert!(err.to_string().contains("tile contents"), "{err}");
    let err = store
        .apply(&hall, &one, show(0, "gas-01"), OPERATOR, NOW, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "corrupt");
    assert_eq!(
        store.walls(&Jurisdiction::City).await.unwrap_err().code(),
        "corrupt"
    );

    let s = store
        .create_scene(scene("S", 4, &["a"]), NOW)
        .await
        .unwrap();
    f.execute("UPDATE wall_scenes SET tiles = '[]'").await;
    let err = store.scene(&s.id).await.unwrap_err();
    assert_eq!(err.code(), "corrupt");
}

async fn migrations_are_idempotent(f: &Fixture) {
    let store = f.walls().await;
    store
        .create_wall(wall("hall", None, &["1"]), OPERATOR, NOW)
        .await
        .unwrap();
    // Opening again (a restart) applies nothing and keeps the data.
    let again = f.walls().await;
    assert_eq!(again.wall(&wall_id("hall")).await.unwrap().revision, 1);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 202611300401")
            .await,
        1
    );
}

async fn kiosk_epochs_rise_with_each_revocation(f: &Fixture) {
    let store = f.walls().await;
    store
        .create_wall(wall("hall", None, &["1", "2"]), OPERATOR, NOW)
        .await
        .unwrap();
    let (hall, one, two) = (wall_id("hall"), monitor_id("1"), monitor_id("2"));
    assert_eq!(store.kiosk_epoch(&hall, &one).await.unwrap(), 0);
    assert_eq!(
        store
            .revoke_kiosk_tokens(&hall, &one, NOW + SEC, OPERATOR)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.kiosk_epoch(&hall, &one).await.unwrap(), 1);
    // Per monitor: the other one keeps its links.
    assert_eq!(store.kiosk_epoch(&hall, &two).await.unwrap(), 0);
    // Concurrent revocations each count: no lost update.
    let (a, b) = tokio::join!(
        store.revoke_kiosk_tokens(&hall, &one, NOW + 2 * SEC, "a"),
        store.revoke_kiosk_tokens(&hall, &one, NOW + 2 * SEC, "b")
    );
    let mut got = [a.unwrap(), b.unwrap()];
    got.sort_unstable();
    assert_eq!(got, [2, 3]);
    assert_eq!(
        f.count(
            "SELECT COUNT(*) FROM wall_kiosk_epochs WHERE epoch = 3 AND changed_at = 1764374402000"
        )
        .await,
        1
    );
    // A monitor removed and added again keeps its epoch: its old links stay revoked.
    store
        .delete_wall(&hall, OPERATOR, NOW + 3 * SEC, None)
        .await
        .unwrap();
    store
        .create_wall(wall("hall", None, &["1"]), OPERATOR, NOW + 4 * SEC)
        .await
        .unwrap();
    assert_eq!(store.kiosk_epoch(&hall, &one).await.unwrap(), 3);
    // And a monitor that never existed has epoch 0 (nothing to look up wrongly).
    assert_eq!(
        store
            .kiosk_epoch(&wall_id("elsewhere"), &one)
            .await
            .unwrap(),
        0
    );
}

/// The store's futures can be spawned and awaited in axum handlers.
#[allow(dead_code)]
fn futures_are_send(store: &WallStore, wall: &WallId, monitor: &MonitorId, tour: &TourId) {
    fn send<T: Send>(_: T) {}
    send(store.create_wall(WallInput::default(), OPERATOR, NOW));
    send(store.update_wall(wall, WallInput::default(), OPERATOR, NOW, None));
    send(store.delete_wall(wall, OPERATOR, NOW, None));
    send(store.walls(&Jurisdiction::City));
    send(store.apply(wall, monitor, MonitorCommand::Restore, OPERATOR, NOW, None));
    send(store.create_tour(TourInput::default(), NOW));
    send(store.tours(&Jurisdiction::City));
    send(store.delete_tour(tour, None));
    send(store.feed(None, 10));
    send(store.touring_monitors());
    send(store.kiosk_epoch(wall, monitor));
    send(store.revoke_kiosk_tokens(wall, monitor, NOW, OPERATOR));
}
