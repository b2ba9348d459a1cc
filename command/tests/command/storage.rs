//! Storage against real databases: an SQLite file on disk and the PostgreSQL server that
//! `cargo xtask test` provides (`WATCHPOST_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`).

use sqlx::Row;
use watchpost_command::{Database, StorageError};
use watchpost_config::SecretUrl;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("watchpost-storage-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn sqlite_file_is_created_with_durable_settings() {
    let dir = temp_dir("durable");
    let file = dir.join("nested").join("watchpost.db");
    let url = SecretUrl::new(format!("sqlite://{}?mode=rwc", file.display()));
    let db = Database::connect(&url).await.expect("open sqlite");
    assert_eq!(db.kind(), "sqlite");
    db.ping().await.unwrap();
    assert!(file.exists(), "the database file is created");

    let Database::Sqlite { pool, .. } = &db else {
        unreachable!()
    };
    let mut conn = pool.acquire().await.unwrap();
    let journal: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0);
    let synchronous: i64 = sqlx::query("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0);
    let foreign_keys: i64 = sqlx::query("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0);
    let busy: i64 = sqlx::query("PRAGMA busy_timeout")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(journal.to_lowercase(), "wal");
    assert_eq!(synchronous, 2, "synchronous=FULL");
    assert_eq!(foreign_keys, 1);
    assert_eq!(busy, 5000);
    drop(conn);
    db.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn unreadable_locations_and_unknown_schemes_are_clear_errors() {
    let err = Database::connect(&SecretUrl::new("mysql://root:pw@127.0.0.1/x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::UnsupportedUrl { .. }));
    assert!(!err.to_string().contains("pw@"), "{err}");

    // A file where the directory should be.
    let dir = temp_dir("blocked");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("file"), b"x").unwrap();
    let url = SecretUrl::new(format!("sqlite://{}/file/sub/w.db?mode=rwc", dir.display()));
    let err = Database::connect(&url).await.unwrap_err();
    assert!(matches!(err, StorageError::CreateDir { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn postgres_connects_and_password_is_never_shown() {
    let url = std::env::var("WATCHPOST_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let db = Database::connect(&SecretUrl::new(&url))
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL is needed for this test ({e}); `cargo xtask test` starts one")
        });
    assert_eq!(db.kind(), "postgres");
    db.ping().await.unwrap();
    db.close().await;

    // A wrong port fails within the acquire timeout, and the error hides the password.
    let err = Database::connect(&SecretUrl::new("postgres://u:pg-s3cret@127.0.0.1:1/test"))
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("pg-s3cret"), "{text}");
    assert!(text.contains("u:***@127.0.0.1:1"), "{text}");
}
