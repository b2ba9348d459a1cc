//! Users' console settings in the access store against real databases (an SQLite file and
//! the test PostgreSQL server): defaults, round trip, revisions and `If-Match`
//! preconditions, concurrent saves, validation, privacy between users, corrupt rows.

use watchpost_command::access::{
    AccessError, AccessStore, AuditContext, AuditFilter, ConsoleGrid, ConsoleSettings,
    Jurisdiction, NewUser, Password, PasswordHasher, PasswordParams, Role, User, UserId,
};
use watchpost_command::storage::testing::TestDb as Fixture;

const NOW: i64 = 1_764_460_800_000;

watchpost_command::on_both_backends!(
    "console_settings",
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)],
    defaults_then_round_trip_with_revisions,
    stale_revisions_are_refused_and_write_nothing,
    concurrent_saves_of_one_user_never_both_win,
    invalid_documents_name_every_field,
    settings_are_per_user_and_unaudited,
    corrupt_documents_are_reported,
);

async fn store(f: &Fixture) -> AccessStore {
    AccessStore::open(f.db.clone())
        .await
        .expect("open the access store")
}

async fn user(store: &AccessStore, name: &str) -> User {
    let new = NewUser {
        username: name.to_owned(),
        display_name: name.to_owned(),
        role: Role::Operator,
        jurisdiction: Jurisdiction::City,
        disabled: false,
        password: Password::new(format!("{name}-long-password")),
    };
    let hash = PasswordHasher::new(PasswordParams::TESTING)
        .unwrap()
        .hash(&new.password)
        .unwrap();
    store
        .create_user(&new, &hash, &AuditContext::anonymous(None), NOW)
        .await
        .unwrap()
}

fn nine_with(camera: &str, favourites: &[&str]) -> ConsoleSettings {
    let mut slots = vec![None; 9];
    slots[2] = Some(camera.to_owned());
    ConsoleSettings {
        grid: ConsoleGrid { layout: 9, slots },
        favourites: favourites.iter().map(|s| (*s).to_owned()).collect(),
        low_latency: true,
        stats_overlay: false,
        language: Some("en".to_owned()),
    }
}

async fn defaults_then_round_trip_with_revisions(f: &Fixture) {
    let store = store(f).await;
    let alice = user(&store, "alice").await;
    let fresh = store.console_settings(&alice.id).await.unwrap();
    assert_eq!(fresh.settings, ConsoleSettings::default());
    assert_eq!((fresh.revision, fresh.updated_at), (0, None));
    assert_eq!(fresh.settings.grid.layout, 4);

    // First save based on "nothing saved" (0), then one based on revision 1.
    let first = nine_with("gate-1", &["gate-1", "lobby"]);
    let saved = store
        .put_console_settings(&alice.id, &first, Some(0), NOW)
        .await
        .unwrap();
    assert_eq!((saved.revision, saved.updated_at), (1, Some(NOW)));
    let read = store.console_settings(&alice.id).await.unwrap();
    assert_eq!(read, saved);
    assert_eq!(read.settings.grid.slots[2].as_deref(), Some("gate-1"));
    assert_eq!(read.settings.favourites, ["gate-1", "lobby"]);

    let second = nine_with("lobby", &["lobby"]);
    let saved = store
        .put_console_settings(&alice.id, &second, Some(1), NOW + 1000)
        .await
        .unwrap();
    assert_eq!(saved.revision, 2);
    // Without a precondition a save always lands.
    let third = ConsoleSettings::default();
    assert_eq!(
        store
            .put_console_settings(&alice.id, &third, None, NOW + 2000)
            .await
            .unwrap()
            .revision,
        3
    );
    let read = store.console_settings(&alice.id).await.unwrap();
    assert_eq!(
        (read.settings, read.revision, read.updated_at),
        (third, 3, Some(NOW + 2000))
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM access_console_settings")
            .await,
        1
    );
}

