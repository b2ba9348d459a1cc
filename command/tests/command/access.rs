//! The access store against real databases: users, sessions and the audit log on an
//! SQLite file and on the PostgreSQL server that `cargo xtask test` provides, each
//! PostgreSQL test in a schema of its own (`watchpost_command::storage::testing`,
//! `on_both_backends!`). Password hashes use the cheap test parameters; the end-to-end
//! login test signs and verifies real tokens.

use std::net::IpAddr;

use serde_json::json;
use watchpost_command::access::{
    AccessError, AccessStore, AuditAction, AuditContext, AuditFilter, Jurisdiction, NewAuditEntry,
    NewUser, Outcome, Password, PasswordHash, PasswordHasher, PasswordParams, Role, SessionClaims,
    SessionId, SessionRejection, StreamClaims, StreamViewFilter, StreamViewStart, TokenError,
    TokenKey, User, UserFilter, UserId, UserUpdate,
};
use watchpost_command::storage::testing::TestDb as Fixture;

const NOW: i64 = 1_764_460_800_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

/// The test database's store.
trait Open {
    async fn access(&self) -> AccessStore;
}

impl Open for Fixture {
    async fn access(&self) -> AccessStore {
        AccessStore::open(self.db.clone())
            .await
            .expect("open the access store")
    }
}

watchpost_command::on_both_backends!(
    "access",
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)],
    users_create_get_list_and_update,
    invalid_input_names_every_field_and_writes_nothing,
    the_last_city_admin_stays,
    concurrent_demotions_leave_one_city_admin,
    login_logout_and_expiry_end_to_end,
    access_changes_revoke_sessions,
    passwords_change_and_revoke_other_sessions,
    audit_log_filters_pages_and_redacts,
    audit_ids_increase_under_concurrent_writers,
    stream_views_join_start_and_end,
    corrupt_rows_are_reported_not_used,
    migrations_are_idempotent,
);