async fn stale_revisions_are_refused_and_write_nothing(f: &Fixture) {
    let store = store(f).await;
    let alice = user(&store, "alice").await;
    let saved = nine_with("gate-1", &[]);
    store
        .put_console_settings(&alice.id, &saved, Some(0), NOW)
        .await
        .unwrap();
    for expected in [0, 2, 7] {
        let err = store
            .put_console_settings(&alice.id, &ConsoleSettings::default(), Some(expected), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(err, AccessError::PreconditionFailed { expected: e, actual: 1, .. } if e == expected),
            "{err}"
        );
        assert_eq!(err.http_status(), 412);
        assert!(err.to_string().contains(alice.id.as_str()), "{err}");
    }
    let read = store.console_settings(&alice.id).await.unwrap();
    assert_eq!((read.settings, read.revision), (saved, 1));

    // A user that does not exist has nothing to save into.
    let ghost = UserId::parse("U-00000000000000ff").unwrap();
    let err = store
        .put_console_settings(&ghost, &ConsoleSettings::default(), None, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found", "{err}");
}

async fn concurrent_saves_of_one_user_never_both_win(f: &Fixture) {
    let store = store(f).await;
    let alice = user(&store, "alice").await;
    // Eight consoles all based on "nothing saved": exactly one wins, the others get 412.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let id = alice.id.clone();
            tokio::spawn(async move {
                let doc = nine_with(&format!("cam-{i}"), &[]);
                store
                    .put_console_settings(&id, &doc, Some(0), NOW + i)
                    .await
            })
        })
        .collect();
    let mut won = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(saved) => won.push(saved),
            Err(err) => assert_eq!(err.code(), "precondition_failed", "{err}"),
        }
    }
    assert_eq!(won.len(), 1);
    let read = store.console_settings(&alice.id).await.unwrap();
    assert_eq!(read, won[0]);
    assert_eq!(read.revision, 1);
}

async fn invalid_documents_name_every_field(f: &Fixture) {
    let store = store(f).await;
    let alice = user(&store, "alice").await;
    let bad = ConsoleSettings {
        grid: ConsoleGrid {
            layout: 12,
            slots: vec![Some("Gate 1".to_owned())],
        },
        favourites: vec!["lobby".to_owned(), "lobby".to_owned()],
        low_latency: false,
        stats_overlay: false,
        language: Some("de".to_owned()),
    };
    let err = store
        .put_console_settings(&alice.id, &bad, None, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 422);
    let fields: Vec<&str> = err
        .field_errors()
        .iter()
        .map(|e| e.field.as_str())
        .collect();
    assert_eq!(
        fields,
        ["grid.layout", "grid.slots[0]", "favourites[1]", "language"]
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM access_console_settings")
            .await,
        0
    );
}

async fn settings_are_per_user_and_unaudited(f: &Fixture) {
    let store = store(f).await;
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let audit_before = store
        .list_audit(&AuditFilter::default())
        .await
        .unwrap()
        .total;
    store
        .put_console_settings(&alice.id, &nine_with("gate-1", &["gate-1"]), None, NOW)
        .await
        .unwrap();
    // Bob's are untouched and still the defaults; his own revision counter starts at 0.
    let bobs = store.console_settings(&bob.id).await.unwrap();
    assert_eq!(
        (bobs.settings, bobs.revision),
        (ConsoleSettings::default(), 0)
    );
    store
        .put_console_settings(&bob.id, &nine_with("lobby", &[]), Some(0), NOW)
        .await
        .unwrap();
    let alices = store.console_settings(&alice.id).await.unwrap();
    assert_eq!(alices.settings.grid.slots[2].as_deref(), Some("gate-1"));
    assert_eq!(alices.revision, 1);
    // Personal settings write no audit entries.
    assert_eq!(
        store
            .list_audit(&AuditFilter::default())
            .await
            .unwrap()
            .total,
        audit_before
    );
}

async fn corrupt_documents_are_reported(f: &Fixture) {
    let store = store(f).await;
    let alice = user(&store, "alice").await;
    store
        .put_console_settings(&alice.id, &ConsoleSettings::default(), None, NOW)
        .await
        .unwrap();
    for document in ["{not json", r#"{"grid":{"layout":7,"slots":[]}}"#] {
        watchpost_command::on_db!(&f.db, pool => {
            sqlx::query("UPDATE access_console_settings SET document = $1")
                .bind(document)
                .execute(pool)
                .await
                .unwrap();
        });
        let err = store.console_settings(&alice.id).await.unwrap_err();
        assert_eq!(err.code(), "corrupt", "{err}");
        assert!(err.to_string().contains(alice.id.as_str()), "{err}");
    }
}