fn hasher() -> PasswordHasher {
    PasswordHasher::new(PasswordParams::TESTING).unwrap()
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

fn new_user(username: &str, role: Role, jurisdiction: Jurisdiction) -> NewUser {
    NewUser {
        username: username.to_owned(),
        display_name: format!("{username} (test)"),
        role,
        jurisdiction,
        disabled: false,
        password: Password::new(format!("{username}-long-password")),
    }
}

fn district(d: &str) -> Jurisdiction {
    Jurisdiction::District {
        district: d.to_owned(),
    }
}

/// Creates `new` with its password hashed, as the server would.
async fn create(store: &AccessStore, new: &NewUser, by: &AuditContext) -> User {
    let hash = hasher().hash(&new.password).unwrap();
    store.create_user(new, &hash, by, NOW).await.unwrap()
}

/// A city administrator created by the server itself (no actor), and its audit context.
async fn bootstrap(store: &AccessStore) -> (User, AuditContext) {
    let admin = create(
        store,
        &new_user("root", Role::Admin, Jurisdiction::City),
        &AuditContext::anonymous(None),
    )
    .await;
    let ctx = AuditContext::user(&admin, ip("192.0.2.1"));
    (admin, ctx)
}

async fn entries(
    store: &AccessStore,
    filter: AuditFilter,
) -> Vec<watchpost_command::access::AuditEntry> {
    store.list_audit(&filter).await.unwrap().items
}

async fn users_create_get_list_and_update(f: &Fixture) {
    let store = f.access().await;
    assert_eq!(store.count_admins().await.unwrap(), 0);
    let (admin, ctx) = bootstrap(&store).await;
    assert_eq!(store.count_admins().await.unwrap(), 1);
    assert!(admin.id.as_str().starts_with("U-") && admin.id.as_str().len() == 18);
    assert_eq!((admin.revision, admin.created_at), (1, NOW));

    let mut alice = new_user(" Alice ", Role::Operator, district(" Dongcheng "));
    alice.display_name = "  Alice Wang ".to_owned();
    let alice = create(&store, &alice, &ctx).await;
    assert_eq!(alice.username.as_str(), "alice");
    assert_eq!(alice.display_name, "Alice Wang");
    assert_eq!(alice.jurisdiction, district("Dongcheng"));
    for (name, role, j) in [
        ("bob", Role::Viewer, district("Xicheng")),
        (
            "carol",
            Role::Commander,
            Jurisdiction::Street {
                district: "Dongcheng".to_owned(),
                street: "Yongdingmenwai".to_owned(),
            },
        ),
        (
            "dave",
            Role::Viewer,
            Jurisdiction::Enterprise {
                enterprise_id: "E-110101-0001".to_owned(),
            },
        ),
    ] {
        create(&store, &new_user(name, role, j), &ctx).await;
    }

    // Usernames are unique, case-insensitively.
    let hash = hasher().hash(&Password::new("x".repeat(12))).unwrap();
    let err = store
        .create_user(
            &new_user("ALICE", Role::Viewer, Jurisdiction::City),
            &hash,
            &ctx,
            NOW,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict", "{err}");
    assert_eq!(err.http_status(), 409);

    assert_eq!(store.get_user(&alice.id).await.unwrap(), alice);
    assert_eq!(store.get_user_by_username("ALICE").await.unwrap(), alice);
    let missing = UserId::parse("U-0000000000000000").unwrap();
    assert_eq!(
        store.get_user(&missing).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        store
            .get_user_by_username("no such user")
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );

    // Lists.
    let names = |page: watchpost_command::access::UserPage| {
        (
            page.total,
            page.items
                .into_iter()
                .map(|u| u.username.to_string())
                .collect::<Vec<_>>(),
        )
    };
    let all = store.list_users(&UserFilter::default()).await.unwrap();
    assert_eq!(
        names(all),
        (
            5,
            vec![
                "alice".into(),
                "bob".into(),
                "carol".into(),
                "dave".into(),
                "root".into()
            ]
        )
    );
    let filtered = |filter: UserFilter| {
        let store = store.clone();
        async move { names(store.list_users(&filter).await.unwrap()) }
    };
    assert_eq!(
        filtered(UserFilter {
            district: Some("Dongcheng".into()),
            ..UserFilter::default()
        })
        .await,
        (2, vec!["alice".into(), "carol".into()])
    );
    assert_eq!(
        filtered(UserFilter {
            role: Some(Role::Viewer),
            ..UserFilter::default()
        })
        .await,
        (2, vec!["bob".into(), "dave".into()])
    );
    assert_eq!(
        filtered(UserFilter {
            level: Some("enterprise".into()),
            ..UserFilter::default()
        })
        .await,
        (1, vec!["dave".into()])
    );
    assert_eq!(
        filtered(UserFilter {
            q: Some("WANG".into()),
            ..UserFilter::default()
        })
        .await,
        (1, vec!["alice".into()])
    );
    assert_eq!(
        filtered(UserFilter {
            limit: Some(2),
            offset: Some(1),
            ..UserFilter::default()
        })
        .await,
        (5, vec!["bob".into(), "carol".into()])
    );
    for bad in [
        UserFilter {
            limit: Some(1001),
            ..UserFilter::default()
        },
        UserFilter {
            level: Some("county".into()),
            ..UserFilter::default()
        },
    ] {
        assert_eq!(store.list_users(&bad).await.unwrap_err().code(), "invalid");
    }

    // Update with a revision check.
    let update = UserUpdate {
        display_name: Some("Alice W.".into()),
        role: Some(Role::Commander),
        ..UserUpdate::default()
    };
    let err = store
        .update_user(&alice.id, &update, Some(7), &ctx, NOW + MIN)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AccessError::PreconditionFailed {
            expected: 7,
            actual: 1,
            ..
        }
    ));
    assert_eq!(err.http_status(), 412);
    let changed = store
        .update_user(&alice.id, &update, Some(1), &ctx, NOW + MIN)
        .await
        .unwrap();
    assert_eq!(
        (
            changed.revision,
            changed.role,
            changed.display_name.as_str(),
            changed.updated_at
        ),
        (2, Role::Commander, "Alice W.", NOW + MIN)
    );
    assert_eq!(changed.created_at, NOW);
    assert_eq!(store.get_user(&alice.id).await.unwrap(), changed);
    assert_eq!(
        store
            .update_user(&missing, &update, None, &ctx, NOW)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );

    // Every change is in the audit log, by whom and from where.
    let log = entries(
        &store,
        AuditFilter {
            target: Some(alice.id.to_string()),
            ..AuditFilter::default()
        },
    )
    .await;
    let actions: Vec<AuditAction> = log.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [AuditAction::UserChanged, AuditAction::UserCreated]
    );
    assert_eq!(log[0].actor, ctx.actor);
    assert_eq!(log[0].source, ctx.source);
    assert_eq!(
        log[0].detail["changes"],
        json!({
            "display_name": {"from": "Alice Wang", "to": "Alice W."},
            "role": {"from": "operator", "to": "commander"},
        })
    );
    assert_eq!(
        log[1].detail["jurisdiction"],
        json!({"level": "district", "district": "Dongcheng"})
    );
    let bootstrap_entry = entries(
        &store,
        AuditFilter {
            target: Some(admin.id.to_string()),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(bootstrap_entry.len(), 1);
    assert_eq!(bootstrap_entry[0].actor, None);
}

async fn invalid_input_names_every_field_and_writes_nothing(f: &Fixture) {
    let store = f.access().await;
    let (admin, ctx) = bootstrap(&store).await;
    let bad = NewUser {
        username: "a b".into(),
        display_name: " ".into(),
        role: Role::Viewer,
        jurisdiction: Jurisdiction::Street {
            district: "".into(),
            street: "x".repeat(129),
        },
        disabled: false,
        password: Password::new("too short"),
    };
    let hash = hasher().hash(&bad.password).unwrap();
    let err = store.create_user(&bad, &hash, &ctx, NOW).await.unwrap_err();
    let fields: Vec<&str> = err
        .field_errors()
        .iter()
        .map(|e| e.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "username",
            "display_name",
            "jurisdiction.district",
            "jurisdiction.street",
            "password"
        ]
    );
    assert_eq!(err.http_status(), 422);
    assert!(!err.to_string().contains("too short"), "{err}");
    let err = store
        .update_user(&admin.id, &UserUpdate::default(), None, &ctx, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid");
    assert_eq!(
        store
            .list_users(&UserFilter::default())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        store
            .list_audit(&AuditFilter::default())
            .await
            .unwrap()
            .total,
        1,
        "only the bootstrap"
    );
}

async fn the_last_city_admin_stays(f: &Fixture) {
    let store = f.access().await;
    let (root, ctx) = bootstrap(&store).await;
    // A district administrator does not count.
    let district_admin = create(
        &store,
        &new_user("dadmin", Role::Admin, district("Dongcheng")),
        &ctx,
    )
    .await;
    assert_eq!(store.count_admins().await.unwrap(), 1);
    for update in [
        UserUpdate {
            role: Some(Role::Commander),
            ..UserUpdate::default()
        },
        UserUpdate {
            disabled: Some(true),
            ..UserUpdate::default()
        },
        UserUpdate {
            jurisdiction: Some(district("Dongcheng")),
            ..UserUpdate::default()
        },
    ] {
        let err = store
            .update_user(&root.id, &update, None, &ctx, NOW)
            .await
            .unwrap_err();
        assert!(matches!(err, AccessError::LastAdmin { .. }), "{err}");
        assert_eq!(err.http_status(), 409);
    }
    // Renaming is fine.
    store
        .update_user(
            &root.id,
            &UserUpdate {
                display_name: Some("Root".into()),
                ..UserUpdate::default()
            },
            None,
            &ctx,
            NOW,
        )
        .await
        .unwrap();
    // Promote the district admin to the city; then the first may step down.
    store
        .update_user(
            &district_admin.id,
            &UserUpdate {
                jurisdiction: Some(Jurisdiction::City),
                ..UserUpdate::default()
            },
            None,
            &ctx,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(store.count_admins().await.unwrap(), 2);
    let demoted = store
        .update_user(
            &root.id,
            &UserUpdate {
                role: Some(Role::Viewer),
                ..UserUpdate::default()
            },
            None,
            &ctx,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(demoted.role, Role::Viewer);
    assert_eq!(store.count_admins().await.unwrap(), 1);
}

async fn concurrent_demotions_leave_one_city_admin(f: &Fixture) {
    let store = f.access().await;
    let (_, ctx) = bootstrap(&store).await;
    let mut admins = Vec::new();
    for i in 0..5 {
        admins.push(
            create(
                &store,
                &new_user(&format!("admin{i}"), Role::Admin, Jurisdiction::City),
                &ctx,
            )
            .await,
        );
    }
    let root = store.get_user_by_username("root").await.unwrap();
    admins.push(root);
    let demotions = admins.iter().map(|admin| {
        let store = store.clone();
        let ctx = ctx.clone();
        let id = admin.id.clone();
        async move {
            store
                .update_user(
                    &id,
                    &UserUpdate {
                        disabled: Some(true),
                        ..UserUpdate::default()
                    },
                    None,
                    &ctx,
                    NOW,
                )
                .await
        }
    });
    let results = futures_util::future::join_all(demotions).await;
    let refused: Vec<&AccessError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(matches!(refused[0], AccessError::LastAdmin { .. }));
    assert_eq!(store.count_admins().await.unwrap(), 1);
}

async fn login_logout_and_expiry_end_to_end(f: &Fixture) {
    let store = f.access().await;
    let (_, ctx) = bootstrap(&store).await;
    let hasher = hasher();
    let key = TokenKey::generate().unwrap();
    create(
        &store,
        &new_user("alice", Role::Operator, district("Dongcheng")),
        &ctx,
    )
    .await;

    // The login as the server does it: credentials, verify, session, token.
    let (user, hash) = store.credentials(" Alice").await.unwrap().unwrap();
    assert!(
        hasher
            .verify(&Password::new("alice-long-password"), &hash)
            .unwrap()
    );
    assert!(
        !hasher
            .verify(&Password::new("alice-long-passwore"), &hash)
            .unwrap()
    );
    assert!(store.credentials("nobody").await.unwrap().is_none());
    assert!(store.credentials("not a username").await.unwrap().is_none());
    let session = store
        .open_session(&user.id, 8 * HOUR, ip("192.0.2.10"), NOW)
        .await
        .unwrap();
    assert!(session.id.as_str().starts_with("S-") && session.id.as_str().len() == 34);
    assert_eq!(session.expires_at, NOW + 8 * HOUR);
    let token = key.sign(&SessionClaims::new(&user, &session));

    // Each request: the token, then the session.
    let claims: SessionClaims = key.verify(token.expose(), NOW / 1000 + 60).unwrap();
    assert_eq!(
        (&claims.sub, &claims.sid, claims.role),
        (&user.id, &session.id, Role::Operator)
    );
    let auth = store.check_session(&claims.sid, NOW + MIN).await.unwrap();
    assert_eq!(auth.user, user);
    assert_eq!(auth.session, session);
    assert_eq!(
        store.active_sessions(&user.id, NOW + MIN).await.unwrap(),
        std::slice::from_ref(&session)
    );
    // A stream token is not a session token.
    let stream = key.sign(&StreamClaims::new(
        "cam/c1/main",
        user.id.clone(),
        NOW / 1000,
        60,
    ));
    assert!(matches!(
        key.verify::<SessionClaims>(stream.expose(), NOW / 1000),
        Err(TokenError::WrongKind { .. })
    ));

    // Expiry: the token and the session both end.
    let rejected = |err: AccessError| match err {
        AccessError::SessionRejected { reason, .. } => reason,
        other => panic!("{other}"),
    };
    assert!(matches!(
        key.verify::<SessionClaims>(token.expose(), (NOW + 8 * HOUR) / 1000),
        Err(TokenError::Expired { .. })
    ));
    assert_eq!(
        rejected(
            store
                .check_session(&session.id, NOW + 8 * HOUR)
                .await
                .unwrap_err()
        ),
        SessionRejection::Expired
    );

    // Logout revokes; a second logout does nothing.
    let user_ctx = AuditContext::user(&user, ip("192.0.2.10"));
    assert!(
        store
            .revoke_session(&session.id, &user_ctx, NOW + 2 * MIN)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_session(&session.id, &user_ctx, NOW + 3 * MIN)
            .await
            .unwrap()
    );
    let err = store
        .check_session(&session.id, NOW + 4 * MIN)
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 401);
    assert_eq!(rejected(err), SessionRejection::Revoked);
    let unknown = SessionId::parse("S-00000000000000000000000000000000").unwrap();
    assert_eq!(
        rejected(store.check_session(&unknown, NOW).await.unwrap_err()),
        SessionRejection::Unknown
    );
    assert!(
        !store
            .revoke_session(&unknown, &user_ctx, NOW)
            .await
            .unwrap()
    );
    assert!(
        store
            .active_sessions(&user.id, NOW + 4 * MIN)
            .await
            .unwrap()
            .is_empty()
    );

    // A failed login is recorded without an actor, the username as typed as target.
    let failed = store
        .record_login_failed("Alice", ip("198.51.100.7"), "bad_password", NOW + 5 * MIN)
        .await
        .unwrap();
    assert_eq!(
        (failed.actor.as_ref(), failed.outcome),
        (None, Outcome::Denied)
    );

    let log = entries(
        &store,
        AuditFilter {
            actor: Some("alice".into()),
            ..AuditFilter::default()
        },
    )
    .await;
    let actions: Vec<AuditAction> = log.iter().map(|e| e.action).collect();
    assert_eq!(actions, [AuditAction::Logout, AuditAction::Login]);
    assert_eq!(log[1].target.as_deref(), Some("alice"));
    assert_eq!(log[1].source, ip("192.0.2.10"));
    assert_eq!(log[0].target.as_deref(), Some(session.id.as_str()));
    let failures = entries(
        &store,
        AuditFilter {
            action: Some(AuditAction::LoginFailed),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].target.as_deref(), Some("Alice"));
    assert_eq!(failures[0].detail["reason"], "bad_password");

    // Housekeeping removes old sessions, not their audit entries.
    assert_eq!(store.prune_sessions(NOW + 9 * HOUR).await.unwrap(), 1);
    assert_eq!(
        rejected(store.check_session(&session.id, NOW).await.unwrap_err()),
        SessionRejection::Unknown
    );
    assert_eq!(
        log.len(),
        entries(
            &store,
            AuditFilter {
                actor: Some("alice".into()),
                ..AuditFilter::default()
            }
        )
        .await
        .len()
    );

    // Bad TTL.
    assert_eq!(
        store
            .open_session(&user.id, 0, None, NOW)
            .await
            .unwrap_err()
            .code(),
        "invalid"
    );
}

async fn access_changes_revoke_sessions(f: &Fixture) {
    let store = f.access().await;
    let (_, ctx) = bootstrap(&store).await;
    let alice = create(
        &store,
        &new_user("alice", Role::Operator, district("Dongcheng")),
        &ctx,
    )
    .await;
    let open = || store.open_session(&alice.id, HOUR, None, NOW);
    let first = open().await.unwrap();
    // A display name change keeps the session.
    store
        .update_user(
            &alice.id,
            &UserUpdate {
                display_name: Some("A".into()),
                ..UserUpdate::default()
            },
            None,
            &ctx,
            NOW + 1,
        )
        .await
        .unwrap();
    assert!(store.check_session(&first.id, NOW + 2).await.is_ok());
    // A jurisdiction change revokes it.
    store
        .update_user(
            &alice.id,
            &UserUpdate {
                jurisdiction: Some(district("Xicheng")),
                ..UserUpdate::default()
            },
            None,
            &ctx,
            NOW + 3,
        )
        .await
        .unwrap();
    assert!(matches!(
        store.check_session(&first.id, NOW + 4).await,
        Err(AccessError::SessionRejected {
            reason: SessionRejection::Revoked,
            ..
        })
    ));
    let log = entries(
        &store,
        AuditFilter {
            action: Some(AuditAction::UserChanged),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(log[0].detail["sessions_revoked"], 1);
    // Disabling revokes, and a disabled user cannot open a session.
    let second = open().await.unwrap();
    store
        .update_user(
            &alice.id,
            &UserUpdate {
                disabled: Some(true),
                ..UserUpdate::default()
            },
            None,
            &ctx,
            NOW + 5,
        )
        .await
        .unwrap();
    assert!(store.check_session(&second.id, NOW + 6).await.is_err());
    assert_eq!(open().await.unwrap_err().code(), "conflict");
    // A disabled user with a session that somehow survived is still refused.
    f.execute("UPDATE access_sessions SET revoked_at = NULL")
        .await;
    assert!(matches!(
        store.check_session(&second.id, NOW + 6).await,
        Err(AccessError::SessionRejected {
            reason: SessionRejection::UserDisabled,
            ..
        })
    ));
}

async fn passwords_change_and_revoke_other_sessions(f: &Fixture) {
    let store = f.access().await;
    let (_, ctx) = bootstrap(&store).await;
    let hasher = hasher();
    let alice = create(
        &store,
        &new_user("alice", Role::Viewer, Jurisdiction::City),
        &ctx,
    )
    .await;
    let here = store
        .open_session(&alice.id, HOUR, None, NOW)
        .await
        .unwrap();
    let elsewhere = store
        .open_session(&alice.id, HOUR, None, NOW)
        .await
        .unwrap();
    let new_password = Password::new("a new and longer password");
    let hash = hasher.hash(&new_password).unwrap();
    let alice_ctx = AuditContext::user(&alice, None);
    let err = store
        .set_password(
            &alice.id,
            &hash,
            Some(5),
            Some(&here.id),
            &alice_ctx,
            NOW + MIN,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "precondition_failed");
    let changed = store
        .set_password(
            &alice.id,
            &hash,
            Some(1),
            Some(&here.id),
            &alice_ctx,
            NOW + MIN,
        )
        .await
        .unwrap();
    assert_eq!(
        (changed.revision, changed.password_changed_at),
        (2, NOW + MIN)
    );
    assert!(store.check_session(&here.id, NOW + 2 * MIN).await.is_ok());
    assert!(
        store
            .check_session(&elsewhere.id, NOW + 2 * MIN)
            .await
            .is_err()
    );
    let (_, stored) = store.credentials("alice").await.unwrap().unwrap();
    assert!(hasher.verify(&new_password, &stored).unwrap());
    assert!(
        !hasher
            .verify(&Password::new("alice-long-password"), &stored)
            .unwrap()
    );

    // The hash never leaves through the user, its JSON or the audit log.
    let phc = stored.expose().to_owned();
    let user_json = serde_json::to_string(&store.get_user(&alice.id).await.unwrap()).unwrap();
    assert!(!user_json.contains("argon2"), "{user_json}");
    let all =
        serde_json::to_string(&store.list_audit(&AuditFilter::default()).await.unwrap()).unwrap();
    assert!(!all.contains(&phc) && !all.contains("argon2") && !all.contains("long-password"));
    assert!(!format!("{stored:?}").contains("argon2"));
    let entry = &entries(
        &store,
        AuditFilter {
            action: Some(AuditAction::PasswordChanged),
            ..AuditFilter::default()
        },
    )
    .await[0];
    assert_eq!(entry.detail["sessions_revoked"], 1);
    assert_eq!(entry.target.as_deref(), Some(alice.id.as_str()));
}

async fn audit_log_filters_pages_and_redacts(f: &Fixture) {
    let store = f.access().await;
    let (admin, ctx) = bootstrap(&store).await;
    let bob = create(
        &store,
        &new_user("bob", Role::Operator, district("Xicheng")),
        &ctx,
    )
    .await;
    let bob_ctx = AuditContext::user(&bob, ip("2001:db8::7"));
    let mut ids = Vec::new();
    for i in 0..6 {
        let entry = NewAuditEntry::new(&bob_ctx, AuditAction::Ptz, NOW + i * MIN)
            .target(format!("cam-{}", i % 2))
            .outcome(if i == 5 {
                Outcome::Error
            } else {
                Outcome::Success
            })
            .detail("action", "move")
            .detail("camera_password", "secret!")
            .detail("nested", json!({"Authorization": "Bearer x", "pan": 0.5}));
        ids.push(store.append_audit(entry).await.unwrap().id);
    }
    store
        .append_audit(
            NewAuditEntry::new(&ctx, AuditAction::IncidentChanged, NOW + 10 * MIN).target("inc-1"),
        )
        .await
        .unwrap();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    let ptz = store
        .list_audit(&AuditFilter {
            action: Some(AuditAction::Ptz),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(ptz.total, 6);
    let got: Vec<i64> = ptz.items.iter().map(|e| e.id).collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(got, newest_first);
    let e = &ptz.items[0];
    assert_eq!(e.source, ip("2001:db8::7"));
    assert_eq!(e.actor.as_ref().map(|a| a.username.as_str()), Some("bob"));
    assert_eq!(
        serde_json::Value::Object(e.detail.clone()),
        json!({"action": "move", "camera_password": "***",
               "nested": {"Authorization": "***", "pan": 0.5}})
    );

    let count = |filter: AuditFilter| {
        let store = store.clone();
        async move { store.list_audit(&filter).await.unwrap().total }
    };
    assert_eq!(
        count(AuditFilter {
            actor: Some("bob".into()),
            ..AuditFilter::default()
        })
        .await,
        6
    );
    assert_eq!(
        count(AuditFilter {
            actor: Some(bob.id.to_string()),
            ..AuditFilter::default()
        })
        .await,
        6
    );
    assert_eq!(
        count(AuditFilter {
            actor: Some(admin.id.to_string()),
            ..AuditFilter::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(AuditFilter {
            target: Some("cam-1".into()),
            ..AuditFilter::default()
        })
        .await,
        3
    );
    assert_eq!(
        count(AuditFilter {
            outcome: Some(Outcome::Error),
            ..AuditFilter::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(AuditFilter {
            from: Some(NOW + MIN),
            to: Some(NOW + 3 * MIN),
            ..AuditFilter::default()
        })
        .await,
        2,
        "from inclusive, to exclusive"
    );
    let page = store
        .list_audit(&AuditFilter {
            action: Some(AuditAction::Ptz),
            limit: Some(2),
            offset: Some(2),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        newest_first[2..4]
    );
    for bad in [
        AuditFilter {
            from: Some(2),
            to: Some(1),
            ..AuditFilter::default()
        },
        AuditFilter {
            limit: Some(5000),
            ..AuditFilter::default()
        },
    ] {
        assert_eq!(store.list_audit(&bad).await.unwrap_err().code(), "invalid");
    }
    // The end of a stream view only through stream_view_ended; oversized entries refused.
    let refused = [
        NewAuditEntry::new(&ctx, AuditAction::StreamViewEnded, NOW),
        NewAuditEntry::new(&ctx, AuditAction::Ptz, NOW).target("x".repeat(300)),
        NewAuditEntry::new(&ctx, AuditAction::Ptz, NOW).detail("blob", "y".repeat(20_000)),
    ];
    let before = count(AuditFilter::default()).await;
    for entry in refused {
        assert_eq!(
            store.append_audit(entry).await.unwrap_err().code(),
            "invalid"
        );
    }
    assert_eq!(count(AuditFilter::default()).await, before);
    // Query strings decode into the filter; unknown keys are refused.
    let filter: AuditFilter =
        serde_json::from_value(json!({"action": "login_failed", "from": 1, "limit": 5})).unwrap();
    assert_eq!(filter.action, Some(AuditAction::LoginFailed));
    assert!(serde_json::from_value::<AuditFilter>(json!({"user": "x"})).is_err());
}

async fn audit_ids_increase_under_concurrent_writers(f: &Fixture) {
    let store = f.access().await;
    let ctx = AuditContext::anonymous(ip("127.0.0.1"));
    let writes = (0..40).map(|i| {
        let store = store.clone();
        let ctx = ctx.clone();
        async move {
            store
                .append_audit(
                    NewAuditEntry::new(&ctx, AuditAction::WallPushed, NOW + i)
                        .target(format!("cam-{i}")),
                )
                .await
        }
    });
    let mut ids: Vec<i64> = futures_util::future::join_all(writes)
        .await
        .into_iter()
        .map(|r| r.unwrap().id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    assert_eq!((ids[0], ids[39]), (1, 40), "no gaps");
}

async fn stream_views_join_start_and_end(f: &Fixture) {
    let store = f.access().await;
    let (admin, _) = bootstrap(&store).await;
    let start = |path: &str, at: i64| StreamViewStart {
        at,
        actor: Some(admin.actor()),
        source: ip("192.0.2.50"),
        path: path.to_owned(),
        detail: serde_json::Map::from_iter([("via".to_owned(), json!("session"))]),
    };
    let main = store
        .stream_view_started(start("cam/c1/main", NOW))
        .await
        .unwrap();
    let sub = store
        .stream_view_started(start("cam/c1/sub", NOW + MIN))
        .await
        .unwrap();
    let wall = store
        .stream_view_started(StreamViewStart {
            actor: None,
            ..start("cam/c2/main", NOW + 2 * MIN)
        })
        .await
        .unwrap();
    let end = store.stream_view_ended(main, NOW + 5 * MIN).await.unwrap();
    assert_eq!(end.action, AuditAction::StreamViewEnded);
    assert_eq!(end.ref_id, Some(main));
    assert_eq!(end.target.as_deref(), Some("cam/c1/main"));
    assert_eq!(end.actor, Some(admin.actor()));
    assert_eq!(end.detail["duration_ms"], 5 * MIN);
    // An end before its start (another node's clock) is recorded at the start.
    let early = store.stream_view_ended(wall, NOW).await.unwrap();
    assert_eq!(early.at, NOW + 2 * MIN);

    let views = store
        .stream_views(&StreamViewFilter::default())
        .await
        .unwrap();
    assert_eq!(views.total, 3);
    let rows: Vec<(i64, &str, i64, Option<i64>)> = views
        .items
        .iter()
        .map(|v| (v.view_id, v.path.as_str(), v.started_at, v.ended_at))
        .collect();
    assert_eq!(
        rows,
        [
            (wall, "cam/c2/main", NOW + 2 * MIN, Some(NOW + 2 * MIN)),
            (sub, "cam/c1/sub", NOW + MIN, None),
            (main, "cam/c1/main", NOW, Some(NOW + 5 * MIN)),
        ]
    );
    assert_eq!(
        views.items[1].actor.as_ref().map(|a| a.username.as_str()),
        Some("root")
    );
    assert_eq!(views.items[1].source, ip("192.0.2.50"));
    assert_eq!(views.items[0].actor, None);

    let ids = |filter: StreamViewFilter| {
        let store = store.clone();
        async move {
            store
                .stream_views(&filter)
                .await
                .unwrap()
                .items
                .iter()
                .map(|v| v.view_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ids(StreamViewFilter {
            open: Some(true),
            ..StreamViewFilter::default()
        })
        .await,
        [sub]
    );
    assert_eq!(
        ids(StreamViewFilter {
            open: Some(false),
            ..StreamViewFilter::default()
        })
        .await,
        [wall, main]
    );
    assert_eq!(
        ids(StreamViewFilter {
            actor: Some("root".into()),
            ..StreamViewFilter::default()
        })
        .await,
        [sub, main]
    );
    assert_eq!(
        ids(StreamViewFilter {
            path: Some("cam/c1/main".into()),
            ..StreamViewFilter::default()
        })
        .await,
        [main]
    );
    assert_eq!(
        ids(StreamViewFilter {
            from: Some(NOW + MIN),
            to: Some(NOW + 2 * MIN),
            ..StreamViewFilter::default()
        })
        .await,
        [sub]
    );
    assert_eq!(
        ids(StreamViewFilter {
            limit: Some(1),
            offset: Some(1),
            ..StreamViewFilter::default()
        })
        .await,
        [sub]
    );

    // Ending twice, or something that is not a view, is refused and writes nothing.
    let before = store
        .list_audit(&AuditFilter::default())
        .await
        .unwrap()
        .total;
    assert_eq!(
        store
            .stream_view_ended(main, NOW + 9 * MIN)
            .await
            .unwrap_err()
            .code(),
        "conflict"
    );
    assert_eq!(
        store.stream_view_ended(9999, NOW).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        store
            .stream_view_ended(end.id, NOW)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    let login_entry = entries(
        &store,
        AuditFilter {
            action: Some(AuditAction::UserCreated),
            ..AuditFilter::default()
        },
    )
    .await[0]
        .id;
    assert_eq!(
        store
            .stream_view_ended(login_entry, NOW)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(
        store
            .list_audit(&AuditFilter::default())
            .await
            .unwrap()
            .total,
        before
    );
    assert_eq!(
        store
            .stream_view_started(start(" ", NOW))
            .await
            .unwrap_err()
            .code(),
        "invalid"
    );
}

async fn corrupt_rows_are_reported_not_used(f: &Fixture) {
    let store = f.access().await;
    let (_, ctx) = bootstrap(&store).await;
    let alice = create(
        &store,
        &new_user("alice", Role::Viewer, Jurisdiction::City),
        &ctx,
    )
    .await;
    let bob = create(
        &store,
        &new_user("bob", Role::Viewer, Jurisdiction::City),
        &ctx,
    )
    .await;
    f.execute(&format!(
        "UPDATE access_users SET role = 'root' WHERE id = '{}'",
        alice.id
    ))
    .await;
    f.execute(&format!(
        "UPDATE access_users SET jurisdiction_level = 'district' WHERE id = '{}'",
        bob.id
    ))
    .await;
    let err = store.get_user(&alice.id).await.unwrap_err();
    assert!(
        matches!(err, AccessError::Corrupt { column: "role", .. }),
        "{err}"
    );
    assert!(err.to_string().contains(alice.id.as_str()));
    let err = store.get_user(&bob.id).await.unwrap_err();
    assert!(
        matches!(
            err,
            AccessError::Corrupt {
                column: "district",
                ..
            }
        ),
        "{err}"
    );
    // A tampered hash is refused rather than used, without quoting it.
    f.execute("UPDATE access_users SET password_hash = '$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo' WHERE username = 'root'")
        .await;
    let err = store.credentials("root").await.unwrap_err();
    assert!(
        matches!(
            err,
            AccessError::Corrupt {
                column: "password_hash",
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("c2FsdHNhbHQ"), "{err}");
    assert_eq!(err.http_status(), 500);
    // An audit row with an action outside the closed set.
    f.execute("UPDATE access_audit SET action = 'other' WHERE id = 1")
        .await;
    let err = store.list_audit(&AuditFilter::default()).await.unwrap_err();
    assert!(
        matches!(
            err,
            AccessError::Corrupt {
                column: "action",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("audit entry 1"), "{err}");
}

async fn migrations_are_idempotent(f: &Fixture) {
    let store = f.access().await;
    let (admin, _) = bootstrap(&store).await;
    let again = f.access().await;
    assert_eq!(again.get_user(&admin.id).await.unwrap(), admin);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 202611300301")
            .await,
        1
    );
}

/// The store's futures can be spawned on a multi-threaded runtime (web handlers).
#[allow(dead_code)]
fn futures_are_send(store: &AccessStore, new: &NewUser, hash: &PasswordHash, id: &UserId) {
    fn send<T: Send>(_: T) {}
    let ctx = AuditContext::default();
    send(store.create_user(new, hash, &ctx, NOW));
    send(store.update_user(id, &UserUpdate::default(), None, &ctx, NOW));
    send(store.list_users(&UserFilter::default()));
    send(store.open_session(id, 1, None, NOW));
    send(store.list_audit(&AuditFilter::default()));
    send(store.stream_views(&StreamViewFilter::default()));
}
